"""Per-list options: the Sync tab's subscriber list page and /api/v1/lists/. "Prevent member
sync" keeps a list's memberships out of Salesforce (the sync side: test_sync_memberships.py).
"""

import pytest
from auditlog.models import LogEntry
from rest_framework.test import APIClient

from campaign_monitor.connection import connect
from campaign_monitor.models import ListOptions
from security.models import ClientOwnership
from security.service import create_key

pytestmark = pytest.mark.django_db

HINT = 'Members won\'t sync whilst "Prevent Member Sync" is enabled.'


@pytest.fixture
def agency(cm_emulator, cm_agency) -> list[dict]:
    """Every client of the agency connected; clients sorted by name."""
    connect(base_url=cm_emulator.base_url, api_key=cm_agency["api_key"], client_ids="all")
    return sorted(cm_agency["clients"], key=lambda c: c["Name"])


def prevented() -> set[str]:
    return set(
        ListOptions.objects.filter(prevent_member_sync=True).values_list("list_id", flat=True)
    )


def api_for(access: str, alice) -> APIClient:
    _, secret = create_key(f"{access} key", access, alice)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return client


def test_the_sync_tab_links_to_the_lists_page_which_shows_every_list(carol_client, agency):
    assert 'href="/sync/lists/"' in carol_client.get("/sync/").text
    page = carol_client.get("/sync/lists/").text
    for client in agency:
        assert client["Name"] in page
        for mailing_list in client["lists"]:
            assert mailing_list["Name"] in page and mailing_list["ListID"] in page
            for section in ("import", "rules", "fields"):  # the list's own pages
                assert f'href="/lists/{mailing_list["ListID"]}/{section}/"' in page
    assert HINT in page


def test_a_limited_user_sees_the_switches_but_cannot_change_them(carol_client, agency):
    page = carol_client.get("/sync/lists/").text
    assert "Changing them needs the Full access role" in page
    assert '<fieldset class="card" disabled>' in page
    assert "Save list options" not in page
    list_id = agency[0]["lists"][0]["ListID"]
    response = carol_client.post("/sync/lists/", {"prevent_member_sync": [list_id]})
    assert response.status_code == 403
    assert prevented() == set()


def test_switching_prevent_member_sync_is_saved_and_audited(alice_client, alice, agency):
    mailing_list = agency[0]["lists"][0]
    page = alice_client.post(
        "/sync/lists/", {"prevent_member_sync": [mailing_list["ListID"]]}, follow=True
    ).text
    assert f"List options saved: {mailing_list['Name']}." in page
    assert prevented() == {mailing_list["ListID"]}
    assert "checked" in page.split(f'data-list="{mailing_list["ListID"]}"')[1].split("</tr>")[0]
    entry = LogEntry.objects.get_for_model(ListOptions).latest("timestamp")
    assert entry.actor == alice
    assert entry.additional_data == {"area": "sync"}
    assert entry.changes_dict["prevent_member_sync"][1] == "True"

    alice_client.post("/sync/lists/", {})  # every box unticked
    assert prevented() == set()
    entry = LogEntry.objects.get_for_model(ListOptions).latest("timestamp")
    assert entry.changes_dict["prevent_member_sync"] == ["True", "False"]

    page = alice_client.post("/sync/lists/", {}, follow=True).text
    assert "Nothing was changed." in page
    assert LogEntry.objects.get_for_model(ListOptions).count() == 2


def test_client_ownership_limits_the_lists_shown_and_changed(alice_client, alice, agency):
    mine, theirs = agency[0], agency[1]
    ClientOwnership.objects.create(user=alice, client_id=mine["ClientID"])
    ListOptions.objects.create(list_id=theirs["lists"][0]["ListID"], prevent_member_sync=True)

    page = alice_client.get("/sync/lists/").text
    assert mine["lists"][0]["Name"] in page and theirs["lists"][0]["Name"] not in page

    response = alice_client.post(
        "/sync/lists/", {"prevent_member_sync": [theirs["lists"][1]["ListID"]]}
    )
    assert response.status_code == 200
    assert "is not one of the available choices" in response.text
    alice_client.post("/sync/lists/", {})  # unticking what she sees leaves the others alone
    assert prevented() == {theirs["lists"][0]["ListID"]}


def test_the_api_lists_and_switches_with_the_role_of_the_key(alice, agency):
    reader, full = api_for("read", alice), api_for("full", alice)
    rows = reader.get("/api/v1/lists/").json()
    assert len(rows) == sum(len(c["lists"]) for c in agency)
    list_id = agency[0]["lists"][0]["ListID"]
    assert rows[0] == {
        "list_id": rows[0]["list_id"],
        "name": rows[0]["name"],
        "client_id": agency[0]["ClientID"],
        "client_name": agency[0]["Name"],
        "prevent_member_sync": False,
    }

    url = f"/api/v1/lists/{list_id}/"
    assert reader.patch(url, {"prevent_member_sync": True}, format="json").status_code == 403
    response = full.patch(url, {"prevent_member_sync": True}, format="json")
    assert response.status_code == 200
    assert response.json()["prevent_member_sync"] is True
    assert prevented() == {list_id}
    assert reader.get(url).json()["prevent_member_sync"] is True
    entry = LogEntry.objects.get_for_model(ListOptions).latest("timestamp")
    assert entry.actor.username == "api-key: full key"

    assert full.patch(url, {"prevent_member_sync": "maybe"}, format="json").status_code == 400
    assert full.patch(url, {}, format="json").json()["prevent_member_sync"] is True
    unknown = full.patch("/api/v1/lists/nope/", {"prevent_member_sync": True}, format="json")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["status"] == 404
