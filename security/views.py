from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from campaign_monitor import errors as cm_errors
from campaign_monitor.models import ConnectedClient, Connection
from cmsync import answers
from cmsync.access import require_perm

from . import lockouts, service
from .access import current_client
from .forms import ClientsForm, InviteForm, KeyForm, OverrideForm, RoleForm
from .models import ClientOwnership, IntegrationKey, UserOverride
from .roles import role_of

VIEW = "security.view_clientownership"
MANAGE = "security.manage_users"
# Where answers open: the person or key they concern, else the card whose form was posted.
USERS, LOCKOUTS, INVITE, NEW_KEY = "users", "lockouts", "invite", "new-key"


def person_anchor(user) -> str:
    return f"user-{user.pk}"


def _back(anchor: str) -> HttpResponse:
    """The User security tab, opened at the answer's place."""
    return answers.redirect_to(anchor, "security")


def _people(request: HttpRequest, client):
    """The current client's Campaign Monitor people, read live (None when unavailable)."""
    connection = Connection.current()
    if connection is None or client is None:
        return None
    try:
        return connection.api(retries=1).people(client.client_id)
    except cm_errors.CampaignMonitorError as exc:
        messages.warning(request, f"Campaign Monitor's people could not be read: {exc}")
        return None


@login_required
def security_page(request: HttpRequest) -> HttpResponse:
    require_perm(request, VIEW)
    clients = list(ConnectedClient.objects.filter(connected=True))
    names = {c.client_id: c.name for c in clients}
    client = current_client(request)
    people = _people(request, client) if request.user.has_perm(MANAGE) else None
    owned_ids: dict[int, list[str]] = {}
    overrides: dict[int, str] = {}
    for row in ClientOwnership.objects.all():
        owned_ids.setdefault(row.user_id, []).append(row.client_id)
    if client:
        overrides = dict(
            UserOverride.objects.filter(client_id=client.client_id).values_list(
                "user_id", "person_email"
            )
        )
    users = []
    people_shown = (
        get_user_model()
        .objects.filter(integration_key=None)
        .select_related("integration_key")  # is_pending_invitation asks: no query per person
        .prefetch_related("groups")  # role_of: no query per person
        .order_by("username")
    )
    for user in people_shown:
        user_owned = owned_ids.get(user.pk, [])
        users.append(
            {
                "user": user,
                "anchor": person_anchor(user),
                "role": role_of(user),
                "role_form": RoleForm(initial={"role": role_of(user)}, prefix=f"u{user.pk}"),
                "owned": [names.get(c, c) for c in user_owned],
                "clients_form": ClientsForm(
                    initial={"clients": sorted(user_owned)},
                    choices=[(c.client_id, c.name) for c in clients],
                    prefix=f"c{user.pk}",
                ),
                "pending": service.is_pending_invitation(user),
                "override": overrides.get(user.pk, ""),
                "override_form": OverrideForm(
                    initial={"person": overrides.get(user.pk, "")},
                    people=people or [],
                    prefix=f"o{user.pk}",
                )
                if people is not None
                else None,
            }
        )
    keys = list(IntegrationKey.objects.select_related("created_by").order_by("revoked", "name"))
    context = {
        "users": users,
        "can_manage": request.user.has_perm(MANAGE),
        "invite_form": InviteForm(),
        "keys": keys,
        "key_form": KeyForm(),
        "agency": len(clients) > 1,
        "client": client,
        "lockouts": lockouts.current() if request.user.has_perm(MANAGE) else [],
        "login_failure_limit": settings.LOGIN_FAILURE_LIMIT,
        "login_lockout_minutes": settings.LOGIN_LOCKOUT_MINUTES,
    }
    return render(request, "security/security.html", context)


def _target(request: HttpRequest, user_id: int):
    require_perm(request, MANAGE)
    return get_object_or_404(get_user_model(), pk=user_id)


