"""Credentials go only where they were saved for (issue 14, item 6).

A stored secret is never sent to a host other than the one it was saved with: changing the
host means entering the secret again. Only https:// endpoints, except plain http:// to this
machine when ALLOW_INSECURE_LOOPBACK is on (the emulators of `make run` and of these tests).
A connection error reads the same whether the port is closed, open, silent or unresolvable.
"""

import html
import os
import socketserver
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from django.core.management import CommandError, call_command

from campaign_monitor import errors as cm_errors
from campaign_monitor.connection import connect as connect_cm
from campaign_monitor.models import Connection
from salesforce import errors as sf_errors
from salesforce.models import SalesforceConnection, SalesforceSettings

from .test_cm_client import socket_closed_port
from .test_sf_connect import configure_app

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


class Listener:
    """A host credentials must not reach: a tiny HTTP server on 127.0.0.1 that records
    every request and answers each with the same page."""

    def __init__(self, status: int = 404, body: bytes = b"<html>Not here</html>") -> None:
        self.requests: list[dict] = []
        self.status, self.body = status, body
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _handler(self) -> type:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                listener.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length).decode(errors="replace"),
                    }
                )
                self.send_response(listener.status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(listener.body)))
                self.end_headers()
                self.wfile.write(listener.body)

            do_GET = do_POST = do_PUT = do_DELETE = answer

            def log_message(self, *args) -> None:
                pass

        return Handler

    def __enter__(self) -> "Listener":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class GarbageListener:
    """An open port that does not speak HTTP (an SSH server, say)."""

    def __enter__(self) -> "GarbageListener":
        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    with Listener() as running:
        yield running


@pytest.fixture
def no_requests(monkeypatch):
    """Fails the test's HTTP calls at the socket: lists what would have been sent."""
    sent = []

    def send(adapter, request, **kwargs):
        sent.append(request.url)
        raise AssertionError(f"cmsync sent a request to {request.url}")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    return sent


def secret_sent(listener: Listener, secret: str) -> bool:
    return any(secret in str(request) for request in listener.requests)


# -- Salesforce: the connected app's secret stays with its login URL ---------------------------


def test_changing_the_login_url_needs_the_consumer_secret_again(
    alice_client, sf_emulator, listener
):
    info = configure_app(sf_emulator)
    secret = info["oauth"]["client_secret"]
    moved = {"login_url": listener.url, "client_id": info["oauth"]["client_id"]}

    response = alice_client.post("/salesforce/app/", {**moved, "client_secret": ""})
    # The next connect still goes to the host the secret was saved for.
    to_salesforce = alice_client.get("/salesforce/connect/")
    state = to_salesforce.url.split("state=")[1].split("&")[0]
    alice_client.get(f"/salesforce/callback/?code=probe&state={state}")
    assert not secret_sent(listener, secret)
    assert listener.requests == []

    assert response.status_code == 200
    errors = response.context["form"].errors["client_secret"]
    assert errors == [
        f"The login URL's host changed: enter the consumer secret again. The stored secret is "
        f"only sent to {info['login_url'].split('://')[1]}."
    ]
    assert SalesforceSettings.get_solo().login_url == info["login_url"]

    # Entered again, the secret goes with the new host.
    response = alice_client.post("/salesforce/app/", {**moved, "client_secret": "new-secret"})
    assert response.status_code == 302
    stored = SalesforceSettings.get_solo()
    assert (stored.login_url, stored.client_secret) == (listener.url, "new-secret")


def test_the_same_host_keeps_the_stored_secret(alice_client, sf_emulator):
    info = configure_app(sf_emulator)
    data = {
        "login_url": info["login_url"] + "/",
        "client_id": info["oauth"]["client_id"],
        "client_secret": "",
    }
    assert alice_client.post("/salesforce/app/", data).status_code == 302
    assert SalesforceSettings.get_solo().client_secret == info["oauth"]["client_secret"]


def test_the_app_form_says_the_secret_is_kept_only_for_the_same_host(alice_client):
    page = html.unescape(alice_client.get("/salesforce/app/").text)
    assert "changing the login URL's host needs the secret again" in page


def test_oauth_callback_refuses_when_the_login_url_changed_since_the_start(
    alice_client, sf_emulator, listener
):
    configure_app(sf_emulator)
    to_salesforce = alice_client.get("/salesforce/connect/")
    state = to_salesforce.url.split("state=")[1].split("&")[0]
    settings = SalesforceSettings.get_solo()
    settings.login_url, settings.client_secret = listener.url, "secret-for-the-new-host"
    settings.save()

    page = alice_client.get(f"/salesforce/callback/?code=abc&state={state}", follow=True).text
    assert "The Salesforce login URL changed while you were signing in" in page
    assert listener.requests == []
    assert not SalesforceConnection.objects.exists()


