"""Authorization (issue 14, item 5): Open Campaign Monitor follows the role matrix and the
user's own Campaign Monitor person, and users limited to clients see, retry and delete only
their clients' maintenance messages (client-less ones only for users who see every client)."""

import pytest
from rest_framework.test import APIClient

from campaign_monitor.connection import connect
from campaign_monitor.models import Connection
from maintenance.models import Message
from security.models import ClientOwnership, UserOverride
from sync.models import SyncRun

pytestmark = pytest.mark.django_db

OPEN = "/campaign-monitor/open/"
SESSIONS = "PUT /externalsession.json"
RECORD = {"sobject": "Contact", "operation": "update", "fields": {"Id": "003X"}}


# -- Open Campaign Monitor ----------------------------------------------------------------


@pytest.fixture
def agency(cm_emulator, cm_agency) -> list[dict]:
    connect(base_url=cm_emulator.base_url, api_key=cm_agency["api_key"], client_ids="all")
    return sorted(cm_agency["clients"], key=lambda c: c["Name"])


def people_of(client: dict) -> list:
    """The client's Campaign Monitor people, widest access first."""
    people = Connection.current().api().people(client["ClientID"])
    return sorted(people, key=lambda p: -p.access_level)


def sessions_opened(emulator) -> list[dict]:
    return emulator.request_bodies(SESSIONS)


@pytest.mark.parametrize("persona", ["bob", "carol"])
def test_standard_and_limited_users_without_a_person_cannot_open_campaign_monitor(
    client, request, persona, cm_emulator, agency
):
    client.force_login(request.getfixturevalue(persona))
    cm_emulator.reset_request_counts()

    asked = client.get(OPEN)
    opened = client.post(OPEN)

    assert asked.status_code == 403 and opened.status_code == 403
    assert "Ask a Full access user to link you" in opened.text
    assert sessions_opened(cm_emulator) == []


def test_a_limited_user_opens_campaign_monitor_only_as_their_own_person(
    carol_client, carol, alice, cm_emulator, agency
):
    widest, narrowest = people_of(agency[0])[0], people_of(agency[0])[-1]
    assert widest.access_level > narrowest.access_level
    UserOverride.objects.create(
        user=carol, client_id=agency[0]["ClientID"], person_email=narrowest.email
    )
    UserOverride.objects.create(
        user=alice, client_id=agency[0]["ClientID"], person_email=widest.email
    )
    cm_emulator.reset_request_counts()

    response = carol_client.post(OPEN)

    assert response.status_code == 302
    assert [s["Email"] for s in sessions_opened(cm_emulator)] == [narrowest.email]


def test_full_access_without_a_person_opens_as_the_connected_person(
    alice_client, cm_emulator, agency
):
    cm_emulator.reset_request_counts()
    assert alice_client.post(OPEN).status_code == 302
    assert [s["Email"] for s in sessions_opened(cm_emulator)] == [people_of(agency[0])[0].email]


def test_opening_campaign_monitor_respects_client_ownership(
    carol_client, carol, cm_emulator, agency
):
    """Carol is linked to a person of the first client but owns only the second: she cannot
    open the first, and has no person in the second."""
    first, second = agency[0]["ClientID"], agency[1]["ClientID"]
    UserOverride.objects.create(
        user=carol, client_id=first, person_email=people_of(agency[0])[-1].email
    )
    ClientOwnership.objects.create(user=carol, client_id=second)
    carol_client.post("/campaign-monitor/switch-client/", {"client": first})
    cm_emulator.reset_request_counts()

    assert carol_client.post(OPEN).status_code == 403
    assert sessions_opened(cm_emulator) == []


# -- Maintenance messages -----------------------------------------------------------------


@pytest.fixture
def messages() -> dict[str, Message]:
    """One retryable message of client "mine", one of client "theirs", one of no client."""
    run = SyncRun.objects.create(trigger="manual", status="partial", active=None)
    return {
        key: Message.objects.create(
            code="SF_VALIDATION_RULE",
            summary=f"{key} message",
            client_id=client_id,
            run=run,
            record=RECORD,
        )
        for key, client_id in [("mine", "mine"), ("theirs", "theirs"), ("nobody's", "")]
    }


def own(user, *client_ids: str) -> None:
    for client_id in client_ids:
        ClientOwnership.objects.create(user=user, client_id=client_id)


def listed(page: str) -> set[str]:
    return {key for key in ("mine", "theirs", "nobody&#x27;s") if f"{key} message" in page}


def test_users_limited_to_clients_see_only_their_clients_messages(bob_client, bob, alice, messages):
    own(bob, "mine")

    overview = bob_client.get("/maintenance/").text
    assert "<strong>1</strong>" in overview  # one SF_VALIDATION_RULE message, not three
    assert listed(bob_client.get("/maintenance/messages/").text) == {"mine"}

    bob_client.force_login(alice)  # no ownership: every client, and client-less messages
    assert listed(bob_client.get("/maintenance/messages/").text) == {
        "mine",
        "theirs",
        "nobody&#x27;s",
    }


def test_a_run_page_lists_only_the_messages_the_user_may_see(bob_client, bob, messages):
    own(bob, "mine")
    run_page = bob_client.get(f"/sync/runs/{messages['mine'].run_id}/").text
    assert listed(run_page) == {"mine"}


def test_a_runs_message_count_counts_only_the_messages_the_user_may_see(bob_client, bob, messages):
    own(bob, "mine")
    run = messages["mine"].run_id
    api = APIClient()
    api.force_login(bob)

    assert api.get(f"/api/v1/runs/{run}/").json()["messages"] == 1
    assert bob_client.get(f"/sync/runs/{run}/progress/").json()["messages"] == 1


def test_users_limited_to_clients_see_only_their_clients_messages_over_the_api(bob, messages):
    own(bob, "mine")
    api = APIClient()
    api.force_login(bob)

    results = api.get("/api/v1/messages/").json()["results"]

    assert [m["id"] for m in results] == [messages["mine"].pk]
    for hidden in (messages["theirs"], messages["nobody's"]):
        assert api.get(f"/api/v1/messages/{hidden.pk}/").status_code == 404


def test_users_limited_to_clients_cannot_retry_messages_they_cannot_see(bob_client, bob, messages):
    own(bob, "mine")
    hidden = [messages["theirs"].pk, messages["nobody's"].pk]

    page = bob_client.post(
        "/maintenance/messages/action/", {"action": "retry", "message": hidden}, follow=True
    ).text
    api = APIClient()
    api.force_login(bob)
    retried = api.post("/api/v1/messages/retry/", {"ids": hidden}, format="json")

    assert "None of the chosen messages" in page
    assert retried.status_code == 400
    assert not Message.objects.filter(retry_requested=True).exists()


def test_users_limited_to_clients_cannot_delete_messages_they_cannot_see(
    alice_client, alice, messages
):
    own(alice, "mine")  # Full access, but only for client "mine"
    theirs, nobodys = messages["theirs"].pk, messages["nobody's"].pk
    api = APIClient()
    api.force_login(alice)

    assert api.delete(f"/api/v1/messages/{theirs}/").status_code == 404
    assert api.delete(f"/api/v1/messages/{nobodys}/").status_code == 404
    api.post("/api/v1/messages/delete/", {"ids": [theirs, nobodys]}, format="json")
    alice_client.post("/maintenance/messages/delete/", {"message": [nobodys]})
    alice_client.post("/maintenance/messages/delete/", {"all": "1"})

    assert set(Message.objects.values_list("pk", flat=True)) == {theirs, nobodys}
