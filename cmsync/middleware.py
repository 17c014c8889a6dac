"""Refuse NUL bytes in URLs and the session cookie with a 400, in one place.

PostgreSQL cannot store or compare a string with a NUL character, so a ``%00`` in a path
segment or query parameter that reaches a query raises an error (a 500) wherever it lands;
so does one in the session cookie (its key is looked up). No valid URL or session key of
cmsync contains one: refuse the request before any view sees it. Form and JSON bodies are
Django's and DRF's fields' to check (both refuse NUL characters).
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

MESSAGE = "The request is not valid: the URL or the session cookie contains a NUL character (%00)."


def has_nul(request: HttpRequest) -> bool:
    if "\x00" in request.path_info:
        return True
    if any(
        "\x00" in key or any("\x00" in v for v in values) for key, values in request.GET.lists()
    ):
        return True
    return "\x00" in request.COOKIES.get(settings.SESSION_COOKIE_NAME, "")


class RejectNulBytes:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if has_nul(request):
            return bad_request(request)
        return self.get_response(request)


def bad_request(request: HttpRequest) -> HttpResponse:
    if request.path_info.startswith("/api/"):
        # The API's one error shape (cmsync/api.py).
        body = {"error": {"status": 400, "message": MESSAGE, "fields": {}}}
        return JsonResponse(body, status=400)
    return HttpResponseBadRequest(MESSAGE, content_type="text/plain; charset=utf-8")
