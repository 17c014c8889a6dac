"""Secrets out of the logs: the Outbound Message endpoint's URL carries its key
(``/sync/outbound/<secret>/``), so does the Campaign Monitor webhook endpoint's
(``/campaign-monitor/webhook/<secret>/``), and access logs write every URL they serve.

``redact`` has no Django import so gunicorn's config (gunicorn.conf.py) can use it too.
"""

import logging
import re

# The secret is the path segment after the endpoint's path, percent-encoded or not.
SECRET_IN_URL = re.compile(r"(/sync/outbound/|/campaign-monitor/webhook/)[^/\s?#\"']+")
REDACTED = r"\1[redacted]"


def redact(text: str) -> str:
    return SECRET_IN_URL.sub(REDACTED, text)


class RedactSecrets(logging.Filter):
    """A handler filter: the record's message, formatted and redacted, without its args."""

    def filter(self, record: logging.LogRecord) -> bool:
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
