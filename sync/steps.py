"""The primary sync's steps (DESIGN.md §4), as plain functions of a run's Context.

Each step writes idempotently and moves a cursor only after the page it covers is stored, so
a re-run or a redelivered task changes nothing twice and loses nothing.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from campaign_monitor.models import ConnectedClient
from campaign_monitor.records import SUBSCRIBER_STATES, Subscriber, latest_reading
from maintenance.codes import for_salesforce
from maintenance.models import Message
from subscriptions import hooks as subscriptions

from . import echo, leases
from .context import Context
from .models import Cursor, SubscriberState, SuppressedEmail

# Campaign Monitor dates have minute precision and pages can shift while being walked: read
# a little before the cursor and let the idempotent writes absorb the overlap.
OVERLAP = timedelta(minutes=5)
# Emails decided, written and cleared together under the subscriber-states lease: their
# updates fill whole collection calls (a few thousand emails hold a few hundred changes).
OPT_OUT_BATCH = 5000


def discover(ctx: Context, client: ConnectedClient) -> None:
    """Refresh the client's lists."""
    ctx.begin("discover")
    lists = [{"ListID": m.list_id, "Name": m.name} for m in ctx.cm.lists(client.client_id)]
    ctx.count("discover", read=len(lists))
    if lists != client.lists:
        client.lists = lists
        client.save(update_fields=["lists"])
    ctx.checkpoint()


def _cursor_start(ctx: Context, stream: str):
    if ctx.run.full:
        return None
    cursor = Cursor.objects.filter(stream=stream).first()
    return cursor.position - OVERLAP if cursor else None


def _advance(stream: str, position) -> None:
    cursor, created = Cursor.objects.get_or_create(stream=stream, defaults={"position": position})
    if not created and position > cursor.position:
        cursor.position = position
        cursor.save(update_fields=["position", "updated_at"])


def store_states(
    client_id: str,
    list_id: str,
    state: str,
    records: list[Subscriber],
    waiting: Callable[[], None] | None = None,
) -> tuple[int, int]:
    """Upsert one page into the local subscriber state; returns (written, unchanged).

    Read and written under the subscriber-states lease: another run storing the same
    addresses at once must not write an older state over a newer one."""
    with leases.hold(leases.SUBSCRIBER_STATES, waiting=waiting):
        return _store_states(client_id, list_id, state, records)


def _store_states(
    client_id: str, list_id: str, state: str, records: list[Subscriber]
) -> tuple[int, int]:
    by_email = {r.email.lower(): r for r in records}  # a page never repeats an email
    existing = {
        row.email_lc: row
        for row in SubscriberState.objects.filter(list_id=list_id, email_lc__in=by_email)
    }
    changed, created = [], []
    for email_lc, record in by_email.items():
        row = existing.get(email_lc)
        if row is None:
            created.append(
                SubscriberState(
                    client_id=client_id,
                    list_id=list_id,
                    email=record.email,
                    email_lc=email_lc,
                    state=state,
                    state_date=record.date,
                    joined_date=record.list_joined,
                )
            )
        elif row.state_date < record.date or (
            # Not provably older: a date in a repeated fall-back hour may be the later one.
            row.state != state and row.state_date <= latest_reading(record.date)
        ):
            row.state, row.state_date, row.email = state, record.date, record.email
            row.joined_date = record.list_joined or row.joined_date
            row.opt_out_pending = row.membership_pending = True
            changed.append(row)
        elif record.list_joined and row.joined_date != record.list_joined:
            # Stored before joined dates were kept (a full sync fills them in): only the
            # membership record shows it.
            row.joined_date, row.membership_pending = record.list_joined, True
            changed.append(row)
    with transaction.atomic():
        SubscriberState.objects.bulk_create(created, batch_size=500)
        SubscriberState.objects.bulk_update(
            changed,
            [
                "state",
                "state_date",
                "email",
                "joined_date",
                "opt_out_pending",
                "membership_pending",
            ],
            batch_size=500,
        )
    written = len(created) + len(changed)
    return written, len(by_email) - written


def subscribers(ctx: Context, client: ConnectedClient) -> None:
    """Every list × state, changes since the cursor, into the local subscriber state."""
    ctx.begin("subscribers")
    for mailing_list in client.lists:
        list_subscribers(ctx, client, mailing_list)


def list_subscribers(ctx: Context, client: ConnectedClient, mailing_list: dict) -> None:
    """One list's states, changes since each state's cursor (a work item of its own: a list's
    cursors and rows are its own, and each page is stored under the subscriber-states
    lease)."""
    ctx.begin("subscribers")
    list_id = mailing_list["ListID"]
    for state in SUBSCRIBER_STATES:
        stream = f"subscribers:{list_id}:{state}"
        since = _cursor_start(ctx, stream)
        for page in ctx.cm.subscriber_pages(list_id, state, since):
            for row, reason in page.rejected:
                ctx.message(
                    "CM_BAD_RECORD",
                    f"A subscriber of list {mailing_list['Name']} could not be read",
                    upstream=reason,
                    record=row,
                    client_id=client.client_id,
                )
            written, unchanged = store_states(
                client.client_id, list_id, state, page.records, waiting=ctx.beat
            )
            ctx.count(
                "subscribers",
                read=len(page.records) + len(page.rejected),
                written=written,
                unchanged=unchanged,
                failed=len(page.rejected),
            )
            subscriptions.on_subscriber_page(ctx, client, list_id, page.records)
            if page.records:
                _advance(stream, max(r.date for r in page.records))
            ctx.checkpoint()


