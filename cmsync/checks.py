"""Django system checks for settings that would fail later, at request or task time.

``manage.py check`` (and ``migrate``, ``runserver``, gunicorn's first request) reports them
as warnings: billing keys set in part, a broker that only works on one machine, a sender
address nobody can reply to, and a console address Campaign Monitor cannot post webhooks to.

What counts as production here: DEBUG off and ALLOW_INSECURE_LOOPBACK off. The tests and
`make run` turn ALLOW_INSECURE_LOOPBACK on (they talk to the local emulators over plain HTTP),
so their configurations stay quiet. No check makes a network call.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register

from cmsync.endpoints import LOOPBACK_HOSTS

# Email backends that deliver nothing: a placeholder sender is harmless with them.
LOCAL_EMAIL_BACKENDS = frozenset(
    {
        "django.core.mail.backends.console.EmailBackend",
        "django.core.mail.backends.locmem.EmailBackend",
        "django.core.mail.backends.filebased.EmailBackend",
        "django.core.mail.backends.dummy.EmailBackend",
    }
)
STRIPE_KEYS = ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET")


def _production() -> bool:
    return not settings.DEBUG and not settings.ALLOW_INSECURE_LOOPBACK


@register()
def stripe_keys(app_configs=None, **kwargs) -> list[CheckMessage]:
    """Billing needs all three Stripe values or none: with the secret key alone the Billing
    tab says billing is not configured; without the webhook secret every Stripe event is
    refused, so payments never reach the console."""
    present = [name for name in STRIPE_KEYS if getattr(settings, name, "")]
    if not present or len(present) == len(STRIPE_KEYS):
        return []
    missing = [name for name in STRIPE_KEYS if name not in present]
    return [
        Warning(
            f"Billing is set up in part: {', '.join(present)} set, {', '.join(missing)} not.",
            hint="Set all three Stripe values (billing on) or none (billing off).",
            id="cmsync.W001",
        )
    ]


@register()
def broker(app_configs=None, **kwargs) -> list[CheckMessage]:
    """The filesystem broker (the default without REDIS_URL) only reaches workers on the same
    machine; with PostgreSQL the web app and the workers usually run on several, and the
    tasks the console queues would never run."""
    engine = settings.DATABASES["default"]["ENGINE"]
    if not _production() or "postgresql" not in engine:
        return []
    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        return []
    return [
        Warning(
            "Celery uses the embedded filesystem broker with a PostgreSQL database.",
            hint="Set REDIS_URL (or CELERY_BROKER_URL) so every worker gets the queued tasks.",
            id="cmsync.W002",
        )
    ]


@register()
def sender(app_configs=None, **kwargs) -> list[CheckMessage]:
    """Emails (invitations, alerts) sent from an address at localhost are refused or
    filtered as spam by most mail servers, and nobody can reply to them."""
    if not _production() or settings.EMAIL_BACKEND in LOCAL_EMAIL_BACKENDS:
        return []
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(" >").lower()
    if domain and domain != "localhost" and not domain.endswith(".localhost"):
        return []
    return [
        Warning(
            f"Emails are sent from {settings.DEFAULT_FROM_EMAIL}, an address at localhost.",
            hint="Set DEFAULT_FROM_EMAIL to an address of your domain.",
            id="cmsync.W003",
        )
    ]


@register()
def webhook_address(app_configs=None, **kwargs) -> list[CheckMessage]:
    """Campaign Monitor posts list webhooks (on by default in Sync settings) to CMSYNC_URL:
    unset, plain HTTP or this machine's own address, they can never arrive. Only the address
    is looked at; whether the internet reaches it is not tried from here."""
    if not _production():
        return []
    url = settings.CMSYNC_URL
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname and parts.hostname not in LOOPBACK_HOSTS:
        return []
    return [
        Warning(
            f"Campaign Monitor cannot post webhooks to CMSYNC_URL ({url or 'not set'}).",
            hint="Set CMSYNC_URL to the console's public HTTPS address.",
            id="cmsync.W004",
        )
    ]
