"""Email chosen admins about sync runs: Never, Only on error (default) or Always."""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db.models import Count

from .codes import CODES
from .models import AlertSettings

log = logging.getLogger(__name__)


def notify(run) -> bool:
    """Send the run's alert if the settings ask for one; True when an email went out."""
    alerts = AlertSettings.get_solo()
    if alerts.mode == AlertSettings.Mode.NEVER:
        return False
    errors = run.messages.filter(severity="error")
    bad = run.status == "failed" or errors.exists()
    if alerts.mode == AlertSettings.Mode.ON_ERROR and not bad:
        return False
    if run.kind in ("changes", "cm_events") and not bad:
        return False  # reactions run every few minutes: "Always" means every primary sync
    recipients = [u.email for u in alerts.recipients.all() if u.email and u.is_active]
    if not recipients:
        return False
    by_code = errors.values("code").annotate(n=Count("id")).order_by("-n")
    lines = [
        f"{run.get_kind_display()} run {run.pk}: {run.get_status_display()}",
        f"Started {run.started_at:%Y-%m-%d %H:%M} UTC, trigger: {run.get_trigger_display()}",
    ]
    if run.last_error:
        lines.append(f"Error: {run.last_error}")
    lines += [f"{row['n']} × {row['code']}" for row in by_code]
    lines.append(f"Details: {settings.CMSYNC_URL}/sync/runs/{run.pk}/")
    subject = f"cmsync: sync run {run.pk} {run.get_status_display().lower()}"
    try:
        send_mail(subject, "\n".join(lines), None, recipients)
    except OSError:
        log.exception("Could not send the alert for sync run %s", run.pk)
        return False
    return True


def notify_problem(code: str, summary: str) -> bool:
    """Email the alert recipients about a problem of the installation itself (beat stopped,
    no worker), unless alerts are off; True when an email went out."""
    alerts = AlertSettings.get_solo()
    if alerts.mode == AlertSettings.Mode.NEVER:
        return False
    recipients = [u.email for u in alerts.recipients.all() if u.email and u.is_active]
    if not recipients:
        return False
    body = f"{summary}\n\nCode: {code}\nDetails: {settings.CMSYNC_URL}/maintenance/"
    try:
        send_mail(f"cmsync: {CODES[code].title}", body, None, recipients)
    except OSError:
        log.exception("Could not send the alert %s", code)
        return False
    return True


def recipient_warning() -> str:
    """What the Alerts card must say when alerts are on but would reach nobody, or not all
    of the chosen people; empty when every chosen person gets them (or alerts are off)."""
    alerts = AlertSettings.get_solo()
    if alerts.mode == AlertSettings.Mode.NEVER:
        return ""
    chosen = list(alerts.recipients.order_by("username"))
    missing = [u.get_username() for u in chosen if not (u.email and u.is_active)]
    if len(missing) < len(chosen):
        if not missing:
            return ""
        return (
            f"{', '.join(missing)}: no email address (or deactivated), so no alerts; "
            "the others chosen below get them."
        )
    if not get_user_model().objects.filter(is_active=True).exclude(email="").exists():
        return (
            "Alerts reach nobody: no user has an email address. Each person sets theirs "
            "under Your account (top right); then choose who gets alerts here."
        )
    if missing:
        who = f"{', '.join(missing)} {'has' if len(missing) == 1 else 'have'}"
        return (
            f"Alerts reach nobody: {who} no email address (or deactivated). Choose someone "
            "below who has one, or ask them to set it under Your account."
        )
    return "Alerts reach nobody: nobody is chosen below. Choose at least one person and save."