@pytest.mark.parametrize(
    "url", ["http://login.example.com", "http://10.0.0.8:8102", "ftp://127.0.0.1:8102"]
)
def test_the_app_form_refuses_plain_http_except_to_this_machine(alice_client, url, no_requests):
    data = {"login_url": url, "client_id": "k", "client_secret": "s"}
    response = alice_client.post("/salesforce/app/", data)
    assert response.status_code == 200
    assert "must use HTTPS" in response.text
    assert not SalesforceSettings.get_solo().client_id


def test_plain_http_to_this_machine_needs_the_setting(alice_client, alice, settings, listener):
    settings.ALLOW_INSECURE_LOOPBACK = False
    data = {"login_url": listener.url, "client_id": "k", "client_secret": "s3cr3t-probe"}
    response = alice_client.post("/salesforce/app/", data)
    assert "must use HTTPS" in response.text
    assert "ALLOW_INSECURE_LOOPBACK" in response.text
    assert not SalesforceSettings.get_solo().client_id

    with pytest.raises(CommandError, match="must use HTTPS"):
        call_command(
            "connect_salesforce",
            f"--login-url={listener.url}",
            "--client-id=k",
            "--client-secret=s3cr3t-probe",
            "--user=alice",
        )
    assert listener.requests == []


def test_a_stored_salesforce_connection_over_plain_http_stops_without_the_setting(
    alice, sf_emulator, settings
):
    info = sf_emulator.info()
    call_command(
        "connect_salesforce",
        f"--login-url={info['login_url']}",
        f"--client-id={info['oauth']['client_id']}",
        f"--client-secret={info['oauth']['client_secret']}",
        "--user=alice",
    )
    connection = SalesforceConnection.objects.get(user=alice)
    settings.ALLOW_INSECURE_LOOPBACK = False
    with pytest.raises(sf_errors.SalesforceError, match="must use HTTPS"):
        connection.gateway().identity()
    with pytest.raises(sf_errors.SalesforceError, match="must use HTTPS"):
        connection.authenticate()


# -- Campaign Monitor: the key goes only to an allowed address ---------------------------------


def cm_form_error(client, base_url: str, key: str = "k" * 32) -> str:
    response = client.post("/campaign-monitor/connect/", {"api_key": key, "base_url": base_url})
    assert response.status_code == 200
    form = response.context["form"]
    return " ".join([*form.errors.get("base_url", []), *form.non_field_errors()])


@pytest.mark.parametrize(
    "url", ["http://cm.example.com/api/v3.3", "http://192.168.1.20:8101/api/v3.3"]
)
def test_connect_refuses_plain_http_to_another_host(alice_client, url, no_requests):
    assert "must use HTTPS" in cm_form_error(alice_client, url)
    assert no_requests == []
    assert not Connection.objects.exists()


def test_connect_refuses_plain_http_to_this_machine_without_the_setting(
    alice_client, settings, listener
):
    settings.ALLOW_INSECURE_LOOPBACK = False
    error = cm_form_error(alice_client, f"{listener.url}/api/v3.3", key="the-entered-key")
    assert "must use HTTPS" in error and "ALLOW_INSECURE_LOOPBACK" in error
    assert listener.requests == []

    with pytest.raises(CommandError, match="must use HTTPS"):
        call_command(
            "connect_campaign_monitor",
            "--api-key=the-entered-key",
            f"--base-url={listener.url}/api/v3.3",
        )
    assert listener.requests == []
    assert not Connection.objects.exists()


def test_a_stored_cm_connection_over_plain_http_stops_without_the_setting(
    cm_emulator, cm_agency, settings
):
    connect_cm(base_url=cm_emulator.base_url, api_key=cm_agency["api_key"], client_ids="all")
    settings.ALLOW_INSECURE_LOOPBACK = False
    with pytest.raises(cm_errors.CampaignMonitorError, match="must use HTTPS"):
        Connection.current().api(retries=0).clients()


def test_cm_oauth_refuses_a_plain_http_address(alice_client, settings, listener):
    settings.ALLOW_INSECURE_LOOPBACK = False
    settings.CAMPAIGN_MONITOR_BASE_URL = f"{listener.url}/api/v3.3"
    settings.CAMPAIGN_MONITOR_OAUTH_CLIENT_ID = "app-id"
    settings.CAMPAIGN_MONITOR_OAUTH_CLIENT_SECRET = "app-secret-probe"

    start = alice_client.get("/campaign-monitor/connect/oauth/")
    assert not start.url.startswith(listener.url)

    session = alice_client.session
    session["cm_oauth_state"] = "known-state"
    session["cm_oauth_base_url"] = settings.CAMPAIGN_MONITOR_BASE_URL
    session.save()
    page = alice_client.get(
        "/campaign-monitor/connect/oauth/callback/?code=c&state=known-state", follow=True
    ).text
    assert "must use HTTPS" in page
    assert listener.requests == []
    assert not Connection.objects.exists()


