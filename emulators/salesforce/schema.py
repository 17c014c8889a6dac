"""Object and field definitions: the standard objects the sync touches, custom ones installed
through the Tooling API, and their describe output.

Names are matched case-insensitively (as Salesforce does) but always reported in their
canonical case. A field whose `sql` is set is computed on read (roll-ups, Name, ...).
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# A developer name: letters, digits and single underscores, starting with a letter.
NAME_RE = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*(?<!_)$")
STRING_TYPES = frozenset(
    {"string", "email", "url", "phone", "textarea", "picklist", "multipicklist"}
)
ID_TYPES = frozenset({"id", "reference"})
NUMBER_TYPES = frozenset({"double", "currency", "percent", "int"})
_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
}


@dataclass(frozen=True)
class PicklistValue:
    value: str
    label: str
    default: bool = False
    active: bool = True

    def describe(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "defaultValue": self.default,
            "label": self.label,
            "validFor": None,
            "value": self.value,
        }


@dataclass
class Field:
    name: str
    type: str
    label: str = ""
    length: int = 0
    precision: int = 0
    scale: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    default: Any = None  # stored representation, applied on create when no value is given
    external_id: bool = False
    unique: bool = False
    case_sensitive: bool = False
    picklist: tuple[PicklistValue, ...] = ()
    restricted: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    cascade_delete: bool = False  # children are deleted with their parent
    delete_constraint: str = "SetNull"
    custom: bool = False
    sql: str | None = None  # computed fields: an SQL expression over the alias {t}
    name_field: bool = False
    auto_number: str | None = None  # display format, e.g. "T-{000000}"
    indexed: bool = False
    tooling_id: str | None = None

    def __post_init__(self) -> None:
        if not self.label:
            self.label = _label_from_name(self.name)
        if self.sql is not None or self.auto_number:
            self.createable = self.updateable = False

    @property
    def is_string(self) -> bool:
        return self.type in STRING_TYPES

    @property
    def required(self) -> bool:
        """Must have a value on save (what describe shows as nillable=false, createable)."""
        return not self.nillable and self.createable and self.type != "boolean"

    @property
    def filterable(self) -> bool:
        # Long text areas and the Tooling API's Metadata can be selected but not filtered.
        return self.type != "complexvalue" and (self.type != "textarea" or self.length <= 255)

    @property
    def id_lookup(self) -> bool:
        return self.type == "id" or self.external_id

    def describe(self) -> dict[str, Any]:
        calculated = self.sql is not None
        return {
            "aggregatable": self.filterable and self.type != "boolean",
            "autoNumber": bool(self.auto_number),
            "byteLength": self.length * 3 if self.is_string or self.type in ID_TYPES else 0,
            "calculated": calculated,
            "caseSensitive": self.case_sensitive,
            "createable": self.createable,
            "custom": self.custom,
            "defaultValue": bool(self.default) if self.type == "boolean" else None,
            "defaultValueFormula": None,
            "defaultedOnCreate": self.default is not None or self.type == "boolean",
            "digits": 9 if self.type == "int" else 0,
            "externalId": self.external_id,
            "filterable": self.filterable,
            "groupable": self.filterable and self.type not in NUMBER_TYPES - {"int"},
            "htmlFormatted": False,
            "idLookup": self.id_lookup,
            "label": self.label,
            "length": self.length if self.is_string or self.type in ID_TYPES else 0,
            "name": self.name,
            "nameField": self.name_field,
            "nillable": self.nillable,
            "picklistValues": [value.describe() for value in self.picklist],
            "precision": self.precision,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "restrictedPicklist": self.restricted,
            "scale": self.scale,
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
            "sortable": self.filterable,
            "type": self.type,
            "unique": self.unique,
            "updateable": self.updateable,
        }

    def picklist_default(self) -> str | None:
        return next((value.value for value in self.picklist if value.default), None)


@dataclass
class SObject:
    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: dict[str, Field] = field(default_factory=dict)  # keyed by lower-case name
    custom: bool = False
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    queryable: bool = True
    table: str = ""
    tooling_id: str | None = None
    url_base: str = "sobjects"  # "tooling/sobjects" for Tooling API objects

    def __post_init__(self) -> None:
        self.table = self.table or self.name

    def add(self, new: Field) -> Field:
        self.fields[new.name.lower()] = new
        return new

    def field(self, name: str) -> Field | None:
        return self.fields.get(name.lower())

    def relationship(self, name: str) -> Field | None:
        lowered = name.lower()
        return next(
            (f for f in self.fields.values() if (f.relationship_name or "").lower() == lowered),
            None,
        )

    def stored_fields(self) -> list[Field]:
        return [f for f in self.fields.values() if f.sql is None]

    def unique_fields(self) -> list[Field]:
        return [f for f in self.fields.values() if f.unique and f.sql is None]

    def urls(self, version: str) -> dict[str, str]:
        base = f"/services/data/v{version}/{self.url_base}/{self.name}"
        return {
            "sobject": base,
            "describe": f"{base}/describe",
            "rowTemplate": f"{base}/{{ID}}",
        }

    def summary(self, version: str, access: Any = None) -> dict[str, Any]:
        """describeGlobal's entry; with a user's access (security.Access), its CRUD flags
        are the user's."""
        can = access.can if access is not None else lambda obj, operation: True
        return {
            "activateable": False,
            "createable": self.createable and can(self, "create"),
            "custom": self.custom,
            "customSetting": False,
            "deletable": self.deletable and can(self, "delete"),
            "deprecatedAndHidden": False,
            "feedEnabled": False,
            "keyPrefix": self.key_prefix,
            "label": self.label,
            "labelPlural": self.label_plural,
            "layoutable": True,
            "mergeable": self.name in ("Contact", "Lead", "Account"),
            "mruEnabled": True,
            "name": self.name,
            "queryable": self.queryable,
            "replicateable": True,
            "retrieveable": True,
            "searchable": True,
            "triggerable": True,
            "undeletable": self.deletable and can(self, "delete"),
            "updateable": self.updateable and can(self, "edit"),
            "urls": self.urls(version),
        }


