from django.core.exceptions import PermissionDenied
from django.http import HttpRequest


def require_perm(request: HttpRequest, perm: str) -> None:
    """Refuse (403) unless the user has ``perm``; every page and action calls this. The 403
    page names the role that has it (cmsync.error_pages)."""
    if not request.user.has_perm(perm):
        refused = PermissionDenied()
        refused.permission = perm
        raise refused
