"""gunicorn's settings for cmsync (Procfile.dev and docker-compose.yml pass --config).

The access log writes every URL served, and the URLs of the Outbound Message endpoint and
the Campaign Monitor webhook endpoint carry their secrets: every value the access log format
can show (request line, path, referer, environ) is redacted first (cmsync/logs.py).
"""

from gunicorn.glogging import Logger

from cmsync.logs import redact


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: redact(v) if isinstance(v, str) else v for key, v in atoms.items()}


logger_class = RedactingLogger
