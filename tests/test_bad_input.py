# ruff: noqa: F811 -- the outbound tests' fixture imported below is a parameter here
"""Bad input answers 400, never 500: NUL bytes in URLs (PostgreSQL refuses them in a query),
an Outbound Message with an impossible record Id, a signed Stripe event without an id. And
the Outbound Message URL's secret never reaches a log."""

import io
import logging
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from rest_framework.test import APIClient

from billing.models import StripeEvent
from security.service import create_key
from sync import outbound
from sync.models import SalesforceChange

from .billing_fixtures import WEBHOOK_SECRET, signed
from .conftest import _test_database_url
from .test_sync_celery import wait_for
from .test_sync_outbound import opted_out_contact, post, soap  # noqa: F401

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent

NUL_API_URLS = [
    "/api/v1/audit/?user=%00",
    "/api/v1/audit/1/?user=%00",
    "/api/v1/messages/?client=%00",
    "/api/v1/clients/%00/",
    "/api/v1/runs/?status=%00",
    "/api/v1/lists/%00/rules/",
]
NUL_CONSOLE_URLS = [
    "/maintenance/?user=%00",
    "/maintenance/codes/%00/",
    "/sync/runs/?kind=%00",
    "/security/?x%00=1",
]


@pytest.fixture
def api(alice) -> APIClient:
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {create_key('probe', 'full', alice)[1]}")
    return client


@pytest.mark.parametrize("url", NUL_API_URLS)
def test_a_nul_byte_in_an_api_url_is_a_400_in_the_api_error_shape(api, url):
    response = api.get(url)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == 400 and "NUL" in error["message"]


@pytest.mark.parametrize("url", NUL_CONSOLE_URLS)
def test_a_nul_byte_in_a_console_url_is_a_400(alice_client, url):
    alice_client.raise_request_exception = False
    assert alice_client.get(url).status_code == 400


def test_a_nul_byte_in_the_session_cookie_is_a_400(client, db):
    client.raise_request_exception = False
    cookie = 'sessionid="' + "\\000" * 12 + '"'  # the cookie syntax's octal escape
    assert client.get("/sync/", HTTP_COOKIE=cookie).status_code == 400


def test_urls_without_nul_bytes_still_work(api, alice_client):
    assert api.get("/api/v1/audit/?user=1").status_code == 200
    assert alice_client.get("/maintenance/?user=1").status_code == 200


# -- an Outbound Message with an impossible record Id ---------------------------------------


def test_an_outbound_message_with_a_5000_character_record_id_is_a_fault_and_stores_nothing(
    world, client, opted_out_contact
):
    client.raise_request_exception = False
    secret = outbound.new_secret()
    record = {**opted_out_contact, "Id": "0" * 5000}

    response = post(client, secret, soap(world.sf_connection.org_id, record))

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/xml")
    assert b"<faultcode>soapenv:Client</faultcode>" in response.content
    assert b"not a Salesforce record Id" in response.content
    assert not SalesforceChange.objects.exists()


@pytest.mark.parametrize("record_id", ["003ABC", "003000000000001AAA'--", "003 00000000001AAA"])
def test_outbound_record_ids_must_look_like_salesforce_ids(
    world, client, opted_out_contact, record_id
):
    secret = outbound.new_secret()
    record = {**opted_out_contact, "Id": record_id}
    assert post(client, secret, soap(world.sf_connection.org_id, record)).status_code == 400
    assert not SalesforceChange.objects.exists()


# -- a signed Stripe event without an id ----------------------------------------------------


@pytest.fixture
def webhook_secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET


def post_event(client, event):
    payload, signature = signed(event)
    return client.post(
        "/billing/webhook/",
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )


