"""Settings changes waiting for a yes on their confirmation page.

The console keeps a submitted change that needs confirming in the user's session, under an id
of its own, with the version of the settings it was made against: the confirmation page (GET)
shows it, its POST saves or previews exactly what was submitted, and a preview of it can lead
back to it. A change made against settings that someone has since changed is refused.
"""

import secrets

from django.http import HttpRequest, QueryDict
from django.utils import timezone

from cmsync.api import etag_of

from .api import represent

KEY = "pending_settings"
KEPT = 10  # changes a session keeps waiting; the oldest goes first
DROPPED = ("csrfmiddlewaretoken", "confirmed", "preview")


def version(form_class) -> str:
    """The settings' current version, as the API's ETag (the mapping included)."""
    return etag_of(represent(form_class, form_class._meta.model.get_solo()))


def stash(request: HttpRequest, section: str, form_class, data: QueryDict) -> str:
    """Keep a submitted change for its confirmation page; returns its id."""
    waiting = dict(request.session.get(KEY, {}))
    while len(waiting) >= KEPT:
        oldest = min(waiting, key=lambda k: waiting[k]["created"])
        waiting.pop(oldest)
    change_id = secrets.token_urlsafe(12)
    waiting[change_id] = {
        "section": section,
        "data": {k: v for k, v in data.lists() if k not in DROPPED},
        "version": version(form_class),
        "created": timezone.now().isoformat(),
        "run": None,
    }
    request.session[KEY] = waiting
    return change_id


def get(request: HttpRequest, change_id: str) -> dict | None:
    return request.session.get(KEY, {}).get(change_id)


def data_of(change: dict) -> QueryDict:
    """The change's form data, as it was submitted."""
    data = QueryDict(mutable=True)
    for name, values in change["data"].items():
        data.setlist(name, values)
    return data


def drop(request: HttpRequest, change_id: str) -> None:
    waiting = dict(request.session.get(KEY, {}))
    if waiting.pop(change_id, None) is not None:
        request.session[KEY] = waiting


def link_preview(request: HttpRequest, change_id: str, run_id: int) -> None:
    """Remember the preview started for this change, so its page can lead back here."""
    waiting = dict(request.session.get(KEY, {}))
    if change_id in waiting:
        waiting[change_id] = {**waiting[change_id], "run": run_id}
        request.session[KEY] = waiting


def for_run(request: HttpRequest, run_id: int) -> str | None:
    """The id of this session's waiting change that the preview ``run_id`` shows, if any."""
    waiting = request.session.get(KEY, {})
    return next((k for k, change in waiting.items() if change.get("run") == run_id), None)
