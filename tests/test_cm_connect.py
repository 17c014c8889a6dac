"""Connecting cmsync to Campaign Monitor from the Sync tab and the command line."""

import re
import socket

import pytest
import requests
from auditlog.models import LogEntry
from django.core.management import CommandError, call_command
from django.db import connection as db

from campaign_monitor.connection import ConnectError, connect, disconnect
from campaign_monitor.models import ConnectedClient, Connection
from campaign_monitor.signals import disconnecting

pytestmark = pytest.mark.django_db

CM_PAGES = ["/campaign-monitor/connect/", "/campaign-monitor/clients/"]
CM_PAGES += ["/campaign-monitor/disconnect/"]


def post_connect(client, emulator, key: str):
    data = {"api_key": key, "base_url": emulator.base_url}
    return client.post("/campaign-monitor/connect/", data)


@pytest.mark.parametrize("url", CM_PAGES)
def test_anonymous_users_are_sent_to_login(client, url):
    assert client.get(url).url.startswith("/accounts/login/")


@pytest.mark.parametrize("url", CM_PAGES)
def test_read_only_and_unprivileged_users_cannot_manage_the_connection(carol_client, mallory, url):
    assert carol_client.get(url).status_code == 403
    assert carol_client.post(url, {"api_key": "x"}).status_code == 403
    carol_client.force_login(mallory)
    assert carol_client.get(url).status_code == 403


def test_bad_key_shows_an_error_and_stores_nothing(alice_client, cm_emulator):
    response = post_connect(alice_client, cm_emulator, "wrong-key")
    assert response.status_code == 200
    assert "Campaign Monitor did not accept these credentials" in response.text
    assert not Connection.objects.exists()
    assert not LogEntry.objects.filter(additional_data__area="sync").exists()


def test_unreachable_api_shows_an_error(alice_client):
    data = {"api_key": "k" * 20, "base_url": "http://127.0.0.1:9/api/v3.3"}
    response = alice_client.post("/campaign-monitor/connect/", data)
    assert "Could not reach Campaign Monitor at 127.0.0.1:9. Check the address" in response.text
    assert not Connection.objects.exists()


def test_campaign_monitor_errors_are_explained(alice_client, cm_emulator, cm_agency):
    requests.post(
        f"{cm_emulator.root_url}/_emulator/faults",
        json={"status": 500, "count": 10, "path": "clients"},
        timeout=5,
    )
    response = post_connect(alice_client, cm_emulator, cm_agency["api_key"])
    assert "Campaign Monitor had a problem answering" in response.text
    assert not Connection.objects.exists()


def test_agency_key_connects_then_admin_picks_two_clients(
    alice_client, alice, cm_emulator, cm_agency
):
    response = post_connect(alice_client, cm_emulator, cm_agency["api_key"])
    assert response.status_code == 302
    assert response.url == "/campaign-monitor/clients/"
    stored = Connection.current()
    assert stored.account_type == "agency"
    assert stored.connected_by == alice
    assert not stored.connected_clients().exists()

    picker = alice_client.get("/campaign-monitor/clients/").text
    for c in cm_agency["clients"]:
        assert c["Name"] in picker

    two = [c["ClientID"] for c in cm_agency["clients"][:2]]
    response = alice_client.post("/campaign-monitor/clients/", {"clients": two})
    assert response.status_code == 302
    connected = list(stored.connected_clients())
    assert sorted(c.client_id for c in connected) == sorted(two)
    assert all(c.lists for c in connected)

    page = alice_client.get("/sync/").text
    assert 'id="client-switcher"' in page
    assert "Agency account" in page


def test_choosing_no_client_is_refused(alice_client, cm_emulator, cm_agency):
    post_connect(alice_client, cm_emulator, cm_agency["api_key"])
    response = alice_client.post("/campaign-monitor/clients/", {})
    assert "Choose at least one client to connect." in response.text
    assert not ConnectedClient.objects.filter(connected=True).exists()


def test_direct_key_connects_its_only_client_at_once(alice_client, cm_emulator, cm_direct):
    response = post_connect(alice_client, cm_emulator, cm_direct["api_key"])
    assert response.url == "/sync/#campaign-monitor"
    page = alice_client.get("/sync/").text
    name = cm_direct["clients"][0]["Name"]
    assert f'<span class="client-name">{name}</span>' in page
    assert "client-switcher" not in page
    assert Connection.current().account_type == "direct"