@login_required
@require_POST
def role_view(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _target(request, user_id)
    form = RoleForm(request.POST, prefix=f"u{user.pk}")
    here = person_anchor(user)
    if user == request.user:
        answers.error(
            request, "You cannot change your own role: ask another Full access user.", here
        )
    elif form.is_valid():
        service.change_role(user, form.cleaned_data["role"])
        answers.success(
            request, f"{user} now has: {form.cleaned_data['role'] or 'no access'}.", here
        )
    else:
        answers.error(request, "Role not saved: choose one of the roles.", here)
    return _back(here)


@login_required
@require_POST
def clients_view(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _target(request, user_id)
    choices = [(c.client_id, c.name) for c in ConnectedClient.objects.filter(connected=True)]
    form = ClientsForm(request.POST, choices=choices, prefix=f"c{user.pk}")
    here = person_anchor(user)
    if form.is_valid():
        service.set_clients(user, form.cleaned_data["clients"])
        answers.success(request, f"Client ownership of {user} saved.", here)
    else:
        answers.error(request, "Choose clients that are connected.", here)
    return _back(here)


@login_required
@require_POST
def override_view(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _target(request, user_id)
    client = current_client(request)
    people = _people(request, client)
    here = person_anchor(user)
    if people is None or client is None:  # no client: no people either
        return _back(here)
    form = OverrideForm(request.POST, people=people, prefix=f"o{user.pk}")
    if form.is_valid():
        service.set_override(user, client.client_id, form.cleaned_data["person"])
        answers.success(request, f"{user} opens Campaign Monitor ({client.name}) as chosen.", here)
    else:
        answers.error(request, "Choose one of the client's Campaign Monitor people.", here)
    return _back(here)


@login_required
@require_POST
def invite_view(request: HttpRequest) -> HttpResponse:
    require_perm(request, MANAGE)
    form = InviteForm(request.POST)
    if form.is_valid():
        service.invite(form.cleaned_data["email"], form.cleaned_data["role"], request.user)
        answers.success(request, f"Invitation sent to {form.cleaned_data['email']}.", INVITE)
    else:
        errors = "; ".join(str(e) for field in form.errors.values() for e in field)
        answers.error(request, f"Not invited: {errors}", INVITE)
    return _back(INVITE)


@login_required
@require_POST
def key_create(request: HttpRequest) -> HttpResponse:
    require_perm(request, MANAGE)
    form = KeyForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(str(e) for field in form.errors.values() for e in field)
        answers.error(request, f"No key created: {errors}", NEW_KEY)
        return _back(NEW_KEY)
    key, secret = service.create_key(
        form.cleaned_data["name"],
        form.cleaned_data["access"],
        request.user,
        expires=form.cleaned_data["expires"],
    )
    # Shown once, in this response only: it is stored hashed and cannot be shown again.
    return render(request, "security/key_created.html", {"key": key, "secret": secret})


@login_required
def key_revoke(request: HttpRequest, key_id) -> HttpResponse:
    """Revoke an API key: a confirmation page (GET), then the revocation (POST). The URL
    names the key by its opaque public id, never by its prefix or hash."""
    require_perm(request, MANAGE)
    key = get_object_or_404(IntegrationKey.objects.select_related("user"), public_id=key_id)
    here = key.anchor
    if key.revoked:
        answers.info(request, f"The API key {key.name} was already revoked.", here)
        return _back(here)
    if request.method != "POST":
        return _confirm(request, "security/confirm_key_revoke.html", here, key=key)
    service.revoke_key(key)
    answers.success(
        request, f"The API key {key.name} is revoked: the API refuses it from now on.", here
    )
    return _back(here)


def _confirm(request: HttpRequest, template: str, anchor: str, **context) -> HttpResponse:
    """A confirmation page whose Cancel goes back to the person or key it concerns."""
    cancel_url = f"{reverse('security')}#{anchor}"
    return render(request, template, {"cancel_url": cancel_url, **context})


def _person(request: HttpRequest, user_id: int):
    """A console user (not an API key's user) that a Full access user acts on."""
    require_perm(request, MANAGE)
    return get_object_or_404(get_user_model(), pk=user_id, integration_key=None)


@login_required
def deactivate_view(request: HttpRequest, user_id: int) -> HttpResponse:
    """Deactivate a user: a confirmation page (GET), then the deactivation (POST)."""
    user = _person(request, user_id)
    here = person_anchor(user)
    refusal = service.deactivation_refusal(user, request.user)
    if refusal:
        answers.error(request, refusal, here)
        return _back(here)
    keys = IntegrationKey.objects.filter(created_by=user, revoked=False).order_by("name")
    if request.method != "POST":
        return _confirm(request, "security/confirm_deactivate.html", here, person=user, keys=keys)
    service.deactivate(user)
    answers.success(
        request, f"{user} is deactivated: their sessions have ended and they cannot log in.", here
    )
    return _back(here)


@login_required
def reactivate_view(request: HttpRequest, user_id: int) -> HttpResponse:
    """Reactivate a user: a confirmation page (GET), then the reactivation (POST)."""
    user = _person(request, user_id)
    here = person_anchor(user)
    if user.is_active:
        answers.info(request, f"{user} is already active.", here)
        return _back(here)
    if request.method != "POST":
        return _confirm(
            request, "security/confirm_reactivate.html", here, person=user, role=role_of(user)
        )
    service.reactivate(user)
    answers.success(request, f"{user} is active again and can log in with their password.", here)
    return _back(here)


def _invited(request: HttpRequest, user_id: int):
    """The invited user, or None (with a message) when there is no pending invitation."""
    user = _person(request, user_id)
    if not service.is_pending_invitation(user):
        answers.info(request, f"{user} has no pending invitation.", person_anchor(user))
        return None
    return user


@login_required
@require_POST
def invitation_resend(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _invited(request, user_id)
    if user is not None:
        service.resend_invitation(user, request.user)
        answers.success(
            request,
            f"Invitation sent again to {user.email}. The earlier link no longer works.",
            person_anchor(user),
        )
    return _back(f"user-{user_id}")


@login_required
def invitation_revoke(request: HttpRequest, user_id: int) -> HttpResponse:
    """Revoke an invitation: a confirmation page (GET), then the account's removal (POST)."""
    user = _invited(request, user_id)
    if user is None:
        return _back(f"user-{user_id}")
    if request.method != "POST":
        return _confirm(
            request, "security/confirm_invitation_revoke.html", person_anchor(user), person=user
        )
    email = user.email
    service.revoke_invitation(user)
    # The invited account is gone with its row: the answer opens at the Users card.
    answers.success(
        request, f"The invitation to {email} is revoked: its link no longer works.", USERS
    )
    return _back(USERS)


@login_required
@require_POST
def unlock_view(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """Lift a login lockout (too many failed passwords) before its cool-off ends."""
    require_perm(request, MANAGE)
    attempt = AccessAttempt.objects.filter(pk=attempt_id).first()
    if attempt is None:  # its cool-off ended, or someone unlocked it meanwhile
        answers.info(request, "That lockout has already ended.", LOCKOUTS)
        return _back(LOCKOUTS)
    lockouts.unlock(attempt)
    answers.success(
        request,
        f"Logins as “{attempt.username}” from {attempt.ip_address} are unlocked.",
        LOCKOUTS,
    )
    return _back(LOCKOUTS)
