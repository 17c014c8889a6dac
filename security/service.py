"""User security actions: roles, invitations, deactivation, client ownership, overrides,
API keys."""

from datetime import datetime
from importlib import import_module

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from maintenance.audit import record_action

from .models import ClientOwnership, UserOverride
from .roles import FULL, LIMITED, STANDARD, role_of, set_role


def change_role(user, role: str) -> None:
    before = role_of(user) or "No access"
    set_role(user, role)
    ownership = ClientOwnership.objects.filter(user=user).first() or user
    record_action(ownership, "security", f"{user}: role {before} → {role or 'No access'}")


def set_password_url(user) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": token})
    return f"{settings.CMSYNC_URL}{path}"


def invite(email: str, role: str, invited_by) -> object:
    """A new user with ``role`` and no password yet, emailed a link to set one."""
    with transaction.atomic():
        user = get_user_model().objects.create_user(username=email, email=email)
        user.set_unusable_password()
        user.save()
        set_role(user, role)
        record_action(user, "security", f"Invited {email} as {role}")
    _send_invitation(user, role, invited_by)
    return user


def _send_invitation(user, role: str, invited_by) -> None:
    send_mail(
        "You are invited to cmsync",
        f"{invited_by} invited you to cmsync (Campaign Monitor for Salesforce) with the role "
        f"{role}.\n\nChoose your password here: {set_password_url(user)}\n\n"
        "The link works once and expires in a few days.",
        None,
        [user.email],
    )


def is_pending_invitation(user) -> bool:
    """Invited and never accepted: no password chosen and never logged in."""
    return (
        user.is_active
        and user.last_login is None
        and not user.has_usable_password()
        and not hasattr(user, "integration_key")
    )


def resend_invitation(user, invited_by) -> None:
    """Email a new link. The old one stops working: a reset link is signed with the password
    hash, and every unusable password is a new random one."""
    with transaction.atomic():
        user.set_unusable_password()
        user.save(update_fields=["password"])
        record_action(user, "security", f"Invitation to {user.email} sent again")
    _send_invitation(user, role_of(user) or "No access", invited_by)


def revoke_invitation(user) -> None:
    """Remove the invited account: its link finds nobody, and the address can be invited
    again. Nothing else refers to an account that never logged in; the audit entry stays."""
    with transaction.atomic():
        record_action(user, "security", f"Invitation to {user.email} revoked")
        user.delete()


def active_full_access_admins():
    """People (not API keys) who can log in with Full access."""
    return (
        get_user_model()
        .objects.filter(is_active=True, integration_key=None)
        .filter(Q(is_superuser=True) | Q(groups__name=FULL))
        .distinct()
    )


def deactivation_refusal(user, by) -> str:
    """Why ``by`` may not deactivate ``user``, or "" when they may."""
    if user == by:
        return "You cannot deactivate yourself: ask another Full access user."
    if hasattr(user, "integration_key"):
        return "An API key is revoked, not deactivated."
    if not user.is_active:
        return f"{user} is already deactivated."
    if role_of(user) == FULL and not active_full_access_admins().exclude(pk=user.pk).exists():
        return f"{user} is the last active Full access user: someone must be able to manage cmsync."
    return ""


def deactivate(user) -> int:
    """Refuse the user's logins and end every session they have now; returns how many
    sessions ended. API keys they created keep working (they belong to the integration)."""
    with transaction.atomic():
        user.is_active = False
        user.save(update_fields=["is_active"])
        ended = end_sessions(user)
        record_action(user, "security", f"{user} deactivated ({_sessions(ended)} ended)")
    return ended


def reactivate(user) -> None:
    """Logins work again with the user's own password; no session comes back."""
    with transaction.atomic():
        user.is_active = True
        user.save(update_fields=["is_active"])
        record_action(user, "security", f"{user} reactivated")


def _sessions(count: int) -> str:
    return "1 session" if count == 1 else f"{count} sessions"


def end_sessions(user) -> int:
    """Delete every stored session logged in as ``user``.

    Sessions are stored in the database (Django's default engine, and cached_db's backing
    store); each is read to see whose it is, which is fine for a console's few hundred
    sessions. Deleting through the engine's SessionStore also drops a cached copy. Even a
    session this misses is refused: Django's ModelBackend logs nobody in as an inactive user.
    """
    store = import_module(settings.SESSION_ENGINE).SessionStore
    if not hasattr(store, "get_model_class"):  # sessions kept elsewhere (cache, cookie)
        return 0
    wanted, ended = str(user.pk), 0
    stored = store.get_model_class().objects.filter(expire_date__gt=timezone.now())
    for session in stored.iterator():
        if session.get_decoded().get("_auth_user_id") == wanted:
            store(session_key=session.session_key).delete()
            ended += 1
    return ended


def set_clients(user, client_ids: list[str]) -> None:
    with transaction.atomic():
        ClientOwnership.objects.filter(user=user).exclude(client_id__in=client_ids).delete()
        for client_id in client_ids:
            ClientOwnership.objects.get_or_create(user=user, client_id=client_id)


def set_override(user, client_id: str, person_email: str) -> None:
    if person_email:
        UserOverride.objects.update_or_create(
            user=user, client_id=client_id, defaults={"person_email": person_email}
        )
    else:
        UserOverride.objects.filter(user=user, client_id=client_id).delete()


def reset_for_disconnect() -> None:
    """Disconnecting Campaign Monitor forgets overrides and client ownership."""
    UserOverride.objects.all().delete()
    ClientOwnership.objects.all().delete()


KEY_ROLES = {"read": LIMITED, "standard": STANDARD, "full": FULL}


def create_key(
    name: str, access: str, created_by, expires: datetime | None = None
) -> tuple[object, str]:
    """A new key and its user; the key itself is returned once and never stored.

    ``expires``: when the API starts refusing it (None: never)."""
    from .models import IntegrationKey

    with transaction.atomic():
        user = get_user_model().objects.create_user(username=f"api-key: {name}")
        user.set_unusable_password()
        user.save()
        set_role(user, KEY_ROLES[access])
        key, secret = IntegrationKey.objects.create_key(
            name=name, access=access, user=user, created_by=created_by, expiry_date=expires
        )
        assert isinstance(key, IntegrationKey)  # the library types it as its abstract base
        until = ""
        if expires is not None:
            day = timezone.localtime(expires)
            until = f", expires {day.day} {day:%B %Y}"
        record_action(
            user, "security", f"API key “{name}” created ({key.get_access_display()}{until})"
        )
    return key, secret


def revoke_key(key) -> None:
    with transaction.atomic():
        key.revoked = True
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked", "revoked_at"])
        key.user.is_active = False
        key.user.save(update_fields=["is_active"])
        record_action(key.user, "security", f"API key “{key.name}” revoked")
