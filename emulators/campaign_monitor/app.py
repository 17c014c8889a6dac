"""The pieces every handler shares: replies, API errors, routes and request parsing."""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

ERROR_MESSAGES = {
    429: "Rate limit exceeded",
    500: "Sorry, we've run into a problem",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Reply:
    """An HTTP answer. `body` is any JSON value (a bare string too); None means no body."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json; charset=utf-8"

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode()


class ApiError(Exception):
    """An error the real API reports as {"Code": n, "Message": "..."} (plus ResultData)."""

    def __init__(self, status: int, code: int, message: str, result_data: Any = None) -> None:
        super().__init__(f"{code} {message}")
        self.status, self.code, self.message, self.result_data = status, code, message, result_data

    def reply(self) -> Reply:
        body: dict[str, Any] = {"Code": self.code, "Message": self.message}
        if self.result_data is not None:
            body["ResultData"] = self.result_data
        return Reply(self.status, body)


def not_found() -> Reply:
    # The real API answers unknown routes with a 404 and an empty body; createsend raises
    # NotFound without parsing it.
    return Reply(404, raw=b"", content_type="text/plain")


def error_reply(status: int, headers: dict[str, str] | None = None) -> Reply:
    body = {"Code": status, "Message": ERROR_MESSAGES.get(status, "Error")}
    return Reply(status, body, headers=headers or {})


def query_params(query: str) -> dict[str, str]:
    """Query parameters with lower-cased names: the API treats names case-insensitively."""
    return {name.lower(): value for name, value in parse_qsl(query, keep_blank_values=True)}


def parse_json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(
            400, 400, "Failed to deserialize your request. Please check the documentation."
        ) from exc


def flag(value: Any) -> bool:
    """A boolean sent as JSON true/false or as a query string True/true/False/false."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Callable[..., Reply]
    pattern: re.Pattern[str]


def route(method: str, template: str, handler: Callable[..., Reply]) -> Route:
    """`template` like "/lists/{id}/active.json"; every {name} matches one path segment."""
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/.]+)", re.escape(template))
    return Route(method, template, handler, re.compile(regex + r"\Z"))


def match(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for candidate in routes:
        if candidate.method == method and (found := candidate.pattern.match(path)):
            return candidate, found.groupdict()
    return None
