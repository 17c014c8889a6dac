import pytest
from auditlog.models import LogEntry

from security.roles import FULL
from settings_app.models import SyncSettings

from .conftest import make_user
from .forms import campaigns_post, general_post, shown_values, sync_post

pytestmark = pytest.mark.django_db


def updates():
    return LogEntry.objects.filter(action=LogEntry.Action.UPDATE).order_by("-timestamp", "-id")


def test_a_change_records_who_when_which_field_old_and_new_value_and_ip(alice_client, alice):
    SyncSettings.get_solo()
    alice_client.post(
        "/sync/", sync_post(days_to_keep="90", confirmed="1"), REMOTE_ADDR="203.0.113.7"
    )

    entry = updates().get()
    assert entry.actor == alice
    assert entry.remote_addr == "203.0.113.7"
    assert entry.changes_dict == {"days_to_keep": ["365", "90"]}
    assert entry.additional_data == {"area": "sync"}


def test_forwarded_for_header_is_not_trusted_without_a_proxy(alice_client):
    SyncSettings.get_solo()
    alice_client.post(
        "/sync/",
        sync_post(days_to_keep="90", confirmed="1"),
        REMOTE_ADDR="203.0.113.7",
        HTTP_X_FORWARDED_FOR="10.9.9.9",
    )
    assert updates().get().remote_addr == "203.0.113.7"


def test_forwarded_for_header_is_used_behind_a_proxy(alice_client, settings):
    settings.AUDITLOG_TRUST_FORWARDED_FOR = True
    SyncSettings.get_solo()
    alice_client.post(
        "/sync/",
        sync_post(days_to_keep="90", confirmed="1"),
        HTTP_X_FORWARDED_FOR="198.51.100.2, 10.0.0.1",
    )
    assert updates().get().remote_addr == "198.51.100.2"


def test_saving_without_changes_records_nothing(alice_client):
    SyncSettings.get_solo()
    alice_client.post("/sync/", sync_post())
    assert not updates().exists()


def test_refused_input_records_nothing(alice_client):
    SyncSettings.get_solo()
    alice_client.post("/sync/", sync_post(days_to_keep="0"))
    assert not updates().exists()


def test_maintenance_page_shows_changes_newest_first_with_user_and_values(alice_client):
    alice_client.post(
        "/sync/", sync_post(days_to_keep="90", confirmed="1"), REMOTE_ADDR="203.0.113.7"
    )
    alice_client.post("/general/", general_post(show_tabs=False))
    alice_client.post("/campaigns/", campaigns_post(mapping={"opened": ("Registered", True)}))

    page = alice_client.get("/maintenance/").text
    log = page[page.index("<h2>Audit log</h2>") :]
    assert log.index("Registered") < log.index("Show tabs") < log.index("Days to keep")
    assert "203.0.113.7" in page
    assert "<del>365</del> → <ins>90</ins>" in page
    assert "<del>True</del> → <ins>False</ins>" in page
    assert "<del>Opened</del> → <ins>Registered</ins>" in page
    assert "alice" in page


def test_audit_log_filters_by_area(alice_client):
    alice_client.post("/sync/", sync_post(days_to_keep="90", confirmed="1"))
    alice_client.post("/general/", general_post(show_tabs=False))

    page = alice_client.get("/maintenance/?area=general").text
    assert "Show tabs" in page
    assert "Days to keep" not in page
    assert shown_values(page)["area"] == ["general"]


def test_audit_log_filters_by_user(client, alice, django_user_model):
    dave = make_user(django_user_model, "dave", FULL)
    client.force_login(alice)
    client.post("/sync/", sync_post(days_to_keep="90", confirmed="1"))
    client.force_login(dave)
    client.post("/general/", general_post(show_tabs=False))

    page = client.get(f"/maintenance/?user={alice.pk}").text
    log = page[page.index("<h2>Audit log</h2>") :]
    assert "Days to keep" in log
    assert "Show tabs" not in log


def test_audit_log_is_paginated(alice_client):
    for days in range(1, 28):
        alice_client.post("/sync/", sync_post(days_to_keep=str(days), confirmed="1"))
    first = alice_client.get("/maintenance/?area=sync").text
    assert "Page 1 of 2" in first
    assert "<ins>27</ins>" in first
    second = alice_client.get("/maintenance/?area=sync&page=2").text
    assert "<ins>1</ins>" in second and "<ins>27</ins>" not in second


def test_a_changed_sync_user_is_named_in_the_audit_log_even_once_deleted(
    alice_client, alice, bob, carol
):
    """The Maintenance tab reads the people a page of changes names in one query; the names
    are those auditlog gives (a deleted person: "Deleted 'User' (id)")."""
    from salesforce.models import SalesforceSettings

    row = SalesforceSettings.get_solo()
    for person in (bob, carol, alice):
        row.sync_user = person
        row.save()
    carol_id = carol.pk
    carol.delete()

    page = alice_client.get("/maintenance/").text

    assert "<del>None</del> → <ins>bob</ins>" in page
    assert "<del>bob</del> → <ins>Deleted &#x27;User&#x27; (" + str(carol_id) + ")</ins>" in page
    assert f"<del>Deleted &#x27;User&#x27; ({carol_id})</del> → <ins>alice</ins>" in page


def test_a_change_of_alert_recipients_says_who_was_added_and_removed(alice_client, alice):
    """A many-to-many change is stored as an operation, not an old and a new value: the page
    and the CSV say "added alice", not the stored record's keys."""
    alice_client.post("/maintenance/alerts/", {"mode": "always", "recipients": [alice.pk]})
    alice_client.post("/maintenance/alerts/", {"mode": "never"})

    page = alice_client.get("/maintenance/").text
    log = page[page.index("<h2>Audit log</h2>") :]
    assert "Recipients</span>: added alice" in log
    assert "Recipients</span>: removed alice" in log
    assert "type" not in log.split("Recipients", 1)[1][:40]
    export = b"".join(alice_client.get("/maintenance/audit/export/").streaming_content).decode()
    assert "Recipients: added alice" in export
    assert "Recipients: removed alice" in export
