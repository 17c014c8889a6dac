"""The soak's end states and their comparison: what Salesforce and Campaign Monitor hold,
record by record, keyed so that two worlds seeded alike can be compared.

Salesforce records the seed made (Contacts, Leads) have the same ids in both worlds; the
records cmsync creates do not (their ids follow the order of its writes), so they are keyed
by what names them: a Campaign by its Campaign Monitor id, a member by that campaign and its
Contact or Lead, a tracking row by CM_Event_Key__c, a list by its ListID, a membership by
CM_Membership_Key__c. Campaign Monitor subscribers are keyed by list and address.

Links to a person are compared by the person, not the record: where several Contacts (or
Leads) share an email, a membership or tracking row links to the most recently modified one
(DESIGN.md §5, "Record linking"), and cmsync's own opt-out writes change which one that is,
so the linked Id may differ between two correct worlds. A link is read as "the Contact (or
Lead) with this email"; a link to a record of another email or object, or a missing link,
still differs. A link to a record that no longer exists stays its Id.

Not compared: a membership's state date. When cmsync itself changes a state (an opt-out
ticked in Salesforce unsubscribes the address), Campaign Monitor dates the change when
cmsync's call arrives, which depends on how long the world took, faults or not.

A difference is one of three kinds:
- lost: a row the reference has that the faulty world lacks (an opt-out never written);
- duplicated: more rows under one key than the reference has (a tracking row twice);
- wrong: the same key with another value (a flag, a status, a count), or a row under a key
  the reference does not have at all.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import requests

Row = tuple[tuple, tuple]  # (key, values)
Snapshot = dict[str, list[Row]]

SF_VERSION = "v62.0"
CM_STATES = ("active", "unconfirmed", "unsubscribed", "bounced", "deleted")
STATS = (
    "CM_Recipients__c", "CM_Total_Opens__c", "CM_Unique_Opens__c", "CM_Clicks__c",
    "CM_Unsubscribes__c", "CM_Bounces__c", "CM_Spam_Complaints__c",
)  # fmt: skip


@dataclass(frozen=True)
class Difference:
    kind: str  # "lost" | "duplicated" | "wrong"
    table: str
    key: tuple
    reference: Any
    faulty: Any

    def describe(self) -> str:
        return (
            f"{self.kind}: {self.table} {'/'.join(map(str, self.key))}: reference "
            f"{self.reference!r}, faulty {self.faulty!r}"
        )


# Where each table links to a person: (part of the row, index in it, the object linked).
LINKS = {
    "CampaignMember": (("key", 1, "Contact"), ("key", 2, "Lead")),
    "CM_Email_Tracking__c": (("values", 3, "Contact"), ("values", 4, "Lead")),
    "CM_List_Membership__c": (("values", 1, "Contact"), ("values", 2, "Lead")),
}


def compare(reference: Snapshot, faulty: Snapshot) -> list[Difference]:
    """Every difference between two end states, table by table."""
    if set(reference) != set(faulty):
        raise ValueError(f"Snapshots of different tables: {sorted(reference)} {sorted(faulty)}")
    reference, faulty = by_person(reference), by_person(faulty)
    found: list[Difference] = []
    for table in sorted(reference):
        found.extend(_compare_table(table, reference[table], faulty[table]))
    return found


def by_person(state: Snapshot) -> Snapshot:
    """The snapshot with each link to a Contact or Lead read as "the Contact (Lead) with this
    email", from the snapshot's own Contact and Lead rows (see the module docstring)."""
    people = {
        (obj, key[0]): f"{obj} with {values[0]}"
        for obj in ("Contact", "Lead")
        for key, values in state.get(obj, [])
    }

    def person(obj: str, record_id):
        return people.get((obj, record_id), record_id) if record_id else record_id

    def relinked(table: str, row: Row) -> Row:
        parts = {"key": list(row[0]), "values": list(row[1])}
        for part, index, obj in LINKS[table]:
            parts[part][index] = person(obj, parts[part][index])
        return tuple(parts["key"]), tuple(parts["values"])

    return {
        table: [relinked(table, row) for row in rows] if table in LINKS else rows
        for table, rows in state.items()
    }


def _grouped(rows: Iterable[Row]) -> dict[tuple, list[tuple]]:
    groups: dict[tuple, list[tuple]] = defaultdict(list)
    for key, values in rows:
        groups[tuple(key)].append(tuple(values))
    return groups


def _compare_table(table: str, reference: list[Row], faulty: list[Row]) -> Iterator[Difference]:
    ref, got = _grouped(reference), _grouped(faulty)
    for key in sorted(set(ref) | set(got), key=repr):
        want, have = ref.get(key, []), got.get(key, [])
        if not have:
            yield Difference("lost", table, key, want[0], None)
            continue
        if not want:
            yield Difference("wrong", table, key, None, have[0])
            continue
        if len(have) > len(want):
            yield Difference("duplicated", table, key, len(want), len(have))
        elif len(have) < len(want):
            yield Difference("lost", table, key, len(want), len(have))
        missing = Counter(want) - Counter(have)
        extra = Counter(have) - Counter(want)
        if missing and extra:
            yield Difference("wrong", table, key, sorted(missing)[0], sorted(extra)[0])


def tally(differences: list[Difference]) -> dict[str, int]:
    counts = dict.fromkeys(("lost", "duplicated", "wrong"), 0)
    for difference in differences:
        counts[difference.kind] += 1
    return counts


# -- reading a world ----------------------------------------------------------------------