def test_switching_client_shows_the_chosen_client(alice_client, cm_emulator, cm_agency):
    connect(base_url=cm_emulator.base_url, api_key=cm_agency["api_key"], client_ids="all")
    first, second = sorted(cm_agency["clients"], key=lambda c: c["Name"])[:2]
    page = alice_client.get("/sync/").text
    assert f"<h3>{first['Name']}</h3>" in page  # clients are listed by name

    response = alice_client.post(
        "/campaign-monitor/switch-client/", {"client": second["ClientID"], "next": "/general/"}
    )
    assert response.url == "/general/"
    page = alice_client.get("/sync/").text
    assert f"<h3>{second['Name']}</h3>" in page
    for mailing_list in second["lists"]:
        assert mailing_list["Name"] in page


def test_switching_to_an_unconnected_client_or_offsite_is_ignored(
    alice_client, cm_emulator, cm_agency
):
    connect(
        base_url=cm_emulator.base_url,
        api_key=cm_agency["api_key"],
        client_ids=[cm_agency["clients"][0]["ClientID"]],
    )
    response = alice_client.post(
        "/campaign-monitor/switch-client/",
        {"client": cm_agency["clients"][2]["ClientID"], "next": "https://evil.example/"},
    )
    assert response.url == "/sync/"
    assert f"<h3>{cm_agency['clients'][0]['Name']}</h3>" in alice_client.get("/sync/").text


def test_credentials_are_encrypted_at_rest_and_never_shown(alice_client, cm_emulator, cm_agency):
    key = cm_agency["api_key"]
    connect(base_url=cm_emulator.base_url, api_key=key, client_ids="all")
    with db.cursor() as cursor:
        cursor.execute("SELECT api_key FROM campaign_monitor_connection")
        (raw,) = cursor.fetchone()
    assert key not in raw
    assert Connection.current().api_key == key

    page = alice_client.get("/sync/").text
    assert key not in page
    assert f"…{key[-4:]}" in page
    for entry in LogEntry.objects.all():
        assert key not in str(entry.changes) + str(entry.serialized_data)


def test_disconnect_asks_first_then_forgets_the_credentials(
    alice_client, alice, cm_emulator, cm_agency
):
    connect(base_url=cm_emulator.base_url, api_key=cm_agency["api_key"], client_ids="all")
    calls = []

    def receiver(sender, connection, user, **kwargs):
        calls.append((connection.account_type, user))

    disconnecting.connect(receiver)
    try:
        confirm = alice_client.get("/campaign-monitor/disconnect/").text
        assert "Everything in Campaign Monitor and in Salesforce stays as it is" in confirm
        assert "reset Campaign Monitor user overrides and client ownership" in confirm
        assert Connection.objects.exists()

        response = alice_client.post("/campaign-monitor/disconnect/")
    finally:
        disconnecting.disconnect(receiver)
    assert response.url == "/sync/#campaign-monitor"
    assert not Connection.objects.exists()
    assert not ConnectedClient.objects.exists()
    assert calls == [("agency", alice)]

    entry = LogEntry.objects.filter(action=LogEntry.Action.DELETE).latest("timestamp")
    assert entry.actor == alice
    assert "Campaign Monitor connection" in entry.object_repr
    assert "Not connected" in alice_client.get("/sync/").text


def test_connect_and_disconnect_appear_in_the_audit_log(alice_client, cm_emulator, cm_direct):
    post_connect(alice_client, cm_emulator, cm_direct["api_key"])
    alice_client.post("/campaign-monitor/disconnect/")
    page = alice_client.get("/maintenance/?area=sync").text
    assert "Create Campaign Monitor connection (direct account)" in page
    assert "Delete Campaign Monitor connection (direct account)" in page


def test_disconnect_when_not_connected_does_nothing():
    assert disconnect() is False


def test_connect_refuses_a_client_of_another_account(cm_emulator, cm_agency, cm_direct):
    with pytest.raises(ConnectError, match="Not a client of this account"):
        connect(
            base_url=cm_emulator.base_url,
            api_key=cm_agency["api_key"],
            client_ids=[cm_direct["clients"][0]["ClientID"]],
        )
    assert not Connection.objects.exists()


def test_command_connects_all_clients(cm_emulator, cm_agency, capsys):
    call_command(
        "connect_campaign_monitor",
        "--api-key",
        cm_agency["api_key"],
        "--base-url",
        cm_emulator.base_url,
    )
    assert "Connected to a Campaign Monitor agency account" in capsys.readouterr().out
    assert Connection.current().connected_clients().count() == 3


def test_command_connects_chosen_clients(cm_emulator, cm_agency):
    chosen = cm_agency["clients"][1]["ClientID"]
    call_command(
        "connect_campaign_monitor",
        f"--api-key={cm_agency['api_key']}",
        f"--base-url={cm_emulator.base_url}",
        f"--clients={chosen}",
    )
    assert [c.client_id for c in Connection.current().connected_clients()] == [chosen]