@pytest.mark.parametrize(
    "event",
    [
        {"type": "invoice.paid", "data": {"object": {}}},
        {"id": "", "type": "invoice.paid", "data": {"object": {}}},
        {"id": 42, "type": "invoice.paid", "data": {"object": {}}},
        {"id": "evt_" + "x" * 300, "type": "invoice.paid", "data": {"object": {}}},
        {"id": "evt_long_type", "type": "x" * 300, "data": {"object": {}}},
        {"id": "evt_bad_data", "type": "invoice.paid", "data": "nope"},
        {"id": "evt_bad_object", "type": "invoice.paid", "data": {"object": [1]}},
        [{"id": "evt_in_a_list"}],
        "evt_a_string",
        {"id": "evt_\x00", "type": "invoice.paid", "data": {"object": {}}},
        {"id": "evt_nul_data", "type": "invoice.paid", "data": {"object": {"x": "\x00"}}},
    ],
    ids=[
        "no-id",
        "empty-id",
        "number-id",
        "long-id",
        "long-type",
        "data-not-object",
        "object-not-object",
        "array",
        "string",
        "nul-in-id",
        "nul-in-data",
    ],
)
def test_a_signed_stripe_event_that_is_not_an_event_is_a_400_and_stores_nothing(
    client, webhook_secret, event
):
    client.raise_request_exception = False
    response = post_event(client, event)
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


def test_a_well_formed_stripe_event_is_still_stored(client, webhook_secret):
    event = {"id": "evt_fine", "type": "invoice.paid", "data": {"object": {}}}
    assert post_event(client, event).status_code == 200
    assert StripeEvent.objects.get().event_id == "evt_fine"


# -- the Outbound Message URL's secret is not logged ----------------------------------------

SECRET = "s3cr3t-Outbound-Token_abc123"


@pytest.fixture
def django_log_output():
    """What the handlers of cmsync's LOGGING write (root's, and runserver's django.server)."""
    from django.utils.log import ServerFormatter

    handlers = [
        h
        for h in [*logging.getLogger().handlers, *logging.getLogger("django.server").handlers]
        if type(h) is logging.StreamHandler
        and (h in logging.getLogger("django.server").handlers or h.formatter is None)
    ]
    assert any(isinstance(h.formatter, ServerFormatter) for h in handlers)
    stream = io.StringIO()
    previous = [h.setStream(stream) for h in handlers]
    yield stream
    for handler, old in zip(handlers, previous, strict=True):
        handler.setStream(old)


def test_runserver_and_request_logs_redact_the_outbound_secret(
    world, client, django_log_output, settings
):
    client.raise_request_exception = False
    outbound.new_secret()
    # runserver's access log line, as django.core.servers.basehttp writes it
    logging.getLogger("django.server").info(
        '"%s" %s %s',
        f"POST /sync/outbound/{SECRET}/ HTTP/1.1",
        "200",
        "10",
        extra={"status_code": 200, "server_time": "now"},
    )
    # django.request's warning for a refused message ("Bad Request: /sync/outbound/<secret>/")
    post(client, SECRET, b"not xml")

    text = django_log_output.getvalue()
    assert "/sync/outbound/" in text
    assert SECRET not in text
    assert "/sync/outbound/[redacted]/" in text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _web_command(procfile: str) -> list[str]:
    line = next(x for x in (ROOT / procfile).read_text().splitlines() if x.startswith("web:"))
    return shlex.split(line.split(":", 1)[1])


@pytest.mark.django_db(transaction=True)
def test_gunicorn_as_run_by_make_run_does_not_log_the_outbound_secret(tmp_path):
    port = _free_port()
    command = _web_command("Procfile.dev")
    command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    log = tmp_path / "gunicorn.log"
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
        try:
            url = f"http://127.0.0.1:{port}/sync/outbound/{SECRET}/"

            def answered() -> list[requests.Response]:
                # In a list: a 403 Response is falsy, and wait_for waits for a truthy answer.
                assert process.poll() is None, log.read_text()
                try:
                    return [requests.post(url, data=b"<x/>", timeout=60)]
                except requests.ConnectionError:
                    return []  # not listening yet: a loaded machine starts gunicorn slowly

            (response,) = wait_for(answered, seconds=60)
            assert response.status_code == 403
            wait_for(lambda: "/sync/outbound/" in log.read_text(), seconds=30)  # log flushed
        finally:
            process.terminate()
            process.wait(timeout=30)
    text = log.read_text()
    assert re.search(r'"POST /sync/outbound/\[redacted\]/\S* HTTP/1.1" 403', text), text
    assert SECRET not in text


def test_docker_compose_runs_gunicorn_with_the_same_redacting_config():
    compose = (ROOT / "docker-compose.yml").read_text()
    procfile = " ".join(_web_command("Procfile.dev"))
    assert "--config gunicorn.conf.py" in procfile
    assert "--config gunicorn.conf.py" in compose
