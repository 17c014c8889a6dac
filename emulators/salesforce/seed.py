"""Deterministic seeding: the org, its users and accounts, demo campaigns, and people.

People are bulk-inserted (one executemany per object) because seed_people must take 100,000
addresses in a few seconds; the rows are built valid by construction, and addresses that
Salesforce would reject are left out (counted as unmatched), as they could never have been
saved in a real org.
"""

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from emulators.salesforce import sobject_collections as collections
from emulators.salesforce.clock import format_datetime
from emulators.salesforce.dml import EMAIL_RE, Actor, ValidationRule
from emulators.salesforce.identity import PROFILES, USERS
from emulators.salesforce.store import quote

if TYPE_CHECKING:
    from emulators.salesforce.org import Org

ACCOUNTS = (
    {"Name": "Acme Corporation", "Industry": "Technology", "BillingCountry": "Australia"},
    {"Name": "Globex Ltd", "Industry": "Retail", "BillingCountry": "United Kingdom"},
    {"Name": "Initech Pty Ltd", "Industry": "Banking", "BillingCountry": "Australia"},
)
DEMO_CAMPAIGNS = (
    {
        "Name": "Spring Newsletter 2026",
        "Type": "Email",
        "Status": "In Progress",
        "IsActive": True,
        "StartDate": "2026-03-01",
        "NumberSent": 0,
    },
    {"Name": "Product Launch Webinar", "Type": "Webinar", "Status": "Planned", "IsActive": True},
    {
        "Name": "Customer Survey Q1",
        "Type": "Email",
        "Status": "Completed",
        "IsActive": False,
        "StartDate": "2026-01-05",
        "EndDate": "2026-03-31",
    },
    {"Name": "Partner Roadshow", "Type": "Conference", "Status": "Planned", "IsActive": False},
)
DEMO_RULE = {
    "object": "Contact",
    "field": "Description",
    "equals": "LEGAL HOLD - do not modify",
    "message": "This contact is under legal hold: it cannot be changed.",
}
FIRST_NAMES = (
    "Olivia Liam Emma Noah Ava Oliver Mia Elijah Sophia Lucas Isla Jack Grace Leo Chloe Henry "
    "Zoe Mason Ruby Ethan Amelia James Harper Thomas Ella Arjun Mei Sofia Kenji Aisha".split()
)
LAST_NAMES = (
    "Smith Jones Williams Brown Taylor Wilson Nguyen Martin Lee Walker Harris Clark Lewis "
    "Young King Wright Scott Green Baker Adams Patel Chen Kim Garcia Rossi Muller Silva".split()
)
COMPANIES = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Ltd")
COUNTRIES = ("Australia", "New Zealand", "United Kingdom", "United States", "Canada", None)
SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other", None)

COMMON = (
    "Id",
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
    "OwnerId",
    "FirstName",
    "LastName",
    "Email",
    "HasOptedOutOfEmail",
    "LeadSource",
    "Description",
)
COLUMNS = {
    "Contact": (*COMMON, "AccountId", "MailingCountry"),
    "Lead": (*COMMON, "Company", "Status", "Country", "IsConverted"),
}


@dataclass
class Person:
    kind: str  # Contact / Lead
    email: str
    first: str
    last: str
    created: str
    modified: str
    opted_out: bool = False
    description: str | None = None


# -- the org -------------------------------------------------------------------------------


def seed_org(org: "Org") -> None:
    org.identity.assign_ids(org.ids)
    for registry in (org.registry, org.tooling_registry):
        for obj in registry.objects.values():
            org.store.create_table(obj)
    org.tooling.layouts.seed()  # the standard page layouts, in every seed
    insert_org_and_users(org)
    admin = Actor(org.identity.users[0]["Id"])
    accounts = org.engine.sobject("Account")
    for account in ACCOUNTS:
        org.engine.create(accounts, account, admin)
    if org.seed == "demo":
        campaigns = org.engine.sobject("Campaign")
        for campaign in DEMO_CAMPAIGNS:
            org.engine.create(campaigns, campaign, admin)
        org.add_rule(**DEMO_RULE)
    elif isinstance(org.seed, int):
        seed_count(org, org.seed)
    action = org.duplicate_rules_option or ("alert" if org.seed == "demo" else "none")
    if action != "none":
        for sobject in ("Contact", "Lead"):
            org.add_duplicate_rule(sobject, action)


