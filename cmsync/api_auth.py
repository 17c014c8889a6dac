"""REST API authentication (API keys) and role permissions. Kept apart from cmsync/api.py
because DRF imports these while its own views module is still loading."""

from auditlog.context import auditlog_value
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

API_KEY_PREFIX = "Api-Key "


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: Api-Key <key>``. The key acts as its own user, with its role."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.startswith(API_KEY_PREFIX):
            return None
        from security.models import IntegrationKey

        key = header.removeprefix(API_KEY_PREFIX).strip()
        prefix = key.partition(".")[0]
        api_key = IntegrationKey.objects.filter(prefix=prefix).select_related("user").first()
        if api_key is None or not api_key.is_valid(key):
            raise exceptions.AuthenticationFailed("Unknown API key.")
        if api_key.revoked or api_key.has_expired or not api_key.user.is_active:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        try:  # changes made with the key are audited with the key's name as the actor
            auditlog_value.get()["actor"] = api_key.user
        except LookupError:
            pass
        return api_key.user, api_key

    def authenticate_header(self, request) -> str:
        return "Api-Key"


class RolePermission(BasePermission):
    """Each view names the permission its methods need (``permissions = {"GET": ...}``);
    the caller's role (a person's, or a key's) must grant it."""

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        needed = getattr(view, "permissions", {}).get(request.method)
        if needed is None:
            needed = view.permissions.get("GET") if request.method in ("HEAD", "OPTIONS") else None
        return needed is not None and request.user.has_perm(needed)
