"""Settings read once per page: a request-level memo of the singleton settings rows.

A console page reads the same settings in many places (the Sync tab read the Salesforce
settings three times, the sync settings four); each read was a query. While a GET or HEAD
request is being answered (``RequestMemo``, a middleware), ``get_solo`` of a
``MemoizedSingleton`` queries once and hands out that row for the rest of the request.
Only reads are memoized: a POST that changes settings and reads them back queries as before,
and nothing outside a request (Celery tasks, management commands) is affected.
"""

from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse
from solo.models import SingletonModel

_rows: ContextVar[dict | None] = ContextVar("memoized_singletons", default=None)


class MemoizedSingleton(SingletonModel):
    class Meta:
        abstract = True

    @classmethod
    def get_solo(cls):  # django-solo's signature (untyped there)
        rows = _rows.get()
        if rows is None:
            return super().get_solo()
        if cls not in rows:
            rows[cls] = super().get_solo()
        return rows[cls]


class RequestMemo:
    """Turns the memo on for the length of a GET or HEAD request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        token = _rows.set({})
        try:
            return self.get_response(request)
        finally:
            _rows.reset(token)
