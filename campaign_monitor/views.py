import secrets

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from cmsync import answers
from cmsync.access import require_perm
from security.access import SESSION_CLIENT, current_client, visible_connected_clients
from security.models import UserOverride

from . import client as cm
from . import errors
from .connection import ConnectError, choose_clients, connect, disconnect, explain
from .forms import ChooseClientsForm, ConnectForm
from .models import ConnectedClient, Connection

MANAGE = "campaign_monitor.change_connection"
# The Sync tab's Campaign Monitor card: its actions answer there.
CARD = "campaign-monitor"
OAUTH_SCOPE = "ViewReports,ManageLists,ImportSubscribers,ViewSubscribersInReports,AdministerPersons"


def oauth_configured() -> bool:
    return bool(
        settings.CAMPAIGN_MONITOR_OAUTH_CLIENT_ID and settings.CAMPAIGN_MONITOR_OAUTH_CLIENT_SECRET
    )


@login_required
def connect_view(request: HttpRequest) -> HttpResponse:
    require_perm(request, MANAGE)
    form = ConnectForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            connection = connect(
                base_url=form.cleaned_data["base_url"],
                api_key=form.cleaned_data["api_key"],
                user=request.user,
            )
        except ConnectError as exc:
            form.add_error(None, str(exc))
        else:
            return _connected(request, connection)
    context = {"form": form, "oauth": oauth_configured()}
    return render(request, "campaign_monitor/connect.html", context)


def _connected(request: HttpRequest, connection: Connection) -> HttpResponse:
    if connection.account_type == Connection.AccountType.AGENCY:
        messages.success(request, "Connected to a Campaign Monitor agency account.")
        return redirect("cm-clients")
    client = connection.connected_clients().first()
    assert client is not None  # connecting a direct account connects its one client
    answers.success(request, f"Connected to Campaign Monitor: {client.name}.", CARD)
    return answers.redirect_to(CARD, "sync")


@login_required
def oauth_start(request: HttpRequest) -> HttpResponse:
    require_perm(request, MANAGE)
    if not oauth_configured():
        return redirect("cm-connect")
    base_url = settings.CAMPAIGN_MONITOR_BASE_URL
    try:
        cm.check_endpoint(base_url)
    except errors.InsecureEndpointError as exc:
        messages.error(request, str(exc))
        return redirect("cm-connect")
    state = secrets.token_urlsafe(24)
    request.session["cm_oauth_state"] = state
    # The code is traded, with the app's secret, only at the address it was asked from.
    request.session["cm_oauth_base_url"] = base_url
    url = cm.authorize_url(
        settings.CAMPAIGN_MONITOR_OAUTH_CLIENT_ID,
        request.build_absolute_uri(reverse("cm-oauth-callback")),
        OAUTH_SCOPE,
        state,
        base_url=base_url,
    )
    return redirect(url)


@login_required
def oauth_callback(request: HttpRequest) -> HttpResponse:
    require_perm(request, MANAGE)
    expected = request.session.pop("cm_oauth_state", None)
    asked_at = request.session.pop("cm_oauth_base_url", None)
    if not expected or request.GET.get("state") != expected or not request.GET.get("code"):
        messages.error(request, "Campaign Monitor's answer could not be verified. Try again.")
        return redirect("cm-connect")
    base_url = settings.CAMPAIGN_MONITOR_BASE_URL
    if asked_at != base_url:
        messages.error(
            request, "The Campaign Monitor address changed while you were signing in. Try again."
        )
        return redirect("cm-connect")
    try:
        tokens = cm.exchange_code(
            settings.CAMPAIGN_MONITOR_OAUTH_CLIENT_ID,
            settings.CAMPAIGN_MONITOR_OAUTH_CLIENT_SECRET,
            request.build_absolute_uri(reverse("cm-oauth-callback")),
            request.GET["code"],
            base_url=base_url,
        )
        connection = connect(base_url=base_url, tokens=tokens, user=request.user)
    except errors.CampaignMonitorError as exc:
        messages.error(request, explain(exc, base_url))
        return redirect("cm-connect")
    except ConnectError as exc:
        messages.error(request, str(exc))
        return redirect("cm-connect")
    return _connected(request, connection)


