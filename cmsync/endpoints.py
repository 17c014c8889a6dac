"""Where cmsync may send credentials: HTTPS addresses only, and plain HTTP only to this
machine (127.0.0.1, ::1, localhost) when ALLOW_INSECURE_LOOPBACK is on, as for the local
emulators of `make run` and the tests. Both edges (Campaign Monitor, Salesforce) ask here
before a key, secret or token leaves, and compare origins before reusing a stored secret."""

from urllib.parse import SplitResult, urlsplit

from django.conf import settings

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
DEFAULT_PORTS = {"http": 80, "https": 443}


class EndpointRefused(ValueError):
    """An address cmsync will not send credentials to; the message says why, for the admin."""


def _split(url: str) -> SplitResult:
    parts = urlsplit(url.strip())
    parts.port  # noqa: B018 (raises ValueError for a port that is not a number or too big)
    return parts


def check(url: str, service: str) -> str:
    """``url`` without its trailing slash when credentials may go there; else EndpointRefused."""
    try:
        parts = _split(url)
    except ValueError as exc:
        raise EndpointRefused(f"“{url}” is not a valid {service} address.") from exc
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise EndpointRefused(f"“{url}” is not a valid {service} address.")
    if parts.scheme == "https":
        return url.strip().rstrip("/")
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        if settings.ALLOW_INSECURE_LOOPBACK:
            return url.strip().rstrip("/")
        raise EndpointRefused(
            f"{service} addresses must use HTTPS. Plain HTTP to this machine (a local "
            "emulator) needs ALLOW_INSECURE_LOOPBACK=1."
        )
    raise EndpointRefused(f"{service} addresses must use HTTPS, not “{url}”.")


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port: what a stored secret is bound to (paths may change)."""
    try:
        parts = _split(url)
    except ValueError:
        return ("", url, None)
    scheme = parts.scheme.lower()
    return (scheme, parts.hostname or "", parts.port or DEFAULT_PORTS.get(scheme))


def same_origin(first: str, second: str) -> bool:
    return origin(first) == origin(second)


def host(url: str) -> str:
    """The host (and port, when one is given) to name in messages; never the user info."""
    try:
        parts = _split(url)
    except ValueError:
        return url
    return parts.netloc.rpartition("@")[2] or url
