"""Refuse NUL bytes in URLs and the session cookie with a 400, in one place.

PostgreSQL cannot store or compare a string with a NUL character, so a ``%00`` in a path
segment or query parameter that reaches a query raises an error (a 500) wherever it lands;
so does one in the session cookie (its key is looked up). No valid URL or session key of
cmsync contains one: refuse the request before any view sees it. Form and JSON bodies are
Django's and DRF's fields' to check (both refuse NUL characters).
"""

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils.functional import empty

from .logs import redact

MESSAGE = "The request is not valid: the URL or the session cookie contains a NUL character (%00)."


def has_nul(request: HttpRequest) -> bool:
    if "\x00" in request.path_info:
        return True
    if any(
        "\x00" in key or any("\x00" in v for v in values) for key, values in request.GET.lists()
    ):
        return True
    return "\x00" in request.COOKIES.get(settings.SESSION_COOKIE_NAME, "")


class RejectNulBytes:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if has_nul(request):
            return bad_request(request)
        return self.get_response(request)


def bad_request(request: HttpRequest) -> HttpResponse:
    if request.path_info.startswith("/api/"):
        # The API's one error shape (cmsync/api.py).
        body = {"error": {"status": 400, "message": MESSAGE, "fields": {}}}
        return JsonResponse(body, status=400)
    return HttpResponseBadRequest(MESSAGE, content_type="text/plain; charset=utf-8")


request_log = logging.getLogger("cmsync.requests")


class RequestLog:
    """One line per request: method, path (secrets redacted by the handlers' filter), status,
    time taken and who (a user id, never a name or address). Health probes that succeed are
    written at DEBUG: a load balancer asks every few seconds."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        response = self.get_response(request)
        ms = round((time.monotonic() - started) * 1000)
        probe = request.path_info.startswith("/health/") and response.status_code < 400
        user = _loaded_user(request)
        request_log.log(
            logging.DEBUG if probe else logging.INFO,
            "%s %s %s",
            request.method,
            request.path_info,
            response.status_code,
            extra={
                "event": "request",
                "method": request.method,
                "path": redact(request.path_info),
                "status": response.status_code,
                "ms": ms,
                "user_id": user.pk if user is not None and user.is_authenticated else None,
            },
        )
        return response


class Probes:
    """Health probes and the metrics scrape answered before anything else: no host check
    (orchestrators probe by IP address, not by the public host name), no HTTPS redirect, no
    session, no user. Other methods go on to the URLconf (a POST is refused there)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in ("GET", "HEAD"):
            from . import probe_views  # the views import the health checks, Celery and all

            if view := probe_views.BY_PATH.get(request.path_info):
                response = view(request)
                # Not pages: nothing may run or frame them (the CSP middleware comes later).
                response["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
                response["X-Content-Type-Options"] = "nosniff"
                return response
        return self.get_response(request)


def _loaded_user(request: HttpRequest):
    """The request's user if something already loaded it; never a session read of our own."""
    user = getattr(request, "user", None)
    wrapped = getattr(user, "_wrapped", user)
    return None if wrapped is empty else wrapped
