"""Salesforce's error shapes.

Single-record REST calls answer with a list of {"message", "errorCode", "fields"}; sObject
Collections report per record {"statusCode", "message", "fields"} inside an HTTP 200.
"""

from typing import Any


class SfError(Exception):
    """An error Salesforce would report. `request_level` marks errors that fail a whole
    collection request (the body could not be deserialized) rather than one record."""

    def __init__(
        self,
        code: str,
        message: str,
        fields: list[str] | None = None,
        status: int = 400,
        request_level: bool = False,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.fields = code, message, fields
        self.status, self.request_level = status, request_level

    def rest_body(self) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            body["fields"] = self.fields
        return [body]

    def item(self) -> dict[str, Any]:
        return {"statusCode": self.code, "message": self.message, "fields": self.fields or []}


def not_found(message: str = "The requested resource does not exist") -> SfError:
    return SfError("NOT_FOUND", message, status=404)


def entity_is_deleted(status: int = 404) -> SfError:
    return SfError("ENTITY_IS_DELETED", "entity is deleted", [], status=status)


def json_parser_error(message: str) -> SfError:
    return SfError("JSON_PARSER_ERROR", message, request_level=True)


def malformed_query(message: str) -> SfError:
    return SfError("MALFORMED_QUERY", message)


ROLLED_BACK = SfError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header",
    [],
)
