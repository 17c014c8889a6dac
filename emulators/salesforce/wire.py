"""Requests and replies as the handlers see them, independent of the HTTP server."""

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from emulators.salesforce.errors import SfError


@dataclass
class Request:
    method: str
    path: str
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    groups: dict[str, str] = field(default_factory=dict)
    version: str = ""
    user_id: str = ""
    access: Any = None  # the user's object and field access (security.Access), once asked

    @property
    def params(self) -> dict[str, str]:
        return dict(parse_qsl(self.query, keep_blank_values=True))

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def json(self) -> Any:
        """The JSON body, or Salesforce's JSON_PARSER_ERROR."""
        if not self.body.strip():
            raise SfError("JSON_PARSER_ERROR", "The request body is empty.", request_level=True)
        try:
            return json.loads(self.body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise SfError("JSON_PARSER_ERROR", "Invalid UTF-8 in the request body") from exc
        except json.JSONDecodeError as exc:
            raise SfError(
                "JSON_PARSER_ERROR",
                f"Unexpected character ({exc.msg}) at [line:{exc.lineno}, column:{exc.colno}]",
                request_level=True,
            ) from exc


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json;charset=UTF-8"

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode()


def error_reply(error: SfError) -> Reply:
    return Reply(error.status, error.rest_body())


def html(status: int, text: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(
        status, raw=text.encode(), content_type="text/html;charset=UTF-8", headers=headers or {}
    )
