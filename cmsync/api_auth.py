"""REST API authentication (API keys), role permissions, the query parameters each operation
takes, and rate limits. Kept apart from cmsync/api.py because DRF imports these while its own
views module is still loading."""

import logging
import threading
import time
from datetime import timedelta

from auditlog.context import auditlog_value
from django.db.models import Q
from django.utils import timezone
from redis.exceptions import RedisError
from rest_framework import exceptions, throttling
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

log = logging.getLogger(__name__)

API_KEY_PREFIX = "Api-Key "


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: Api-Key <key>``. The key acts as its own user, with its role."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.startswith(API_KEY_PREFIX):
            return None
        from security.models import IntegrationKey

        key = header.removeprefix(API_KEY_PREFIX).strip()
        prefix = key.partition(".")[0]
        api_key = IntegrationKey.objects.filter(prefix=prefix).select_related("user").first()
        if api_key is None or not api_key.is_valid(key):
            raise exceptions.AuthenticationFailed("Unknown API key.")
        if api_key.revoked or not api_key.user.is_active:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        if api_key.has_expired:
            expired = timezone.localtime(api_key.expiry_date)
            raise exceptions.AuthenticationFailed(
                f"This API key expired on {expired.day} {expired:%B %Y}: "
                "ask a Full access user for a new one."
            )
        note_use(api_key)
        try:  # changes made with the key are audited with the key's name as the actor
            auditlog_value.get()["actor"] = api_key.user
        except LookupError:
            pass
        return api_key.user, api_key

    def authenticate_header(self, request) -> str:
        return "Api-Key"


LAST_USED_EVERY = timedelta(minutes=1)


def note_use(api_key) -> None:
    """Record when the key was last used, at most once a minute: most requests write nothing,
    and the one that does is a single conditional UPDATE, so concurrent requests of the same
    minute write once between them and nothing is read back."""
    now = timezone.now()
    since = now - LAST_USED_EVERY
    if api_key.last_used_at is not None and api_key.last_used_at >= since:
        return
    type(api_key).objects.filter(pk=api_key.pk).filter(
        Q(last_used_at=None) | Q(last_used_at__lt=since)
    ).update(last_used_at=now)


class RolePermission(BasePermission):
    """Each view names the permission its methods need (``permissions = {"GET": ...}``);
    the caller's role (a person's, or a key's) must grant it."""

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        needed = getattr(view, "permissions", {}).get(request.method)
        if needed is None:
            needed = view.permissions.get("GET") if request.method in ("HEAD", "OPTIONS") else None
        return needed is not None and request.user.has_perm(needed)


class DocumentedQueryParameters(BasePermission):
    """Refuses (400) a query parameter the operation's OpenAPI schema does not list: a typo
    in a filter's name, or a list's filter sent to another operation (``POST /runs/?trigger=``
    starts a run triggered by "api" whatever it says), is an error, not silently ignored."""

    def has_permission(self, request, view) -> bool:
        from cmsync.api import documented_query_parameters

        taken = documented_query_parameters(request.path_info, request.method)
        if taken is None:  # not an operation of the schema (OPTIONS, a method it refuses)
            return True
        if unknown := sorted(set(request.query_params) - taken):
            takes = f"it takes {', '.join(sorted(taken))}" if taken else "it takes none"
            raise exceptions.ValidationError(
                {name: [f"Not a query parameter of this operation: {takes}."] for name in unknown}
            )
        return True


class EveryNowAndThen:
    """True at most once per ``seconds`` in a process: for a warning that would otherwise be
    logged by every request."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._last: float | None = None
        self._lock = threading.Lock()

    def due(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if self._last is not None and now - self._last < self.seconds:
                return False
            self._last = now
            return True

    def reset(self) -> None:
        self._last = None


cache_outage_warning = EveryNowAndThen(60)

# What the cache backends settings.py configures raise when they cannot be reached: Redis's
# (connection refused, timeout) and the file-based cache's (disk full, permissions).
CACHE_ERRORS = (RedisError, OSError)


class UserRateThrottle(throttling.UserRateThrottle):
    """DRF's rate limit per user (or key), counted in the cache: Redis in production. While
    the cache cannot be reached, requests are allowed, and a warning (once a minute) says that
    rate limits are off: the counters' outage must not take the whole API down with it."""

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except CACHE_ERRORS as exc:
            if cache_outage_warning.due():
                log.warning(
                    "API rate limits are off: the cache cannot be reached (%s: %s). "
                    "Requests are allowed until it is back.",
                    type(exc).__name__,
                    exc,
                )
            return True