def _audit(org: "Org") -> dict[str, Any]:
    """The audit fields of a record the first user creates now."""
    now = org.clock.stamp()
    admin_id = org.identity.users[0]["Id"]
    return {
        "IsDeleted": 0,
        "CreatedDate": now,
        "CreatedById": admin_id,
        "LastModifiedDate": now,
        "LastModifiedById": admin_id,
        "SystemModstamp": now,
    }


def insert_org_and_users(org: "Org") -> None:
    audit = _audit(org)
    org.store.insert(
        org.engine.sobject("Organization"),
        {
            **audit,
            "Id": org.identity.org_id,
            "Name": org.identity.org_name,
            "IsSandbox": 0,
            "OrganizationType": "Developer Edition",
            "InstanceName": "EMU1",
        },
    )
    profiles = insert_profiles(org, audit)
    for user in org.identity.users:
        insert_user(org, user, profiles[user["profile"]], audit)


def insert_profiles(org: "Org", audit: dict[str, Any]) -> dict[str, str]:
    """The profiles and the permission set each owns (which holds its object and field
    permissions); the System Administrator's has View All Data and Modify All Data."""
    found = {}
    for name in PROFILES:
        profile_id = org.ids.new("00e")
        org.store.insert(org.engine.sobject("Profile"), {**audit, "Id": profile_id, "Name": name})
        admin = int(name == "System Administrator")
        owned = {
            "Id": org.ids.new("0PS"),
            "Name": f"X{profile_id[:15]}",
            "Label": profile_id[:15],
            "IsOwnedByProfile": 1,
            "IsCustom": 0,
            "ProfileId": profile_id,
            "PermissionsViewAllData": admin,
            "PermissionsModifyAllData": admin,
        }
        org.store.insert(org.engine.sobject("PermissionSet"), {**audit, **owned})
        found[name] = profile_id
    return found


def insert_user(org: "Org", user: dict[str, Any], profile_id: str, audit: dict) -> None:
    fields = ("Id", "Username", "FirstName", "LastName", "Email", "Alias")
    record = {**audit, **{k: user[k] for k in fields}, "IsActive": 1, "ProfileId": profile_id}
    org.store.insert(org.engine.sobject("User"), record)


def reopen(org: "Org") -> None:
    """Pick up a data_dir left by an earlier run with the same seed."""
    org.tooling.load()
    for obj in org.registry.objects.values():  # objects added since the data_dir was written
        if not org.store.has_table(obj):
            org.store.create_table(obj)
    org.identity.org_id = org.store.rows('SELECT "Id" FROM "Organization"')[0][0]
    found = dict(org.store.rows('SELECT "Username", "Id" FROM "User"'))
    org.identity.users = [
        {
            **user,
            "Id": found.get(user["Username"]) or "",
            "Email": user["Username"],
            "Name": f"{user['FirstName']} {user['LastName']}",
        }
        for user in USERS
    ]
    for registry in (org.registry, org.tooling_registry):
        for obj in registry.objects.values():
            top = org.store.rows(f'SELECT MAX("Id") FROM {quote(obj.table)}')[0][0]
            if top:
                org.ids.observe(top)
    org.engine.rules = [ValidationRule(**r) for r in org.store.meta("validation_rules", [])]
    for rule in org.engine.rules:
        org.ids.observe(rule.id)
    _upgrade(org)
    org.load_duplicate_rules()


def _upgrade(org: "Org") -> None:
    """A data_dir written before profiles, permission sets and the third user existed."""
    users = org.engine.sobject("User")
    columns = {row[1] for row in org.store.rows('PRAGMA table_info("User")')}
    if "ProfileId" not in columns:
        org.store.add_column(users, users.fields["profileid"])
    if not org.store.rows('SELECT 1 FROM "Profile"'):
        audit = _audit(org)
        profiles = insert_profiles(org, audit)
        for user in org.identity.users:
            if not user["Id"]:
                user["Id"] = org.ids.new("005")
                insert_user(org, user, profiles[user["profile"]], audit)
            else:
                org.store.execute(
                    'UPDATE "User" SET "ProfileId" = ? WHERE "Id" = ?',
                    (profiles[user["profile"]], user["Id"]),
                )


