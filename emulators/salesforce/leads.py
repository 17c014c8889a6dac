"""Lead conversion, as Salesforce's convertLead does it for the fields cmsync meets.

Converting a Lead creates a Contact from it (or links an existing one) under an Account (a
new one named after the Lead's Company, unless the Contact has one or one is given), sets
the Lead's IsConverted, ConvertedContactId, ConvertedAccountId, ConvertedDate and its
Status to the converted status "Closed - Converted"; the Lead's campaign members get the
ContactId as well. A converted Lead stays readable
through the API (SOQL returns it unless filtered with IsConverted = false) but any update
is refused with CANNOT_UPDATE_CONVERTED_LEAD "cannot reference converted lead".
"""

from typing import Any

from emulators.salesforce.dml import Actor, Engine, Saved
from emulators.salesforce.errors import SfError

CONVERTED_STATUS = "Closed - Converted"
# What the new Contact takes from the Lead (Salesforce's standard lead field mapping).
CONTACT_FIELDS = ("FirstName", "LastName", "Title", "Email", "Phone", "HasOptedOutOfEmail")


def converted_lead() -> SfError:
    return SfError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", [])


class LeadRules:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        engine.hooks.setdefault("Lead", {})["before_update"] = self.lead_updating

    def members_follow(self, lead_id: str, contact_id: str) -> None:
        """The Lead's campaign members get the Contact too (and keep the Lead), except in
        campaigns the Contact is already a member of."""
        self.engine.store.execute(
            'UPDATE "CampaignMember" SET "ContactId" = ? WHERE "LeadId" = ? AND "IsDeleted" = 0 '
            'AND "ContactId" IS NULL AND "CampaignId" NOT IN (SELECT "CampaignId" FROM '
            '"CampaignMember" WHERE "ContactId" = ? AND "IsDeleted" = 0)',
            (contact_id, lead_id, contact_id),
        )

    @staticmethod
    def lead_updating(current: dict[str, Any]) -> None:
        if current.get("IsConverted"):
            raise converted_lead()

    def convert(
        self,
        lead_id: str,
        actor: Actor,
        contact_id: str | None = None,
        account_id: str | None = None,
    ) -> dict[str, Any]:
        """Convert a Lead; returns its new conversion fields."""
        engine = self.engine
        leads, contacts = engine.sobject("Lead"), engine.sobject("Contact")
        with engine.store.transaction():
            lead = engine.live(leads, lead_id)
            if lead.get("IsConverted"):
                raise converted_lead()
            contact = engine.live(contacts, contact_id) if contact_id else None
            if account_id:
                account_id = engine.live(engine.sobject("Account"), account_id)["Id"]
            else:
                account_id = (contact or {}).get("AccountId") or engine.create(
                    engine.sobject("Account"), {"Name": lead["Company"]}, actor
                )
            if contact is None:
                values = {k: lead[k] for k in CONTACT_FIELDS if lead.get(k) is not None}
                values["HasOptedOutOfEmail"] = bool(values.get("HasOptedOutOfEmail"))
                contact_id = engine.create(contacts, {**values, "AccountId": account_id}, actor)
            else:
                contact_id = contact["Id"]
            now = engine.clock.stamp()
            changes = {
                "IsConverted": 1,
                "ConvertedContactId": contact_id,
                "ConvertedAccountId": account_id,
                "ConvertedDate": engine.clock.today().isoformat(),
                "Status": CONVERTED_STATUS,
                "LastModifiedDate": now,
                "LastModifiedById": actor.user_id,
                "SystemModstamp": now,
            }
            engine.store.update(leads, lead["Id"], changes)
            engine.store.defer(Saved("Lead", lead["Id"], False))
            self.members_follow(lead["Id"], contact_id)
        return {"Id": lead["Id"], **changes}
