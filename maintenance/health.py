"""The health card on the Maintenance tab: the sync's recent runs and the Salesforce budget,
the readiness checks of /health/ready (cmsync/health.py), and whether Celery beat and the
workers are alive (heartbeats.py)."""

from datetime import timedelta

from django.utils import timezone

from cmsync import health
from sync.models import SyncRun

from . import heartbeats


def summary() -> dict:
    runs = SyncRun.objects.all()
    last_good = runs.filter(kind=SyncRun.Kind.PRIMARY, status=SyncRun.Status.SUCCEEDED).first()
    latest = runs.exclude(sf_api_remaining=None).first()
    day_ago = timezone.now() - timedelta(hours=24)
    return {
        "last_success": last_good,
        "failed_24h": runs.filter(status=SyncRun.Status.FAILED, created_at__gte=day_ago).count(),
        "runs_24h": runs.filter(created_at__gte=day_ago).count(),
        "sf_api_remaining": latest.sf_api_remaining if latest else None,
        "sf_api_used": latest.sf_api_used if latest else None,
        "checks": health.run(),
        "liveness": heartbeats.liveness(),
    }