def suppressions(ctx: Context, client: ConnectedClient) -> None:
    """The client's suppression list, read in full (it has no date filter and addresses
    leave it too), into the local copy; addresses that came onto it or left it are marked
    for the opt-out step."""
    ctx.begin("suppressions")
    known = dict(
        SuppressedEmail.objects.filter(client_id=client.client_id).values_list("email_lc", "pk")
    )
    seen: set[str] = set()
    for page in ctx.cm.suppression_pages(client.client_id):
        for row, reason in page.rejected:
            ctx.message(
                "CM_BAD_RECORD",
                "An address of the suppression list could not be read",
                upstream=reason,
                record=row,
                client_id=client.client_id,
            )
        new = []
        for entry in page.records:
            email_lc = entry.email.lower()
            if email_lc not in known and email_lc not in seen:
                new.append(
                    SuppressedEmail(
                        client_id=client.client_id,
                        email=entry.email,
                        email_lc=email_lc,
                        date=entry.date,
                    )
                )
            seen.add(email_lc)
        SuppressedEmail.objects.bulk_create(new, batch_size=500, ignore_conflicts=True)
        ctx.count(
            "suppressions",
            read=len(page.records) + len(page.rejected),
            written=len(new),
            unchanged=len(page.records) - len(new),
            failed=len(page.rejected),
        )
        ctx.checkpoint()
    gone = [email_lc for email_lc in known if email_lc not in seen]
    for start in range(0, len(gone), OPT_OUT_BATCH):
        batch = gone[start : start + OPT_OUT_BATCH]
        with leases.hold(leases.SUBSCRIBER_STATES, waiting=ctx.beat), transaction.atomic():
            SuppressedEmail.objects.filter(client_id=client.client_id, email_lc__in=batch).delete()
            SubscriberState.objects.filter(email_lc__in=batch).update(opt_out_pending=True)
        ctx.count("suppressions", written=len(batch))
    ctx.checkpoint()


def opt_out_value(states: Iterable[str], suppressed: bool = False) -> bool | None:
    """DESIGN.md §5: active anywhere → False; only unsubscribed/deleted with at least one
    unsubscribed → True; anything else (bounced, unconfirmed) → leave the field alone.

    On a connected client's suppression list (Campaign Monitor's "do not email" list for
    the client: an unsubscribe from an AllClientLists list puts the address there and takes
    it off every such list) counts as unsubscribed everywhere unless the address is still
    Active or Unconfirmed somewhere (an OnlyThisList list, or a deliberate resubscribe)."""
    states = set(states)
    if "active" in states:
        return False
    if suppressed and "unconfirmed" not in states:
        return True
    if "unsubscribed" in states and states <= {"unsubscribed", "deleted"}:
        return True
    return None


def opt_out(ctx: Context) -> None:
    """Emails whose state changed → their aggregate over every connected list → the
    HasOptedOutOfEmail of every Contact and Lead with that email, only where it differs."""
    ctx.begin("opt_out")
    if not ctx.general.sync_email_opt_out:
        return  # changes stay pending, so switching the option on later applies them
    list_ids = ctx.list_ids
    client_ids = {client.client_id for client in ctx.clients}
    after = ""
    sources = (
        (SubscriberState.objects.filter(opt_out_pending=True), len(list_ids)),
        (
            SuppressedEmail.objects.filter(opt_out_pending=True, client_id__in=client_ids),
            len(client_ids),
        ),
    )
    while True:
        emails = next_emails(sources, after, OPT_OUT_BATCH)
        if not emails:
            return
        _opt_out_batch(ctx, emails, list_ids, client_ids)
        after = emails[-1]
        ctx.checkpoint()


def opt_out_for(ctx: Context, emails: Iterable[str]) -> None:
    """The opt-out step for these emails only (Campaign Monitor events), decided and
    written exactly as the primary sync's opt-out step does it."""
    if not ctx.general.sync_email_opt_out:
        return  # their rows stay pending, as in the primary sync
    emails = sorted({email.lower() for email in emails})
    client_ids = {client.client_id for client in ctx.clients}
    for start in range(0, len(emails), OPT_OUT_BATCH):
        _opt_out_batch(ctx, emails[start : start + OPT_OUT_BATCH], ctx.list_ids, client_ids)