class Registry:
    """The objects of one API (data or tooling), looked up case-insensitively."""

    def __init__(self, objects: Iterable[SObject] = ()) -> None:
        self.objects: dict[str, SObject] = {}
        for obj in objects:
            self.add(obj)

    def add(self, obj: SObject) -> None:
        self.objects[obj.name.lower()] = obj

    def remove(self, obj: SObject) -> None:
        self.objects.pop(obj.name.lower(), None)

    def get(self, name: str) -> SObject | None:
        return self.objects.get(name.lower())

    def by_prefix(self, prefix: str) -> SObject | None:
        return next((o for o in self.objects.values() if o.key_prefix == prefix), None)

    def children_of(self, parent: str) -> list[tuple[SObject, Field]]:
        return [
            (obj, f)
            for obj in self.objects.values()
            for f in obj.fields.values()
            if f.type == "reference" and parent in f.reference_to and f.sql is None
        ]

    def describe(self, obj: SObject, version: str, access: Any = None) -> dict[str, Any]:
        """An object's describe; with a user's access (security.Access), only the fields and
        child relationships the user can see, createable/updateable as the user may write."""
        sees = access.sees if access is not None else lambda obj, f: True
        children = [
            {
                "cascadeDelete": f.cascade_delete,
                "childSObject": child.name,
                "deprecatedAndHidden": False,
                "field": f.name,
                "relationshipName": _child_relationship_name(child, f),
                "restrictedDelete": f.delete_constraint == "Restrict",
            }
            for child, f in self.children_of(obj.name)
            if access is None or (access.sees_object(child) and sees(child, f))
        ]
        fields = []
        for f in obj.fields.values():
            if not sees(obj, f):
                continue
            described = f.describe()
            if access is not None and not access.edits(obj, f):
                described["createable"] = described["updateable"] = False
            fields.append(described)
        return {
            **obj.summary(version, access),
            "childRelationships": children,
            "fields": fields,
            "recordTypeInfos": [],
            "supportedScopes": [{"label": "All " + obj.label_plural.lower(), "name": "everything"}],
        }


def _child_relationship_name(child: SObject, ref: Field) -> str | None:
    if child.custom or ref.custom:
        return (ref.relationship_name or child.name).removesuffix("__r") + "s__r"
    return child.label_plural.replace(" ", "")


def _label_from_name(name: str) -> str:
    base = name.removesuffix("__c")
    if base.endswith("Id") and len(base) > 2:
        base = base[:-2] + " ID"
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", base).replace("_", " ")


# -- building blocks -----------------------------------------------------------------------


def text(name: str, length: int = 255, label: str = "", **kw: Any) -> Field:
    return Field(name, "string", label, length=length, **kw)


