"""What every endpoint of the REST API (/api/v1/) shares: one error body shape, documented for
every operation in the OpenAPI schema, the schema as the list of query parameters each
operation takes, and the ETag guard against lost updates. Authentication, permissions and
rate limits: api_auth.py."""

import hashlib
import json
import re
import threading
from functools import cache

from django.http import JsonResponse
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import Direction, OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    """One error body: {"error": {"status", "message", "fields"}}; fields for 400s."""
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    fields = {}
    if isinstance(data, dict) and "detail" not in data:
        fields = {name: [str(e) for e in _as_list(errors)] for name, errors in data.items()}
        message = "The request is not valid: see fields."
    elif isinstance(data, list):
        message = " ".join(str(e) for e in data)
    else:
        message = str(data.get("detail", data))
    response.data = {
        "error": {"status": response.status_code, "message": message, "fields": fields}
    }
    return response


def _as_list(errors) -> list:
    return errors if isinstance(errors, list) else [errors]


def api_error(status_code: int, message: str) -> JsonResponse:
    """The API's error body for an error no DRF view answered (cmsync.error_pages)."""
    error = {"status": status_code, "message": message, "fields": {}}
    return JsonResponse({"error": error}, status=status_code)


# -- request bodies in JSON's types --------------------------------------------------------

# DRF reads 0 and "yes" as booleans, "5" and 5.0 as integers, 5 as a string; the schema says
# boolean, integer, string, and a client that sends the wrong type has a bug to hear about.
JSON_TYPES = [
    (serializers.BooleanField, bool),
    (serializers.IntegerField, int),
    (serializers.CharField, str),
]


def _json_type_error(field: serializers.Field, value) -> str | None:
    """The field's own "invalid" message when ``value`` is not of its JSON type."""
    if value is None:
        return None  # the field's own allow_null decides
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        errors = [_json_type_error(field.child, item) for item in value]
        return next((e for e in errors if e), None)
    for field_class, json_type in JSON_TYPES:
        if isinstance(field, field_class):
            wrong_bool = isinstance(value, bool) and json_type is not bool  # True is an int
            if wrong_bool or not isinstance(value, json_type):
                return str(field.error_messages["invalid"])
            return None
    return None


class JsonSerializer(serializers.Serializer):
    """A request body checked against JSON's types before DRF's lenient reading."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            errors = {
                name: [error]
                for name, field in self.fields.items()
                if name in data and not field.read_only
                if (error := _json_type_error(field, data[name]))
            }
            if errors:
                raise exceptions.ValidationError(errors)
        return super().to_internal_value(data)


# -- the error shape in the OpenAPI schema --------------------------------------------------


class ErrorBodySerializer(serializers.Serializer):
    status = serializers.IntegerField(help_text="The response's HTTP status.")
    message = serializers.CharField(help_text="What went wrong, in a sentence for a person.")
    # DRF's metaclass takes declared fields off the class, so this does not replace the
    # serializer's own ``fields``; the stubs cannot know that.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="400: the problems by field of the body (or by query parameter); "
        "non_field_errors for the request as a whole. Empty for other statuses.",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorBodySerializer()


def error_response(description: str) -> OpenApiResponse:
    """A documented error answer, in the one error shape (for ``@extend_schema(responses=)``)."""
    return OpenApiResponse(ErrorSerializer, description=description)


# Errors any operation can answer; 404 only where there is something not to find.
ERRORS = {
    "400": "The request is not valid: `fields` says what to change. Also a query parameter "
    "this operation does not take.",
    "401": "No API key (or session), or a key that is unknown, revoked or expired.",
    "403": "The key's role (or the person's) does not allow this.",
    "404": "Nothing has this id, or the caller may not see it; past the last page of a list.",
    "415": "The body is not JSON (Content-Type: application/json).",
    "429": "Too many requests for this key: wait the Retry-After header's seconds.",
}


class ApiSchema(AutoSchema):
    """drf-spectacular's AutoSchema, with the errors every operation can answer documented in
    the one error shape, next to what each view documents itself (412, 428, 503...)."""

    def _get_response_bodies(self, direction: Direction = "response") -> dict:
        responses = super()._get_response_bodies(direction)
        for code in self._error_codes():
            if code not in responses:
                documented = error_response(ERRORS[code])
                responses[code] = self._get_response_for_code(documented, code, direction=direction)
        return dict(sorted(responses.items()))

    def _error_codes(self) -> list[str]:
        codes = ["400", "401", "403", "429"]
        paginated = self._is_list_view() and self._get_paginator() is not None
        if "{" in self.path or paginated:
            codes.append("404")
        if self._get_request_body() is not None:
            codes.append("415")
        return codes


# -- query parameters: those the schema lists, and no others ----------------------------------

_schema_lock = threading.Lock()


@cache
def _query_parameters_by_operation() -> list[tuple[re.Pattern, dict[str, frozenset[str]]]]:
    """Each path of the OpenAPI schema as a pattern, with the query parameters each of its
    methods takes; paths with fewer {variables} first (/messages/retry/ before /messages/{id}/)."""
    from drf_spectacular.generators import SchemaGenerator

    with _schema_lock:  # one generation at a time, by the first requests of a process
        schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = []
    for path, methods in schema["paths"].items():
        # /api/v1/runs/{id}/ matches /api/v1/runs/5/
        pattern = re.compile("[^/]+".join(re.escape(part) for part in re.split(r"{[^}]+}", path)))
        taken = {
            method.upper(): frozenset(
                p["name"] for p in op.get("parameters", []) if p["in"] == "query"
            )
            for method, op in methods.items()
        }
        operations.append((path.count("{"), pattern, taken))
    return [(pattern, taken) for _, pattern, taken in sorted(operations, key=lambda o: o[0])]


def documented_query_parameters(path: str, method: str) -> frozenset[str] | None:
    """The query parameters the schema lists for this request's operation (DRF's ``format``
    too: the browsable API's links use it); None when the schema has no such operation."""
    method = "GET" if method == "HEAD" else method
    format_name = api_settings.URL_FORMAT_OVERRIDE
    for pattern, taken in _query_parameters_by_operation():
        if pattern.fullmatch(path):
            if method not in taken:
                return None
            return taken[method] | ({format_name} if format_name else set())
    return None


def etag_of(representation: dict) -> str:
    digest = hashlib.sha1(json.dumps(representation, sort_keys=True, default=str).encode())
    return f'"{digest.hexdigest()}"'


class PreconditionRequired(exceptions.APIException):
    status_code = 428
    default_detail = "Send If-Match with the ETag of the version you read, so no change is lost."


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = (
        "These settings changed since you read them. Read them again (GET) and retry with "
        "the new ETag."
    )


def check_if_match(request, current: dict) -> None:
    """Refuse a change made against a version that is no longer current."""
    sent = request.headers.get("If-Match")
    if not sent:
        raise PreconditionRequired
    if sent.strip() not in (etag_of(current), "*"):
        raise PreconditionFailed


def with_etag(representation: dict, code: int = 200) -> Response:
    return Response(representation, status=code, headers={"ETag": etag_of(representation)})


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Documents the API key in the OpenAPI schema."""

    target_class = "cmsync.api_auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Api-Key <key>: create keys on the User security tab.",
        }