def next_emails(sources: Iterable[tuple[Any, int]], after: str, limit: int) -> list[str]:
    """The next ``limit`` emails after ``after`` with rows in any of ``sources`` (a queryset
    and how many rows one email has there at most), in order: a keyset walk over the email
    index, no DISTINCT sort. Rows of one email may be cut off by a source's row limit; the
    email still comes back (its caller works on all its rows), and no email beyond a
    source's last row read is given before that source's rows up to it are."""
    emails: set[str] = set()
    bound = None
    for rows, per_email in sources:
        size = limit * max(per_email, 1)
        found = list(
            rows.filter(email_lc__gt=after)
            .order_by("email_lc")
            .values_list("email_lc", flat=True)[:size]
        )
        emails.update(found)
        if len(found) == size:  # more beyond: nothing after its last one yet
            bound = found[-1] if bound is None else min(bound, found[-1])
    return sorted(e for e in emails if bound is None or e <= bound)[:limit]


def _opt_out_batch(
    ctx: Context, emails: list[str], list_ids: set[str], client_ids: set[str]
) -> None:
    """Decide, write and clear one batch under the subscriber-states lease: a newer state
    stored by another run meanwhile would otherwise be overwritten in Salesforce by this
    batch's older decision, and its pending flag cleared with it."""
    with leases.hold(leases.SUBSCRIBER_STATES, waiting=ctx.beat):
        _decide_and_write(ctx, emails, list_ids, client_ids)


def _decide_and_write(
    ctx: Context, emails: list[str], list_ids: set[str], client_ids: set[str]
) -> None:
    states, clients = defaultdict(list), defaultdict(set)
    rows = SubscriberState.objects.filter(email_lc__in=emails, list_id__in=list_ids)
    for email_lc, state, client_id in rows.values_list("email_lc", "state", "client_id"):
        states[email_lc].append(state)
        clients[email_lc].add(client_id)
    suppressed = SuppressedEmail.objects.filter(email_lc__in=emails, client_id__in=client_ids)
    on_list = set()
    for email_lc, client_id in suppressed.values_list("email_lc", "client_id"):
        on_list.add(email_lc)
        clients[email_lc].add(client_id)
    wanted = {email: opt_out_value(states[email], email in on_list) for email in emails}
    decided = [email for email, value in wanted.items() if value is not None]
    people = ctx.people(decided) if decided else {}
    updates: dict[str, list] = defaultdict(list)  # by object, both values in one write
    value_of: dict[str, bool | None] = {}  # record id → the opt-out it gets
    unchanged = 0
    owner = {}  # record id → the one client whose lists decided it; "" when several did
    for email in decided:
        for person in people.get(email, ()):
            owner[person.id] = next(iter(clients[email])) if len(clients[email]) == 1 else ""
            if person.has_opted_out == wanted[email]:
                unchanged += 1
            else:
                updates[person.sobject].append(person)
                value_of[person.id] = wanted[email]
    ctx.count("opt_out", read=len(emails), unchanged=unchanged)
    for sobject, persons in sorted(updates.items()):
        # Told first, so change detection knows this write is cmsync's own (no reaction).
        for value in (True, False):
            told = [(p.sobject, p.id, p.email) for p in persons if value_of[p.id] is value]
            if told:
                echo.expect_opt_out(told, value)
        records = [{"Id": p.id, "HasOptedOutOfEmail": value_of[p.id]} for p in persons]
        results = ctx.sf.update(sobject, records)
        ctx.record_failures(
            "opt_out", sobject, results, client_id=lambda r: owner.get(r.record.get("Id") or "", "")
        )
        for value in (True, False):
            echo.write_failed(
                [
                    r.record["Id"]
                    for r in results
                    if not r.success and r.record["HasOptedOutOfEmail"] is value
                ],
                value,
            )

    # Written or reported: either way this batch is done (a message can be retried).
    SubscriberState.objects.filter(email_lc__in=emails, opt_out_pending=True).update(
        opt_out_pending=False
    )
    SuppressedEmail.objects.filter(email_lc__in=emails, opt_out_pending=True).update(
        opt_out_pending=False
    )


def retry_requested(ctx: Context) -> None:
    """Write again the records of maintenance messages an admin chose to retry."""
    ctx.begin("retry")
    requested = list(Message.objects.filter(retry_requested=True).order_by("pk"))
    groups = defaultdict(list)
    for message in requested:
        if message.retryable:
            groups[(message.record["sobject"], message.record["operation"])].append(message)
        else:
            message.retry_requested = False
            message.save(update_fields=["retry_requested"])
    for (sobject, operation), messages in groups.items():
        records = [m.record["fields"] for m in messages]
        for value in (True, False):  # an opt-out written again is still cmsync's own
            echo.expect_opt_out(
                [
                    (sobject, r["Id"], "")
                    for r in records
                    if r.get("Id") and r.get("HasOptedOutOfEmail") is value
                ],
                value,
            )
        results = ctx.sf.write(sobject, operation, records)
        for message, result in zip(messages, results, strict=True):
            if result.success:
                message.delete()
                ctx.count("retry", read=1, written=1)
                continue
            error = result.errors[0] if result.errors else None
            message.code = for_salesforce(error.status_code if error else "")
            message.upstream_message = error.message if error else ""
            message.run, message.retry_requested = ctx.run, False
            message.created_at = timezone.now()
            message.save()
            ctx.count("retry", read=1, failed=1)
    ctx.checkpoint()
