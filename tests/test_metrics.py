"""/metrics for Prometheus: off unless configured, a bearer token and/or an address allowlist,
and values read from the database that move when a sync runs."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from maintenance.models import Message
from sync.models import CampaignMonitorEvent, SalesforceChange

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-0123456789abcdef"


def scrape(client, token: str = TOKEN) -> dict[tuple, float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.text
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = []


def test_metrics_are_off_by_default(client, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = "", []
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 404


def test_a_scrape_without_the_right_token_is_refused(client, metrics_on):
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert wrong.status_code == 401 and "cmsync_runs" not in wrong.text
    assert wrong["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION=TOKEN).status_code == 401  # no "Bearer"


def test_an_address_allowlist_alone_or_with_the_token(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert client.get("/metrics").status_code == 403  # the test client is 127.0.0.1
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8", "127.0.0.1"]
    assert client.get("/metrics").status_code == 200
    settings.METRICS_TOKEN = TOKEN  # both set: both needed
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_values_move_after_a_sync(client, metrics_on, world):
    before = scrape(client)
    assert value(before, "cmsync_runs_total", kind="primary", status="succeeded") == 0
    world.subscriber(world.list_a, "gone@example.com", "Unsubscribed")
    world.contact("gone@example.com")
    run = world.sync()
    assert run.status == "succeeded"

    after = scrape(client)
    assert value(after, "cmsync_runs_total", kind="primary", status="succeeded") == 1
    sf_calls = value(after, "cmsync_api_calls_total", service="salesforce", kind="primary")
    cm_calls = value(after, "cmsync_api_calls_total", service="campaign_monitor", kind="primary")
    assert sf_calls == run.sf_calls > 0 and cm_calls == run.cm_calls > 0
    read = value(
        after, "cmsync_run_records_total", kind="primary", step="subscribers", outcome="read"
    )
    assert read == run.counts["subscribers"]["read"] >= 1
    written = value(
        after, "cmsync_run_records_total", kind="primary", step="opt_out", outcome="written"
    )
    assert written == 1  # the Contact's Email Opt Out
    assert value(after, "cmsync_run_duration_seconds_count", kind="primary") == 1
    assert value(after, "cmsync_run_duration_seconds_bucket", kind="primary", le="+Inf") == 1
    assert value(after, "cmsync_salesforce_api_remaining") > 0

    world.sync()  # a second run adds to the totals (kept finished runs plus the new one)
    again = scrape(client)
    assert value(again, "cmsync_runs_total", kind="primary", status="succeeded") == 2
    assert (
        value(again, "cmsync_run_records_total", kind="primary", step="subscribers", outcome="read")
        >= read
    )
    assert value(again, "cmsync_api_calls_total", service="salesforce", kind="primary") > sf_calls


def test_messages_inbox_lag_queue_and_heartbeats(client, metrics_on):
    from datetime import timedelta

    from django.utils import timezone

    from maintenance import heartbeats

    Message.objects.create(code="SF_DUPLICATE", summary="dup")
    Message.objects.create(code="SF_DUPLICATE", summary="dup 2")
    SalesforceChange.objects.create(
        source="poll",
        sobject="Contact",
        record_id="003A",
        batch="b",
        received_at=timezone.now() - timedelta(minutes=5),
    )
    CampaignMonitorEvent.objects.create(
        key="k" * 40, list_id="l", kind="Update", email="a@example.com", date="", payload={}
    )
    heartbeats.stamp("beat")
    heartbeats.stamp("worker:celery@box")
    samples = scrape(client)
    assert value(samples, "cmsync_maintenance_messages", code="SF_DUPLICATE", severity="error") == 2
    assert value(samples, "cmsync_inbox_pending", inbox="salesforce_changes") == 1
    assert 290 < value(samples, "cmsync_inbox_lag_seconds", inbox="salesforce_changes") < 400
    assert value(samples, "cmsync_inbox_pending", inbox="campaign_monitor_events") == 1
    assert value(samples, "cmsync_broker_up") == 1
    assert any(name == "cmsync_queue_length" for name, _ in samples)
    assert value(samples, "cmsync_workers_alive") == 1
    assert value(samples, "cmsync_beat_last_tick_timestamp_seconds") > 0
