"""Subscriber lists and list memberships in Salesforce (DESIGN.md §6, §5 "Record linking").

Steps, after the opt-out step:
1. lists: each list of the connected clients becomes a CM_Subscriber_List__c, upserted by
   CM_List_Id__c where what Salesforce holds differs (one query tells).
2. memberships: each stored subscriber state whose email matches a Contact or Lead becomes a
   CM_List_Membership__c, upserted by a stable key, linked to the most recently modified
   Contact and the most recently modified Lead (of those modified in the same second, the
   lowest Id: tracking.linked_person). Only rows marked pending (their state changed
   since last written) are walked, by email in batches; a full run walks every row.

Rows of a list with "Prevent member sync" on are not walked and stay pending, so switching it
off writes them at the next run. Rows whose email matches nobody are done with: a full run
writes them once a Contact or Lead appears.
"""

import hashlib

from campaign_monitor.models import ListOptions
from salesforce.schema import Component

from . import leases
from .context import Context
from .models import SubscriberState
from .steps import next_emails
from .tracking import linked_person

OBJECTS = ("CM_Subscriber_List__c", "CM_List_Membership__c")
LIST_FIELDS = ("Name", "CM_List_Id__c", "CM_Client_Id__c", "CM_Client_Name__c")
# Emails per batch, read, written and cleared together under the subscriber-states lease:
# enough records for one Bulk API job, few enough for flat memory. A job costs about five
# calls whatever its size; 25,000 would save calls at 1,000,000 subscribers but holds the
# lease longer and raised peak memory past the 250 MB target (see tracking.FLUSH_AT).
BATCH = 5_000
KEY_LENGTH = 120  # CM_Membership_Key__c
NAME_LENGTH = 80  # a custom object's Name


def sync_lists_and_memberships(
    ctx: Context,
    missing: list[Component],
    blocked: tuple[str, ...] | list[str] = (),
    emails: list[str] | None = None,
) -> None:
    """Both steps, if the org has both objects with all their fields (``missing``:
    schema.missing()) and the sync user may use them (``blocked``:
    permissions.inaccessible()); otherwise one warning, and the pending rows wait.
    ``emails``: only the pending rows of these (a run of Campaign Monitor events)."""
    ctx.begin("lists")
    absent = [c.full_name for c in missing if c.object_name in OBJECTS]
    if absent:
        ctx.message(
            "SF_SCHEMA_MISSING",
            f"cmsync's Salesforce schema is missing {len(absent)} parts of the list objects; "
            "subscriber lists and list memberships were skipped",
            record={"missing": absent},
            severity="warning",
        )
        return
    denied = [name for name in blocked if name.split(".")[0] in OBJECTS]
    if denied:
        ctx.message(
            "SF_NO_ACCESS",
            f"The sync user cannot use {len(denied)} of cmsync's list objects and fields in "
            "Salesforce; subscriber lists and list memberships were skipped",
            record={"inaccessible": denied},
            severity="warning",
        )
        return
    sf_lists = sync_lists(ctx)
    sync_memberships(ctx, sf_lists, emails)


def membership_key(list_id: str, email_lc: str) -> str:
    """``<ListID>:<email>``, or ``<ListID>:#<sha1 of the email>`` where that is too long."""
    key = f"{list_id}:{email_lc}"
    if len(key) <= KEY_LENGTH:
        return key
    return f"{list_id}:#{hashlib.sha1(email_lc.encode()).hexdigest()}"


def _list_records(ctx: Context) -> dict[str, dict]:
    """The CM_Subscriber_List__c each connected list should be, by list id."""
    return {
        m["ListID"]: {
            "Name": (m.get("Name") or "").strip()[:NAME_LENGTH] or m["ListID"],
            "CM_List_Id__c": m["ListID"],
            "CM_Client_Id__c": client.client_id,
            "CM_Client_Name__c": client.name.strip()[:200],
        }
        for client in ctx.clients
        for m in client.lists
    }


def _sf_lists(ctx: Context, list_ids: list[str]) -> dict[str, dict]:
    """What Salesforce holds for these lists, by list id."""
    return ctx.sf.subscriber_lists(list_ids, LIST_FIELDS)


