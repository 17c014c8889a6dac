"""The REST API (/api/v1/): keys, role permissions, the console's validation, the ETag guard,
runs, messages, the audit log, one error shape, throttling and the OpenAPI schema."""

import pytest
from auditlog.models import LogEntry
from rest_framework.test import APIClient

from maintenance.models import Message
from security.models import IntegrationKey
from security.service import create_key, revoke_key
from settings_app.models import GeneralSettings, SyncSettings
from sync.models import SyncRun

pytestmark = pytest.mark.django_db


def api_for(secret: str | None = None) -> APIClient:
    client = APIClient()
    if secret:
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return client


@pytest.fixture
def keys(alice) -> dict[str, str]:
    return {
        access: create_key(f"{access} key", access, alice)[1]
        for access in IntegrationKey.Access.values
    }


def etag(client, url: str) -> str:
    return client.get(url)["ETag"]


def test_a_key_is_shown_once_stored_hashed_and_revocable(alice_client):
    page = alice_client.post("/security/keys/", {"name": "BI export", "access": "read"}).text
    secret = page.split('<code id="new-key">')[1].split("</code>")[0]
    key = IntegrationKey.objects.get(name="BI export")
    assert secret not in key.hashed_key and secret.startswith(key.prefix)
    assert secret not in alice_client.get("/security/").text
    assert api_for(secret).get("/api/v1/runs/").status_code == 200

    revoke_key(key)
    response = api_for(secret).get("/api/v1/runs/")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "This API key has been revoked."


def test_unknown_or_missing_keys_are_refused(db):
    assert api_for("nope.nope").get("/api/v1/runs/").status_code == 401
    response = api_for().get("/api/v1/settings/sync/")
    assert response.status_code in (401, 403)
    assert "error" in response.json()


READS = ["/api/v1/settings/sync/", "/api/v1/settings/general/", "/api/v1/settings/campaigns/"]
READS += ["/api/v1/clients/", "/api/v1/runs/", "/api/v1/messages/", "/api/v1/audit/"]
READS += ["/api/v1/users/", "/api/v1/billing/invoices/", "/api/v1/lists/"]


@pytest.mark.parametrize("url", READS)
@pytest.mark.parametrize("access", ["read", "standard", "full"])
def test_every_key_kind_reads(keys, url, access):
    assert api_for(keys[access]).get(url).status_code == 200


@pytest.mark.parametrize(
    "access, settings_change, start_run, delete_message, retry_message",
    [
        ("read", 403, 403, 403, 403),
        ("standard", 403, 400, 403, 400),
        ("full", 200, 400, 204, 400),
    ],
)
def test_what_each_key_kind_may_change(
    keys, access, settings_change, start_run, delete_message, retry_message
):
    api = api_for(keys[access])
    url = "/api/v1/settings/general/"
    tag = etag(api, url)
    assert api.patch(url, {"show_tabs": False}, format="json", HTTP_IF_MATCH=tag).status_code == (
        settings_change
    )
    # 400: allowed, but nothing is connected to sync
    assert api.post("/api/v1/runs/", {}, format="json").status_code == start_run
    message = Message.objects.create(code="SF_DUPLICATE", summary="x")
    assert api.delete(f"/api/v1/messages/{message.pk}/").status_code == delete_message
    assert (
        api.post("/api/v1/messages/retry/", {"ids": [message.pk]}, format="json").status_code
        == retry_message
    )


def test_people_use_the_api_with_their_session_and_role(alice, bob):
    people = APIClient()
    people.force_login(alice)
    assert people.get("/api/v1/settings/sync/").status_code == 200
    people.force_login(bob)
    tag = etag(people, "/api/v1/settings/sync/")
    response = people.patch(
        "/api/v1/settings/sync/", {"days_to_keep": 5}, format="json", HTTP_IF_MATCH=tag
    )
    assert response.status_code == 403  # Standard: no settings changes


