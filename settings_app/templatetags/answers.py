"""Template filters splitting the flash messages between the page top and the cards."""

from django import template

from cmsync.answers import anchor_of

register = template.Library()


@register.filter
def unplaced(messages) -> list:
    """The messages that belong at the top of the page (no card asked for them)."""
    return [m for m in messages or [] if not anchor_of(m)]


@register.filter
def placed_at(messages, anchor: str) -> list:
    """The messages placed at one card's anchor (none without an anchor)."""
    if not anchor:
        return []
    return [m for m in messages or [] if anchor_of(m) == anchor]
