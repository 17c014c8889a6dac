"""Every secret cmsync holds is encrypted in the database and never written to a log.

Secrets: Campaign Monitor API keys, Salesforce access and refresh tokens, the connected app's
client secret, the Campaign Monitor webhook and Salesforce Outbound Message endpoint secrets,
integration API keys and the Stripe keys. One test goes through a connect that fails and one
that works on both sides, a full sync and calls to every public endpoint, with every logger at
DEBUG through the handler filters production uses, then searches the logs and every row of
every table for each secret.
"""

import io
import json
import logging

import pytest
from django.apps import apps
from django.db import connection
from encrypted_fields.fields import EncryptedTextField

from cmsync.logs import JsonFormatter, RedactSecrets, RunContext, TextFormatter
from salesforce.connection import connect_client_credentials
from salesforce.errors import AuthenticationError
from salesforce.models import SalesforceConnection, SalesforceSettings
from security.service import create_key
from sync import outbound, webhooks

from .sync_world import World
from .test_cm_connect import post_connect
from .test_sf_connect import approve, configure_app

pytestmark = pytest.mark.django_db

STRIPE_SECRET_KEY = "sk_test_cmsyncSecretKeyNeverLogged123"
STRIPE_WEBHOOK_SECRET = "whsec_cmsyncWebhookSecretNeverLogged456"


@pytest.fixture
def logs():
    """Every logger at DEBUG, written through the filters production's handlers use, in
    both of production's formats (LOG_FORMAT=json and the readable text), so every field a
    structured line adds (paths, hosts, counts) is searched too."""
    buffer = io.StringIO()
    handlers = []
    for formatter in (JsonFormatter(), TextFormatter()):
        handler = logging.StreamHandler(buffer)
        handler.setLevel(logging.DEBUG)
        handler.addFilter(RedactSecrets())
        handler.addFilter(RunContext())
        handler.setFormatter(formatter)
        handlers.append(handler)
    root = logging.getLogger()
    previous = root.level
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    quiet = {}
    for name in list(logging.root.manager.loggerDict):  # loggers that set a level of their own
        logger = logging.getLogger(name)
        if logger.level > logging.DEBUG:
            quiet[name] = logger.level
            logger.setLevel(logging.DEBUG)
    yield buffer
    for handler in handlers:
        root.removeHandler(handler)
    root.setLevel(previous)
    for name, level in quiet.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def everything(logs, settings, alice_client, alice, admin_user, cm_empty, sf_emulator):
    """Connects (failing and working), a full sync and the public endpoints, logged."""
    settings.CMSYNC_URL = "http://127.0.0.1:9"
    settings.STRIPE_SECRET_KEY = STRIPE_SECRET_KEY
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_cmsync"
    settings.STRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET
    agency = next(a for a in cm_empty.info()["accounts"] if a["type"] == "agency")
    info = configure_app(sf_emulator)
    secrets = {
        "Campaign Monitor API key": agency["api_key"],
        "Campaign Monitor API key tried and refused": "wrong-key-" + "x" * 22,
        "Salesforce client secret": info["oauth"]["client_secret"],
        "Salesforce client secret tried and refused": "wrong-secret-cmsync-0123456789",
        "Stripe secret key": STRIPE_SECRET_KEY,
        "Stripe webhook secret": STRIPE_WEBHOOK_SECRET,
    }

    # Campaign Monitor: a refused key, then the right one (the Connect form).
    refused = post_connect(
        alice_client, cm_empty, secrets["Campaign Monitor API key tried and refused"]
    )
    assert "did not accept" in refused.text
    post_connect(alice_client, cm_empty, agency["api_key"])
    # Salesforce: a refused client secret, then OAuth through the console.
    with pytest.raises(AuthenticationError):
        connect_client_credentials(
            alice,
            info["login_url"],
            info["oauth"]["client_id"],
            secrets["Salesforce client secret tried and refused"],
        )
    to_salesforce = alice_client.get("/salesforce/connect/")
    alice_client.get(approve(sf_emulator, to_salesforce.url))
    # The sync's own connections (client credentials) and a full sync with data.
    world = World(cm_empty, sf_emulator, admin_user)
    world.subscriber(world.list_a, "gone@example.com", "Unsubscribed")
    world.contact("gone@example.com")
    assert world.sync(full=True).status == "succeeded"
    # The public endpoints, each with the right secret and a wrong one.
    secrets["Campaign Monitor webhook secret"] = webhooks.secret()
    secrets["Outbound Message secret"] = outbound.new_secret()
    body = json.dumps({"Events": [], "ListID": world.list_a})
    for secret in (secrets["Campaign Monitor webhook secret"], "wrong"):
        alice_client.post(f"/campaign-monitor/webhook/{secret}/", body, "application/json")
    for secret in (secrets["Outbound Message secret"], "wrong"):
        alice_client.post(f"/sync/outbound/{secret}/", "<not-soap/>", "text/xml")
    alice_client.post(
        "/billing/webhook/", b"{}", "application/json", HTTP_STRIPE_SIGNATURE="t=1,v1=forged"
    )
    secrets["Integration API key"] = create_key("Reporting", "read", alice)[1]
    for row in SalesforceConnection.objects.all():
        for field in ("access_token", "refresh_token"):
            if value := getattr(row, field):
                secrets[f"Salesforce {field.replace('_', ' ')} of {row.user}"] = value
    assert any("refresh token" in name for name in secrets)  # the OAuth connect stored one
    return secrets, logs.getvalue()