def test_settings_round_trip_with_the_etag_guard(keys):
    api = api_for(keys["full"])
    url = "/api/v1/settings/sync/"
    first = api.get(url)
    assert first.json()["frequency"] == "hourly"
    tag = first["ETag"]

    assert api.patch(url, {"days_to_keep": 30}, format="json").status_code == 428
    changed = api.patch(url, {"days_to_keep": 30}, format="json", HTTP_IF_MATCH=tag)
    assert changed.status_code == 200
    assert changed.json()["days_to_keep"] == 30
    assert SyncSettings.get_solo().days_to_keep == 30

    # A second integration still holding the old ETag cannot overwrite the change.
    stale = api.patch(url, {"days_to_keep": 99}, format="json", HTTP_IF_MATCH=tag)
    assert stale.status_code == 412
    assert "changed since you read them" in stale.json()["error"]["message"]
    assert SyncSettings.get_solo().days_to_keep == 30


@pytest.mark.parametrize(
    "changes, field, message",
    [
        (
            {"days_to_keep": 0},
            "days_to_keep",
            "Keep tracking data for at least 1 day: the minimum is 1.",
        ),
        ({"days_to_keep": "a week"}, "days_to_keep", "Enter a whole number."),
        ({"hour": 24}, "hour", "Select a valid choice. 24 is not one of the available choices."),
        (
            {"frequency": "custom", "custom_days": []},
            "custom_days",
            "Custom needs at least one day of the week.",
        ),
        (
            {f"track_{t}": False for t in ["sent", "opened", "clicked", "unsubscribed", "bounced"]},
            "non_field_errors",
            "Choose at least one tracking type to import, or turn tracking import off.",
        ),
        ({"speed": "fast"}, "speed", "Unknown setting."),
    ],
)
def test_validation_errors_are_the_consoles_and_nothing_changes(keys, changes, field, message):
    api = api_for(keys["full"])
    url = "/api/v1/settings/sync/"
    before = api.get(url).json()
    response = api.patch(url, changes, format="json", HTTP_IF_MATCH=etag(api, url))
    assert response.status_code == 400
    assert message in response.json()["error"]["fields"][field]
    assert api.get(url).json() == before


def test_risky_changes_need_confirming(keys):
    api = api_for(keys["full"])
    url = "/api/v1/settings/general/"
    refused = api.patch(
        url, {"disable_triggers": True}, format="json", HTTP_IF_MATCH=etag(api, url)
    )
    assert refused.status_code == 400
    assert "will no longer unsubscribe anyone" in refused.json()["error"]["fields"]["confirmed"][0]
    assert GeneralSettings.get_solo().disable_triggers is False
    done = api.patch(
        url, {"disable_triggers": True, "confirmed": True}, format="json",
        HTTP_IF_MATCH=etag(api, url),
    )  # fmt: skip
    assert done.status_code == 200
    assert GeneralSettings.get_solo().disable_triggers is True


def test_campaign_mapping_through_the_api(keys):
    api = api_for(keys["full"])
    url = "/api/v1/settings/campaigns/"
    mapping = [{"activity": "opened", "label": "Registered", "responded": True}]
    done = api.patch(url, {"mapping": mapping}, format="json", HTTP_IF_MATCH=etag(api, url))
    assert done.status_code == 200
    opened = next(m for m in done.json()["mapping"] if m["activity"] == "opened")
    assert opened == {"activity": "opened", "label": "Registered", "responded": True}

    for bad, text in [
        ([{"activity": "opened", "label": "x" * 41}], "at most 40 characters"),
        ([{"activity": "opened", "label": "A"}, {"activity": "opened", "label": "B"}],
         "Each activity can be mapped only once."),
        ([{"activity": "forwarded", "label": "A"}], "Unknown activity: forwarded"),
    ]:  # fmt: skip
        response = api.patch(url, {"mapping": bad}, format="json", HTTP_IF_MATCH=etag(api, url))
        assert response.status_code == 400
        assert any(text in e for e in response.json()["error"]["fields"]["mapping"])


def test_changes_through_a_key_are_audited_under_its_name(keys):
    api = api_for(keys["full"])
    url = "/api/v1/settings/sync/"
    api.patch(url, {"days_to_keep": 42}, format="json", HTTP_IF_MATCH=etag(api, url))
    entry = LogEntry.objects.filter(additional_data__area="sync").latest("timestamp")
    assert entry.actor.username == "api-key: full key"
    assert entry.changes_dict == {"days_to_keep": ["365", "42"]}
    audit = api.get("/api/v1/audit/?area=sync").json()["results"][0]
    assert audit["user"] == "api-key: full key"