@login_required
def clients_view(request: HttpRequest) -> HttpResponse:
    require_perm(request, MANAGE)
    connection = Connection.current()
    if connection is None:
        return redirect("cm-connect")
    data = request.POST if request.method == "POST" else None
    form = ChooseClientsForm(data, connection=connection)
    if request.method == "POST" and form.is_valid():
        try:
            chosen = choose_clients(connection, form.cleaned_data["clients"])
        except ConnectError as exc:
            form.add_error(None, str(exc))
        else:
            names = ", ".join(c.name for c in chosen)
            answers.success(request, f"Connected clients: {names}.", CARD)
            return answers.redirect_to(CARD, "sync")
    return render(request, "campaign_monitor/clients.html", {"form": form})


@login_required
def disconnect_view(request: HttpRequest) -> HttpResponse:
    require_perm(request, MANAGE)
    connection = Connection.current()
    if connection is None:
        return answers.redirect_to(CARD, "sync")
    if request.method == "POST":
        disconnect(user=request.user)
        request.session.pop(SESSION_CLIENT, None)
        answers.success(request, "Disconnected from Campaign Monitor.", CARD)
        return answers.redirect_to(CARD, "sync")
    context = {"connection": connection, "cancel_url": f"{reverse('sync')}#{CARD}"}
    return render(request, "campaign_monitor/disconnect.html", context)


@login_required
@require_POST
def switch_client(request: HttpRequest) -> HttpResponse:
    require_perm(request, "campaign_monitor.view_connection")
    client_id = request.POST.get("client", "")
    if any(c.client_id == client_id for c in visible_connected_clients(request.user)):
        request.session[SESSION_CLIENT] = client_id
    next_url = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()})
    return redirect(next_url if safe else reverse("sync"))


@login_required
def open_campaign_monitor(request: HttpRequest) -> HttpResponse:
    """Sign in to Campaign Monitor as the user's linked person (or the connected user).

    GET (the button on Salesforce's Contact and Lead pages) asks first; POST signs in.
    """
    require_perm(request, "campaign_monitor.view_connection")
    client = current_client(request)  # only a client the user owns
    override = _own_override(request.user, client)
    if client is not None and override is None and not request.user.has_perm(MANAGE):
        return _refuse_open(request, client)
    if request.method != "POST":
        return render(request, "campaign_monitor/open.html", {"email": request.GET.get("email")})
    connection = Connection.current()
    if connection is None or client is None:
        answers.error(request, "Campaign Monitor is not connected.", CARD)
        return answers.redirect_to(CARD, "sync")
    api = connection.api(retries=1)
    try:
        email = override.person_email if override else _connected_person(api, client.client_id)
        url = api.external_session(email, client.client_id, settings.CAMPAIGN_MONITOR_INTEGRATOR_ID)
    except errors.CampaignMonitorError as exc:
        answers.error(request, explain(exc, connection.base_url), CARD)
        return answers.redirect_to(CARD, "sync")
    return redirect(url)


def _own_override(user, client: ConnectedClient | None) -> UserOverride | None:
    if client is None:
        return None
    return UserOverride.objects.filter(user=user, client_id=client.client_id).first()


def _refuse_open(request: HttpRequest, client: ConnectedClient) -> HttpResponse:
    """The connected person has the widest access in Campaign Monitor: only Full access (who
    may connect Campaign Monitor anyway) opens as them. Anyone else needs a person of their own,
    chosen by a Full access user, so opening Campaign Monitor never gives more than that."""
    refused = (
        f"You are not linked to a Campaign Monitor person of {client.name}. "
        "Ask a Full access user to link you to one on the User security tab."
    )
    return render(request, "campaign_monitor/open.html", {"refused": refused}, status=403)


def _connected_person(api, client_id: str) -> str:
    """Without an override: the client's person with the widest access."""
    people = sorted(api.people(client_id), key=lambda p: -p.access_level)
    if not people:
        raise errors.CampaignMonitorError("This client has no Campaign Monitor people.")
    return people[0].email
