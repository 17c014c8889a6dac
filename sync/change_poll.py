"""The change poll: Contact, Lead (and Account) changes read from Salesforce by
``SystemModstamp`` every few minutes (through ``queryAll``, so deletions come with it) into
the inbox (``sync.inbox``), then a run asked for to act on them.

The poll reads from a little before its cursor with ``>=``, so nothing stamped in the
cursor's second is missed (the inbox drops what it already holds). Converted Leads are not
read. The first poll (and the first after triggers come back on) takes a baseline: cursors
at Salesforce's latest change and the records already opted out, so only a later tick reacts.
"""

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from campaign_monitor.models import Connection
from cmsync.iterables import chunks
from maintenance.models import Message
from salesforce import errors as sf_errors
from salesforce.connection import sync_user_status
from salesforce.gateway import SalesforceGateway, parse_datetime
from settings_app import gates
from settings_app.models import GeneralSettings, SyncSettings

from .inbox import PEOPLE, Seen, receive, request_if_pending
from .models import ChangeWatch, Cursor, SalesforceChange, SyncRun, WatchedRecord

log = logging.getLogger(__name__)

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


def _stream(sobject: str) -> str:
    return f"sf_changes:{sobject}"


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
    if not gates.triggers_on(general):
        _forget_position(watch)
        watch.last_poll_found, watch.last_error = 0, ""
        watch.save(update_fields=POLL_FIELDS)
        return 0
    status = sync_user_status()
    if Connection.current() is None or status.problem:
        watch.last_error = status.problem or "Campaign Monitor is not connected."
        watch.save(update_fields=POLL_FIELDS)
        return 0
    assert status.connection is not None  # no problem comes with a connection
    sf = status.connection.gateway()
    try:
        if watch.baseline_at is None or not _cursors_complete():
            _baseline(sf, now)
            watch.baseline_at = now
            found = 0
        else:
            found = _read_changes(sf, gates.accounts_watched(general), now)
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
