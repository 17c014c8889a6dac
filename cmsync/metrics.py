"""Metrics for Prometheus, read from the database when scraped.

cmsync runs in several processes (gunicorn workers, Celery workers, beat): a counter kept in
one process's memory would be right for none of them. So a custom collector asks the
database, which every process writes to, at each scrape: every gunicorn worker answers the
same numbers, and they survive restarts. What is counted is what the run rows, messages and
inboxes already store; nothing is counted twice to serve metrics.

Runs are never deleted by the sync (only by a reset of stored data, after which the counters
start again, as Prometheus expects of a counter that resets), so sums over the run rows are
counters. The records of each step are summed in Python from the runs' counts: finished runs
are summed once per process and kept, only newer or unfinished ones are read again.
"""

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, Min, Q, Sum
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

# Run durations, seconds: a reaction takes seconds, a first full sync of a large org an hour.
BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400)
COUNTERS = ("read", "written", "unchanged", "failed")


class _StepTotals:
    """Records per (kind, step, outcome) over every run: finished runs up to a watermark
    are summed once and kept; runs above it are summed afresh at each scrape."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.forget()

    def forget(self) -> None:
        self.watermark = 0  # every run with pk <= watermark is finished and in ``kept``
        self.kept_rows = 0
        self.kept: Counter = Counter()

    def totals(self) -> Counter:
        from sync.models import SyncRun

        with self.lock:
            if SyncRun.objects.filter(pk__lte=self.watermark).count() != self.kept_rows:
                self.forget()  # runs were deleted (a reset): sum again
            first_active = SyncRun.objects.filter(finished_at=None).aggregate(m=Min("pk"))["m"]
            last = SyncRun.objects.aggregate(m=Max("pk"))["m"] or 0
            new_mark = (first_active - 1) if first_active is not None else last
            if new_mark > self.watermark:
                done = SyncRun.objects.filter(pk__gt=self.watermark, pk__lte=new_mark)
                self.kept.update(_sum(done))
                self.kept_rows += done.count()
                self.watermark = new_mark
            fresh = _sum(SyncRun.objects.filter(pk__gt=self.watermark))
            return self.kept + fresh


def _sum(runs) -> Counter:
    total: Counter = Counter()
    for kind, counts in runs.values_list("kind", "counts").iterator(chunk_size=2000):
        for step, numbers in (counts or {}).items():
            for outcome in COUNTERS:
                if amount := (numbers or {}).get(outcome):
                    total[(kind, step, outcome)] += amount
    return total


_steps = _StepTotals()


class CmsyncCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from runs()
        yield from records()
        yield from salesforce_budget()
        yield from messages()
        yield from inboxes()
        yield from queue()
        yield from heartbeats()


def runs() -> Iterator[Metric]:
    from sync.models import SyncRun

    by_status = CounterMetricFamily(
        "cmsync_runs",
        "Runs by kind and status (queued and running included)",
        labels=["kind", "status"],
    )
    calls = CounterMetricFamily(
        "cmsync_api_calls",
        "API calls made by runs, by service and kind of run",
        labels=["service", "kind"],
    )
    rows = SyncRun.objects.values("kind", "status").annotate(
        n=Count("id"), cm=Sum("cm_calls"), sf=Sum("sf_calls")
    )
    cm_calls: Counter = Counter()
    sf_calls: Counter = Counter()
    for row in rows:
        by_status.add_metric([row["kind"], row["status"]], row["n"])
        cm_calls[row["kind"]] += row["cm"] or 0
        sf_calls[row["kind"]] += row["sf"] or 0
    for kind in sorted(set(cm_calls) | set(sf_calls)):
        calls.add_metric(["campaign_monitor", kind], cm_calls[kind])
        calls.add_metric(["salesforce", kind], sf_calls[kind])
    yield by_status
    yield calls
    yield _durations()


def _durations() -> HistogramMetricFamily:
    from sync.models import SyncRun

    family = HistogramMetricFamily(
        "cmsync_run_duration_seconds", "How long finished runs took, by kind", labels=["kind"]
    )
    took = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    finished = SyncRun.objects.exclude(started_at=None).exclude(finished_at=None)
    aggregates = {f"le{b}": Count("id", filter=Q(took__lte=timedelta(seconds=b))) for b in BUCKETS}
    rows = (
        finished.annotate(took=took)
        .values("kind")
        .annotate(n=Count("id"), total=Sum("took"), **aggregates)
    )
    for row in rows:
        buckets = [(str(float(b)), row[f"le{b}"]) for b in BUCKETS] + [("+Inf", row["n"])]
        total = row["total"]
        seconds = total.total_seconds() if isinstance(total, timedelta) else (total or 0) / 1e6
        family.add_metric([row["kind"]], buckets, seconds)
    return family


def records() -> Iterator[Metric]:
    family = CounterMetricFamily(
        "cmsync_run_records",
        "Records read, written, unchanged and failed by runs, per kind of run and step",
        labels=["kind", "step", "outcome"],
    )
    for (kind, step, outcome), amount in sorted(_steps.totals().items()):
        family.add_metric([kind, step, outcome], amount)
    yield family


def salesforce_budget() -> Iterator[Metric]:
    from sync.models import SyncRun

    latest = SyncRun.objects.exclude(sf_api_remaining=None).first()
    if latest is None:
        return
    yield GaugeMetricFamily(
        "cmsync_salesforce_api_remaining",
        "Salesforce's daily API requests left, as the latest run saw them",
        value=latest.sf_api_remaining,
    )
    yield GaugeMetricFamily(
        "cmsync_salesforce_api_used",
        "Salesforce's daily API requests used, as the latest run saw them",
        value=latest.sf_api_used or 0,
    )


def messages() -> Iterator[Metric]:
    from maintenance.models import Message

    family = GaugeMetricFamily(
        "cmsync_maintenance_messages",
        "Maintenance messages stored, by code and severity",
        labels=["code", "severity"],
    )
    for row in Message.objects.values("code", "severity").annotate(n=Count("id")).order_by():
        family.add_metric([row["code"], row["severity"]], row["n"])
    yield family


def inboxes() -> Iterator[Metric]:
    from sync.models import CampaignMonitorEvent, SalesforceChange

    pending = GaugeMetricFamily(
        "cmsync_inbox_pending", "Inbound changes waiting for a run", labels=["inbox"]
    )
    lag = GaugeMetricFamily(
        "cmsync_inbox_lag_seconds",
        "Age of the oldest inbound change waiting for a run (0 when none waits)",
        labels=["inbox"],
    )
    now = timezone.now()
    for name, model in (
        ("salesforce_changes", SalesforceChange),  # the poll and Outbound Messages
        ("campaign_monitor_events", CampaignMonitorEvent),  # list webhooks
    ):
        row = model.objects.filter(processed_at=None).aggregate(
            n=Count("id"), oldest=Min("received_at")
        )
        pending.add_metric([name], row["n"])
        lag.add_metric([name], (now - row["oldest"]).total_seconds() if row["oldest"] else 0)
    yield pending
    yield lag


def queue() -> Iterator[Metric]:
    """The broker queue's length, asked with the health checks' deadline."""
    from cmsync.celery import app

    from .health import _pool

    name = app.conf.task_default_queue
    up = GaugeMetricFamily("cmsync_broker_up", "Whether the broker answered the scrape")
    try:
        length = _pool.submit(_queue_length, name).result(timeout=settings.HEALTH_TIMEOUT_SECONDS)
    except (FutureTimeout, Exception):
        up.add_metric([], 0)
        yield up
        return
    up.add_metric([], 1)
    yield up
    family = GaugeMetricFamily(
        "cmsync_queue_length", "Tasks waiting in the broker queue", labels=["queue"]
    )
    family.add_metric([name], length)
    yield family


def _queue_length(name: str) -> int:
    from cmsync.celery import app

    with app.connection_for_write() as conn:
        conn.connect_timeout = settings.HEALTH_TIMEOUT_SECONDS
        # declared as Celery declares it (a passive declare of an empty Redis queue fails)
        return conn.default_channel.queue_declare(queue=name).message_count


def heartbeats() -> Iterator[Metric]:
    from maintenance.heartbeats import liveness

    state = liveness()
    beat = GaugeMetricFamily(
        "cmsync_beat_last_tick_timestamp_seconds",
        "When Celery beat last sent its tasks (Unix time)",
    )
    if state.beat_seen is not None:
        beat.add_metric([], state.beat_seen.timestamp())
        yield beat
    yield GaugeMetricFamily(
        "cmsync_workers_alive",
        "Celery workers seen alive in the last 2 minutes",
        value=len(state.workers),
    )


_registry = CollectorRegistry(auto_describe=False)
_registry.register(CmsyncCollector())


def render() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type."""
    return generate_latest(_registry), CONTENT_TYPE_LATEST