def test_no_secret_is_in_the_logs(everything):
    secrets, text = everything
    # The capture did capture, down to each HTTP request to both services.
    assert '"POST /services/oauth2/token' in text and "/api/v3.3/clients.json" in text
    # ... and cmsync's own structured lines: each call to either service, each run step.
    assert '"service": "salesforce"' in text and '"service": "campaign_monitor"' in text
    assert '"path": "/services/oauth2/token"' in text  # the connects' token calls
    assert '"event": "run_step"' in text and "event=run_finished" in text
    leaked = [name for name, secret in secrets.items() if secret in text]
    lines = [line[:300] for line in text.splitlines() if any(s in line for s in secrets.values())]
    assert leaked == [], lines[:5]


def test_no_secret_is_stored_in_plain_text_anywhere(everything):
    """Every row of every table, the audit log's included."""
    secrets, _ = everything
    leaked = set()
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 -- our own table names
            dump = repr(cursor.fetchall())
            leaked |= {(name, table) for name, secret in secrets.items() if secret in dump}
    assert leaked == set()


def encrypted_fields() -> list:
    return [
        (model, field)
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, EncryptedTextField)
    ]


def test_every_encrypted_field_holds_ciphertext(everything):
    """Read raw: each stored value differs from what the model decrypts it to."""
    checked = 0
    for model, field in encrypted_fields():
        table, column = model._meta.db_table, field.column
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT "id", "{column}" FROM "{table}"')  # noqa: S608
            rows = cursor.fetchall()
        for pk, raw in rows:
            plain = getattr(model.objects.get(pk=pk), field.name)
            if plain:
                assert raw != plain and plain not in raw, f"{table}.{column} is plain text"
                checked += 1
    assert checked >= 6  # API key, client secret, tokens, webhook and outbound secrets
    names = {f"{m._meta.label}.{f.name}" for m, f in encrypted_fields()}
    assert {
        "campaign_monitor.Connection.api_key",
        "salesforce.SalesforceSettings.client_secret",
        "salesforce.SalesforceSettings.outbound_secret",
        "salesforce.SalesforceConnection.refresh_token",
        "sync.WebhookWatch.secret",
    } <= names
    assert SalesforceSettings.get_solo().outbound_secret
