"""What every endpoint of the REST API (/api/v1/) shares: one error body shape and the ETag
guard against lost updates. Authentication and permissions: api_auth.py."""

import hashlib
import json

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions, status
from rest_framework.response import Response
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
