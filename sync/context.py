"""What every step of a run shares: the run row, both APIs, the settings, counters, messages."""

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.utils import timezone

from campaign_monitor.client import CampaignMonitorClient
from campaign_monitor.models import ConnectedClient
from maintenance.codes import for_salesforce
from maintenance.models import Message
from salesforce.gateway import Person, RecordResult, SalesforceGateway
from settings_app.models import CampaignSettings, GeneralSettings, SyncSettings

from .models import SyncRun

COUNTERS = ("read", "written", "unchanged", "failed")
PEOPLE_CACHE = 20_000  # emails: flat memory at any volume, lookups spared within a campaign


class Cancelled(Exception):
    """Campaign Monitor was disconnected (or the run cancelled): stop at this safe point."""


@dataclass
class Context:
    run: SyncRun
    cm: CampaignMonitorClient
    sf: SalesforceGateway
    clients: list[ConnectedClient]
    sync_settings: SyncSettings = field(default_factory=SyncSettings.get_solo)
    general: GeneralSettings = field(default_factory=GeneralSettings.get_solo)
    campaigns: CampaignSettings = field(default_factory=CampaignSettings.get_solo)
    _people: OrderedDict = field(default_factory=OrderedDict)

    def people(self, emails: Iterable[str]) -> dict[str, list[Person]]:
        """Contacts and Leads by lower-case email, looked up once per run (bounded cache).

        The answer covers every email asked for: it is built before the cache makes room, so
        an email is missing from it only because Salesforce's lookup found nobody. The cache
        then evicts its oldest entries, never one of this answer's.

        The opt-out step decides each email once per run, so the cached HasOptedOutOfEmail
        never needs refreshing; later steps only use the record ids.
        """
        wanted = sorted({e.lower() for e in emails})
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
        self.run.step = step
        self.run.counts.setdefault(step, dict.fromkeys(COUNTERS, 0))
        self.checkpoint()

    def count(self, step: str, **amounts: int) -> None:
        counts = self.run.counts.setdefault(step, dict.fromkeys(COUNTERS, 0))
        for name, amount in amounts.items():
            counts[name] = counts.get(name, 0) + amount

    def checkpoint(self) -> None:
        """Save progress (the console shows it live) and stop here if cancelled."""
        self.run.cm_calls = self.cm.calls
        self.run.sf_calls = self.sf.calls
        if self.sf.usage is not None:
            self.run.sf_api_used = self.sf.usage.used
            self.run.sf_api_remaining = max(self.sf.usage.total - self.sf.usage.used, 0)
        self.run.heartbeat_at = timezone.now()
        self.run.save(
            update_fields=[
                "step",
                "counts",
                "cm_calls",
                "sf_calls",
                "sf_api_remaining",
                "sf_api_used",
                "heartbeat_at",
            ]
        )
        if SyncRun.objects.filter(pk=self.run.pk, cancel_requested=True).exists():
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

    def record_failures(self, step: str, sobject: str, results: list[RecordResult]) -> int:
        """Turn each failed record into a message; returns how many failed."""
        failed = [r for r in results if not r.success]
        for result in failed:
            error = result.errors[0] if result.errors else None
            status = error.status_code if error else "UNKNOWN"
            self.message(
                for_salesforce(status),
                f"{sobject} {result.record.get('Id') or ''} not written in {step}: {status}",
                upstream=error.message if error else "",
                record={"sobject": sobject, "operation": result.operation, "fields": result.record},
                step=step,
            )
        self.count(step, failed=len(failed), written=len(results) - len(failed))
        return len(failed)
