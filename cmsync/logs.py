"""Secrets out of the logs: the Outbound Message endpoint's URL carries its key
(``/sync/outbound/<secret>/``), so does the Campaign Monitor webhook endpoint's
(``/campaign-monitor/webhook/<secret>/``), and access logs write every URL they serve.

``redact`` has no Django import so gunicorn's config (gunicorn.conf.py) can use it too.
"""

import contextlib
import contextvars
import json
import logging
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

# The secret is the path segment after the endpoint's path, percent-encoded or not.
SECRET_IN_URL = re.compile(r"(/sync/outbound/|/campaign-monitor/webhook/)[^/\s?#\"']+")
REDACTED = r"\1[redacted]"


def redact(text: str) -> str:
    return SECRET_IN_URL.sub(REDACTED, text)


class RedactSecrets(logging.Filter):
    """A handler filter: the record's message, formatted and redacted, without its args; and
    every text field a structured line added (``extra=``: a path, a URL), redacted too."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in vars(record).copy().items():
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, redact(value))
        try:
            message = record.getMessage()
        except Exception:  # a broken record is logging's to report, not ours
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class OneLineRefusals(logging.Filter):
    """A logger filter for django.request: a refused request (403 PermissionDenied, 400, 404)
    is one line with its path, not a traceback; server errors (5xx) keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True


# -- structured lines ---------------------------------------------------------------------
#
# Every line of a run carries its id: the runner sets ``RUN_ID`` for as long as the run's
# work lasts (``run_context``), and the ``RunContext`` filter copies it onto each record,
# whichever logger wrote it (cmsync's own, requests', simple-salesforce's). Fields a line
# adds with ``extra=`` (``event``, ``service``, ``status``, ``ms``, ...) become JSON keys
# (LOG_FORMAT=json) or ``key=value`` pairs after the message (the readable default).

RUN_ID: contextvars.ContextVar[int | None] = contextvars.ContextVar("cmsync_run_id", default=None)

# The LogRecord's own attributes: anything else on a record came from ``extra=``.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "run_id"}


@contextlib.contextmanager
def run_context(run_id: int) -> Iterator[None]:
    """Every log line written inside carries ``run_id`` (and Sentry events its tag)."""
    from .errors import run_scope

    token = RUN_ID.set(run_id)
    try:
        with run_scope(run_id):
            yield
    finally:
        RUN_ID.reset(token)


class RunContext(logging.Filter):
    """A handler filter: the current run's id on the record (None outside a run)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "run_id", None) is None:
            record.run_id = RUN_ID.get()
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a line added, as written: numbers as they are, anything else as redacted
    text (Django's django.request adds the request object, whose repr holds its path)."""
    return {
        key: value if value is None or isinstance(value, bool | int | float) else redact(str(value))
        for key, value in vars(record).items()
        if key not in _STANDARD and not key.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, run_id, the
    record's extra fields, and the traceback (as one string) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "run_id": getattr(record, "run_id", None),
        }
        line.update(_extras(record))
        if record.exc_info:
            line["exc_info"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """The readable form: ``time LEVEL logger [run N] message key=value ...``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        text = super().formatMessage(record)
        run_id = getattr(record, "run_id", None)
        if run_id is not None:
            head, _, rest = text.partition(f" {record.name} ")
            text = f"{head} {record.name} [run {run_id}] {rest}"
        pairs = " ".join(f"{k}={_plain(v)}" for k, v in _extras(record).items())
        return f"{text} {pairs}" if pairs else text


def _plain(value: Any) -> str:
    text = str(value)
    return json.dumps(text) if (" " in text or not text) else text


# -- external calls -----------------------------------------------------------------------

calls_log = logging.getLogger("cmsync.calls")


def log_calls(service: str) -> Callable[..., None]:
    """A requests response hook: one line per call to ``service`` with its method, host,
    path (never the query string, which may hold emails or SOQL), status and time. Headers
    and bodies, where credentials travel, are never written."""

    def hook(response: Any, *args: Any, **kwargs: Any) -> None:
        request = response.request
        url = urlsplit(request.url or "")
        calls_log.info(
            "%s %s %s",
            service,
            request.method,
            redact(url.path),
            extra={
                "event": "external_call",
                "service": service,
                "method": request.method,
                "host": url.hostname or "",
                "path": redact(url.path),
                "status": response.status_code,
                "ms": round(response.elapsed.total_seconds() * 1000),
            },
        )

    return hook
