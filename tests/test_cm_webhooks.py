"""Campaign Monitor list webhooks, cmsync's side: the endpoint (refusals store nothing, an
event stored twice acts once), the run that applies events with the primary sync's own
rules, loop safety with the Salesforce → Campaign Monitor reactions, and keeping the
webhooks in place (registration, re-creation, removal), against both emulators over HTTP."""

import json
import logging

import pytest

from campaign_monitor.lists import set_prevent_member_sync
from campaign_monitor.models import Connection
from cmsync.logs import redact
from maintenance.models import Message
from settings_app.models import SyncSettings
from subscriptions.models import FieldMapping
from sync import change_poll, cm_events, runner, webhooks
from sync.models import (
    CampaignMonitorEvent,
    ListWebhook,
    SalesforceChange,
    SubscriberState,
    SyncRun,
)

from .test_field_mappings import mapping, record
from .test_sync_changes import cm_state

pytestmark = pytest.mark.django_db

ONE_EVENT = b'"EmailAddress": "x@example.com", "Date": "2024-01-01 10:00:00"'
LIST = b'"ListID": "LIST"}'


def event(kind: str, email: str, date: str, state: str = "", fields=(), old: str = "") -> dict:
    """An event as Campaign Monitor's webhooks page shows it (keys in its order); ``date``
    in the account's time, its UTC offset (World.local adds one) left off as Campaign
    Monitor sends it."""
    out = {
        "CustomFields": [{"Key": k, "Value": v} for k, v in fields],
        "Date": date[:19],
        "EmailAddress": email,
        "Name": "",
    }
    if kind == "Update":
        out["OldEmailAddress"] = old or email
    if kind == "Subscribe":
        out["SignupIPAddress"] = "TypeAPI"
    if kind in ("Update", "Deactivate"):
        out["State"] = state
    out["Type"] = kind
    return out


def post(client, list_id: str, *events: dict, secret: str = ""):
    body = json.dumps({"Events": list(events), "ListID": list_id})
    path = f"/campaign-monitor/webhook/{secret or webhooks.secret()}/"
    return client.post(path, body, content_type="application/json; charset=utf-8")


def run_events() -> SyncRun | None:
    run = SyncRun.objects.filter(kind=SyncRun.Kind.CM_EVENTS, active=True).first()
    return runner.execute(run.pk) if run else None


def sf_updates(world) -> int:
    """Salesforce writes by sObject Collections (opt-outs, custom fields) since the reset."""
    return world.sf.request_counts().get("PATCH /composite/sobjects", 0)


@pytest.fixture
def known(world):
    """a@ active on list A (read by a primary sync), with a Contact and a Lead."""
    world.subscriber(world.list_a, "a@example.com", "Active")
    contact = world.contact("a@example.com")
    lead = world.contact("A@example.com", sobject="Lead")
    assert world.sync().status == SyncRun.Status.SUCCEEDED
    return contact, lead


# -- the endpoint ---------------------------------------------------------------------------


def test_a_batch_is_stored_answered_at_once_and_a_run_queued(world, client, known):
    response = post(
        client, world.list_a, event("Deactivate", "a@example.com", world.local(), "Unsubscribed")
    )

    assert response.status_code == 200 and response.json() == {"received": 1}
    (stored,) = CampaignMonitorEvent.objects.all()
    assert (stored.kind, stored.email, stored.state) == (
        "Deactivate",
        "a@example.com",
        "Unsubscribed",
    )
    run = SyncRun.objects.get(kind=SyncRun.Kind.CM_EVENTS)
    assert run.status == SyncRun.Status.QUEUED and run.trigger == SyncRun.Trigger.WEBHOOK
    assert ListWebhook.objects.get(list_id=world.list_a).last_event_at is not None


@pytest.mark.parametrize(
    ("secret", "body", "status"),
    [
        ("wrong-secret", None, 404),
        ("", b"{not json", 400),
        ("", b'["Events"]', 400),
        ("", b'{"Events": [{"Type": "Subscribe"}], "ListID": "LIST"}', 400),
        ("", b'{"Events": [{"Type": "Explode", ' + ONE_EVENT + b"}], " + LIST, 400),
        (
            "",
            b'{"Events": [{"Type": "Subscribe", "EmailAddress": "x@example.com", '
            b'"Date": "yesterday"}], ' + LIST,
            400,
        ),
        ("", b'{"Events": [], "ListID": ""}', 400),
    ],
)
def test_a_refused_batch_stores_nothing_and_queues_nothing(world, client, secret, body, status):
    webhooks.secret()
    body = (
        body
        or json.dumps(
            {"Events": [event("Subscribe", "x@example.com", world.local())], "ListID": "LIST"}
        ).encode()
    ).replace(b"LIST", world.list_a.encode())
    path = f"/campaign-monitor/webhook/{secret or webhooks.secret()}/"

    response = client.post(path, body, content_type="application/json")

    assert response.status_code == status
    assert not CampaignMonitorEvent.objects.exists()
    assert not SyncRun.objects.filter(kind=SyncRun.Kind.CM_EVENTS).exists()