def test_runs_start_return_the_running_one_filter_and_cancel(keys, world):
    api = api_for(keys["standard"])
    first = api.post("/api/v1/runs/", {}, format="json")
    assert first.status_code == 201
    again = api.post("/api/v1/runs/", {"full": True}, format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    listed = api.get("/api/v1/runs/?status=queued").json()
    assert [r["id"] for r in listed["results"]] == [first.json()["id"]]
    assert api.get("/api/v1/runs/?status=sleeping").status_code == 400

    cancelled = api.post(f"/api/v1/runs/{first.json()['id']}/cancel/")
    assert cancelled.json()["status"] == "cancelled"
    assert api.post(f"/api/v1/runs/{first.json()['id']}/cancel/").status_code == 400
    entry = LogEntry.objects.filter(additional_data__has_key="action").latest("timestamp")
    assert entry.actor.username == "api-key: standard key"


def test_messages_filter_retry_and_delete(keys):
    api = api_for(keys["full"])
    run = SyncRun.objects.create(trigger="manual", status="partial", active=None)
    retryable = Message.objects.create(
        code="SF_VALIDATION_RULE",
        summary="rule",
        run=run,
        record={"sobject": "Contact", "operation": "update", "fields": {"Id": "003X"}},
    )
    other = Message.objects.create(code="CM_BAD_RECORD", summary="bad", severity="warning")
    assert [m["id"] for m in api.get("/api/v1/messages/?code=CM_BAD_RECORD").json()["results"]] == [
        other.pk
    ]
    assert api.get(f"/api/v1/messages/?run={run.pk}").json()["count"] == 1
    assert api.get("/api/v1/messages/?code=NOPE").status_code == 400

    retried = api.post("/api/v1/messages/retry/", {"ids": [retryable.pk]}, format="json")
    assert retried.status_code == 202
    assert Message.objects.get(pk=retryable.pk).retry_requested
    assert (
        api.post("/api/v1/messages/retry/", {"ids": [other.pk]}, format="json").status_code == 400
    )

    assert (
        api.post("/api/v1/messages/delete/", {"ids": [other.pk]}, format="json").status_code == 204
    )
    assert not Message.objects.filter(pk=other.pk).exists()


def test_throttling_per_key(keys):
    from django.core.cache import cache
    from rest_framework.throttling import UserRateThrottle

    cache.clear()
    UserRateThrottle.THROTTLE_RATES = {"user": "3/minute"}
    try:
        api = api_for(keys["read"])
        codes = [api.get("/api/v1/runs/").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        assert api_for(keys["full"]).get("/api/v1/runs/").status_code == 200  # its own budget
    finally:
        UserRateThrottle.THROTTLE_RATES = {"user": "600/minute"}
        cache.clear()


@pytest.fixture
def cache_down(settings) -> None:
    """The cache is a Redis where nothing listens, as when production's Redis is down."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again on leaving: nothing listens there
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
        }
    }


def test_with_the_rate_limit_cache_down_the_api_answers_and_says_so(keys, cache_down, caplog):
    from cmsync import api_auth

    api_auth.cache_outage_warning.reset()  # an earlier test's warning must not hide this one
    api = api_for(keys["read"])
    with caplog.at_level("WARNING", logger="cmsync.api_auth"):
        codes = [api.get("/api/v1/runs/").status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    warnings = [r for r in caplog.records if "rate limit" in r.getMessage()]
    assert len(warnings) == 1  # once, not once a request


def test_with_the_cache_down_people_log_in_and_use_the_console(client, alice, cache_down):
    from .conftest import PASSWORD

    login = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert login.status_code == 302
    assert client.get("/maintenance/").status_code == 200
    assert client.get("/api/v1/runs/").status_code == 200  # the API with a session, too


def test_schema_and_docs_are_served(carol_client):
    schema = carol_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/runs/" in paths and "/api/v1/settings/sync/" in paths
    assert carol_client.get("/api/v1/docs/").status_code == 200


def test_schema_and_docs_are_not_for_anonymous_visitors(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 401
    assert "paths" not in schema.text
    assert client.get("/api/v1/docs/").status_code == 401


def test_the_docs_page_loads_its_start_up_script_as_a_file(carol_client):
    """No inline script: the Content-Security-Policy allows none."""
    page = carol_client.get("/api/v1/docs/").text
    assert "<script>" not in page
    script = carol_client.get("/api/v1/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.text
