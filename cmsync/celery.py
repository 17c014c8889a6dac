"""The Celery application: broker and defaults come from Django settings (CELERY_*)."""

import os
import socket

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cmsync.settings")

app = Celery("cmsync")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="cmsync.ping")
def ping(payload: str = "ping") -> dict:
    """Round trip through the broker: proves a worker is consuming (health checks, tests)."""
    return {"payload": payload, "worker": socket.gethostname(), "pid": os.getpid()}


# Heartbeats (maintenance/heartbeats.py): beat stamps as it sends its tasks, each worker from
# its event loop. Connected here, in the module every Celery process loads (-A cmsync).
_IN_BEAT = False


@signals.beat_init.connect
def _beat_started(sender=None, **kwargs) -> None:
    """Beat has started: stamped at once, so its first minute (before the first task is
    due) does not read as "never ticked" on the Maintenance tab."""
    global _IN_BEAT
    _IN_BEAT = True
    from maintenance import heartbeats

    heartbeats.beat_ticked()


@signals.before_task_publish.connect
def _beat_sends(sender=None, **kwargs) -> None:
    if _IN_BEAT:
        from maintenance import heartbeats

        heartbeats.beat_ticked()


@signals.heartbeat_sent.connect
def _worker_beats(sender=None, **kwargs) -> None:
    from maintenance import heartbeats

    heartbeats.worker_beating(sender.eventer.hostname)