def email(name: str = "Email", label: str = "Email", **kw: Any) -> Field:
    return Field(name, "email", label, length=80, **kw)


def boolean(name: str, label: str = "", default: bool = False, **kw: Any) -> Field:
    return Field(name, "boolean", label, nillable=False, default=int(default), **kw)


def ref(name: str, to: str, relationship: str, label: str = "", **kw: Any) -> Field:
    return Field(
        name,
        "reference",
        label,
        length=18,
        reference_to=(to,),
        relationship_name=relationship,
        **kw,
    )


def picklist(
    name: str, values: Iterable[str], label: str = "", default: str | None = None, **kw: Any
) -> Field:
    options = tuple(PicklistValue(value, value, default=value == default) for value in values)
    return Field(name, "picklist", label, length=255, picklist=options, default=default, **kw)


def readonly(new: Field) -> Field:
    new.createable = new.updateable = False
    return new


def computed(name: str, type_: str, sql: str, label: str = "", length: int = 0) -> Field:
    return Field(name, type_, label, length=length, sql=sql)


def system_fields(owner: bool = True) -> list[Field]:
    """Fields every object has. Audit fields are maintained by the emulator."""
    fields = [
        readonly(Field("Id", "id", "Record ID", length=18, nillable=False)),
        readonly(boolean("IsDeleted", "Deleted")),
        readonly(Field("CreatedDate", "datetime", "Created Date", nillable=False)),
        readonly(ref("CreatedById", "User", "CreatedBy", "Created By ID", nillable=False)),
        readonly(Field("LastModifiedDate", "datetime", "Last Modified Date", nillable=False)),
        readonly(
            ref("LastModifiedById", "User", "LastModifiedBy", "Last Modified By ID", nillable=False)
        ),
        readonly(Field("SystemModstamp", "datetime", "System Modstamp", nillable=False)),
    ]
    if owner:
        fields.append(ref("OwnerId", "User", "Owner", "Owner ID", nillable=False))
    return fields


AUDIT_FIELDS = ("CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById")


def make_object(
    name: str, label: str, plural: str, prefix: str, fields: Iterable[Field], **kw: Any
) -> SObject:
    obj = SObject(name, label, plural, prefix, **kw)
    for new in fields:
        obj.add(new)
    return obj


# -- standard objects ----------------------------------------------------------------------

LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
LEAD_STATUSES = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
)
CAMPAIGN_STATUSES = ("Planned", "In Progress", "Completed", "Aborted")
CAMPAIGN_TYPES = (
    "Conference",
    "Webinar",
    "Trade Show",
    "Public Relations",
    "Partners",
    "Referral Program",
    "Advertisement",
    "Banner Ads",
    "Direct Mail",
    "Email",
    "Telemarketing",
    "Other",
)
INDUSTRIES = ("Agriculture", "Banking", "Education", "Retail", "Technology", "Other")
# Mailing/lead country as a restricted picklist, as orgs with State and Country picklists
# have it: a value outside the list (say Campaign Monitor's "United States of America") is
# refused with INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST.
COUNTRIES = (
    "Australia",
    "Canada",
    "France",
    "Germany",
    "India",
    "Ireland",
    "Japan",
    "New Zealand",
    "Singapore",
    "United Kingdom",
    "United States",
)

_NAME_SQL = "TRIM(COALESCE({t}.\"FirstName\", '') || ' ' || COALESCE({t}.\"LastName\", ''))"
_BOUNCED_SQL = '({t}."EmailBouncedDate" IS NOT NULL)'


def _member_count(condition: str) -> str:
    return (
        '(SELECT COUNT(*) FROM "CampaignMember" m WHERE m."CampaignId" = {t}."Id" '
        f'AND m."IsDeleted" = 0 AND {condition})'
    )


def _member_person(column: str) -> str:
    return (
        f'COALESCE((SELECT c."{column}" FROM "Contact" c WHERE c."Id" = {{t}}."ContactId"), '
        f'(SELECT l."{column}" FROM "Lead" l WHERE l."Id" = {{t}}."LeadId"))'
    )


def _organization() -> SObject:
    fields = [
        *system_fields(owner=False),
        readonly(text("Name", 80, "Name", nillable=False, name_field=True)),
        readonly(boolean("IsSandbox", "Is Sandbox")),
        readonly(text("OrganizationType", 40, "Edition")),
        readonly(text("InstanceName", 5, "Instance Name")),
    ]
    return make_object(
        "Organization",
        "Organization",
        "Organizations",
        "00D",
        fields,
        createable=False,
        updateable=False,
        deletable=False,
    )