def test_cm_oauth_callback_refuses_when_the_address_changed_since_the_start(
    alice_client, cm_emulator, settings, listener
):
    oauth = cm_emulator.info()["oauth"]
    settings.CAMPAIGN_MONITOR_BASE_URL = cm_emulator.base_url
    settings.CAMPAIGN_MONITOR_OAUTH_CLIENT_ID = oauth["client_id"]
    settings.CAMPAIGN_MONITOR_OAUTH_CLIENT_SECRET = oauth["client_secret"]
    to_cm = alice_client.get("/campaign-monitor/connect/oauth/")
    back = requests.get(to_cm.url, allow_redirects=False, timeout=10).headers["Location"]

    settings.CAMPAIGN_MONITOR_BASE_URL = f"{listener.url}/api/v3.3"
    page = alice_client.get(back.removeprefix("http://testserver"), follow=True).text
    assert "The Campaign Monitor address changed while you were signing in" in page
    assert listener.requests == []
    assert not Connection.objects.exists()


# -- Connection errors do not tell an open port from a closed one ------------------------------


def _raise(exc: Exception):
    def send(*args, **kwargs):
        raise exc

    return send


def failures(monkeypatch) -> dict:
    """Each way an address can fail, as a context giving its port on 127.0.0.1."""

    class closed(socket_closed_port):
        pass

    class listening:
        def __init__(self, status: int, body: bytes) -> None:
            self.listener = Listener(status, body)

        def __enter__(self) -> int:
            self.listener.__enter__()
            return self.listener.port

        def __exit__(self, *exc) -> None:
            self.listener.__exit__()

    class garbage(GarbageListener):
        def __enter__(self) -> int:
            return super().__enter__().port

    class patched(socket_closed_port):
        def __init__(self, exc: Exception) -> None:
            self.exc = exc

        def __enter__(self) -> int:
            monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", _raise(self.exc))
            return super().__enter__()

        def __exit__(self, *exc) -> None:
            monkeypatch.undo()

    return {
        "refused": closed(),
        "open, 404 page": listening(404, b"<html>Not found</html>"),
        "open, 200 page": listening(200, b"<html>Welcome to nginx</html>"),
        "open, 401 page": listening(401, b"<html>Who are you</html>"),
        "open, not http": garbage(),
        "timeout": patched(requests.ConnectTimeout("timed out")),
        "dns": patched(requests.ConnectionError("Failed to resolve 'cm.internal'")),
    }


def test_campaign_monitor_errors_do_not_reveal_port_state(alice_client, monkeypatch):
    seen = {}
    for kind, failure in failures(monkeypatch).items():
        with failure as port:
            error = cm_form_error(alice_client, f"http://127.0.0.1:{port}/api/v3.3")
        seen[kind] = error.replace(f"127.0.0.1:{port}", "HOST")
    assert set(seen.values()) == {
        "Could not reach Campaign Monitor at HOST. Check the address and the network."
    }, seen
    assert not Connection.objects.exists()


def test_salesforce_errors_do_not_reveal_port_state(alice, monkeypatch):
    seen = {}
    for kind, failure in failures(monkeypatch).items():
        with failure as port, pytest.raises(CommandError) as caught:
            call_command(
                "connect_salesforce",
                f"--login-url=http://127.0.0.1:{port}",
                "--client-id=k",
                "--client-secret=s",
                "--user=alice",
            )
        seen[kind] = str(caught.value).replace(f"127.0.0.1:{port}", "HOST")
    assert set(seen.values()) == {
        "Could not reach Salesforce at HOST. Check the address and the network."
    }, seen
    assert not SalesforceConnection.objects.exists()


# -- The setting ------------------------------------------------------------------------------


def test_plain_http_to_this_machine_is_off_by_default(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ALLOW_INSECURE_LOOPBACK"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env["CMSYNC_VAR_DIR"] = str(tmp_path / "var")
    code = (
        "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'cmsync.settings'; "
        "from django.conf import settings; print(settings.ALLOW_INSECURE_LOOPBACK)"
    )
    seen = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert seen.stdout.strip() == "False", seen.stderr
    env["ALLOW_INSECURE_LOOPBACK"] = "1"
    seen = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert seen.stdout.strip() == "True", seen.stderr


def test_demo_mode_turns_the_setting_on_and_says_when_it_is_off(settings):
    assert (
        'ALLOW_INSECURE_LOOPBACK="$${ALLOW_INSECURE_LOOPBACK:-1}"'
        in (ROOT / "Makefile").read_text()
    )
    settings.ALLOW_INSECURE_LOOPBACK = False
    with pytest.raises(CommandError, match="ALLOW_INSECURE_LOOPBACK=1"):
        call_command("run_emulators", "--connect", "--cm-port=0", "--sf-port=0")