@pytest.mark.parametrize("clients", ["all", "0123456789abcdef0123456789abcdef"])
def test_command_fails_clearly_and_stores_nothing(cm_emulator, cm_agency, clients):
    key = "bad-key" if clients == "all" else cm_agency["api_key"]
    with pytest.raises(CommandError) as caught:
        call_command(
            "connect_campaign_monitor",
            f"--api-key={key}",
            f"--base-url={cm_emulator.base_url}",
            f"--clients={clients}",
        )
    assert "did not accept" in str(caught.value) or "Not a client" in str(caught.value)
    assert not Connection.objects.exists()


def test_oauth_connect_through_the_console(alice_client, cm_emulator, settings):
    oauth = cm_emulator.info()["oauth"]
    settings.CAMPAIGN_MONITOR_BASE_URL = cm_emulator.base_url
    settings.CAMPAIGN_MONITOR_OAUTH_CLIENT_ID = oauth["client_id"]
    settings.CAMPAIGN_MONITOR_OAUTH_CLIENT_SECRET = oauth["client_secret"]
    assert "Connect with Campaign Monitor" in alice_client.get("/campaign-monitor/connect/").text

    to_cm = alice_client.get("/campaign-monitor/connect/oauth/")
    assert to_cm.url.startswith(f"{cm_emulator.root_url}/oauth?")
    back = requests.get(to_cm.url, allow_redirects=False, timeout=10).headers["Location"]
    assert back.startswith("http://testserver/campaign-monitor/connect/oauth/callback/?")

    response = alice_client.get(back.removeprefix("http://testserver"))
    assert response.url == "/campaign-monitor/clients/"
    stored = Connection.current()
    assert stored.auth_type == "oauth"
    assert stored.access_token and stored.refresh_token
    assert stored.api().clients()


def test_oauth_callback_with_a_forged_state_is_refused(alice_client, settings):
    settings.CAMPAIGN_MONITOR_OAUTH_CLIENT_ID = "id"
    settings.CAMPAIGN_MONITOR_OAUTH_CLIENT_SECRET = "secret"
    response = alice_client.get("/campaign-monitor/connect/oauth/callback/?code=x&state=forged")
    assert response.url == "/campaign-monitor/connect/"
    assert not Connection.objects.exists()


def test_refreshed_oauth_tokens_are_saved(alice_client, cm_emulator, settings):
    from .test_cm_client import oauth_tokens

    tokens = oauth_tokens(cm_emulator)
    connect(base_url=cm_emulator.base_url, tokens=tokens, client_ids="all")
    requests.post(f"{cm_emulator.root_url}/_emulator/faults", json={"expire_tokens": True})
    assert Connection.current().api().clients()
    stored = Connection.current()
    assert stored.access_token != tokens.access_token
    assert stored.refresh_token != tokens.refresh_token


def shown_base_url(client) -> str:
    """The API address the Connect form shows, as a browser would submit it."""
    page = client.get("/campaign-monitor/connect/").text
    return re.search(r'name="base_url" value="([^"]*)"', page).group(1)


def test_in_demo_mode_the_form_offers_the_emulator_and_the_direct_key_connects(
    alice_client, cm_emulator, cm_direct, settings
):
    settings.ALLOW_INSECURE_LOOPBACK = True
    settings.CAMPAIGN_MONITOR_DEMO_BASE_URL = cm_emulator.base_url
    assert shown_base_url(alice_client) == cm_emulator.base_url
    data = {"api_key": cm_direct["api_key"], "base_url": shown_base_url(alice_client)}
    response = alice_client.post("/campaign-monitor/connect/", data)
    assert response.url == "/sync/#campaign-monitor"
    assert Connection.current().account_type == "direct"


def test_with_real_accounts_the_form_offers_campaign_monitor(alice_client, cm_emulator, settings):
    settings.CAMPAIGN_MONITOR_DEMO_BASE_URL = cm_emulator.base_url
    settings.ALLOW_INSECURE_LOOPBACK = False  # production: no plain HTTP, no emulator
    assert shown_base_url(alice_client) == "https://api.createsend.com/api/v3.3"


def test_without_a_running_emulator_the_form_offers_campaign_monitor(alice_client, settings):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.ALLOW_INSECURE_LOOPBACK = True
    settings.CAMPAIGN_MONITOR_DEMO_BASE_URL = f"http://127.0.0.1:{port}/api/v3.3"
    assert shown_base_url(alice_client) == "https://api.createsend.com/api/v3.3"
