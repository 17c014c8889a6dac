"""Answers that open where the question was asked.

A form's answer (saved, refused, please confirm) belongs next to the form, not at the top of
a long page: a POST that redirects goes to the card's anchor (``/sync/#sync-settings``) and its
message is *placed* at that anchor, so the card shows it (templates/_answer.html) and the page
top does not. Messages without a place still show at the top (base.html).
"""

from django.contrib import messages
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import resolve_url

PLACE = "at:"


def place(request: HttpRequest, level: int, text: str, anchor: str) -> None:
    """Add a flash message that the card ``anchor`` shows (see templates/_answer.html)."""
    messages.add_message(request, level, text, extra_tags=f"{PLACE}{anchor}")


def success(request: HttpRequest, text: str, anchor: str) -> None:
    place(request, messages.SUCCESS, text, anchor)


def info(request: HttpRequest, text: str, anchor: str) -> None:
    place(request, messages.INFO, text, anchor)


def warning(request: HttpRequest, text: str, anchor: str) -> None:
    place(request, messages.WARNING, text, anchor)


def error(request: HttpRequest, text: str, anchor: str) -> None:
    place(request, messages.ERROR, text, anchor)


def redirect_to(anchor: str, to: str, *args, **kwargs) -> HttpResponseRedirect:
    """Redirect to a page (a URL name or path, as ``redirect``) opened at ``anchor``."""
    return HttpResponseRedirect(f"{resolve_url(to, *args, **kwargs)}#{anchor}")


def anchor_of(message) -> str:
    """The anchor a message is placed at, or "" for a page-wide one."""
    tags = (message.extra_tags or "").split()
    return next((tag[len(PLACE) :] for tag in tags if tag.startswith(PLACE)), "")