class SalesforceReader:
    """SOQL over REST as a user who can see cmsync's objects, paging through every row."""

    def __init__(self, root_url: str, username: str) -> None:
        self.root, self.username = root_url.rstrip("/"), username
        self.session = requests.Session()
        self._login()

    def _login(self) -> None:
        answer = requests.post(
            f"{self.root}/_emulator/token", json={"username": self.username}, timeout=30
        )
        answer.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

    def query(self, soql: str) -> Iterator[dict]:
        url = f"{self.root}/services/data/{SF_VERSION}/query"
        params: dict | None = {"q": soql}
        while url:
            answer = self.session.get(url, params=params, timeout=60)
            if answer.status_code == 401:
                self._login()
                continue
            answer.raise_for_status()
            body = answer.json()
            yield from body["records"]
            next_url = body.get("nextRecordsUrl")
            url, params = (f"{self.root}{next_url}" if next_url else ""), None


def _lower(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else value


def salesforce_snapshot(sf: SalesforceReader) -> Snapshot:
    people: Snapshot = {}
    for obj in ("Contact", "Lead"):
        people[obj] = [
            ((r["Id"],), (_lower(r["Email"]), bool(r["HasOptedOutOfEmail"])))
            for r in sf.query(f"SELECT Id, Email, HasOptedOutOfEmail FROM {obj}")
        ]
    campaigns = {}
    campaign_rows = []
    for r in sf.query(
        f"SELECT Id, CM_Campaign_Id__c, Name, {', '.join(STATS)} FROM Campaign "
        "WHERE CM_Campaign_Id__c != null"
    ):
        campaigns[r["Id"]] = r["CM_Campaign_Id__c"]
        campaign_rows.append(((r["CM_Campaign_Id__c"],), (r["Name"], *(r[s] for s in STATS))))
    members = [
        (
            (campaigns[r["CampaignId"]], r["ContactId"] or "", r["LeadId"] or ""),
            (r["Status"], r["CM_Last_Activity__c"], r["CM_Last_Activity_Date__c"]),
        )
        for r in sf.query(
            "SELECT CampaignId, ContactId, LeadId, Status, CM_Last_Activity__c, "
            "CM_Last_Activity_Date__c FROM CampaignMember"
        )
        if r["CampaignId"] in campaigns
    ]
    tracking = [
        (
            (r["CM_Event_Key__c"],),
            (
                r["CM_Type__c"],
                _lower(r["CM_Email__c"]),
                r["CM_Event_Date__c"],
                r["CM_Contact__c"],
                r["CM_Lead__c"],
                campaigns.get(r["CM_Campaign__c"] or ""),
                r["CM_Campaign_Id__c"],
                r["CM_List_Id__c"],
            ),
        )  # fmt: skip
        for r in sf.query(
            "SELECT CM_Event_Key__c, CM_Type__c, CM_Email__c, CM_Event_Date__c, CM_Contact__c, "
            "CM_Lead__c, CM_Campaign__c, CM_Campaign_Id__c, CM_List_Id__c "
            "FROM CM_Email_Tracking__c"
        )
    ]
    lists = {}
    list_rows = []
    for r in sf.query("SELECT Id, CM_List_Id__c, Name, CM_Client_Id__c FROM CM_Subscriber_List__c"):
        lists[r["Id"]] = r["CM_List_Id__c"]
        list_rows.append(((r["CM_List_Id__c"],), (r["Name"], r["CM_Client_Id__c"])))
    memberships = [
        (
            (r["CM_Membership_Key__c"],),
            (
                lists.get(r["CM_Subscriber_List__c"] or ""),
                r["CM_Contact__c"],
                r["CM_Lead__c"],
                _lower(r["CM_Email__c"]),
                r["CM_State__c"],
            ),
        )  # fmt: skip
        for r in sf.query(
            "SELECT CM_Membership_Key__c, CM_Subscriber_List__c, CM_Contact__c, CM_Lead__c, "
            "CM_Email__c, CM_State__c FROM CM_List_Membership__c"
        )
    ]
    return {
        **people,
        "Campaign": campaign_rows,
        "CampaignMember": members,
        "CM_Email_Tracking__c": tracking,
        "CM_Subscriber_List__c": list_rows,
        "CM_List_Membership__c": memberships,
    }


def campaign_monitor_snapshot(base_url: str, api_key: str, list_ids: list[str]) -> Snapshot:
    """Every subscriber's state on each list, read through the API."""
    session = requests.Session()
    session.auth = (api_key, "x")
    rows: list[Row] = []
    for list_id in list_ids:
        for state in CM_STATES:
            page = 1
            while True:
                answer = session.get(
                    f"{base_url}/lists/{list_id}/{state}.json",
                    params={"page": page, "pagesize": 1000, "date": "2000-01-01"},
                    timeout=60,
                )
                answer.raise_for_status()
                body = answer.json()
                rows += [((list_id, r["EmailAddress"].lower()), (state,)) for r in body["Results"]]
                if page >= body["NumberOfPages"]:
                    break
                page += 1
    return {"CM subscribers": rows}


def snapshot(sf_root: str, sf_user: str, cm_base: str, cm_key: str, lists: list[str]) -> Snapshot:
    """One world's end state: Salesforce's records and Campaign Monitor's subscribers."""
    return {
        **salesforce_snapshot(SalesforceReader(sf_root, sf_user)),
        **campaign_monitor_snapshot(cm_base, cm_key, lists),
    }


def sizes(state: Snapshot) -> str:
    return ", ".join(f"{table} {len(rows)}" for table, rows in sorted(state.items()))
