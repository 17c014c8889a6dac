"""What can go wrong talking to Campaign Monitor. Callers never see a raw requests error."""


class CampaignMonitorError(Exception):
    """Base class. ``code`` and ``message`` are Campaign Monitor's own, when it sent them."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def __str__(self) -> str:
        if self.code is not None:
            return f"{self.message} (Campaign Monitor code {self.code})"
        return self.message


class AuthenticationError(CampaignMonitorError):
    """401/403: a wrong or revoked key or token, or an id these credentials cannot see."""


class ExpiredTokenError(AuthenticationError):
    """401 with Code 121: the OAuth access token expired and could not be refreshed."""


class NotFoundError(CampaignMonitorError):
    """404: the API has no such resource (its body may be empty)."""


class RateLimitedError(CampaignMonitorError):
    """429 that persisted through every retry."""


class ValidationError(CampaignMonitorError):
    """400: Campaign Monitor refused the request; ``code`` says why (e.g. 1, 205, 801)."""

    def __init__(self, message: str, *, result_data: dict | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.result_data = result_data


class ServerError(CampaignMonitorError):
    """5xx that persisted through every retry."""


class NetworkError(CampaignMonitorError):
    """The API could not be reached: refused connection, DNS, timeout, TLS. One message for
    all of them, so an error never tells an open port from a closed one."""


class InsecureEndpointError(CampaignMonitorError):
    """An address cmsync will not send credentials to (plain HTTP; see cmsync.endpoints)."""