def insert(org: "Org", type_name: str, records: list[Any]) -> list[dict[str, Any]]:
    """Insert through the normal checks, allowing audit fields (CreatedDate...) to be set."""
    obj = org.engine.sobject(type_name)
    actor = Actor(org.identity.users[0]["Id"], allow_audit=True, skip_duplicates=True)
    typed = [{"attributes": {"type": obj.name}, **r} if isinstance(r, dict) else r for r in records]
    operations = collections.create_ops(org.engine, typed, actor)
    return collections.run(org.store, operations, all_or_none=False)


# -- people --------------------------------------------------------------------------------


class PeopleMaker:
    def __init__(self, org: "Org", rng: random.Random) -> None:
        self.org, self.rng = org, rng
        self.now = org.clock.now()

    def stamps(self, older: bool = False) -> tuple[str, str]:
        age = timedelta(days=self.rng.uniform(30, 720))
        created = self.now - age
        modified = created + age * self.rng.uniform(0.0, 0.5 if older else 1.0)
        return format_datetime(created), format_datetime(modified)

    def names(self, email: str) -> tuple[str, str]:
        local = email.split("@", 1)[0]
        parts = [p for p in local.replace("_", ".").replace("-", ".").split(".") if p.isalpha()]
        if len(parts) >= 2:
            return parts[0].capitalize(), parts[1].capitalize()
        return self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)

    def person(self, kind: str, email: str, older: bool = False) -> Person:
        first, last = self.names(email)
        created, modified = self.stamps(older)
        opted_out = self.rng.random() < 0.05
        return Person(kind, email, first, last, created, modified, opted_out)

    def twin(self, first: Person, kind: str, email: str, older: bool = False) -> Person:
        """Another record for the same person: same names, so duplicate rules match it."""
        other = self.person(kind, email, older)
        other.first, other.last = first.first, first.last
        return other

    def vary_case(self, email: str) -> str:
        local, _, domain = email.partition("@")
        variants = (
            email.upper(),
            local.capitalize() + "@" + domain,
            local + "@" + domain.upper(),
            email.swapcase(),
        )
        return self.rng.choice(variants)