def test_no_secret_is_accepted_before_one_was_generated(world, client):
    response = client.post(
        "/campaign-monitor/webhook/anything/",
        json.dumps({"Events": [], "ListID": world.list_a}),
        content_type="application/json",
    )
    assert response.status_code == 404


def test_events_of_a_list_cmsync_does_not_sync_are_refused(world, client):
    subscribe = event("Subscribe", "x@example.com", world.local())

    assert post(client, world.other_list, subscribe).status_code == 403  # client not connected
    set_prevent_member_sync(world.list_b, True)
    assert post(client, world.list_b, subscribe).status_code == 403  # "Prevent member sync"
    SyncSettings.objects.update(cm_webhooks=False)
    assert post(client, world.list_a, subscribe).status_code == 403  # switched off

    assert not CampaignMonitorEvent.objects.exists()
    assert "does not sync" in webhooks.WebhookWatch.get_solo().last_refusal


def test_the_secret_is_stored_encrypted_and_redacted_from_logs(world, caplog):
    from django.db import connection

    secret = webhooks.secret()
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM sync_webhookwatch")
        (raw,) = cursor.fetchone()
    assert secret not in raw
    line = f'"POST /campaign-monitor/webhook/{secret}/ HTTP/1.1" 404'
    assert secret not in redact(line) and "[redacted]" in redact(line)


# -- applying events ------------------------------------------------------------------------


def test_an_unsubscribe_opts_out_every_matching_contact_and_lead(world, client, known):
    contact, lead = known
    post(client, world.list_a, event("Deactivate", "a@example.com", world.local(1), "Unsubscribed"))

    run = run_events()

    assert run.status == SyncRun.Status.SUCCEEDED, run.last_error
    assert world.opted_out(contact) is True and world.opted_out(lead, "Lead") is True
    (state,) = SubscriberState.objects.filter(email_lc="a@example.com")
    assert state.state == "unsubscribed" and not state.opt_out_pending
    (membership,) = world.gateway.query(
        "SELECT CM_State__c FROM CM_List_Membership__c WHERE CM_Email__c = 'a@example.com'"
    )
    assert membership["CM_State__c"] == "Unsubscribed"
    assert CampaignMonitorEvent.objects.get().outcome == "unsubscribed on the list"


def test_an_address_active_on_another_list_stays_opted_in(world, client, known):
    contact, _ = known
    world.subscriber(world.list_b, "a@example.com", "Active")
    world.sync()
    post(client, world.list_a, event("Deactivate", "a@example.com", world.local(1), "Unsubscribed"))

    run_events()

    assert world.opted_out(contact) is False  # DESIGN §5: active on one list is enough


def test_the_same_event_delivered_twice_acts_once(world, client, known):
    unsubscribe = event("Deactivate", "a@example.com", world.local(1), "Unsubscribed")
    assert post(client, world.list_a, unsubscribe).json() == {"received": 1}
    run_events()
    world.sf.reset_request_counts()

    assert post(client, world.list_a, unsubscribe).json() == {"received": 0}

    assert CampaignMonitorEvent.objects.count() == 1
    assert run_events() is None  # nothing new: no run at all
    assert sf_updates(world) == 0


def test_an_event_older_than_the_stored_state_changes_nothing(world, client, known):
    contact, _ = known
    post(
        client, world.list_a, event("Deactivate", "a@example.com", world.local(-60), "Unsubscribed")
    )

    run_events()

    assert world.opted_out(contact) is False
    assert SubscriberState.objects.get(email_lc="a@example.com").state == "active"
    assert "older than the state already stored" in CampaignMonitorEvent.objects.get().outcome


def test_the_latest_event_of_a_batch_wins(world, client, known):
    contact, _ = known
    post(
        client,
        world.list_a,
        event("Subscribe", "a@example.com", world.local(3)),
        event("Deactivate", "a@example.com", world.local(2), "Unsubscribed"),
    )

    run_events()

    assert world.opted_out(contact) is False
    outcomes = list(CampaignMonitorEvent.objects.order_by("id").values_list("outcome", flat=True))
    assert "a later event" in outcomes[1]


