"""What every step of a run shares: the run row, both APIs, the settings, counters, messages."""

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
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
from .models import SyncRun, WorkItem
from .step_titles import step_title

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
    _beat_at: datetime | None = None
    _describe: Callable[[str], ObjectInfo] | None = None
    # The work item being worked (sync/spread.py), or None: the run's own steps. While one
    # is, counts and calls go to the item's row, not the run's.
    item: WorkItem | None = None
    # The run's own worker (it keeps the run's heartbeat), not a helper called in for items.
    coordinator: bool = True
    # The API calls made before the item was taken, so the item gets its own; and those the
    # run's own worker made for items (counted on them, not twice).
    _calls_at: tuple[int, int] = (0, 0)
    _item_calls: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        # Both APIs ask before every call: a heartbeat while working, a fence before writing.
        self.sf.guard = self.guard
        self.sf.keep_waiting = self.still_wanted
        if self.cm is not None:
            self.cm.guard = self.guard

    @property
    def _read_people(self) -> bool:
        """Whether people are looked up in the copy this run read (people.py)."""
        return self.run.people_read

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
        if known_people.worth_reading(self.sf, known_people.emails_to_ask(self.run.full)):
            known_people.read_all(self.sf, beat=self.beat)
            if not self._ours().update(people_read=True):
                raise Superseded
            self.run.people_read = True
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
        self.run.step = step  # saved by the run's own checkpoint; an item's says it in messages
        self._counts.setdefault(step, dict.fromkeys(COUNTERS, 0))
        self.checkpoint()

    @property
    def _counts(self) -> dict:
        return self.item.counts if self.item is not None else self.run.counts

    def count(self, step: str, **amounts: int) -> None:
        counts = self._counts.setdefault(step, dict.fromkeys(COUNTERS, 0))
        for name, amount in amounts.items():
            counts[name] = counts.get(name, 0) + amount

    @contextmanager
    def working_on(self, item: WorkItem) -> Iterator["Context"]:
        """Work ``item`` (claimed by this worker): counts and calls go to it meanwhile."""
        self.item, self._beat_at = item, None
        cm_before, sf_before = self._calls_at = (self.cm.calls, self.sf.calls)
        try:
            yield self
        finally:
            self.item = None
            cm_lent, sf_lent = self._item_calls
            self._item_calls = (
                cm_lent + self.cm.calls - cm_before,
                sf_lent + self.sf.calls - sf_before,
            )

    def own_counts_only(self) -> None:
        """A run taken over: the counts on its row include its work items', which are
        added again from the items themselves (``totals``)."""
        for item in WorkItem.objects.filter(run=self.run).values_list("counts", flat=True):
            for step, amounts in item.items():
                mine = self.run.counts.get(step, {})
                for name, amount in amounts.items():
                    mine[name] = max(mine.get(name, 0) - amount, 0)

    def totals(self) -> tuple[dict, int, int]:
        """The run's counts and API calls: its own steps' plus every work item's."""
        counts = {step: dict(amounts) for step, amounts in self.run.counts.items()}
        cm_calls = self.cm.calls - self._item_calls[0]
        sf_calls = self.sf.calls - self._item_calls[1]
        for item in WorkItem.objects.filter(run=self.run).values("counts", "cm_calls", "sf_calls"):
            add_counts(counts, item["counts"])
            cm_calls += item["cm_calls"]
            sf_calls += item["sf_calls"]
        return counts, cm_calls, sf_calls

    def _ours(self):
        return SyncRun.objects.filter(pk=self.run.pk, generation=self.generation)

    def _my_item(self):
        item = self.item
        assert item is not None
        return WorkItem.objects.filter(
            pk=item.pk, attempts=item.attempts, status=WorkItem.Status.CLAIMED
        )

    def fence(self) -> None:
        """Stop (Superseded) unless this worker's claim on the run (and on its work item)
        still stands."""
        if not self._ours().filter(status=SyncRun.Status.RUNNING).exists():
            raise Superseded
        if self.item is not None and not self._my_item().exists():
            raise Superseded

    def beat(self) -> None:
        """Refresh the heartbeat, at most every BEAT_EVERY; Superseded if the run is not ours."""
        now = timezone.now()
        every = BEAT_EVERY if self.item is None else min(BEAT_EVERY, item_stale_after() / 4)
        if self._beat_at is not None and now - self._beat_at < every:
            return
        if self.item is not None:
            self.save_item(now, cancel=False)
            return
        if not self._ours().update(heartbeat_at=now):
            raise Superseded
        self._beat_at = now

    def save_item(self, now: datetime, cancel: bool) -> None:
        """The item's counts, calls and heartbeat (the run's heartbeat too, from the run's
        own worker); Superseded when the item or the run is no longer this worker's,
        Cancelled (``cancel``) when Cancel was pressed."""
        item = self.item
        assert item is not None
        # The run first: once it is finished, its counts are final and no item adds to them.
        if self.coordinator and not self._ours().update(heartbeat_at=now):
            raise Superseded
        run = self._ours().values("status", "cancel_requested").first()
        if run is None or run["status"] != SyncRun.Status.RUNNING:
            raise Superseded
        cm_calls = item.cm_calls + self.cm.calls - self._calls_at[0]
        sf_calls = item.sf_calls + self.sf.calls - self._calls_at[1]
        if not self._my_item().update(
            counts=item.counts, cm_calls=cm_calls, sf_calls=sf_calls, heartbeat_at=now
        ):
            raise Superseded
        item.cm_calls, item.sf_calls = cm_calls, sf_calls
        self._calls_at = (self.cm.calls, self.sf.calls)
        self._beat_at = now
        if cancel and run["cancel_requested"]:
            raise Cancelled

    def guard(self, write: bool) -> None:
        """Called before every Campaign Monitor and Salesforce request of the run."""
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
        the run is still this worker's, so a superseded worker cannot overwrite the counts.
        Working an item, the item's row is saved instead (``save_item``)."""
        if self.item is not None:
            self.save_item(timezone.now(), cancel=True)
            return
        run = self.run
        counts, run.cm_calls, run.sf_calls = self.totals()
        if self.sf.usage is not None:
            run.sf_api_used = self.sf.usage.used
            run.sf_api_remaining = max(self.sf.usage.total - self.sf.usage.used, 0)
        run.heartbeat_at = self._beat_at = timezone.now()
        saved = self._ours().update(
            step=run.step,
            counts=counts,
            cm_calls=run.cm_calls,
            sf_calls=run.sf_calls,
            sf_api_remaining=run.sf_api_remaining,
            sf_api_used=run.sf_api_used,
            heartbeat_at=run.heartbeat_at,
        )
        if not saved:
            raise Superseded
        if SyncRun.objects.filter(pk=run.pk, cancel_requested=True).exists():
            raise Cancelled

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


def item_stale_after() -> timedelta:
    """How long a work item's worker may be silent before the item is taken back."""
    return timedelta(seconds=settings.SYNC_ITEM_STALE_SECONDS)


def add_counts(into: dict, more: dict) -> None:
    """Add one set of step counts to another, step by step, counter by counter."""
    for step, amounts in more.items():
        mine = into.setdefault(step, dict.fromkeys(COUNTERS, 0))
        for name, amount in amounts.items():
            mine[name] = mine.get(name, 0) + amount


def _converted_lead(result: RecordResult) -> bool:
    """A Lead converted after cmsync read it: left alone, as every converted Lead is."""
    return any(e.status_code == "CANNOT_UPDATE_CONVERTED_LEAD" for e in result.errors)