def seed_people(org: "Org", emails: Iterable[str]) -> dict[str, int]:
    """Contacts for most addresses, Leads for some, duplicates, gaps and validation traps."""
    calls = int(org.store.meta("people_calls", 0)) + 1
    org.store.set_meta("people_calls", calls)
    unique = list({e.strip().lower(): e.strip() for e in emails if e.strip()}.values())
    rng = random.Random(f"{org.seed}:people:{calls}:{len(unique)}")
    maker = PeopleMaker(org, rng)
    counts = dict.fromkeys(
        ("contacts", "leads", "duplicates", "unmatched", "validation_traps", "converted_leads"), 0
    )
    people: list[Person] = []
    singles: list[Person] = []
    for email in unique:
        roll = rng.random()
        if len(email) > 80 or not EMAIL_RE.match(email) or roll < 0.04:
            counts["unmatched"] += 1
            continue
        stored = maker.vary_case(email) if rng.random() < 0.25 else email
        if roll < 0.16:
            people.append(maker.person("Lead", stored))
        elif roll < 0.19:
            contact = maker.person("Contact", stored)
            people += [contact, maker.twin(contact, "Lead", email)]
            counts["duplicates"] += 1
        elif roll < 0.22:
            contact = maker.person("Contact", stored)
            people += [contact, maker.twin(contact, "Contact", email, older=True)]
            counts["duplicates"] += 1
        else:
            singles.append(maker.person("Contact", stored))
            people.append(singles[-1])
    wanted = 0 if len(singles) < 5 else max(3, len(singles) // 250)
    for trap in rng.sample(singles, min(wanted, len(singles))):
        trap.description = DEMO_RULE["equals"]
        trap.opted_out = False
    counts["validation_traps"] = min(wanted, len(singles))
    counts["contacts"] = sum(p.kind == "Contact" for p in people)
    counts["leads"] = len(people) - counts["contacts"]
    bulk_insert(org, people, rng)
    converted = random.Random(f"{org.seed}:converted:{calls}:{len(unique)}")
    plain = [p for p in singles if p.description is None]
    wanted = 0 if len(plain) < 5 else max(2, len(plain) // 50)
    counts["converted_leads"] = insert_converted_leads(
        org, converted.sample(plain, min(wanted, len(plain))), PeopleMaker(org, converted)
    )
    return counts


def insert_converted_leads(org: "Org", contacts: list[Person], maker: PeopleMaker) -> int:
    """A Lead converted long ago into each of these Contacts: same email and names, and
    (as Salesforce keeps it) readable but never again updatable."""
    fallback = org.store.rows('SELECT "Id" FROM "Account" ORDER BY _rid LIMIT 1')[0][0]
    leads, links = [], []
    for contact in contacts:
        found = org.store.rows(
            'SELECT "Id", "AccountId", "CreatedDate" FROM "Contact" WHERE "Email" = ? '
            'AND "IsDeleted" = 0 ORDER BY _rid LIMIT 1',
            (contact.email,),
        )
        if not found:
            continue
        contact_id, account_id, converted_at = found[0]
        lead = maker.twin(contact, "Lead", contact.email, older=True)
        lead.opted_out = contact.opted_out
        lead.created, lead.modified = min(lead.created, converted_at), converted_at
        leads.append(lead)
        links.append((contact_id, account_id or fallback, converted_at[:10]))
    bulk_insert(org, leads, maker.rng)
    new_ids = [
        row[0]
        for row in org.store.rows(
            'SELECT "Id" FROM "Lead" ORDER BY _rid DESC LIMIT ?', (len(leads),)
        )
    ][::-1]
    with org.store.transaction():
        for lead_id, (contact_id, account_id, day) in zip(new_ids, links, strict=True):
            org.store.update(
                org.engine.sobject("Lead"),
                lead_id,
                {
                    "IsConverted": 1,
                    "Status": "Closed - Converted",
                    "ConvertedContactId": contact_id,
                    "ConvertedAccountId": account_id,
                    "ConvertedDate": day,
                },
            )
    return len(leads)


def seed_count(org: "Org", count: int, chunk: int = 20_000) -> None:
    """`count` Contacts and Leads with distinct random addresses (for benchmarks), inserted
    in chunks so that seeding 200,000 people never holds them all in Python at once."""
    rng = random.Random(f"{org.seed}:count")
    maker = PeopleMaker(org, rng)
    domains = ("example.com", "example.org", "mail.example.net", "corp.example")
    for start in range(0, count, chunk):
        people = []
        for number in range(start, min(count, start + chunk)):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            email = f"{first}.{last}.{number}@{rng.choice(domains)}".lower()
            kind = "Lead" if rng.random() < 0.15 else "Contact"
            created, modified = maker.stamps()
            opted_out = rng.random() < 0.03
            people.append(Person(kind, email, first, last, created, modified, opted_out))
        bulk_insert(org, people, rng)


def bulk_insert(org: "Org", people: list[Person], rng: random.Random) -> None:
    # Owners: the admin and the integration user, as before the marketing user existed
    # (the same seed gives the same people).
    users = [u["Id"] for u in org.identity.users[:2]]
    accounts = [row[0] for row in org.store.rows('SELECT "Id" FROM "Account" ORDER BY _rid')]
    with org.store.transaction():
        for kind, prefix in (("Contact", "003"), ("Lead", "00Q")):
            group = [p for p in people if p.kind == kind]
            new_ids = org.ids.block(prefix, len(group))
            rows = [
                _row(kind, p, record_id, rng, users, accounts)
                for p, record_id in zip(group, new_ids, strict=True)
            ]
            org.store.insert_many(org.engine.sobject(kind), COLUMNS[kind], rows)


def _row(
    kind: str, p: Person, record_id: str, rng: random.Random, users: list, accounts: list
) -> tuple:
    owner = rng.choice(users)
    common = (
        record_id,
        0,
        p.created,
        owner,
        p.modified,
        owner,
        p.modified,
        owner,
        p.first,
        p.last,
        p.email,
        int(p.opted_out),
        rng.choice(SOURCES),
        p.description,
    )
    country = rng.choice(COUNTRIES)
    if kind == "Contact":
        account = rng.choice(accounts) if accounts and rng.random() < 0.6 else None
        return (*common, account, country)
    status = "Open - Not Contacted" if rng.random() < 0.7 else "Working - Contacted"
    return (*common, rng.choice(COMPANIES), status, country, 0)
