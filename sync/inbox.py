"""The inbox of Salesforce changes (``SalesforceChange``): what the poll (``sync.change_poll``)
and Outbound Messages (``sync.outbound``) saw, stored once, waiting for a run of kind
"Salesforce changes" (``sync.reactions``) to act on it.

Salesforce stamps to the whole second, so many changes share a SystemModstamp, and one record
may change twice within a second. The inbox takes a reading it already holds again only when
the one it holds may have been read before that second was over (the record may have changed
again within it, see ``_already_known``).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from campaign_monitor.models import Connection
from cmsync.iterables import chunks

from .models import SalesforceChange, SyncRun
from .runner import BrokerUnavailable, request_run

PEOPLE = ("Contact", "Lead")
# Salesforce stamps to the whole second; a change stamped in a second is saved by this long
# after the second ends (a read later than that has seen all of the second's changes).
SECOND_SETTLES = timedelta(seconds=2)


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
    if item.modstamp is None:  # receive() asks only about stamped changes
        return False
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
    if not SalesforceChange.objects.filter(processed_at=None).exists():
        return None
    if Connection.current() is None:
        return None
    try:
        run, _ = request_run(trigger, kind=SyncRun.Kind.CHANGES)
    except BrokerUnavailable as exc:  # queued: the dispatcher sends it once the broker is back
        return exc.run
    return run
