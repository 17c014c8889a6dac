"""Brute-force protection of the login pages, with django-axes (settings: AXES_*, LOGIN_*).

Failed logins are counted per (username, client address) pair; at LOGIN_FAILURE_LIMIT the
pair is locked out for LOGIN_LOCKOUT_MINUTES (the right password is refused too). Counting by
the pair means nobody can lock an admin out from their own address, and one person's typos
do not lock out everyone behind a shared (NAT) address. A lockout is audited; a Full access
admin lists and unlocks them on the User security tab. The REST API's keys are not passwords
and never go through this.
"""

import ipaddress
from dataclasses import dataclass
from datetime import datetime

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from maintenance.audit import record_action

USERNAME_MAX = 255  # AccessAttempt.username: longer is no username of ours anyway


def _address(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The address failures are counted against (AXES_CLIENT_IP_CALLABLE).

    X-Forwarded-For is believed only behind a proxy (BEHIND_PROXY), as for the audit log, and
    then only its last entry: the address our proxy saw. The entries before it are whatever
    the client wrote, and an attacker rotating them would never reach the limit.
    """
    if settings.BEHIND_PROXY:
        hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if forwarded := _address(hops[-1]):
            return forwarded
    return _address(request.META.get("REMOTE_ADDR"))


def attempted_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """The username tried (AXES_USERNAME_CALLABLE), cut to what axes can store."""
    field = settings.AXES_USERNAME_FORM_FIELD
    name = credentials.get(field) if credentials else request.POST.get(field)
    return None if name is None else str(name)[:USERNAME_MAX]


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    """The page a locked-out login gets (AXES_LOCKOUT_CALLABLE): 429, in the console's style."""
    context = {
        "username": attempted_username(request, credentials) or "",
        "minutes": settings.LOGIN_LOCKOUT_MINUTES,
        "limit": settings.LOGIN_FAILURE_LIMIT,
        "retry_url": request.get_full_path(),
    }
    return render(request, "registration/locked_out.html", context, status=429)


def audit_lockout(request: HttpRequest, username: str | None, ip_address: str | None) -> None:
    """An audit entry when a (username, address) pair becomes locked out.

    axes signals every refused try during a lockout too; only the try that reached the limit
    was counted (``axes_failures_since_start`` is set), so the lockout is audited once.
    """
    if getattr(request, "axes_failures_since_start", None) is None:
        return
    user = get_user_model().objects.filter(username=username).first()
    instance = (
        user or AccessAttempt.objects.filter(username=username, ip_address=ip_address).first()
    )
    if instance is None:
        return
    record_action(
        instance,
        "security",
        f"Login locked out: {settings.LOGIN_FAILURE_LIMIT} failed logins for “{username}” "
        f"from {ip_address or 'an unknown address'}; locked for "
        f"{settings.LOGIN_LOCKOUT_MINUTES} minutes",
    )


@dataclass(frozen=True)
class Lockout:
    id: int  # one of its attempt rows, for the Unlock button
    username: str
    ip_address: str | None
    failures: int
    last_failure: datetime

    @property
    def until(self) -> datetime:
        return self.last_failure + get_cool_off()


def current() -> list[Lockout]:
    """The (username, address) pairs locked out now, most recent first."""
    since = timezone.now() - get_cool_off()
    rows = (
        AccessAttempt.objects.filter(attempt_time__gte=since)
        .values("username", "ip_address")
        .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"), id=Max("id"))
        .filter(failures__gte=settings.AXES_FAILURE_LIMIT)
        .order_by("-last")
    )
    return [
        Lockout(r["id"], r["username"] or "", r["ip_address"], r["failures"], r["last"])
        for r in rows
    ]


def unlock(attempt: AccessAttempt) -> int:
    """Forget the failures of ``attempt``'s (username, address) pair; audited."""
    username, ip_address = attempt.username, attempt.ip_address
    with transaction.atomic():
        user = get_user_model().objects.filter(username=username).first()
        record_action(
            user or attempt,
            "security",
            f"Unlocked login for “{username}” from {ip_address or 'an unknown address'}",
        )
        deleted, _ = AccessAttempt.objects.filter(username=username, ip_address=ip_address).delete()
    return deleted
