"""What can go wrong talking to Salesforce. Per-record failures are data, not these."""


class SalesforceError(Exception):
    def __init__(self, message: str, *, code: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code  # Salesforce's errorCode, e.g. MALFORMED_QUERY
        self.status = status

    def __str__(self) -> str:
        return f"{self.message} ({self.code})" if self.code else self.message


class AuthenticationError(SalesforceError):
    """Credentials refused, a session that could not be refreshed, a revoked connection."""


class LimitExceededError(SalesforceError):
    """REQUEST_LIMIT_EXCEEDED: the org's daily API allocation is spent. Stop, resume later."""


class RowLockError(SalesforceError):
    """UNABLE_TO_LOCK_ROW on a single-record call: retry later, serialised by parent record."""


class RequestError(SalesforceError):
    """Salesforce refused the request itself (bad SOQL, unknown object or field, ...)."""


class NotFoundError(SalesforceError):
    """404: no such object, record or endpoint."""


class ServerError(SalesforceError):
    """5xx after the transport retries."""


class NetworkError(SalesforceError):
    """Salesforce could not be reached, or what answered was not Salesforce: one message for
    both, so an error never tells an open port from a closed one."""


class InsecureEndpointError(SalesforceError):
    """An address cmsync will not send credentials to (plain HTTP; see cmsync.endpoints)."""


class BulkJobError(SalesforceError):
    """A Bulk API 2.0 job that Salesforce failed or aborted as a whole (no row written), or
    one that did not finish in time: the run stops and its rows are written next time."""