def test_a_resubscribe_after_an_unsubscribe_in_later_batches_of_one_run(world, client, known):
    """One run, two batches: the second sees the value the first wrote."""
    contact, _ = known
    post(client, world.list_a, event("Deactivate", "a@example.com", world.local(1), "Unsubscribed"))
    run_events()
    assert world.opted_out(contact) is True
    post(client, world.list_a, event("Subscribe", "a@example.com", world.local(2)))

    run_events()

    assert world.opted_out(contact) is False


def map_website(world) -> None:
    """A Website__c field on Contact and Lead, receiving list A's "website"."""
    for sobject in ("Contact", "Lead"):
        world.custom_field(f"{sobject}.Website__c", {"label": "Website", "type": "Url"})
    mapping(world.list_a, "website", "Text", FieldMapping.Direction.TO_SF, contact="Website__c")


def test_a_custom_field_edit_reaches_the_mapped_salesforce_field(world, client):
    map_website(world)
    world.subscriber(world.list_a, "web@example.com", "Active")
    contact = world.contact("web@example.com")
    world.sync()
    date = world.local()
    update = event(
        "Update", "web@example.com", date, "Active", [("website", "https://new.example")]
    )

    post(client, world.list_a, update)
    run_events()

    assert record(world, contact, "Website__c")["Website__c"] == "https://new.example"


def test_an_address_change_is_stored_under_the_new_address(world, client, known):
    contact, _ = known
    other = world.contact("b@example.com")
    change = event("Update", "b@example.com", world.local(1), "Unsubscribed", old="a@example.com")

    post(client, world.list_a, change)
    run_events()

    states = dict(SubscriberState.objects.values_list("email_lc", "state"))
    assert states == {"a@example.com": "active", "b@example.com": "unsubscribed"}
    assert world.opted_out(other) is True
    assert world.opted_out(contact) is False  # the old address keeps its stored state


def test_an_unreadable_event_is_a_message_and_the_others_are_applied(world, client, known):
    contact, _ = known
    post(
        client,
        world.list_a,
        event("Update", "odd@example.com", world.local(1), "Sleeping"),
        event("Deactivate", "a@example.com", world.local(1), "Unsubscribed"),
    )

    run = run_events()

    assert world.opted_out(contact) is True
    (message,) = Message.objects.filter(code="CM_WEBHOOK_BAD_EVENT")
    assert message.run == run and "odd@example.com" in message.summary
    assert message.upstream_message == "Unknown subscriber state “Sleeping”."
    assert run.status == SyncRun.Status.PARTIAL


def test_events_of_a_list_disconnected_after_they_arrived_are_not_acted_on(world, client, known):
    contact, _ = known
    post(client, world.list_a, event("Deactivate", "a@example.com", world.local(1), "Unsubscribed"))
    set_prevent_member_sync(world.list_a, True)

    run_events()

    assert world.opted_out(contact) is False
    assert "Prevent member sync" in CampaignMonitorEvent.objects.get().outcome


# -- loop safety ----------------------------------------------------------------------------


def test_cmsyncs_own_unsubscribe_coming_back_as_an_event_writes_nothing(world, client, known):
    """Salesforce opt-out → cmsync unsubscribes in Campaign Monitor → its Deactivate event
    comes back: the Contact is already opted out, nothing is written, nothing reacts."""
    contact, lead = known
    change_poll.poll()  # the baseline
    world.gateway.update("Contact", [{"Id": contact, "HasOptedOutOfEmail": True}])
    world.gateway.update("Lead", [{"Id": lead, "HasOptedOutOfEmail": True}])
    change_poll.poll()
    reaction = SyncRun.objects.get(kind=SyncRun.Kind.CHANGES, active=True)
    runner.execute(reaction.pk)
    assert cm_state(world, world.list_a, "a@example.com") == "Unsubscribed"
    world.sf.reset_request_counts()

    post(client, world.list_a, event("Deactivate", "a@example.com", world.local(1), "Unsubscribed"))
    run = run_events()

    assert sf_updates(world) == 0
    assert run.counts["opt_out"]["unchanged"] == 2
    # Nothing new in Salesforce to react to: the poll may read the reaction's own second
    # again (stamps are whole seconds), but no change acts and nothing is sent to CM.
    world.cm.reset_request_counts()
    change_poll.poll()
    for pending in SyncRun.objects.filter(kind=SyncRun.Kind.CHANGES, active=True):
        runner.execute(pending.pk)
    calls = world.cm.request_counts()
    assert not any("unsubscribe" in route or route.startswith("DELETE") for route in calls)


