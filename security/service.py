"""User security actions: roles, invitations, client ownership, overrides."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
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
    send_mail(
        "You are invited to cmsync",
        f"{invited_by} invited you to cmsync (Campaign Monitor for Salesforce) with the role "
        f"{role}.\n\nChoose your password here: {set_password_url(user)}\n\n"
        "The link works once and expires in a few days.",
        None,
        [email],
    )
    return user


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


def create_key(name: str, access: str, created_by) -> tuple[object, str]:
    """A new key and its user; the key itself is returned once and never stored."""
    from .models import IntegrationKey

    with transaction.atomic():
        user = get_user_model().objects.create_user(username=f"api-key: {name}")
        user.set_unusable_password()
        user.save()
        set_role(user, KEY_ROLES[access])
        key, secret = IntegrationKey.objects.create_key(
            name=name, access=access, user=user, created_by=created_by
        )
        record_action(user, "security", f"API key {name!r} created ({key.get_access_display()})")
    return key, secret


def revoke_key(key) -> None:
    with transaction.atomic():
        key.revoked = True
        key.save(update_fields=["revoked"])
        key.user.is_active = False
        key.user.save(update_fields=["is_active"])
        record_action(key.user, "security", f"API key {key.name!r} revoked")