def _user() -> SObject:
    fields = [
        *system_fields(owner=False),
        readonly(text("Username", 80, "Username", nillable=False, unique=True)),
        readonly(text("FirstName", 40, "First Name")),
        readonly(text("LastName", 80, "Last Name", nillable=False)),
        computed("Name", "string", _NAME_SQL, "Full Name", 121),
        readonly(email(nillable=False)),
        readonly(text("Alias", 8, "Alias", nillable=False)),
        readonly(boolean("IsActive", "Active", default=True)),
        readonly(ref("ProfileId", "Profile", "Profile", "Profile ID", nillable=False)),
    ]
    obj = make_object(
        "User", "User", "Users", "005", fields, createable=False, updateable=False, deletable=False
    )
    obj.fields["name"].name_field = True
    return obj


def _account() -> SObject:
    fields = [
        *system_fields(),
        text("Name", 255, "Account Name", nillable=False, name_field=True),
        Field("Description", "textarea", "Account Description", length=32000),
        Field("Website", "url", "Website", length=255),
        Field("Phone", "phone", "Account Phone", length=40),
        picklist("Industry", INDUSTRIES, "Industry"),
        text("BillingCountry", 80, "Billing Country"),
    ]
    return make_object("Account", "Account", "Accounts", "001", fields)


def _person_fields() -> list[Field]:
    """Fields Contact and Lead share."""
    return [
        text("FirstName", 40, "First Name"),
        text("LastName", 80, "Last Name", nillable=False),
        computed("Name", "string", _NAME_SQL, "Full Name", 121),
        text("Title", 128, "Title"),
        email(indexed=True),
        Field("Phone", "phone", "Phone", length=40),
        boolean("HasOptedOutOfEmail", "Email Opt Out"),
        picklist("LeadSource", LEAD_SOURCES, "Lead Source"),
        Field("Description", "textarea", "Description", length=32000),
        Field("EmailBouncedDate", "datetime", "Email Bounced Date"),
        text("EmailBouncedReason", 255, "Email Bounced Reason"),
        computed("IsEmailBounced", "boolean", _BOUNCED_SQL, "Is Email Bounced"),
    ]


def _contact() -> SObject:
    fields = [
        *system_fields(),
        ref("AccountId", "Account", "Account", "Account ID", cascade_delete=True, indexed=True),
        *_person_fields(),
        text("MailingCity", 40, "Mailing City"),
        picklist("MailingCountry", COUNTRIES, "Mailing Country", restricted=True),
    ]
    obj = make_object("Contact", "Contact", "Contacts", "003", fields)
    obj.fields["name"].name_field = True
    obj.fields["lastmodifieddate"].indexed = True
    return obj


def _lead() -> SObject:
    fields = [
        *system_fields(),
        *_person_fields(),
        text("Company", 255, "Company", nillable=False),
        picklist("Status", LEAD_STATUSES, "Status", LEAD_STATUSES[0], restricted=True),
        text("City", 40, "City"),
        picklist("Country", COUNTRIES, "Country", restricted=True),
        readonly(boolean("IsConverted", "Converted")),
        readonly(Field("ConvertedDate", "date", "Converted Date")),
        readonly(ref("ConvertedAccountId", "Account", "ConvertedAccount", "Converted Account ID")),
        readonly(ref("ConvertedContactId", "Contact", "ConvertedContact", "Converted Contact ID")),
    ]
    obj = make_object("Lead", "Lead", "Leads", "00Q", fields)
    obj.fields["name"].name_field = True
    obj.fields["status"].nillable = False
    obj.fields["lastmodifieddate"].indexed = True
    return obj