def test_cmsyncs_own_salesforce_write_does_not_bounce_back_to_campaign_monitor(
    world, client, known
):
    """Unsubscribe event → cmsync ticks Email Opt Out → the poll sees that change: it is
    cmsync's own, so no unsubscribe call goes back to Campaign Monitor."""
    contact, _ = known
    change_poll.poll()  # the baseline
    post(client, world.list_a, event("Deactivate", "a@example.com", world.local(1), "Unsubscribed"))
    run_events()
    assert world.opted_out(contact) is True
    world.cm.reset_request_counts()

    change_poll.poll()
    reaction = SyncRun.objects.filter(kind=SyncRun.Kind.CHANGES, active=True).first()
    if reaction is not None:
        runner.execute(reaction.pk)

    calls = world.cm.request_counts()
    assert not any("unsubscribe" in route or route.startswith("DELETE") for route in calls)
    outcomes = set(SalesforceChange.objects.values_list("outcome", flat=True))
    assert outcomes <= {"cmsync's own write, no reaction", "no action needed"}


# -- keeping the webhooks in place ----------------------------------------------------------


def ours(world) -> list[dict]:
    return [h for h in world.cm.webhooks() if h["Url"].startswith(webhooks.prefix())]


def test_the_primary_sync_registers_one_webhook_per_connected_list(world):
    world.sync()
    world.sync()  # and does not add a second one

    hooks = ours(world)
    assert sorted(h["ListID"] for h in hooks) == sorted([world.list_a, world.list_b])
    for hook in hooks:
        assert hook["Url"] == webhooks.url()
        assert sorted(hook["Events"]) == ["Deactivate", "Subscribe", "Update"]
        assert (hook["Status"], hook["PayloadFormat"]) == ("Active", "Json")
    rows = ListWebhook.objects.all()
    assert {r.state for r in rows} == {ListWebhook.State.ACTIVE} and len(rows) == 2


def test_a_deleted_webhook_is_created_again_and_a_deactivated_one_activated(world):
    world.sync()
    api = Connection.current().api()
    hook_a, hook_b = (
        next(h for h in ours(world) if h["ListID"] == lid) for lid in (world.list_a, world.list_b)
    )
    api.delete_webhook(world.list_a, hook_a["WebhookID"])
    api.request("PUT", f"lists/{world.list_b}/webhooks/{hook_b['WebhookID']}/deactivate.json")

    world.sync()

    hooks = {h["ListID"]: h for h in ours(world)}
    assert (
        hooks[world.list_a]["Status"] == "Active"
        and hooks[world.list_a]["WebhookID"] != hook_a["WebhookID"]
    )
    assert hooks[world.list_b] == {**hook_b, "Status": "Active"}


def test_a_webhook_with_an_old_secret_is_replaced(world):
    world.sync()
    webhooks.WebhookWatch.objects.update(secret="a-new-secret")

    world.sync()

    assert {h["Url"] for h in ours(world)} == {webhooks.url()}
    assert len(ours(world)) == 2


def test_switching_the_setting_off_removes_the_webhooks_and_on_puts_them_back(world, alice_client):
    world.sync()
    form = {
        "frequency": "hourly",
        "hour": 2,
        "weekday": "mon",
        "days_to_keep": 365,
        "change_poll_minutes": 5,
        "import_tracking": "on",
        "track_sent": "on",
    }

    response = alice_client.post("/sync/", form, follow=True)  # cm_webhooks unticked

    assert ours(world) == []
    assert "Webhooks removed" in response.content.decode()
    assert {r.state for r in ListWebhook.objects.all()} == {ListWebhook.State.REMOVED}

    response = alice_client.post("/sync/", {**form, "cm_webhooks": "on"}, follow=True)

    assert len(ours(world)) == 2
    assert "Webhooks registered on 2 list(s)" in response.content.decode()


def test_the_setting_through_the_api_removes_the_webhooks_too(world, alice):
    from rest_framework.test import APIClient

    world.sync()
    api = APIClient()
    api.force_authenticate(alice)
    url = "/api/v1/settings/sync/"
    assert api.get(url).json()["cm_webhooks"] is True

    response = api.patch(
        url, {"cm_webhooks": False}, format="json", HTTP_IF_MATCH=api.get(url)["ETag"]
    )

    assert response.status_code == 200 and response.json()["cm_webhooks"] is False
    assert ours(world) == []