def sync_lists(ctx: Context) -> dict[str, str]:
    """Upsert the lists Salesforce lacks or holds differently; returns list id → record Id
    for every list Salesforce has (a refused list is a message, and its members wait)."""
    wanted = _list_records(ctx)
    if not wanted:
        return {}
    existing = _sf_lists(ctx, sorted(wanted))
    sf_ids = {list_id: row["Id"] for list_id, row in existing.items()}
    changed = [
        record
        for list_id, record in wanted.items()
        if list_id not in existing
        or any((existing[list_id].get(name) or "") != record[name] for name in LIST_FIELDS)
    ]
    ctx.count("lists", read=len(wanted), unchanged=len(wanted) - len(changed))
    if changed:
        results = ctx.sf.upsert("CM_Subscriber_List__c", "CM_List_Id__c", changed)
        owner = {m["ListID"]: c.client_id for c in ctx.clients for m in c.lists}
        ctx.record_failures(
            "lists",
            "CM_Subscriber_List__c",
            results,
            lambda r: owner.get(r.record["CM_List_Id__c"], ""),
        )
        sf_ids.update({r.record["CM_List_Id__c"]: r.id for r in results if r.success and r.id})
    ctx.checkpoint()
    return sf_ids


def sync_memberships(
    ctx: Context, sf_lists: dict[str, str], emails: list[str] | None = None
) -> None:
    """Pending rows (every row on a full run) of the lists Salesforce has, by email; of
    ``emails`` only, when given."""
    ctx.begin("memberships")
    prevented = set(
        ListOptions.objects.filter(prevent_member_sync=True).values_list("list_id", flat=True)
    )
    walked = set(sf_lists) - prevented
    rows = SubscriberState.objects.filter(list_id__in=walked)
    if not ctx.run.full:
        rows = rows.filter(membership_pending=True)
    if emails is not None:
        rows = rows.filter(email_lc__in=emails)
    after = ""
    while True:
        emails = next_emails([(rows, len(walked))], after, BATCH)
        if not emails:
            return
        _write_batch(ctx, rows.filter(email_lc__in=emails), sf_lists)
        after = emails[-1]
        ctx.checkpoint()


def _write_batch(ctx: Context, rows, sf_lists: dict[str, str]) -> None:
    """Read, write and clear one batch under the subscriber-states lease (see
    ``sync.leases``): another run's newer state must not be written over or cleared."""
    with leases.hold(leases.SUBSCRIBER_STATES, waiting=ctx.beat):
        _write_rows(ctx, rows, sf_lists)


def _write_rows(ctx: Context, rows, sf_lists: dict[str, str]) -> None:
    batch = list(rows.order_by("email_lc", "list_id"))  # the same writes in the same order
    people = ctx.people({row.email_lc for row in batch})
    records = []
    for row in batch:
        contact = linked_person(people, row.email_lc, "Contact")
        lead = linked_person(people, row.email_lc, "Lead")
        if contact is None and lead is None:
            continue  # nobody in Salesforce to link it to: no record
        records.append(
            {
                "CM_Membership_Key__c": membership_key(row.list_id, row.email_lc),
                "CM_Subscriber_List__c": sf_lists[row.list_id],
                "CM_Contact__c": contact.id if contact else None,
                "CM_Lead__c": lead.id if lead else None,
                "CM_Email__c": row.email,
                "CM_State__c": row.state.capitalize(),
                "CM_State_Date__c": row.state_date.isoformat(),
                "CM_Joined_Date__c": row.joined_date.isoformat() if row.joined_date else None,
            }
        )
    ctx.count("memberships", read=len(batch), unchanged=len(batch) - len(records))
    if records:
        results = ctx.sf.upsert("CM_List_Membership__c", "CM_Membership_Key__c", records)
        owner = {membership_key(row.list_id, row.email_lc): row.client_id for row in batch}
        ctx.record_failures(
            "memberships",
            "CM_List_Membership__c",
            results,
            lambda r: owner.get(r.record["CM_Membership_Key__c"], ""),
        )
    # Written or reported: either way these rows are done (a message can be retried).
    rows.filter(membership_pending=True).update(membership_pending=False)