def _campaign() -> SObject:
    statistics = [
        computed(
            "NumberOfContacts",
            "int",
            _member_count('m."ContactId" IS NOT NULL'),
            "Total Contacts in Campaign",
        ),
        computed(
            "NumberOfLeads",
            "int",
            _member_count('m."LeadId" IS NOT NULL AND m."ContactId" IS NULL'),
            "Leads in Campaign",
        ),
        computed(
            "NumberOfResponses",
            "int",
            _member_count('m."HasResponded" = 1'),
            "Responses in Campaign",
        ),
        computed("NumberOfConvertedLeads", "int", "0", "Converted Leads in Campaign"),
        computed("NumberOfOpportunities", "int", "0", "Opportunities in Campaign"),
        computed("NumberOfWonOpportunities", "int", "0", "Won Opportunities in Campaign"),
    ]
    fields = [
        *system_fields(),
        text("Name", 80, "Campaign Name", nillable=False, name_field=True),
        picklist("Status", CAMPAIGN_STATUSES, "Status", CAMPAIGN_STATUSES[0], restricted=True),
        picklist("Type", CAMPAIGN_TYPES, "Type", restricted=True),
        boolean("IsActive", "Active"),
        Field("StartDate", "date", "Start Date"),
        Field("EndDate", "date", "End Date"),
        Field("Description", "textarea", "Description", length=32000),
        Field("NumberSent", "double", "Num Sent in Campaign", precision=18),
        Field("ExpectedResponse", "percent", "Expected Response (%)", precision=8, scale=2),
        ref("ParentId", "Campaign", "Parent", "Parent Campaign ID"),
        *statistics,
    ]
    return make_object("Campaign", "Campaign", "Campaigns", "701", fields)


def _campaign_member() -> SObject:
    fields = [
        *system_fields(owner=False),
        ref(
            "CampaignId",
            "Campaign",
            "Campaign",
            "Campaign ID",
            nillable=False,
            updateable=False,
            cascade_delete=True,
            indexed=True,
        ),
        ref(
            "ContactId",
            "Contact",
            "Contact",
            "Contact ID",
            updateable=False,
            cascade_delete=True,
            indexed=True,
        ),
        ref(
            "LeadId", "Lead", "Lead", "Lead ID", updateable=False, cascade_delete=True, indexed=True
        ),
        Field(
            "Status",
            "picklist",
            "Status",
            length=40,
            picklist=(
                PicklistValue("Sent", "Sent", default=True),
                PicklistValue("Responded", "Responded"),
            ),
        ),
        readonly(boolean("HasResponded", "Responded")),
        readonly(Field("FirstRespondedDate", "date", "First Responded Date")),
        computed("Email", "email", _member_person("Email"), "Email", 80),
        computed("FirstName", "string", _member_person("FirstName"), "First Name", 40),
        computed("LastName", "string", _member_person("LastName"), "Last Name", 80),
        computed(
            "Type",
            "string",
            "CASE WHEN {t}.\"ContactId\" IS NOT NULL THEN 'Contact' ELSE 'Lead' END",
            "Member Type",
            40,
        ),
        computed(
            "LeadOrContactId",
            "reference",
            'COALESCE({t}."ContactId", {t}."LeadId")',
            "Contact or Lead ID",
            18,
        ),
    ]
    return make_object("CampaignMember", "Campaign Member", "Campaign Members", "00v", fields)


def _campaign_member_status() -> SObject:
    fields = [
        *system_fields(owner=False),
        ref(
            "CampaignId",
            "Campaign",
            "Campaign",
            "Campaign ID",
            nillable=False,
            updateable=False,
            cascade_delete=True,
            indexed=True,
        ),
        text("Label", 765, "Member Status", nillable=False),
        Field("SortOrder", "int", "Sort Order", precision=9),
        boolean("IsDefault", "Default"),
        boolean("HasResponded", "Responded"),
    ]
    return make_object(
        "CampaignMemberStatus", "Campaign Member Status", "Campaign Member Statuses", "01Y", fields
    )


def _profile() -> SObject:
    fields = [
        *system_fields(owner=False),
        readonly(text("Name", 255, "Name", nillable=False, name_field=True)),
        readonly(text("Description", 255, "Description")),
    ]
    return make_object(
        "Profile",
        "Profile",
        "Profiles",
        "00e",
        fields,
        createable=False,
        updateable=False,
        deletable=False,
    )


def _permission_set() -> SObject:
    """A permission set; one per profile is owned by the profile (IsOwnedByProfile) and holds
    the profile's object and field permissions."""
    fields = [
        *system_fields(owner=False),
        text("Name", 80, "Permission Set Name", nillable=False, unique=True, name_field=True),
        text("Label", 80, "Permission Set Label", nillable=False),
        text("Description", 255, "Description"),
        readonly(text("NamespacePrefix", 15, "Namespace Prefix")),
        readonly(boolean("IsOwnedByProfile", "Is Owned By Profile")),
        readonly(boolean("IsCustom", "Custom", default=True)),
        readonly(ref("ProfileId", "Profile", "Profile", "Profile ID")),
        readonly(boolean("PermissionsViewAllData", "View All Data")),
        readonly(boolean("PermissionsModifyAllData", "Modify All Data")),
    ]
    return make_object("PermissionSet", "Permission Set", "Permission Sets", "0PS", fields)


