"""Is this installation ready to serve: the database, the broker and the cache reachable, the
migrations applied. Shared by /health/ready, ``manage.py health`` and the Maintenance tab.

Each check runs in a thread of its own and is given up after ``HEALTH_TIMEOUT_SECONDS``, so a
broker that does not answer (a dropped packet rather than a refused connection) still makes
the answer come back at once, as a failure naming it. Nothing is written anywhere: the cache
is read, the database asked ``SELECT 1`` and for its applied migrations.

An error's text names what failed and how, never where with which credentials: addresses
with a user and password (``redis://:secret@host``) are cut down to their host.
"""

import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    ms: int
    error: str = ""

    def to_dict(self) -> dict:
        data = asdict(self)
        if not self.error:
            del data["error"]
        return data


# Migrations stay applied once they are (the code does not change under a running process).
_migrated = False


def database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def migrations() -> None:
    global _migrated
    if _migrated:
        return
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:3])
        more = f" and {len(plan) - 3} more" if len(plan) > 3 else ""
        raise RuntimeError(f"{len(plan)} migrations not applied: {names}{more}")
    _migrated = True


def broker() -> None:
    from cmsync.celery import app

    timeout = settings.HEALTH_TIMEOUT_SECONDS
    with app.connection_for_write() as conn:
        conn.connect_timeout = timeout
        conn.transport_options = {
            **conn.transport_options,
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
        }
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
        client = getattr(conn.default_channel, "client", None)
        if client is not None:  # Redis takes a connection before it can answer: ask it
            client.ping()


def cache_check() -> None:
    cache.get("cmsync:health")


CHECKS: dict[str, Callable[[], None]] = {
    "database": database,
    "migrations": migrations,
    "broker": broker,
    "cache": cache_check,
}

_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="health")


def _timed(name: str, check: Callable[[], None]) -> Check:
    started = time.monotonic()
    try:
        check()
    except Exception as exc:  # every failure is an answer, never a 500
        return Check(name, False, _ms(started), clean(f"{type(exc).__name__}: {exc}"))
    finally:
        connections.close_all()  # this thread's own connections: a thread may not come back
    return Check(name, True, _ms(started))


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def run(names: list[str] | None = None) -> list[Check]:
    """Run the checks at once, each in its own thread, each bounded by the timeout."""
    names = names or list(CHECKS)
    timeout = settings.HEALTH_TIMEOUT_SECONDS
    started = time.monotonic()
    futures = {name: _pool.submit(_timed, name, CHECKS[name]) for name in names}
    results = []
    for name, future in futures.items():
        left = max(timeout - (time.monotonic() - started), 0.01)
        try:
            results.append(future.result(timeout=left))
        except FutureTimeout:
            results.append(
                Check(name, False, _ms(started), f"no answer within {timeout:g} seconds")
            )
    return results


# scheme://user:password@host → scheme://host; then any password= / token= value.
_CREDENTIALS = re.compile(r"(\w[\w+.-]*://)[^\s/@]*@")
_SECRET_PARAMS = re.compile(r"((?:password|passwd|token|secret|key)=)[^\s&]+", re.IGNORECASE)


def clean(text: str) -> str:
    """An error's text without credentials, and short."""
    text = _CREDENTIALS.sub(r"\1", text)
    text = _SECRET_PARAMS.sub(r"\1[redacted]", text)
    for secret in _known_secrets():
        text = text.replace(secret, "[redacted]")
    return text[:300]


def _known_secrets() -> list[str]:
    db = settings.DATABASES["default"]
    found = [db.get("PASSWORD") or ""]
    for url in (settings.CELERY_BROKER_URL, settings.REDIS_URL, settings.CELERY_RESULT_BACKEND):
        if match := re.match(r"\w[\w+.-]*://[^\s/@:]*:([^\s/@]+)@", url or ""):
            found.append(match[1])
    return [s for s in found if len(s) >= 3]
