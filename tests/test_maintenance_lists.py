"""Lists that grow: messages and the audit log are paginated, searchable and exportable as
CSV (the current filter, every page, only what the user may see); runs history is paginated."""

import csv
import io
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.utils import timezone

from maintenance.models import Message
from security.models import ClientOwnership
from settings_app.models import SyncSettings
from sync.models import SyncRun

pytestmark = pytest.mark.django_db


def messages(count: int, code: str = "SF_DUPLICATE", **values) -> list[Message]:
    """``count`` messages, one a minute, the last the newest: summary "<code> n"."""
    start = timezone.now() - timedelta(hours=1)
    return [
        Message.objects.create(
            code=code, summary=f"{code} {n}", created_at=start + timedelta(minutes=n), **values
        )
        for n in range(1, count + 1)
    ]


def read_csv(response) -> list[list[str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def audit(actor=None, area: str = "sync", action: str = "", changes=None) -> LogEntry:
    """One audit entry, as django-auditlog records a settings change or an action."""
    data = {"area": area, **({"action": action} if action else {})}
    return LogEntry.objects.log_create(
        SyncSettings.get_solo(),
        force_log=True,
        action=LogEntry.Action.UPDATE,
        actor=actor,
        changes=changes if changes is not None else {},
        additional_data=data,
    )


# Messages


def test_message_page_two_has_the_older_ones_and_the_filter_is_kept(alice_client):
    messages(60)
    messages(3, code="SF_VALIDATION_RULE")
    first = alice_client.get("/maintenance/messages/?code=SF_DUPLICATE").text
    assert "Page 1 of 2" in first
    assert "SF_DUPLICATE 60<" in first and "SF_DUPLICATE 11<" in first
    assert "SF_DUPLICATE 10<" not in first
    assert 'href="?code=SF_DUPLICATE&amp;page=2"' in first
    second = alice_client.get("/maintenance/messages/?code=SF_DUPLICATE&page=2").text
    assert "Page 2 of 2" in second
    assert "SF_DUPLICATE 10<" in second and "SF_DUPLICATE 1<" in second
    assert "SF_DUPLICATE 11<" not in second and "SF_VALIDATION_RULE 1<" not in second
    assert 'href="?code=SF_DUPLICATE&amp;page=1"' in second


def test_messages_are_searched_by_email_record_id_and_code(alice_client):
    Message.objects.create(
        code="SF_DUPLICATE",
        summary="Contact not written",
        record={
            "sobject": "Contact",
            "operation": "create",
            "fields": {"Email": "Ann@Example.com"},
        },
    )
    Message.objects.create(
        code="SF_VALIDATION_RULE",
        summary="Lead not written",
        record={"sobject": "Lead", "operation": "update", "fields": {"Id": "00Q5g00000AbCdE"}},
    )
    Message.objects.create(code="CM_BAD_RECORD", summary="A subscriber Campaign Monitor sent")

    def found(search: str) -> set[str]:
        page = alice_client.get("/maintenance/messages/", {"q": search}).text
        return {s for s in ("Contact not", "Lead not", "A subscriber") if s in page}

    assert found("ann@example.com") == {"Contact not"}
    assert found("00Q5g00000AbCdE") == {"Lead not"}
    assert found("cm_bad_record") == {"A subscriber"}
    assert found("nobody@example.com") == set()
    page = alice_client.get("/maintenance/messages/", {"q": "nobody@example.com"}).text
    assert "No messages for this filter." in page


def test_search_is_kept_in_page_links(alice_client):
    messages(55, upstream_message="rejected for x@example.com")
    page = alice_client.get("/maintenance/messages/", {"q": "x@example.com"}).text
    assert "Page 1 of 2" in page
    assert 'href="?q=x%40example.com&amp;page=2"' in page


def test_messages_export_every_page_of_the_filter_as_csv(alice_client):
    run = SyncRun.objects.create(trigger="manual", status="partial", active=None)
    messages(60, run=run)
    messages(2, code="SF_VALIDATION_RULE")
    response = alice_client.get("/maintenance/messages/export/?code=SF_DUPLICATE")
    rows = read_csv(response)
    assert rows[0] == [
        "When",
        "Severity",
        "Code",
        "Summary",
        "Client",
        "Run",
        "Upstream message",
        "Can be retried",
        "Record",
    ]
    assert len(rows) == 61
    assert rows[1][2:4] == ["SF_DUPLICATE", "SF_DUPLICATE 60"]
    assert rows[-1][3] == "SF_DUPLICATE 1"
    assert {row[5] for row in rows[1:]} == {str(run.pk)}


def test_an_export_with_a_filter_that_is_not_valid_exports_nothing(alice_client):
    messages(3)
    response = alice_client.get("/maintenance/messages/export/?run=abc")
    assert response.status_code == 400
    assert "Run: Enter a whole number." in response.text


def test_export_guards_cells_a_spreadsheet_would_run_as_formulas(alice_client):
    Message.objects.create(
        code="CM_BAD_RECORD",
        summary='=HYPERLINK("http://evil.example","click")',
        upstream_message="-2+3",
        client_id="@client",
        record={"fields": {"Email": "+1@example.com"}},
    )
    (header, row) = read_csv(alice_client.get("/maintenance/messages/export/"))
    assert row[3] == '\'=HYPERLINK("http://evil.example","click")'
    assert row[4] == "'@client"
    assert row[6] == "'-2+3"
    assert row[8].startswith("{")  # JSON starts with a brace: left as it is


def test_messages_export_needs_the_view_permission(client, mallory, alice):
    messages(1)
    client.force_login(mallory)
    assert client.get("/maintenance/messages/export/").status_code == 403
    client.logout()
    response = client.get("/maintenance/messages/export/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_client_owner_sees_and_exports_only_their_clients_messages(carol_client, carol):
    ClientOwnership.objects.create(user=carol, client_id="client-a")
    Message.objects.create(code="SF_DUPLICATE", summary="of client a", client_id="client-a")
    Message.objects.create(code="SF_DUPLICATE", summary="of client b", client_id="client-b")
    Message.objects.create(code="SF_DUPLICATE", summary="of no client")
    page = carol_client.get("/maintenance/messages/?q=of").text
    assert "of client a" in page and "of client b" not in page and "of no client" not in page
    rows = read_csv(carol_client.get("/maintenance/messages/export/"))
    assert [row[3] for row in rows[1:]] == ["of client a"]
    # A filter naming another client's id finds nothing rather than leaking it.
    rows = read_csv(carol_client.get("/maintenance/messages/export/?q=client-b"))
    assert rows[1:] == []


# Audit log


def test_audit_page_two_keeps_search_and_area_in_its_links(alice_client, alice):
    for n in range(30):
        audit(alice, action=f"Sync now number {n}")
    audit(alice, area="billing", action="Sync now elsewhere")
    first = alice_client.get("/maintenance/?area=sync&q=sync+now").text
    assert "Page 1 of 2" in first
    assert "Sync now number 29" in first and "Sync now elsewhere" not in first
    assert 'href="?area=sync&amp;q=sync+now&amp;page=2#audit-log"' in first
    second = alice_client.get("/maintenance/?area=sync&q=sync+now&page=2").text
    assert "Sync now number 0<" in second and "Sync now number 29" not in second


def test_audit_log_is_searched_by_actor_and_by_field_or_change(
    alice_client, alice, bob, django_user_model
):
    audit(alice, changes={"days_to_keep": ["30", "90"]})
    audit(bob, action="Installed Salesforce components: EmailTracking__c")
    audit(None, action="Scheduled run started")

    def found(search: str) -> set[str]:
        page = alice_client.get("/maintenance/", {"q": search}).text
        shown = {"days": "<ins>90</ins>", "install": "Installed Salesforce", "sched": "Scheduled"}
        return {name for name, text in shown.items() if text in page}

    assert found("bob") == {"install"}
    assert found("alice@example.com") == {"days"}
    assert found("days to keep") == {"days"}  # the field as the page names it
    assert found("days_to_keep") == {"days"}
    assert found("EmailTracking__c") == {"install"}
    assert found("no such thing") == set()


def test_audit_export_is_the_filtered_log_as_csv_with_formulas_guarded(alice_client, alice):
    audit(alice, changes={"days_to_keep": ["30", "90"]})
    audit(alice, area="billing", action="=cmd|'/C calc'!A0")
    rows = read_csv(alice_client.get("/maintenance/audit/export/"))
    assert rows[0] == ["When", "Who", "From", "Area", "Change"]
    changes = [row[4] for row in rows[1:]]
    assert "'=cmd|'/C calc'!A0" in changes
    assert any("Days to keep in Salesforce: 30 → 90" in text for text in changes)
    rows = read_csv(alice_client.get("/maintenance/audit/export/?area=billing"))
    assert [row[1:5] for row in rows[1:]] == [["alice", "", "Billing", "'=cmd|'/C calc'!A0"]]


def test_audit_export_needs_the_audit_permission(client, mallory, carol):
    client.force_login(mallory)
    assert client.get("/maintenance/audit/export/").status_code == 403
    client.force_login(carol)  # read-only users see the audit log, so may export it
    assert client.get("/maintenance/audit/export/").status_code == 200


# Runs history


def test_runs_history_page_two_has_the_older_runs_and_keeps_the_kind(alice_client):
    start = timezone.now() - timedelta(days=1)
    for n in range(30):
        SyncRun.objects.create(
            trigger="scheduled",
            status="succeeded",
            active=None,
            created_at=start + timedelta(minutes=n),
            started_at=start + timedelta(minutes=n),
        )
    newest = SyncRun.objects.first()
    oldest = SyncRun.objects.last()
    first = alice_client.get("/sync/runs/?kind=primary").text
    assert "Page 1 of 2" in first
    assert f'href="/sync/runs/{newest.pk}/"' in first
    assert f'href="/sync/runs/{oldest.pk}/"' not in first
    assert 'href="?kind=primary&amp;page=2"' in first
    second = alice_client.get("/sync/runs/?kind=primary&page=2").text
    assert f'href="/sync/runs/{oldest.pk}/"' in second
    assert f'href="/sync/runs/{newest.pk}/"' not in second
