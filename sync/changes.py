"""Salesforce → Campaign Monitor: reacting to Contact, Lead and Account changes (DESIGN.md §5).

Two sources feed one inbox (``SalesforceChange``): a poll of ``SystemModstamp`` every few
minutes (through ``queryAll``, so deletions come with it) and Salesforce Outbound Messages
posted to cmsync (``sync/outbound.py``). A run of kind "Salesforce changes" works through the
inbox and acts as the general options say.

Reactions fire on a *transition* against ``WatchedRecord`` (opt-out ticked, record deleted):
a change seen twice, by the poll and by an Outbound Message or by a redelivery, acts once.

Salesforce stamps to the whole second, so many changes share a SystemModstamp, and one record
may change twice within a second. The poll reads from a little before its cursor with ``>=``
(nothing stamped in the cursor's second is missed); the inbox takes a reading it already
holds again only when the one it holds may have been read before that second was over (the
record may have changed again within it, see ``_already_known``); and of two states of one
record in one second, the record's current value decides which is the later (an older state
arriving late never wins).

Converted Leads are left out: the poll does not read them and a change of one (an Outbound
Message, or a Lead converted since) is not acted on. The Contact a Lead became is a Contact
like any other.
When the primary sync writes ``HasOptedOutOfEmail`` it first records the value it expects
here, so its own write does not bounce back as a reaction, and the record's value from
before that write, read late, is not mistaken for a new one.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from campaign_monitor import errors as cm_errors
from campaign_monitor.models import Connection
from campaign_monitor.records import LIVE_STATES
from cmsync.iterables import chunks
from maintenance.models import Message
from salesforce import errors as sf_errors
from salesforce.connection import sync_user_status
from salesforce.gateway import SalesforceGateway, parse_datetime
from settings_app.models import GeneralSettings, SyncSettings
from subscriptions import reactions

from .context import Context
from .models import ChangeWatch, Cursor, SalesforceChange, SyncRun, WatchedRecord

log = logging.getLogger(__name__)

PEOPLE = ("Contact", "Lead")
PERSON_FIELDS = (
    "Id",
    "Email",
    "HasOptedOutOfEmail",
    "IsDeleted",
    "SystemModstamp",
    "LastModifiedById",
)
ACCOUNT_FIELDS = ("Id", "IsDeleted", "SystemModstamp", "LastModifiedById")
# Transactions commit after their SystemModstamp is set: read a little before the cursor.
POLL_OVERLAP = timedelta(minutes=2)
EXPECT_FOR = timedelta(minutes=30)  # how long the primary sync's own write is waited for
KEEP_PROCESSED = timedelta(days=7)
# Salesforce stamps to the whole second; a change stamped in a second is saved by this long
# after the second ends (a read later than that has seen all of the second's changes).
SECOND_SETTLES = timedelta(seconds=2)
BATCH = 200


@dataclass(frozen=True, slots=True)
class Seen:
    """A change as a source reports it, before it enters the inbox."""

    sobject: str
    record_id: str
    email: str = ""
    opted_out: bool | None = None
    deleted: bool = False
    modstamp: datetime | None = None
    batch: str = ""


def _stream(sobject: str) -> str:
    return f"sf_changes:{sobject}"


# -- the inbox ------------------------------------------------------------------------------


def _key(record_id: str, modstamp, deleted: bool, opted_out, email: str) -> tuple:
    return (record_id, modstamp, deleted, opted_out, email[:254])


def _already_known(item: Seen, source: str, earlier: dict) -> bool:
    """Whether a change stored before, with the same record, stamp and values, stands for
    this one: the same Outbound Message delivered again; one still waiting in the inbox (its
    run reads the record as it is then); or one read after its second was over. Otherwise
    the record may have changed again within that second (a field cmsync does not read
    here, say), and this reading is news."""
    if earlier["processed_at"] is None:
        return True
    same_message = source == earlier["source"] == SalesforceChange.Source.OUTBOUND
    if same_message and item.batch[:80] == earlier["batch"]:
        return True
    return earlier["received_at"] >= item.modstamp + timedelta(seconds=1) + SECOND_SETTLES


def receive(seen: Iterable[Seen], source: str) -> int:
    """Store changes in the inbox, skipping ones already there; returns how many are new."""
    new = 0
    fields = ("record_id", "modstamp", "deleted", "opted_out", "email")
    for chunk in chunks(seen, 500):
        known: dict[tuple, list[dict]] = {}
        for row in SalesforceChange.objects.filter(
            record_id__in={s.record_id for s in chunk}
        ).values(*fields, "source", "batch", "received_at", "processed_at"):
            known.setdefault(_key(*(row[f] for f in fields)), []).append(row)
        rows = []
        for item in chunk:
            key = _key(item.record_id, item.modstamp, item.deleted, item.opted_out, item.email)
            earlier = known.get(key, [])
            if item.modstamp is not None and any(_already_known(item, source, e) for e in earlier):
                continue
            known.setdefault(key, []).append(
                {"processed_at": None, "source": source, "batch": item.batch[:80]}
            )
            rows.append(
                SalesforceChange(
                    source=source,
                    sobject=item.sobject,
                    record_id=item.record_id,
                    email=(item.email or "")[:254],
                    opted_out=item.opted_out,
                    deleted=item.deleted,
                    modstamp=item.modstamp,
                    batch=item.batch[:80],
                )
            )
        SalesforceChange.objects.bulk_create(rows)
        new += len(rows)
    return new


def pending() -> int:
    return SalesforceChange.objects.filter(processed_at=None).count()


def request_if_pending(trigger: str = SyncRun.Trigger.POLL) -> SyncRun | None:
    """Queue a "Salesforce changes" run when the inbox holds work (one at a time)."""
    from .runner import BrokerUnavailable, request_run  # the runner imports this module

    if not SalesforceChange.objects.filter(processed_at=None).exists():
        return None
    if Connection.current() is None:
        return None
    try:
        run, _ = request_run(trigger, kind=SyncRun.Kind.CHANGES)
    except BrokerUnavailable as exc:  # queued: the dispatcher sends it once the broker is back
        return exc.run
    return run


# -- the poll -------------------------------------------------------------------------------


def poll_due(now: datetime | None = None) -> bool:
    now = now or timezone.now()
    last = ChangeWatch.get_solo().last_poll_at
    minutes = SyncSettings.get_solo().change_poll_minutes
    # A few seconds' grace so a beat tick that lands just early still counts.
    return last is None or now - last >= timedelta(minutes=minutes) - timedelta(seconds=5)


# What the poll writes on ChangeWatch (an Outbound Message writes last_outbound_at meanwhile).
POLL_FIELDS = ["baseline_at", "last_poll_at", "last_poll_found", "last_error"]


def _forget_position(watch: ChangeWatch) -> None:
    """Start over from "now" next time: what happens meanwhile is never reacted to."""
    Cursor.objects.filter(stream__startswith="sf_changes:").delete()
    watch.baseline_at = None


def poll(now: datetime | None = None) -> int:
    """Read Contact, Lead (and Account) changes since the cursors into the inbox, then queue
    a run to act on them. Returns how many changes were new."""
    now = now or timezone.now()
    watch = ChangeWatch.get_solo()
    general = GeneralSettings.get_solo()
    watch.last_poll_at = now
    if general.disable_triggers:
        _forget_position(watch)
        watch.last_poll_found, watch.last_error = 0, ""
        watch.save(update_fields=POLL_FIELDS)
        return 0
    status = sync_user_status()
    if Connection.current() is None or status.problem:
        watch.last_error = status.problem or "Campaign Monitor is not connected."
        watch.save(update_fields=POLL_FIELDS)
        return 0
    sf = status.connection.gateway()
    try:
        if watch.baseline_at is None or not _cursors_complete():
            _baseline(sf, now)
            watch.baseline_at = now
            found = 0
        else:
            found = _read_changes(sf, general.enable_account_trigger, now)
    except sf_errors.SalesforceError as exc:
        _poll_failed(watch, str(exc))
        return 0
    watch.last_poll_found, watch.last_error = found, ""
    watch.save(update_fields=POLL_FIELDS)
    request_if_pending(SyncRun.Trigger.POLL)
    return found


def _poll_failed(watch: ChangeWatch, error: str) -> None:
    log.warning("Polling Salesforce for changes failed: %s", error)
    if error != watch.last_error:  # one message per new problem, not one every few minutes
        Message.objects.create(
            code="SF_CHANGE_POLL_FAILED",
            severity=Message.Severity.WARNING,
            step="poll",
            summary="cmsync could not read Salesforce changes",
            upstream_message=error,
        )
    watch.last_error = error
    watch.save(update_fields=POLL_FIELDS)


def _cursors_complete() -> bool:
    streams = set(Cursor.objects.filter(stream__startswith="sf_changes:").values_list("stream"))
    return all((_stream(sobject),) in streams for sobject in PEOPLE)


def _start(sf: SalesforceGateway, sobject: str, now: datetime) -> datetime:
    """A new cursor: reads start at the object's latest change (by Salesforce's clock), the
    overlap added so the first read does not go back before it."""
    return (sf.latest_modstamp(sobject) or now) + POLL_OVERLAP


def _baseline(sf: SalesforceGateway, now: datetime) -> None:
    """Start watching: cursors at Salesforce's latest change, and the records already opted
    out known, so only a later tick reacts. Cursors first: a change made while the baseline
    is read is read again by the next poll, which is harmless."""
    for sobject in (*PEOPLE, "Account"):
        Cursor.objects.update_or_create(
            stream=_stream(sobject), defaults={"position": _start(sf, sobject, now)}
        )
    with transaction.atomic():
        WatchedRecord.objects.all().delete()
        for sobject in PEOPLE:
            for chunk in chunks(sf.opted_out_people(sobject), 1000):
                WatchedRecord.objects.bulk_create(
                    [
                        WatchedRecord(
                            record_id=row["Id"],
                            sobject=sobject,
                            email_lc=(row.get("Email") or "").lower(),
                            opted_out=True,
                        )
                        for row in chunk
                    ],
                    ignore_conflicts=True,
                )


def _read_changes(sf: SalesforceGateway, accounts: bool, now: datetime) -> int:
    found = 0
    objects = (*PEOPLE, "Account") if accounts else PEOPLE
    if not accounts:  # switched on later: start from then, not from long ago
        Cursor.objects.filter(stream=_stream("Account")).delete()
    for sobject in objects:
        stream = _stream(sobject)
        cursor = Cursor.objects.filter(stream=stream).first()
        if cursor is None:
            Cursor.objects.create(stream=stream, position=_start(sf, sobject, now))
            continue
        fields = ACCOUNT_FIELDS if sobject == "Account" else PERSON_FIELDS
        rows = sf.changed_since(sobject, fields, cursor.position - POLL_OVERLAP)
        for chunk in chunks(rows, 500):
            found += receive((_seen(sobject, row) for row in chunk), SalesforceChange.Source.POLL)
            latest = max(parse_datetime(row["SystemModstamp"]) for row in chunk)
            if latest > cursor.position:
                cursor.position = latest
                cursor.save(update_fields=["position", "updated_at"])
    return found


def _seen(sobject: str, row: dict) -> Seen:
    modstamp = row["SystemModstamp"]
    opted_out = row.get("HasOptedOutOfEmail")
    return Seen(
        sobject=sobject,
        record_id=row["Id"],
        email=row.get("Email") or "",
        opted_out=None if opted_out is None else bool(opted_out),
        deleted=bool(row.get("IsDeleted")),
        modstamp=parse_datetime(modstamp),
        # One Salesforce transaction stamps its records with one second: the bulk-trigger
        # batch (two transactions of one user within a second read as one batch).
        batch=f"{sobject}:{modstamp[:19]}:{row.get('LastModifiedById') or ''}",
    )


# -- the primary sync's own writes ----------------------------------------------------------


def expect_opt_out(people: Iterable[tuple[str, str, str]], value: bool) -> None:
    """The primary sync is about to write ``HasOptedOutOfEmail = value`` on these
    (sobject, id, email) records: remember it, so the write is not reacted to."""
    until = timezone.now() + EXPECT_FOR
    unique = {record_id: (sobject, email) for sobject, record_id, email in people}
    for chunk in chunks(unique.items(), 500):
        WatchedRecord.objects.bulk_create(
            [
                WatchedRecord(
                    record_id=record_id,
                    sobject=sobject,
                    email_lc=email.lower(),
                    opted_out=value,
                    expect_opted_out=value,
                    expect_until=until,
                )
                for record_id, (sobject, email) in chunk
            ],
            update_conflicts=True,  # a known record keeps its email, takes the expectation
            unique_fields=["record_id"],
            update_fields=["opted_out", "expect_opted_out", "expect_until", "updated_at"],
        )


def write_failed(record_ids: Iterable[str], value: bool) -> None:
    """The expected write did not happen: the records keep their previous value."""
    for chunk in chunks(record_ids, 500):
        WatchedRecord.objects.filter(record_id__in=chunk, expect_opted_out=value).update(
            opted_out=not value, expect_opted_out=None, expect_until=None
        )


# -- acting on the inbox --------------------------------------------------------------------


def process(ctx: Context) -> None:
    """Work through the inbox in arrival order, as the general options say."""
    ctx.begin("changes")
    for step in ("unsubscribe", "delete"):
        ctx.count(step)
    while batch := list(SalesforceChange.objects.filter(processed_at=None).order_by("id")[:BATCH]):
        general = GeneralSettings.get_solo()  # an admin may switch triggers off mid-run
        firsts = _first_of_batches(batch) if general.disable_bulk_triggers else None
        converted = _converted(ctx, batch)
        handled = []
        for change in batch:
            if change.record_id[:15] in converted:
                outcome = "not acted on: a converted Lead (its Contact stands for the person)"
                ctx.count("changes", read=1, skipped=1)
            elif general.disable_triggers:
                outcome = "not acted on: triggers are disabled"
                ctx.count("changes", read=1, skipped=1)
            elif firsts is not None and change.pk not in firsts:
                outcome = "not acted on: bulk triggers are disabled (not first of its batch)"
                ctx.count("changes", read=1, skipped=1)
            else:
                outcome = _handle(ctx, general, change)
                ctx.count("changes", read=1)
                handled.append(change)
            change.processed_at, change.run, change.outcome = timezone.now(), ctx.run, outcome
        if handled:
            reactions.after_batch(ctx, general, handled)  # subscription rules, field mappings
        # Done only now: a run that stops above acts on the batch again (idempotently).
        SalesforceChange.objects.bulk_update(batch, ["processed_at", "run", "outcome"])
        ctx.checkpoint()
    SalesforceChange.objects.filter(processed_at__lt=timezone.now() - KEEP_PROCESSED).delete()


def _converted(ctx: Context, changes: list[SalesforceChange]) -> set[str]:
    """The (15-character) ids of the converted Leads among these changes."""
    leads = {c.record_id for c in changes if c.sobject == "Lead"}
    return {i[:15] for i in ctx.sf.converted_leads(leads)} if leads else set()


def _first_of_batches(changes: list[SalesforceChange]) -> set[int]:
    """Ids of the first change of each batch, looking across earlier runs too."""
    batches = {c.batch for c in changes}
    firsts = SalesforceChange.objects.filter(batch__in=batches).values("batch")
    return {row["first"] for row in firsts.annotate(first=Min("id"))}


def _handle(ctx: Context, general: GeneralSettings, change: SalesforceChange) -> str:
    if change.sobject not in PEOPLE:
        return _account_changed(ctx, general, change)
    watched = WatchedRecord.objects.filter(record_id=change.record_id).first()
    if watched is None:
        watched = WatchedRecord(
            record_id=change.record_id, sobject=change.sobject, email_lc=change.email.lower()
        )
    if watched.modstamp and change.modstamp and change.modstamp < watched.modstamp:
        return "not acted on: older than a change already handled"
    if _earlier_in_its_second(ctx, change, watched):
        return "not acted on: older than a change already handled"
    if change.email:
        watched.email_lc = change.email.lower()
    if change.modstamp:
        watched.modstamp = change.modstamp
    if change.deleted:
        outcome = "deletion already handled"
        if not watched.deleted:
            watched.deleted = True
            outcome = _deleted(ctx, general, change)
        watched.save()
        return outcome
    watched.deleted = False
    outcome = "no action needed"
    if change.opted_out is not None:
        outcome = _opt_out_changed(ctx, general, change, watched)
    watched.save()
    return outcome


def _earlier_in_its_second(ctx: Context, change: SalesforceChange, watched: WatchedRecord) -> bool:
    """A change stamped in the same second as the one last applied, saying otherwise: only
    Salesforce's current record tells which came later (its value, if still stamped in that
    second; if stamped later, the later change comes by itself and this one is old)."""
    same_second = watched.modstamp is not None and change.modstamp == watched.modstamp
    if not same_second or change.deleted or change.opted_out is None:
        return False
    if change.opted_out == watched.opted_out:
        return False
    current = ctx.sf.opt_out_state(change.sobject, change.record_id)
    return current is None or current != (change.opted_out, change.modstamp)


def _opt_out_changed(
    ctx: Context, general: GeneralSettings, change: SalesforceChange, watched: WatchedRecord
) -> str:
    expecting = watched.expect_until is not None and watched.expect_until > timezone.now()
    if expecting:
        if change.opted_out != watched.expect_opted_out:
            return "not acted on: the value from before cmsync's own write"
        watched.expect_opted_out = watched.expect_until = None
        return "cmsync's own write, no reaction"
    watched.expect_opted_out = watched.expect_until = None
    was, watched.opted_out = watched.opted_out, bool(change.opted_out)
    if not change.opted_out or was:
        return "no action needed"
    if not general.unsubscribe_on_opt_out:
        return "opted out; 'Unsubscribe when Email Opt Out is ticked' is off"
    return _set_everywhere(ctx, change, "unsubscribe")


def _deleted(ctx: Context, general: GeneralSettings, change: SalesforceChange) -> str:
    if not general.delete_subscriber_on_record_delete:
        return "deleted; 'Set subscriber to Deleted' is off"
    if not change.email:
        return "deleted; the record had no email"
    others = [
        person
        # find_people keys by the trimmed, lower-case email: ask by the same key.
        for person in ctx.sf.find_people([change.email]).get(change.email.strip().lower(), [])
        if person.id != change.record_id
    ]
    if others:
        other = others[0]
        ctx.message(
            "SF_DELETE_KEPT",
            f"{change.sobject} {change.record_id} was deleted, but {other.sobject} {other.id} "
            f"still has {change.email}: its subscriber was not set to Deleted",
            record={"deleted": change.record_id, "email": change.email, "kept_by": other.id},
            severity=Message.Severity.INFO,
            step="delete",
        )
        ctx.count("delete", skipped=1)
        return f"not acted on: {other.sobject} {other.id} still has this email"
    return _set_everywhere(ctx, change, "delete")


def _set_everywhere(ctx: Context, change: SalesforceChange, action: str) -> str:
    """Unsubscribe or delete the address on every connected list where it still gets email.

    Unsubscribed and bounced stay as they are: Deleted is weaker (an import may bring a
    deleted subscriber back), so it never replaces them.
    """
    email, done, failed = change.email, 0, 0
    if not email:
        return "opted out; the record has no email"
    for client in ctx.clients:
        connected = {m["ListID"] for m in client.lists}
        try:
            memberships = ctx.cm.lists_for_email(client.client_id, email)
        except (cm_errors.ValidationError, cm_errors.NotFoundError) as exc:
            _refused(ctx, change, action, client.client_id, "", exc)
            ctx.count(action, read=1, failed=1)
            return f"failed: {exc}"
        for membership in memberships:
            if membership.list_id not in connected or membership.state not in LIVE_STATES:
                continue
            try:
                if action == "unsubscribe":
                    ctx.cm.unsubscribe(membership.list_id, email)
                else:
                    ctx.cm.delete_subscriber(membership.list_id, email)
            except (cm_errors.ValidationError, cm_errors.NotFoundError) as exc:
                _refused(ctx, change, action, client.client_id, membership.list_id, exc)
                failed += 1
                continue
            done += 1
    ctx.count(action, read=1, written=done, failed=failed, unchanged=int(not done and not failed))
    verb = "unsubscribed from" if action == "unsubscribe" else "set to Deleted on"
    outcome = f"{verb} {done} list(s)" if done else "already off every list"
    return outcome + (f", {failed} refused" if failed else "")


def _refused(
    ctx: Context, change, action: str, client_id: str, list_id: str, exc: Exception
) -> None:
    what = "unsubscribe" if action == "unsubscribe" else "set to Deleted"
    ctx.message(
        "CM_REACTION_FAILED",
        f"Could not {what} {change.email} ({change.sobject} {change.record_id})",
        upstream=str(exc),
        record={"email": change.email, "record_id": change.record_id, "list_id": list_id},
        client_id=client_id,
        step=action,
    )


def _account_changed(ctx: Context, general: GeneralSettings, change: SalesforceChange) -> str:
    if not general.enable_account_trigger:
        return "not acted on: the account trigger is off"
    # Subscription rules then re-check its contacts and say what they did (rules.py).
    return "account changed"
