"""The Maintenance tab: messages (filters, details, help, delete, retry), reset stored data,
alerts, the health summary and audit entries for actions."""

import pytest
from auditlog.models import LogEntry
from django.core import mail

from maintenance.codes import CODES
from maintenance.models import AlertSettings, Message
from sync.models import Cursor, SubscriberState, SyncRun

pytestmark = pytest.mark.django_db


def message(code="SF_VALIDATION_RULE", **values) -> Message:
    defaults = {"summary": f"{code} happened", "upstream_message": "Salesforce said no"}
    return Message.objects.create(code=code, **{**defaults, **values})


def test_messages_are_filtered_by_code_severity_client_and_run(alice_client, world):
    run = world.sync()
    message("SF_DUPLICATE", summary="dup one", client_id=world.client["ClientID"], run=run)
    message("SF_VALIDATION_RULE", summary="rule one", severity="warning")
    page = alice_client.get("/maintenance/messages/?code=SF_DUPLICATE").text
    assert "dup one" in page and "rule one" not in page
    page = alice_client.get("/maintenance/messages/?severity=warning").text
    assert "rule one" in page and "dup one" not in page
    page = alice_client.get(f"/maintenance/messages/?client={world.client['ClientID']}").text
    assert "dup one" in page and "rule one" not in page
    page = alice_client.get(f"/maintenance/messages/?run={run.pk}").text
    assert "dup one" in page and "rule one" not in page


def test_the_client_filter_offers_each_client_once_however_many_messages_it_has(alice_client):
    for n in range(3):
        message(summary=f"message {n}", client_id="client-a")
    message(summary="other", client_id="client-b")
    page = alice_client.get("/maintenance/messages/").text
    assert page.count('<option value="client-a">') == 1
    assert page.count('<option value="client-b">') == 1


def test_a_message_shows_its_record_upstream_text_and_run(alice_client):
    run = SyncRun.objects.create(trigger="manual", status="partial", active=None)
    record = {"sobject": "Contact", "operation": "update", "fields": {"Id": "003X", "A": 1}}
    message(record=record, run=run, step="opt_out")
    page = alice_client.get("/maintenance/messages/").text
    assert "Salesforce said no" in page
    assert f'href="/sync/runs/{run.pk}/"' in page
    # The record as a small table of fields and values, the step by its plain name.
    assert '<th scope="row">fields · Id</th><td>003X</td>' in page
    assert '<th scope="row">operation</th><td>update</td>' in page
    assert "&#x27;Id&#x27;" not in page  # no Python repr of the record
    assert "step: Email opt-out" in page and "opt_out" not in page
    assert 'href="/maintenance/codes/SF_VALIDATION_RULE/"' in page


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_code_has_a_help_page(alice_client, code):
    page = alice_client.get(f"/maintenance/codes/{code}/").text
    assert CODES[code].cause in page.replace("&#x27;", "'")
    assert CODES[code].fix in page.replace("&#x27;", "'")


def test_an_unknown_code_is_not_found(alice_client):
    assert alice_client.get("/maintenance/codes/NOPE/").status_code == 404


def test_delete_selected_and_delete_all(alice_client):
    one, two, three = message(), message(), message()
    response = alice_client.post(
        "/maintenance/messages/action/", {"action": "delete", "message": [one.pk]}, follow=True
    )
    assert "Delete 1 message?" in response.text  # asked on a page of its own
    assert Message.objects.count() == 3
    response = alice_client.post(
        "/maintenance/messages/delete/", {"message": [one.pk]}, follow=True
    )
    assert "Deleted 1 message." in response.text
    assert set(Message.objects.values_list("pk", flat=True)) == {two.pk, three.pk}
    alice_client.post("/maintenance/messages/delete/", {"all": "1"})
    assert not Message.objects.exists()