def test_prevent_member_sync_removes_the_lists_webhook(
    world, alice_client, django_capture_on_commit_callbacks
):
    world.sync()

    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post("/sync/lists/", {"prevent_member_sync": [world.list_b]})

    assert [h["ListID"] for h in ours(world)] == [world.list_a]
    row = ListWebhook.objects.get(list_id=world.list_b)
    assert row.state == ListWebhook.State.REMOVED and "Prevent member sync" in row.detail

    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post("/sync/lists/", {"prevent_member_sync": []})  # off again

    assert sorted(h["ListID"] for h in ours(world)) == sorted([world.list_a, world.list_b])


def test_disconnecting_removes_the_webhooks(world, alice_client):
    from campaign_monitor.connection import disconnect

    world.sync()
    disconnect()

    assert ours(world) == []
    assert not ListWebhook.objects.exists()


def test_a_refused_registration_is_a_message_and_the_sync_goes_on(world):
    world.cm.add_fault(status=500, count=20, path=f"/lists/{world.list_a}/webhooks.json")

    run = world.sync()

    assert run.status == SyncRun.Status.PARTIAL
    row = ListWebhook.objects.get(list_id=world.list_a)
    assert row.state == ListWebhook.State.FAILED
    assert ListWebhook.objects.get(list_id=world.list_b).state == ListWebhook.State.ACTIVE
    (message,) = Message.objects.filter(code="CM_WEBHOOK_FAILED")
    assert world.list_a in message.record["list_id"]
    world.cm.clear_faults()

    world.sync()  # the next primary sync tries again

    assert ListWebhook.objects.get(list_id=world.list_a).state == ListWebhook.State.ACTIVE


def test_an_address_campaign_monitor_cannot_post_to_registers_nothing(world, settings):
    settings.CMSYNC_URL = "http://console.internal:8000"  # plain HTTP, not this machine

    world.sync()

    assert ours(world) == []
    row = ListWebhook.objects.get(list_id=world.list_a)
    assert row.state == ListWebhook.State.REMOVED and "CMSYNC_URL" in row.detail


# -- the Sync tab ---------------------------------------------------------------------------


def test_the_sync_tab_shows_each_lists_webhook_and_the_last_event(
    world, client, carol_client, known
):
    post(client, world.list_a, event("Subscribe", "new@example.com", world.local(1)))

    page = carol_client.get("/sync/").content.decode()

    assert "Campaign Monitor changes" in page
    assert page.count("Registered") >= 2
    assert (
        "Last event received" in page and "never" not in page.split("Last event received")[1][:80]
    )
    assert "1 event" in page  # waiting


def test_the_sync_tab_panel_is_not_shown_without_the_right_to_see_runs(world, mallory_client):
    world.sync()
    page = mallory_client.get("/sync/")
    assert "Campaign Monitor changes" not in page.content.decode()


# -- the safety net -------------------------------------------------------------------------


def test_an_event_never_delivered_is_caught_by_the_next_primary_sync(world, known):
    contact, _ = known
    for hook in ours(world):
        Connection.current().api().delete_webhook(hook["ListID"], hook["WebhookID"])
    world.subscriber(world.list_a, "a@example.com", "Unsubscribed", minutes_later=1)

    world.sync()

    assert world.opted_out(contact) is True
    assert not CampaignMonitorEvent.objects.exists()


def test_a_failed_run_is_asked_for_again_by_the_dispatcher(world, client, known):
    post(client, world.list_a, event("Deactivate", "a@example.com", world.local(1), "Unsubscribed"))
    run = SyncRun.objects.get(kind=SyncRun.Kind.CM_EVENTS)
    SyncRun.objects.filter(pk=run.pk).update(
        status=SyncRun.Status.FAILED, active=None, finished_at=run.created_at
    )
    from datetime import timedelta

    again = cm_events.retry_due(run.created_at + timedelta(minutes=6))

    assert again is not None and again.pk != run.pk
    assert cm_events.retry_due() is None  # one at a time


def test_logs_never_show_the_secret(world, client, caplog):
    secret = webhooks.secret()
    with caplog.at_level(logging.WARNING):
        post(client, world.other_list, event("Subscribe", "x@example.com", world.local()))
    assert secret not in caplog.text


def test_an_unexpected_kind_of_value_is_reported_without_python_names():
    reason = cm_events._what_was_wrong(TypeError("unhashable type: 'list'"))
    assert reason == "One of the event's values is not of the kind Campaign Monitor sends."
    assert cm_events._what_was_wrong(ValueError("The event has no Date")) == (
        "The event has no Date."
    )
