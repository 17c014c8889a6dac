"""Connecting Salesforce from the Sync tab and the command line; the sync user; the schema."""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from auditlog.models import LogEntry
from django.core.management import CommandError, call_command
from django.db import connection as db

from salesforce.connection import sync_user_status
from salesforce.models import SalesforceConnection, SalesforceSettings
from security.roles import FULL

from .conftest import make_user

pytestmark = pytest.mark.django_db

SF_ACTIONS = ["/salesforce/app/", "/salesforce/connect/", "/salesforce/disconnect/"]


def configure_app(sf_emulator) -> dict:
    info = sf_emulator.info()
    settings = SalesforceSettings.get_solo()
    settings.login_url = info["login_url"]
    settings.client_id = info["oauth"]["client_id"]
    settings.client_secret = info["oauth"]["client_secret"]
    settings.save()
    return info


def approve(sf_emulator, authorize_url: str, password: str | None = None) -> str:
    """Press Approve on the emulator's page; returns where Salesforce sends the browser."""
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    user = sf_emulator.info()["users"][0]
    form = {
        **params,
        "username": user["Username"],
        "password": password or user["password"],
        "action": "approve",
    }
    answer = requests.post(
        f"{sf_emulator.root_url}/services/oauth2/authorize",
        data=form,
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"].removeprefix("http://testserver")


def oauth_connect(client, sf_emulator):
    configure_app(sf_emulator)
    to_salesforce = client.get("/salesforce/connect/")
    assert to_salesforce.url.startswith(f"{sf_emulator.root_url}/services/oauth2/authorize?")
    return client.get(approve(sf_emulator, to_salesforce.url))


@pytest.mark.parametrize("url", SF_ACTIONS)
def test_pages_need_login_and_the_manage_permission(client, carol, url):
    assert client.get(url).url.startswith("/accounts/login/")
    client.force_login(carol)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", ["/salesforce/sync-user/", "/salesforce/schema/"])
def test_actions_refuse_read_only_users(carol_client, url):
    assert carol_client.post(url).status_code == 403


def test_connected_app_secret_is_encrypted_and_never_shown(alice_client):
    data = {
        "login_url": "https://login.salesforce.com",
        "client_id": "3MVG9-key",
        "client_secret": "s3cr3t-value-123",
    }
    assert alice_client.post("/salesforce/app/", data).status_code == 302
    settings = SalesforceSettings.get_solo()
    assert settings.client_secret == "s3cr3t-value-123"
    with db.cursor() as cursor:
        cursor.execute("SELECT client_secret FROM salesforce_salesforcesettings")
        assert "s3cr3t" not in cursor.fetchone()[0]
    assert "s3cr3t" not in alice_client.get("/salesforce/app/").text
    # Saving without retyping the secret keeps it.
    alice_client.post("/salesforce/app/", {**data, "client_secret": ""})
    assert SalesforceSettings.get_solo().client_secret == "s3cr3t-value-123"


def test_connected_app_refuses_plain_http_to_a_remote_host(alice_client):
    data = {"login_url": "http://login.example.com", "client_id": "k", "client_secret": "s"}
    response = alice_client.post("/salesforce/app/", data)
    assert "must use HTTPS" in response.text
    assert not SalesforceSettings.get_solo().client_id


def test_oauth_connects_the_user_and_makes_them_the_sync_user(alice_client, alice, sf_emulator):
    response = oauth_connect(alice_client, sf_emulator)
    assert response.url == "/sync/#sf-own"
    connection = SalesforceConnection.objects.get(user=alice)
    admin = sf_emulator.info()["users"][0]
    assert connection.sf_username == admin["Username"]
    assert connection.auth_type == "oauth"
    assert connection.refresh_token
    assert SalesforceSettings.get_solo().sync_user == alice
    page = alice_client.get("/sync/").text
    assert f"Connected to Salesforce as {admin['Username']}" in page
    assert "No sync user is set" not in page


def test_oauth_callback_with_a_forged_state_stores_nothing(alice_client, sf_emulator):
    configure_app(sf_emulator)
    alice_client.get("/salesforce/connect/")
    response = alice_client.get("/salesforce/callback/?code=abc&state=forged")
    assert response.url == "/sync/#sf-own"
    assert not SalesforceConnection.objects.exists()


def test_denied_consent_is_reported(alice_client, sf_emulator):
    configure_app(sf_emulator)
    to_salesforce = alice_client.get("/salesforce/connect/")
    state = parse_qs(urlsplit(to_salesforce.url).query)["state"][0]
    page = alice_client.get(
        f"/salesforce/callback/?error=access_denied&error_description=end-user+denied&state={state}",
        follow=True,
    ).text
    assert "Salesforce did not connect" in page
    assert not SalesforceConnection.objects.exists()


def test_test_connection_reports_the_api_allowance(alice_client, sf_emulator):
    oauth_connect(alice_client, sf_emulator)
    sf_emulator.set_limit(used=100, max=15000)
    page = alice_client.post("/salesforce/test/", follow=True).text
    assert "Connection works" in page
    assert "of 15000 daily API requests left" in page


def test_set_to_current_user_switches_the_sync_user(client, alice, sf_emulator, django_user_model):
    client.force_login(alice)
    oauth_connect(client, sf_emulator)
    dave = make_user(django_user_model, "dave", FULL)
    client.force_login(dave)
    assert "Set to current user" not in client.get("/sync/").text  # dave is not connected
    assert client.post("/salesforce/sync-user/").status_code == 302
    assert SalesforceSettings.get_solo().sync_user == alice

    oauth_connect(client, sf_emulator)
    assert "Set to current user" in client.get("/sync/").text
    client.post("/salesforce/sync-user/")
    assert SalesforceSettings.get_solo().sync_user == dave
    entry = LogEntry.objects.filter(additional_data__area="sync").latest("timestamp")
    assert entry.actor == dave
    assert "sync_user" in entry.changes_dict


def test_a_revoked_connection_is_said_plainly(alice_client, alice, sf_emulator):
    oauth_connect(alice_client, sf_emulator)
    connection = SalesforceConnection.objects.get(user=alice)
    connection.refresh_token = "revoked-by-an-admin"
    connection.save()
    sf_emulator.expire_sessions()
    page = alice_client.post("/salesforce/test/", follow=True).text
    assert "Connection test failed" in page
    assert SalesforceConnection.objects.get(user=alice).revoked_at is not None
    assert "Salesforce connection was revoked" in sync_user_status().problem
    assert "connection was revoked" in alice_client.get("/sync/").text


def test_disconnect_removes_the_connection_after_confirming(alice_client, alice, sf_emulator):
    oauth_connect(alice_client, sf_emulator)
    confirm = alice_client.get("/salesforce/disconnect/").text
    assert "You are the Salesforce sync user" in confirm
    alice_client.post("/salesforce/disconnect/")
    assert not SalesforceConnection.objects.exists()
    assert "has no Salesforce connection" in alice_client.get("/sync/").text


def test_schema_check_then_install_from_the_sync_tab(alice_client, sf_emulator):
    oauth_connect(alice_client, sf_emulator)
    alice_client.post("/salesforce/schema/", {"action": "check"})
    assert len(SalesforceSettings.get_solo().schema_missing) > 20
    assert "Install cmsync's schema" in alice_client.get("/sync/").text
    page = alice_client.post("/salesforce/schema/", {"action": "install"}, follow=True).text
    assert "cmsync&#x27;s schema is installed in Salesforce." in page
    settings = SalesforceSettings.get_solo()
    assert settings.schema_missing == [] and settings.schema_installed_at


def test_connect_command_with_client_credentials(alice, sf_emulator, capsys):
    info = sf_emulator.info()
    call_command(
        "connect_salesforce",
        f"--login-url={info['login_url']}",
        f"--client-id={info['oauth']['client_id']}",
        f"--client-secret={info['oauth']['client_secret']}",
        "--user=alice",
    )
    assert "alice is now the sync user" in capsys.readouterr().out
    connection = SalesforceConnection.objects.get(user=alice)
    assert connection.auth_type == "client_credentials"
    assert SalesforceSettings.get_solo().sync_user == alice


def test_connect_command_with_jwt_bearer(alice, sf_emulator, tmp_path):
    info = sf_emulator.info()
    key = tmp_path / "server.key"
    key.write_text(info["jwt"]["private_key_pem"])
    call_command(
        "connect_salesforce",
        f"--login-url={info['login_url']}",
        f"--client-id={info['jwt']['client_id']}",
        f"--jwt-key={key}",
        f"--username={info['jwt']['username']}",
        "--user=alice",
    )
    connection = SalesforceConnection.objects.get(user=alice)
    assert connection.auth_type == "jwt"
    assert connection.sf_username == info["jwt"]["username"]
    assert connection.gateway().count("SELECT COUNT() FROM Account") >= 0


def test_connect_command_fails_clearly_and_stores_nothing(alice, sf_emulator):
    info = sf_emulator.info()
    with pytest.raises(CommandError, match="Salesforce refused the credentials"):
        call_command(
            "connect_salesforce",
            f"--login-url={info['login_url']}",
            f"--client-id={info['oauth']['client_id']}",
            "--client-secret=wrong",
            "--user=alice",
        )
    assert not SalesforceConnection.objects.exists()


def test_install_schema_command(alice, sf_emulator, capsys):
    with pytest.raises(CommandError, match="No sync user"):
        call_command("install_salesforce_schema")
    info = sf_emulator.info()
    call_command(
        "connect_salesforce",
        f"--login-url={info['login_url']}",
        f"--client-id={info['oauth']['client_id']}",
        f"--client-secret={info['oauth']['client_secret']}",
        "--user=alice",
    )
    call_command("install_salesforce_schema")
    assert "schema is installed" in capsys.readouterr().out
    assert SalesforceSettings.get_solo().schema_missing == []


def test_demo_mode_connects_both_emulators(admin_user, cm_emulator, sf_emulator):
    from campaign_monitor.models import Connection
    from emulators.management.commands.run_emulators import Command

    command = Command()
    command._connect_campaign_monitor(cm_emulator.info())
    command._connect_salesforce(sf_emulator.info())
    assert Connection.current().connected_clients().count() == 3
    status = sync_user_status()
    assert status.user == admin_user and status.problem == ""
    settings = SalesforceSettings.get_solo()  # every component, as Install puts them
    assert settings.schema_missing == [] and settings.layouts_missing == []
    assert settings.permissions_missing == [] and len(settings.tabs_installed) == 2


def test_demo_mode_puts_the_schema_back_in_a_fresh_emulator(admin_user, cm_emulator, sf_emulator):
    """The emulators keep nothing between starts of make run, cmsync's database does: the
    second start finds cmsync connected and installs its schema and grants again."""
    from emulators.management.commands.run_emulators import Command
    from salesforce.connection import remove_components

    command = Command()
    command._connect_salesforce(sf_emulator.info())
    connection = SalesforceConnection.objects.get(user=admin_user)
    remove_components(connection, layouts_only=False)  # as a fresh emulator has it
    assert SalesforceSettings.get_solo().schema_missing

    command._connect_salesforce(sf_emulator.info())
    settings = SalesforceSettings.get_solo()
    assert settings.schema_missing == [] and settings.permissions_missing == []


def test_connect_command_with_the_legacy_password_flow(alice, sf_emulator):
    info = sf_emulator.info()
    user = info["users"][1]
    call_command(
        "connect_salesforce",
        f"--login-url={info['login_url']}",
        f"--client-id={info['oauth']['client_id']}",
        f"--client-secret={info['oauth']['client_secret']}",
        f"--username={user['Username']}",
        f"--password={user['password']}",
        "--user=alice",
    )
    connection = SalesforceConnection.objects.get(user=alice)
    assert connection.auth_type == "password"
    assert connection.sf_username == user["Username"]
    sf_emulator.expire_sessions()  # renewed by logging in again
    assert connection.gateway().count("SELECT COUNT() FROM Account") >= 0
