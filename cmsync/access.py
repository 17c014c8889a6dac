from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest


class MissingPermission(PermissionDenied):
    """A 403 that remembers the permission the user lacks, for the 403 page to name the role
    that has it (cmsync.error_pages)."""

    def __init__(self, permission: str) -> None:
        super().__init__()
        self.permission = permission


def require_perm(request: HttpRequest, perm: str) -> None:
    """Refuse (403) unless the user has ``perm``; every page and action calls this. The 403
    page names the role that has it (cmsync.error_pages)."""
    if not request.user.has_perm(perm):
        raise MissingPermission(perm)


def signed_in_user(request: HttpRequest) -> User:
    """The user of a page that requires signing in (``login_required``), typed as a ``User``:
    for what is stored under their name (who created an import, whose Salesforce connection)."""
    user = request.user
    if isinstance(user, AnonymousUser):
        raise PermissionDenied
    return user
