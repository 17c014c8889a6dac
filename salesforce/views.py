import secrets

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from cmsync import answers
from cmsync.access import require_perm, signed_in_user

from . import auth, errors
from .connection import (
    check_schema,
    connect,
    disconnect,
    explain,
    set_sync_user,
    sync_user_status,
    test_connection,
    usable_connection,
)
from .forms import AppForm
from .models import SalesforceConnection, SalesforceSettings

MANAGE = "salesforce.change_salesforcesettings"
# The Sync tab's Salesforce card and its parts: each action answers in the part it changed.
CARD, OWN, SYNC_USER, SCHEMA = "salesforce", "sf-own", "sf-sync-user", "sf-schema"


def salesforce_context(request: HttpRequest) -> dict:
    """What the Sync tab shows of Salesforce: the user's own connection and the sync user."""
    if not request.user.has_perm("salesforce.view_salesforcesettings"):
        return {}
    settings = SalesforceSettings.get_solo()
    own = _own_connection(request)
    status = sync_user_status()
    return {
        "can_view_salesforce": True,
        "can_manage_salesforce": request.user.has_perm(MANAGE),
        "sf_settings": settings,
        "sf_own": own,
        "sf_sync": status,
        "sf_can_check_schema": bool(status.connection or own),
    }


def _callback_url(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("sf-callback"))


@login_required
def app_view(request: HttpRequest) -> HttpResponse:
    require_perm(request, MANAGE)
    data = request.POST if request.method == "POST" else None
    form = AppForm(data, instance=SalesforceSettings.get_solo())
    if data is not None and form.is_valid():
        form.save()
        answers.success(request, "Salesforce connected app saved.", CARD)
        return answers.redirect_to(CARD, "sync")
    context = {"form": form, "callback_url": _callback_url(request)}
    return render(request, "salesforce/app.html", context)


@login_required
def connect_view(request: HttpRequest) -> HttpResponse:
    """Start the OAuth web-server flow for the user pressing the button."""
    require_perm(request, MANAGE)
    settings = SalesforceSettings.get_solo()
    if not settings.app_configured:
        return redirect("sf-app")
    try:
        auth.check_url(settings.login_url)
    except errors.InsecureEndpointError as exc:
        answers.error(request, explain(exc), OWN)
        return answers.redirect_to(OWN, "sync")
    state = secrets.token_urlsafe(24)
    request.session["sf_oauth_state"] = state
    # The code is traded, with the stored secret, only at the login URL it was asked from.
    request.session["sf_oauth_login_url"] = settings.login_url
    url = auth.authorize_url(settings.login_url, settings.client_id, _callback_url(request), state)
    return redirect(url)


@login_required
def callback_view(request: HttpRequest) -> HttpResponse:
    require_perm(request, MANAGE)
    expected = request.session.pop("sf_oauth_state", None)
    asked_at = request.session.pop("sf_oauth_login_url", None)
    if not expected or request.GET.get("state") != expected or not request.GET.get("code"):
        reason = request.GET.get("error_description") or "its answer could not be verified"
        answers.error(request, f"Salesforce did not connect: {reason}.", OWN)
        return answers.redirect_to(OWN, "sync")
    settings = SalesforceSettings.get_solo()
    if asked_at != settings.login_url:
        answers.error(
            request,
            "The Salesforce login URL changed while you were signing in. Connect again.",
            OWN,
        )
        return answers.redirect_to(OWN, "sync")
    try:
        tokens = auth.exchange_code(
            settings.login_url,
            settings.client_id,
            settings.client_secret,
            _callback_url(request),
            request.GET["code"],
        )
        connection = connect(
            request.user,
            SalesforceConnection.AuthType.OAUTH,
            settings.login_url,
            tokens,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
        )
    except errors.SalesforceError as exc:
        answers.error(request, explain(exc), OWN)
        return answers.redirect_to(OWN, "sync")
    answers.success(request, f"Connected to Salesforce as {connection.sf_username}.", OWN)
    return answers.redirect_to(OWN, "sync")


def _own_connection(request: HttpRequest) -> SalesforceConnection | None:
    return SalesforceConnection.objects.filter(user=signed_in_user(request)).first()


@login_required
@require_POST
def test_view(request: HttpRequest) -> HttpResponse:
    require_perm(request, "salesforce.view_salesforcesettings")
    connection = _own_connection(request)
    if connection is None:
        return answers.redirect_to(OWN, "sync")
    try:
        found = test_connection(connection)
    except errors.SalesforceError as exc:
        answers.error(request, f"Connection test failed. {explain(exc)}", OWN)
        return answers.redirect_to(OWN, "sync")
    answers.success(
        request,
        f"Connection works: signed in as {found['username']}; "
        f"{found['api_remaining']} of {found['api_max']} daily API requests left.",
        OWN,
    )
    return answers.redirect_to(OWN, "sync")


@login_required
def disconnect_view(request: HttpRequest) -> HttpResponse:
    require_perm(request, MANAGE)
    connection = _own_connection(request)
    if connection is None:
        return answers.redirect_to(OWN, "sync")
    if request.method == "POST":
        disconnect(request.user)
        answers.success(request, "Your Salesforce connection was removed.", OWN)
        return answers.redirect_to(OWN, "sync")
    is_sync_user = SalesforceSettings.get_solo().sync_user_id == request.user.pk
    context = {
        "connection": connection,
        "is_sync_user": is_sync_user,
        "cancel_url": f"{reverse('sync')}#{OWN}",
    }
    return render(request, "salesforce/disconnect.html", context)


@login_required
@require_POST
def sync_user_view(request: HttpRequest) -> HttpResponse:
    """ "Set to current user": the sync uses the Salesforce connection of whoever presses it."""
    require_perm(request, MANAGE)
    connection = _own_connection(request)
    if connection is None or connection.revoked_at:
        answers.error(request, "Connect your own Salesforce user first.", SYNC_USER)
        return answers.redirect_to(SYNC_USER, "sync")
    problem = set_sync_user(request.user)
    answers.success(request, f"The sync now runs as you ({connection.sf_username}).", SYNC_USER)
    if problem:
        answers.warning(request, problem, SYNC_USER)
    return answers.redirect_to(SYNC_USER, "sync")


@login_required
@require_POST
def schema_view(request: HttpRequest) -> HttpResponse:
    require_perm(request, MANAGE)
    connection = usable_connection(request.user)
    if connection is None:
        answers.error(request, "Connect Salesforce first.", SCHEMA)
        return answers.redirect_to(SCHEMA, "sync")
    install = request.POST.get("action") == "install"
    try:
        missing = check_schema(connection, install=install)
    except errors.SalesforceError as exc:
        answers.error(request, explain(exc), SCHEMA)
        return answers.redirect_to(SCHEMA, "sync")
    if missing:
        answers.warning(request, f"cmsync's schema is missing {len(missing)} parts.", SCHEMA)
    else:
        answers.success(request, "cmsync's schema is installed in Salesforce.", SCHEMA)
    return answers.redirect_to(SCHEMA, "sync")