def _parent_ref() -> Field:
    return ref(
        "ParentId",
        "PermissionSet",
        "Parent",
        "Parent ID",
        nillable=False,
        updateable=False,
        cascade_delete=True,
        indexed=True,
    )


def _object_permissions() -> SObject:
    fields = [
        *system_fields(owner=False),
        _parent_ref(),
        Field("SobjectType", "picklist", "SObject Type Name", length=40, nillable=False),
        boolean("PermissionsRead", "Read Records"),
        boolean("PermissionsCreate", "Create Records"),
        boolean("PermissionsEdit", "Edit Records"),
        boolean("PermissionsDelete", "Delete Records"),
        boolean("PermissionsViewAllRecords", "Read All Records"),
        boolean("PermissionsModifyAllRecords", "Edit All Records"),
    ]
    obj = make_object(
        "ObjectPermissions", "Object Permissions", "Object Permissions", "110", fields
    )
    obj.fields["sobjecttype"].updateable = False
    return obj


def _field_permissions() -> SObject:
    fields = [
        *system_fields(owner=False),
        _parent_ref(),
        Field("SobjectType", "picklist", "SObject Type Name", length=40, nillable=False),
        Field("Field", "picklist", "Field Name", length=255, nillable=False),
        boolean("PermissionsRead", "Read Field"),
        boolean("PermissionsEdit", "Edit Field"),
    ]
    obj = make_object("FieldPermissions", "Field Permissions", "Field Permissions", "01k", fields)
    for name in ("sobjecttype", "field"):
        obj.fields[name].updateable = False
    return obj


def _permission_set_assignment() -> SObject:
    fields = [
        *system_fields(owner=False),
        ref(
            "AssigneeId",
            "User",
            "Assignee",
            "Assignee ID",
            nillable=False,
            updateable=False,
            indexed=True,
        ),
        ref(
            "PermissionSetId",
            "PermissionSet",
            "PermissionSet",
            "Permission Set ID",
            nillable=False,
            updateable=False,
            delete_constraint="Restrict",
            indexed=True,
        ),
    ]
    return make_object(
        "PermissionSetAssignment",
        "Permission Set Assignment",
        "Permission Set Assignments",
        "0Pa",
        fields,
        updateable=False,
    )


def _permission_set_tab_setting() -> SObject:
    """A tab's visibility in a permission set (or a profile's owned set). Name is the tab's
    API name: a custom object tab's object ("CM_List__c") or "standard-Account"; a tab the
    set has no row for is hidden from its users."""
    visibility = Field(
        "Visibility",
        "picklist",
        "Visibility",
        length=40,
        nillable=False,
        picklist=(
            PicklistValue("DefaultOff", "Default Off"),
            PicklistValue("DefaultOn", "Default On"),
        ),
        restricted=True,
    )
    fields = [
        *system_fields(owner=False),
        _parent_ref(),
        text("Name", 60, "Tab Name", nillable=False, updateable=False),
        visibility,
    ]
    return make_object(
        "PermissionSetTabSetting",
        "Permission Set Tab Setting",
        "Permission Set Tab Settings",
        "01P",
        fields,
    )


# The objects that grant access (security.py). Standard, so always visible.
SECURITY_OBJECTS = (
    "Profile",
    "PermissionSet",
    "ObjectPermissions",
    "FieldPermissions",
    "PermissionSetAssignment",
    "PermissionSetTabSetting",
)


def standard_objects() -> list[SObject]:
    return [
        _organization(),
        _profile(),
        _user(),
        _permission_set(),
        _object_permissions(),
        _field_permissions(),
        _permission_set_assignment(),
        _permission_set_tab_setting(),
        _account(),
        _contact(),
        _lead(),
        _campaign(),
        _campaign_member(),
        _campaign_member_status(),
    ]


# Objects that accept custom fields through the Tooling API.
CUSTOMIZABLE = frozenset({"Account", "Contact", "Lead", "Campaign", "CampaignMember", "User"})

# Tooling API objects, queryable with the same SOQL engine.


