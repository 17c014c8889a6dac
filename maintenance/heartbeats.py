"""Celery's processes show they are alive, and a silence is shown and alerted.

- **Beat** stamps ``beat`` as it sends its every-minute tasks (Celery's ``before_task_publish``
  signal in the beat process: cmsync/celery.py). Stamped by beat itself, not by the worker
  that runs the task, so a dead worker is never mistaken for a dead beat. Silent for
  ``BEAT_STALE`` (3 minutes: three missed ticks), beat is down.
- **Each worker** stamps ``worker:<node name>`` from its own event loop (Celery's
  ``heartbeat_sent`` signal, every 2 seconds, written at most every ``STAMP_EVERY``), in a
  thread of its own so a slow database never stalls the worker. The event loop is the one
  that takes tasks from the broker: while it runs, the worker consumes (a busy worker whose
  processes all work still stamps). Silent for ``WORKER_STALE``, the worker is gone.
- A silence is **alerted** once per outage: a maintenance message (``BEAT_STOPPED``,
  ``NO_WORKER``) and an email to the alert recipients (unless alerts are off). Each side
  watches the other: a worker's stamp looks at beat, beat's stamp at the workers; the
  Maintenance tab and ``manage.py health --beat/--worker`` show either.
"""

import logging
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import DatabaseError, connection
from django.utils import timezone

from .models import Heartbeat, Message

log = logging.getLogger(__name__)

BEAT = "beat"
WORKER = "worker:"
BEAT_STALE = timedelta(minutes=3)
WORKER_STALE = timedelta(minutes=2)
STAMP_EVERY = 30.0  # seconds between two writes of one process's stamp


@dataclass(frozen=True)
class Liveness:
    """Beat's and the workers' last signs of life, and what is wrong with them ("" if
    nothing)."""

    beat_seen: datetime | None
    workers: dict[str, datetime]  # node name → last seen, the live ones
    beat_problem: str
    worker_problem: str


def stamp(name: str, now: datetime | None = None) -> None:
    Heartbeat.objects.update_or_create(name=name, defaults={"seen_at": now or timezone.now()})


def liveness(now: datetime | None = None) -> Liveness:
    now = now or timezone.now()
    rows = dict(Heartbeat.objects.values_list("name", "seen_at"))
    beat_seen = rows.get(BEAT)
    workers = {
        name.removeprefix(WORKER): seen
        for name, seen in rows.items()
        if name.startswith(WORKER) and seen >= now - WORKER_STALE
    }
    if beat_seen is None:
        beat_problem = "Celery beat has never ticked: scheduled syncs do not start."
    elif beat_seen < now - BEAT_STALE:
        beat_problem = (
            f"Celery beat has not ticked since {beat_seen:%Y-%m-%d %H:%M} UTC: "
            "scheduled syncs, the change poll and scheduled imports do not start."
        )
    else:
        beat_problem = ""
    worker_problem = (
        "" if workers else "No Celery worker is consuming tasks: runs and imports stay queued."
    )
    return Liveness(beat_seen, workers, beat_problem, worker_problem)


def last_worker_seen() -> datetime | None:
    latest = Heartbeat.objects.filter(name__startswith=WORKER).order_by("-seen_at").first()
    return latest.seen_at if latest else None


def worker_alive(host: str, now: datetime | None = None) -> list[str]:
    """The live workers on ``host`` (node names ``<name>@<host>``), for a container's check."""
    now = now or timezone.now()
    return sorted(
        name for name in liveness(now).workers if name.rpartition("@")[2] == host or name == host
    )


def alert_if_silent(
    now: datetime | None = None, *, beat: bool = True, workers: bool = True
) -> list[str]:
    """Raise the alert for each silent side (of those asked about) not alerted since it was
    last seen; the codes raised."""
    now = now or timezone.now()
    state = liveness(now)
    raised = []
    if beat and state.beat_problem and _not_alerted("BEAT_STOPPED", state.beat_seen):
        _alert("BEAT_STOPPED", state.beat_problem)
        raised.append("BEAT_STOPPED")
    if workers and state.worker_problem and _not_alerted("NO_WORKER", last_worker_seen()):
        _alert("NO_WORKER", state.worker_problem)
        raised.append("NO_WORKER")
    return raised


def _not_alerted(code: str, since: datetime | None) -> bool:
    """No message of ``code`` since the side was last seen: this outage is not alerted yet."""
    messages = Message.objects.filter(code=code)
    if since is not None:
        messages = messages.filter(created_at__gte=since)
    return not messages.exists()


def _alert(code: str, summary: str) -> None:
    from . import alerts

    Message.objects.create(code=code, severity=Message.Severity.ERROR, summary=summary[:300])
    log.error(summary, extra={"event": "health_alert", "code": code})
    alerts.notify_problem(code, summary)


# -- the Celery side (connected in cmsync/celery.py) ---------------------------------------

_last: dict[str, float] = {}
_lock = threading.Lock()
_started = time.monotonic()


def _up_for(period: timedelta) -> bool:
    """This process has run long enough to expect the other side to have shown itself."""
    return time.monotonic() - _started > period.total_seconds()


def _due(name: str) -> bool:
    """True at most once every STAMP_EVERY seconds for ``name`` in this process."""
    now = time.monotonic()
    with _lock:
        if now - _last.get(name, -STAMP_EVERY) < STAMP_EVERY:
            return False
        _last[name] = now
        return True


def beat_ticked() -> None:
    """Beat is sending a task: stamp it, and look at the workers."""
    if not _due(BEAT):
        return
    try:
        stamp(BEAT)
        if _up_for(WORKER_STALE):
            alert_if_silent(beat=False)
    except DatabaseError:
        log.exception("Could not record beat's heartbeat")


def worker_beating(node: str) -> None:
    """A worker's event loop sent a heartbeat: stamp it from a thread of its own."""
    name = WORKER + node
    if _due(name):
        threading.Thread(target=_stamp_worker, args=(name,), daemon=True).start()


def _stamp_worker(name: str) -> None:
    try:
        stamp(name)
        if _up_for(BEAT_STALE):
            alert_if_silent(workers=False)
    except DatabaseError:
        log.exception("Could not record the worker's heartbeat")
    finally:
        connection.close()


def this_host() -> str:
    return socket.gethostname()
