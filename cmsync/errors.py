"""Errors to Sentry, only when SENTRY_DSN is set: otherwise the SDK is never initialised and
nothing is sent anywhere.

What goes: unhandled exceptions of requests and Celery tasks, and every line logged at ERROR
(a run's unexpected crash is one: ``jobs.outcome`` logs it), each tagged with the run's id
while a run works (``cmsync.logs.run_context``). ``send_default_pii`` stays off: no cookies,
no request bodies, no user names or addresses; the handlers' redaction of secrets in URLs
applies to the breadcrumbs too (``before_breadcrumb``).
"""

import contextlib
from collections.abc import Iterator
from typing import Any

from .logs import redact


def init_sentry(dsn: str, environment: str) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        send_default_pii=False,
        traces_sample_rate=0,
        integrations=[DjangoIntegration(), CeleryIntegration(), LoggingIntegration()],
        before_breadcrumb=_redact_breadcrumb,
        before_send=_redact_event,
    )


def _redact_breadcrumb(crumb: dict[str, Any], hint: Any) -> dict[str, Any]:
    if isinstance(crumb.get("message"), str):
        crumb["message"] = redact(crumb["message"])
    data = crumb.get("data") or {}
    if isinstance(data.get("url"), str):
        data["url"] = redact(data["url"])
    return crumb


def _redact_event(event: Any, hint: dict[str, Any]) -> Any:
    request = event.get("request") or {}
    if isinstance(request.get("url"), str):
        request["url"] = redact(request["url"])
    return event


@contextlib.contextmanager
def run_scope(run_id: int) -> Iterator[None]:
    """What Sentry sends inside is tagged with the run (nothing to do without Sentry)."""
    import sentry_sdk

    if not sentry_sdk.is_initialized():
        yield
        return
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("run_id", str(run_id))
        scope.set_context("run", {"id": run_id})
        yield
