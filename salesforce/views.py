import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from cmsync.access import require_perm

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
        messages.success(request, "Salesforce connected app saved.")
        return redirect("sync")
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
        messages.error(request, explain(exc))
        return redirect("sync")
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
        messages.error(request, f"Salesforce did not connect: {reason}.")
        return redirect("sync")
    settings = SalesforceSettings.get_solo()
    if asked_at != settings.login_url:
        messages.error(
            request,
            "The Salesforce login URL changed while you were signing in. Connect again.",
        )
        return redirect("sync")
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
        messages.error(request, explain(exc))
        return redirect("sync")
    messages.success(request, f"Connected to Salesforce as {connection.sf_username}.")
    return redirect("sync")


def _own_connection(request: HttpRequest) -> SalesforceConnection | None:
    return SalesforceConnection.objects.filter(user=request.user).first()


@login_required
@require_POST
def test_view(request: HttpRequest) -> HttpResponse:
    require_perm(request, "salesforce.view_salesforcesettings")
    connection = _own_connection(request)
    if connection is None:
        return redirect("sync")
    try:
        found = test_connection(connection)
    except errors.SalesforceError as exc:
        messages.error(request, f"Connection test failed. {explain(exc)}")
        return redirect("sync")
    messages.success(
        request,
        f"Connection works: signed in as {found['username']}; "
        f"{found['api_remaining']} of {found['api_max']} daily API requests left.",
    )
    return redirect("sync")


@login_required
def disconnect_view(request: HttpRequest) -> HttpResponse:
    require_perm(request, MANAGE)
    connection = _own_connection(request)
    if connection is None:
        return redirect("sync")
    if request.method == "POST":
        disconnect(request.user)
        messages.success(request, "Your Salesforce connection was removed.")
        return redirect("sync")
    is_sync_user = SalesforceSettings.get_solo().sync_user_id == request.user.pk
    context = {
        "connection": connection,
        "is_sync_user": is_sync_user,
        "cancel_url": reverse("sync") + "#sf-title",
    }
    return render(request, "salesforce/disconnect.html", context)


@login_required
@require_POST
def sync_user_view(request: HttpRequest) -> HttpResponse:
    """ "Set to current user": the sync uses the Salesforce connection of whoever presses it."""
    require_perm(request, MANAGE)
    connection = _own_connection(request)
    if connection is None or connection.revoked_at:
        messages.error(request, "Connect your own Salesforce user first.")
        return redirect("sync")
    problem = set_sync_user(request.user)
    messages.success(request, f"The sync now runs as you ({connection.sf_username}).")
    if problem:
        messages.warning(request, problem)
    return redirect("sync")


@login_required
@require_POST
def schema_view(request: HttpRequest) -> HttpResponse:
    require_perm(request, MANAGE)
    connection = usable_connection(request.user)
    if connection is None:
        messages.error(request, "Connect Salesforce first.")
        return redirect("sync")
    install = request.POST.get("action") == "install"
    try:
        missing = check_schema(connection, install=install)
    except errors.SalesforceError as exc:
        messages.error(request, explain(exc))
        return redirect("sync")
    if missing:
        messages.warning(request, f"cmsync's schema is missing {len(missing)} parts.")
    else:
        messages.success(request, "cmsync's schema is installed in Salesforce.")
    return redirect("sync")
