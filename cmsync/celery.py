"""The Celery application: broker and defaults come from Django settings (CELERY_*)."""

import os
import socket

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cmsync.settings")

app = Celery("cmsync")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="cmsync.ping")
def ping(payload: str = "ping") -> dict:
    """Round trip through the broker: proves a worker is consuming (health checks, tests)."""
    return {"payload": payload, "worker": socket.gethostname(), "pid": os.getpid()}
