"""The console's error pages (400, 403, 404, 500) inside its frame: the tab bar when the
user is logged in, and a plain sentence of why. Under /api/ the same errors answer in the
API's error shape (cmsync.api)."""

import logging

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template.loader import render_to_string

from cmsync.access import MissingPermission
from cmsync.api import api_error
from security.roles import PERMISSIONS, ROLE_NAMES

logger = logging.getLogger(__name__)


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def roles_with(permission: str) -> list[str]:
    """The roles that hold ``permission``, widest first ([] for one no role holds)."""
    return [role for role in ROLE_NAMES if permission in PERMISSIONS[role]]


def _page(request: HttpRequest, status: int, title: str, why: str) -> HttpResponse:
    context = {"status": status, "title": title, "why": why}
    return render(request, "error.html", context, status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: what Django refuses before a view sees it (too many fields, a bad host)."""
    if _is_api(request):
        return api_error(400, "The request is not valid.")
    why = "The browser sent a request cmsync cannot read. Go back and try again."
    return _page(request, 400, "Bad request", why)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler403: which role the page or action needs when require_perm said which
    permission it checked, else that the user's role does not allow it."""
    if _is_api(request):
        return api_error(403, "You do not have permission to perform this action.")
    roles = roles_with(exception.permission if isinstance(exception, MissingPermission) else "")
    if not request.user.is_authenticated:
        why = "You are not logged in."
    elif roles and len(roles) < len(ROLE_NAMES):
        needed = " or ".join(roles)
        why = f"This needs the {needed} role. Ask a Full access admin if you need it."
    else:
        why = "Your role does not allow this. Ask a Full access admin if you need it."
    return _page(request, 403, "Not allowed", why)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: an address under /api/ that matches nothing (``/api/v1/runs/abc/``)
    answers in the API's error shape; the console says the page or record does not exist."""
    if _is_api(request):
        return api_error(404, "The API has no such address.")
    why = (
        "This page, or the record it shows, does not exist: it may have been deleted, or the "
        "address is mistyped."
    )
    return _page(request, 404, "Not found", why)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the error is in the server log already. The page is drawn without the
    console's context when that fails too (the database may be what broke)."""
    if _is_api(request):
        return api_error(500, "Something went wrong on the server. It was logged.")
    why = "Something went wrong on the server. It was logged; try again in a moment."
    context = {"status": 500, "title": "Server error", "why": why}
    try:
        return render(request, "error.html", context, status=500)
    except Exception:
        logger.exception("The 500 page could not be drawn with the console's context")
        return HttpResponseServerError(render_to_string("error.html", context))
