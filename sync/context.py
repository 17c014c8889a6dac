"""What every step of a run shares: the run row, both APIs, the settings, counters, messages."""

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from campaign_monitor.client import CampaignMonitorClient
from campaign_monitor.models import ConnectedClient
from cmsync.jobs import Cancelled, Superseded
from maintenance.codes import for_salesforce
from maintenance.models import Message
from salesforce.gateway import ObjectInfo, Person, RecordResult, SalesforceGateway, memo_describe
from settings_app.models import CampaignSettings, GeneralSettings, SyncSettings

from . import leases
from . import people as known_people
from .models import SyncRun
from .step_titles import step_title

log = logging.getLogger(__name__)

COUNTERS = ("read", "written", "unchanged", "failed")
PEOPLE_CACHE = 20_000  # emails: flat memory at any volume, lookups spared within a campaign
BEAT_EVERY = timedelta(seconds=15)  # heartbeat while working; runner.STALE_AFTER is much longer


@dataclass
class Context:
    run: SyncRun
    cm: CampaignMonitorClient
    sf: SalesforceGateway
    clients: list[ConnectedClient]
    sync_settings: SyncSettings = field(default_factory=SyncSettings.get_solo)
    general: GeneralSettings = field(default_factory=GeneralSettings.get_solo)
    campaigns: CampaignSettings = field(default_factory=CampaignSettings.get_solo)
    # The claim this worker holds (SyncRun.generation): every write checks it is still ours.
    generation: int = 0
    # Field mappings reported broken this run, (mapping id, sobject): said once a run.
    reported: set[tuple[int, str]] = field(default_factory=set)
    _people: OrderedDict = field(default_factory=OrderedDict)
    # Whether people are looked up in the copy this run read (people.py).
    _read_people: bool = False
    _beat_at: datetime | None = None
    _step_started: float | None = None
    _describe: Callable[[str], ObjectInfo] | None = None
    # A preview's sink (sync/preview.py): set by runner._context for runs of kind "preview",
    # which record their writes instead of making them. None for every other run.
    sink: Any = None

    def __post_init__(self) -> None:
        # Both APIs ask before every call: a heartbeat while working, a fence before writing.
        self.sf.guard = self.guard
        self.sf.keep_waiting = self.still_wanted
        if self.cm is not None:
            self.cm.guard = self.guard

    def describe(self, sobject: str) -> ObjectInfo:
        """Salesforce's describe of ``sobject``, asked once per run."""
        if self._describe is None:
            self._describe = memo_describe(self.sf)
        return self._describe(sobject)

    def people(self, emails: Iterable[str]) -> dict[str, list[Person]]:
        """Contacts and Leads by lower-case email, looked up once per run (bounded cache).

        The answer covers every email asked for: it is built before the cache makes room, so
        an email is missing from it only because Salesforce's lookup found nobody. The cache
        then evicts its oldest entries, never one of this answer's.

        The opt-out step decides each email once per run, so the cached HasOptedOutOfEmail
        never needs refreshing; later steps only use the record ids.
        """
        wanted = sorted({e.lower() for e in emails})
        if self._read_people:
            return known_people.lookup(wanted)
        missing = [e for e in wanted if e not in self._people]
        found = self.sf.find_people(missing) if missing else {}
        answer = {}
        for email in wanted:
            if email in self._people:
                self._people.move_to_end(email)
                people = self._people[email]
            else:
                people = self._people[email] = found.get(email, [])
            if people:
                answer[email] = people
        self._evict(keep=len(wanted))
        return answer

    def read_people(self) -> None:
        """Once the run's subscriber states are stored: read every person once when that is
        cheaper than looking the emails the run will ask about up in each step (a full or
        first sync; people.py); from then on ``people`` answers from that copy."""
        if self._read_people:
            return
        counts = known_people.reading_plan(self.sf, known_people.emails_to_ask(self.run.full))
        if counts is not None:
            known_people.read_all(self.sf, beat=self.beat, counts=counts)
            self._read_people = True
            self._people.clear()

    def forget_people(self) -> None:
        """Look people up afresh from now on: a run of Campaign Monitor events decides an
        email again when a later event changes it, and must see the value it wrote."""
        self._people.clear()

    def _evict(self, keep: int) -> None:
        """Drop the least recently used emails beyond the bound; the ``keep`` most recent
        (the answer just given) stay even when they alone exceed it."""
        while len(self._people) > max(PEOPLE_CACHE, keep):
            self._people.popitem(last=False)

    @property
    def list_ids(self) -> set[str]:
        """Every list of every connected client: the scope of the opt-out rule."""
        return {m["ListID"] for client in self.clients for m in client.lists}

    def begin(self, step: str) -> None:
        self.end_step()
        self.run.step = step
        self._step_started = time.monotonic()
        self.run.counts.setdefault(step, dict.fromkeys(COUNTERS, 0))
        self.checkpoint()

    def end_step(self) -> None:
        """One log line for the step that just ended: its counts (over the whole run, as the
        run page shows them) and how long it took."""
        step, started = self.run.step, self._step_started
        if not step or started is None:
            return
        self._step_started = None
        counts = self.run.counts.get(step, {})
        log.info(
            "%s step %s done",
            self.run.get_kind_display(),
            step,
            extra={
                "event": "run_step",
                "kind": self.run.kind,
                "step": step,
                "seconds": round(time.monotonic() - started, 3),
                **{name: counts.get(name, 0) for name in COUNTERS},
            },
        )

    def count(self, step: str, **amounts: int) -> None:
        counts = self.run.counts.setdefault(step, dict.fromkeys(COUNTERS, 0))
        for name, amount in amounts.items():
            counts[name] = counts.get(name, 0) + amount

    def _ours(self):
        return SyncRun.objects.filter(pk=self.run.pk, generation=self.generation)

    def fence(self) -> None:
        """Stop (Superseded) unless this worker's claim on the run still stands."""
        if not self._ours().filter(status=SyncRun.Status.RUNNING).exists():
            raise Superseded

    def beat(self) -> None:
        """Refresh the heartbeat, at most every BEAT_EVERY; Superseded if the run is not ours."""
        now = timezone.now()
        if self._beat_at is not None and now - self._beat_at < BEAT_EVERY:
            return
        if not self._ours().update(heartbeat_at=now):
            raise Superseded
        self._beat_at = now

    def guard(self, write: bool) -> None:
        """Called before every Campaign Monitor and Salesforce request of the run."""
        if self.sink is not None:
            self.sink.check()
        self.beat()
        if write:
            self.fence()

    def still_wanted(self) -> None:
        """Between polls of a long Salesforce Bulk API job: a heartbeat, so the job is not
        taken for a dead worker, and Cancelled when Cancel was pressed (the job is aborted).
        A lease held meanwhile is kept (sync.leases)."""
        self.beat()
        leases.keep_alive()
        if SyncRun.objects.filter(pk=self.run.pk, cancel_requested=True).exists():
            raise Cancelled

    def checkpoint(self) -> None:
        """Save progress (the console shows it live) and stop here if cancelled; only while
        the run is still this worker's, so a superseded worker cannot overwrite the counts."""
        run = self.run
        run.cm_calls = self.cm.calls
        run.sf_calls = self.sf.calls
        if self.sf.usage is not None:
            run.sf_api_used = self.sf.usage.used
            run.sf_api_remaining = max(self.sf.usage.total - self.sf.usage.used, 0)
        run.heartbeat_at = self._beat_at = timezone.now()
        saved = self._ours().update(
            step=run.step,
            counts=run.counts,
            cm_calls=run.cm_calls,
            sf_calls=run.sf_calls,
            sf_api_remaining=run.sf_api_remaining,
            sf_api_used=run.sf_api_used,
            heartbeat_at=run.heartbeat_at,
        )
        if not saved:
            raise Superseded
        if self.sink is not None:
            self.sink.check()
        if SyncRun.objects.filter(pk=run.pk, cancel_requested=True).exists():
            raise Cancelled

    def explain(
        self, record_id: str, *, label: str = "", before: str = "", reason: str = ""
    ) -> None:
        """Why a record is about to be written, for a preview's result page (who it is, its
        value before, the reason); nothing for other runs."""
        if self.sink is not None:
            self.sink.explain(record_id, label=label, before=before, reason=reason)

    def message(
        self,
        code: str,
        summary: str,
        *,
        upstream: str = "",
        record: dict | None = None,
        client_id: str = "",
        severity: str = Message.Severity.ERROR,
        step: str = "",
    ) -> None:
        if self.sink is not None:
            self.sink.message(code, summary, severity, record)
        Message.objects.create(
            code=code,
            severity=severity,
            step=step or self.run.step,
            run=self.run,
            client_id=client_id,
            summary=summary[:300],
            upstream_message=upstream,
            record=record or {},
        )

    def record_failures(
        self,
        step: str,
        sobject: str,
        results: list[RecordResult],
        client_id: str | Callable[[RecordResult], str] = "",
    ) -> int:
        """Turn each failed record into a message of its client (a client id, or a function
        of the result; empty when the record concerns several clients or none, so only users
        who see every client see it); returns how many failed. A Lead converted since it was
        read is not a failure: cmsync leaves converted Leads alone."""
        converted = [r for r in results if _converted_lead(r)]
        failed = [r for r in results if not r.success and not _converted_lead(r)]
        for result in failed:
            error = result.errors[0] if result.errors else None
            status = error.status_code if error else "UNKNOWN"
            because = f" (duplicate rule {error.rule})" if error and error.rule else ""
            self.message(
                for_salesforce(status),
                f"{sobject} {result.record.get('Id') or ''} not written "
                f"({step_title(step, self.run.kind)}): {status}{because}",
                upstream=error.message if error else "",
                record={"sobject": sobject, "operation": result.operation, "fields": result.record},
                client_id=client_id(result) if callable(client_id) else client_id,
                step=step,
            )
        written = len(results) - len(failed) - len(converted)
        self.count(step, failed=len(failed), written=written, unchanged=len(converted))
        return len(failed)


def _converted_lead(result: RecordResult) -> bool:
    """A Lead converted after cmsync read it: left alone, as every converted Lead is."""
    return any(e.status_code == "CANNOT_UPDATE_CONVERTED_LEAD" for e in result.errors)