def test_delete_all_asks_first_and_changes_nothing_until_yes(alice_client):
    message(), message()
    response = alice_client.post(
        "/maintenance/messages/action/", {"action": "delete_all"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/maintenance/messages/delete/?all=1"
    assert "Delete all 2 messages you can see?" in response.text
    assert "Yes, delete all 2 messages" in response.text
    assert 'name="all" value="1"' in response.text
    assert Message.objects.count() == 2
    response = alice_client.post("/maintenance/messages/delete/", {"all": "1"}, follow=True)
    assert response.redirect_chain[-1][0] == "/maintenance/messages/#messages-form"
    assert 'id="messages-form-answer"' in response.text
    assert "Deleted 2 messages." in response.text
    assert not Message.objects.exists()


def test_delete_with_nothing_chosen_says_so_and_asks_nothing(alice_client):
    message()
    response = alice_client.get("/maintenance/messages/delete/", follow=True)
    assert "Choose the messages to delete first." in response.text
    assert Message.objects.count() == 1


def test_only_full_access_is_asked_to_delete_messages(client, bob, carol):
    kept = message()
    for user in (bob, carol):
        client.force_login(user)
        assert client.get("/maintenance/messages/delete/?all=1").status_code == 403
        assert client.post("/maintenance/messages/delete/", {"all": "1"}).status_code == 403
    assert Message.objects.filter(pk=kept.pk).exists()


def test_standard_users_may_retry_but_not_delete_and_limited_users_neither(
    bob_client, carol, mallory
):
    kept = message()
    assert (
        bob_client.post("/maintenance/messages/action/", {"action": "delete_all"}).status_code
        == 403
    )
    assert (
        bob_client.post(
            "/maintenance/messages/action/", {"action": "retry", "message": [kept.pk]}
        ).status_code
        == 302
    )
    bob_client.force_login(carol)
    assert bob_client.get("/maintenance/messages/").status_code == 200
    assert (
        bob_client.post(
            "/maintenance/messages/action/", {"action": "retry", "message": [kept.pk]}
        ).status_code
        == 403
    )
    bob_client.force_login(mallory)
    assert bob_client.get("/maintenance/messages/").status_code == 403
    assert Message.objects.filter(pk=kept.pk).exists()


def test_retry_writes_just_those_records_again_at_the_next_run(alice_client, world):
    world.subscriber(world.list_a, "held@example.com", "Unsubscribed")
    (held,) = world.gateway.create(
        "Contact", [{"LastName": "H", "Email": "held@example.com", "Description": "BLOCK"}]
    )
    world.sf.add_validation_rule(
        object="Contact", field="Description", equals="BLOCK", message="On hold"
    )
    first = world.sync()
    (failed,) = Message.objects.filter(run=first)
    assert failed.retryable
    world.sf.clear_validation_rules()  # the admin fixed the cause in Salesforce

    response = alice_client.post(
        "/maintenance/messages/action/", {"action": "retry", "message": [failed.pk]}, follow=True
    )
    assert "1 record is queued" in response.text
    retry_run = SyncRun.objects.get(active=True)
    from sync import runner

    done = runner.execute(retry_run.pk)
    assert done.status == SyncRun.Status.SUCCEEDED
    assert done.counts["retry"]["written"] == 1
    assert not Message.objects.filter(pk=failed.pk).exists()
    assert world.opted_out(held.id) is True


def test_a_message_without_a_record_to_write_is_not_retried(alice_client):
    bad = message("CM_BAD_RECORD", record={"EmailAddress": "x@example.com"})
    page = alice_client.post(
        "/maintenance/messages/action/", {"action": "retry", "message": [bad.pk]}, follow=True
    ).text
    assert "None of the chosen messages has a record that can be retried" in page
    assert not SyncRun.objects.exists()


def test_reset_lists_what_it_clears_and_needs_a_confirmation(alice_client, world):
    world.subscriber(world.list_a, "r@example.com", "Active")
    world.contact("r@example.com")
    world.sync()
    message()
    page = alice_client.get("/maintenance/reset/").text
    assert "stored subscriber states" in page and "read positions (cursors)" in page
    assert "Nothing in Campaign Monitor is changed" in page

    refused = alice_client.post("/maintenance/reset/", {})
    assert "Tick the box to confirm the reset." in refused.text
    assert SubscriberState.objects.exists()

    alice_client.post("/maintenance/reset/", {"confirm": "on"})
    assert not SubscriberState.objects.exists()
    assert not Cursor.objects.exists()
    assert not Message.objects.exists()
    entry = LogEntry.objects.filter(additional_data__area="maintenance").latest("timestamp")
    assert entry.additional_data["action"].startswith("Reset stored data")
    assert entry.actor.username == "alice"

    again = world.sync()  # a full read: the one subscriber is read and stored again
    assert again.counts["subscribers"]["written"] == 1


def test_reset_deletes_salesforce_tracking_records_only_when_asked(alice_client, world):
    world.contact("t@example.com")
    campaign = world.campaign("Reset", ["t@example.com"])
    world.event(campaign, "open", "t@example.com")
    world.sync()
    assert len(world.tracking()) == 2
    alice_client.post("/maintenance/reset/", {"confirm": "on"})
    assert len(world.tracking()) == 2
    alice_client.post("/maintenance/reset/", {"confirm": "on", "delete_tracking": "on"})
    assert world.tracking() == []


def test_reset_is_refused_while_a_sync_runs(alice_client, world):
    SyncRun.objects.create(trigger="manual")
    page = alice_client.post("/maintenance/reset/", {"confirm": "on"}, follow=True).text
    assert "A sync is queued or running" in page


def test_reset_needs_full_access(bob_client):
    assert bob_client.get("/maintenance/reset/").status_code == 403
    assert bob_client.post("/maintenance/reset/", {"confirm": "on"}).status_code == 403


def alerts(mode: str, *users) -> None:
    settings = AlertSettings.get_solo()
    settings.mode = mode
    settings.save()
    settings.recipients.set(users)


def test_alerts_only_on_error_email_a_failed_run(alice, world):
    from campaign_monitor.models import Connection

    alerts("on_error", alice)
    world.sync()
    assert mail.outbox == []
    Connection.objects.update(api_key="revoked")
    failed = world.sync()
    (sent,) = mail.outbox
    assert sent.to == ["alice@example.com"]
    assert sent.subject == f"cmsync: sync run {failed.pk} failed"
    assert "refused cmsync's credentials" in sent.body


def test_alerts_always_and_never(alice, world):
    alerts("always", alice)
    world.sync()
    assert len(mail.outbox) == 1
    alerts("never", alice)
    world.sync()
    assert len(mail.outbox) == 1


def test_alert_settings_need_a_recipient(alice_client):
    page = alice_client.post("/maintenance/alerts/", {"mode": "always"}, follow=True).text
    assert "Choose at least one person to email" in page
    alice_client.post("/maintenance/alerts/", {"mode": "never"})
    assert AlertSettings.get_solo().mode == "never"


def test_alert_recipients_are_offered_by_name_and_address_people_without_one_are_not(
    alice_client, bob, django_user_model
):
    django_user_model.objects.create_user(username="noemail")
    page = alice_client.get("/maintenance/").text
    assert "alice (alice@example.com)" in page
    assert "bob (bob@example.com)" in page
    assert "noemail" not in page


def test_health_summary(alice_client, world):
    world.sync()
    from campaign_monitor.models import Connection

    Connection.objects.update(api_key="revoked")
    world.sync()
    message("SF_DUPLICATE")
    page = alice_client.get("/maintenance/").text
    assert "1 of 2 runs" in page
    assert "used," in page and "remaining" in page
    assert "Duplicate record or value: <strong>1</strong>" in page


def test_sync_now_is_in_the_audit_log(alice_client, world):
    alice_client.post("/sync/now/")
    entry = LogEntry.objects.filter(additional_data__area="sync").latest("timestamp")
    assert entry.additional_data["action"].startswith("Sync now")
    assert "Sync now (run" in alice_client.get("/maintenance/?area=sync").text