def tooling_objects() -> list[SObject]:
    common = [
        readonly(Field("Id", "id", "Record ID", length=18, nillable=False)),
        readonly(text("DeveloperName", 40, "Developer Name", nillable=False)),
        readonly(text("NamespacePrefix", 15, "Namespace Prefix")),
        readonly(text("FullName", 255, "Full Name")),
        readonly(Field("CreatedDate", "datetime", "Created Date", nillable=False)),
        readonly(Field("LastModifiedDate", "datetime", "Last Modified Date", nillable=False)),
        readonly(Field("Metadata", "complexvalue", "Metadata")),
    ]
    custom_object = make_object(
        "CustomObject",
        "Custom Object",
        "Custom Objects",
        "01I",
        common,
        table="_tooling_CustomObject",
        url_base="tooling/sobjects",
    )
    custom_object.add(readonly(text("ManageableState", 40, "Manageable State")))
    custom_field = make_object(
        "CustomField",
        "Custom Field",
        "Custom Fields",
        "00N",
        [
            Field(
                f.name,
                f.type,
                f.label,
                length=f.length,
                nillable=f.nillable,
                createable=False,
                updateable=False,
            )
            for f in common
        ],
        table="_tooling_CustomField",
        url_base="tooling/sobjects",
    )
    custom_field.add(readonly(text("TableEnumOrId", 40, "Table Enum or ID", nillable=False)))
    return [custom_object, custom_field, _layout(), _web_link(), _custom_tab()]


def _metadata_fields() -> list[Field]:
    """Id, FullName, Metadata and the audit dates: what every metadata-backed Tooling object
    has (FullName and Metadata may only be selected by a query that returns one row)."""
    return [
        readonly(Field("Id", "id", "Record ID", length=18, nillable=False)),
        readonly(text("NamespacePrefix", 15, "Namespace Prefix")),
        readonly(text("ManageableState", 40, "Manageable State")),
        readonly(text("FullName", 255, "Full Name")),
        readonly(Field("CreatedDate", "datetime", "Created Date", nillable=False)),
        readonly(Field("LastModifiedDate", "datetime", "Last Modified Date", nillable=False)),
        readonly(Field("Metadata", "complexvalue", "Metadata")),
    ]


def _layout() -> SObject:
    """Page layouts: TableEnumOrId is the object's name (a custom object's Id for custom ones)."""
    fields = [
        *_metadata_fields(),
        readonly(text("Name", 255, "Name", nillable=False)),
        readonly(text("TableEnumOrId", 40, "Table Enum or ID", nillable=False, indexed=True)),
        readonly(text("EntityDefinitionId", 40, "Entity Definition ID")),
        readonly(text("LayoutType", 40, "Layout Type")),
    ]
    return make_object(
        "Layout",
        "Layout",
        "Layouts",
        "00h",
        fields,
        createable=False,
        deletable=False,
        table="_tooling_Layout",
        url_base="tooling/sobjects",
    )


def _web_link() -> SObject:
    """Custom buttons and links. Name is the developer name without the object;
    EntityDefinitionId the object's name (a custom object's Id for custom ones)."""
    fields = [
        *_metadata_fields(),
        readonly(text("Name", 240, "Name", nillable=False)),
        readonly(text("EntityDefinitionId", 40, "Entity Definition ID", indexed=True)),
        readonly(text("PageOrSobjectType", 40, "Page or sObject Type", nillable=False)),
    ]
    return make_object(
        "WebLink",
        "Custom Button or Link",
        "Custom Buttons or Links",
        "00b",
        fields,
        table="_tooling_WebLink",
        url_base="tooling/sobjects",
    )


def _custom_tab() -> SObject:
    """Custom object tabs. A custom object tab has no DeveloperName or MasterLabel of its own:
    the object it shows is its FullName."""
    tab_type = Field(
        "Type",
        "picklist",
        "Type",
        length=40,
        picklist=(PicklistValue("customObject", "Custom Object"),),
        restricted=True,
    )
    fields = [
        *_metadata_fields(),
        readonly(text("DeveloperName", 40, "Developer Name")),
        readonly(text("MasterLabel", 255, "Master Label")),
        readonly(tab_type),
        readonly(Field("Description", "textarea", "Description", length=1000)),
    ]
    return make_object(
        "CustomTab",
        "Custom Tab",
        "Custom Tabs",
        "01r",
        fields,
        updateable=False,
        table="_tooling_CustomTab",
        url_base="tooling/sobjects",
    )
