"""User security: roles enforced on the server (role × action matrix), invitations, client
ownership, user overrides and Open Campaign Monitor."""

import re

import pytest
from auditlog.models import LogEntry
from django.core import mail

from campaign_monitor.connection import connect, disconnect
from maintenance.models import Message
from security.models import ClientOwnership, UserOverride
from security.roles import FULL, LIMITED, STANDARD, role_of

from .conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db

READ_PAGES = [
    "/sync/",
    "/general/",
    "/campaigns/",
    "/maintenance/",
    "/maintenance/messages/",
    "/maintenance/codes/SF_DUPLICATE/",
    "/sync/runs/",
    "/sync/lists/",
    "/security/",
]

# (action, method, url, data, roles allowed)
ACTIONS = [
    ("change sync settings", "post", "/sync/", {"frequency": "daily"}, {FULL}),
    ("change general options", "post", "/general/", {}, {FULL}),
    ("change campaign settings", "post", "/campaigns/", {}, {FULL}),
    ("Sync now", "post", "/sync/now/", {}, {FULL, STANDARD}),
    ("change list options", "post", "/sync/lists/", {}, {FULL}),
    ("connect Campaign Monitor", "get", "/campaign-monitor/connect/", {}, {FULL}),
    ("disconnect Campaign Monitor", "post", "/campaign-monitor/disconnect/", {}, {FULL}),
    ("Salesforce app settings", "get", "/salesforce/app/", {}, {FULL}),
    ("connect Salesforce", "get", "/salesforce/connect/", {}, {FULL}),
    ("set the sync user", "post", "/salesforce/sync-user/", {}, {FULL}),
    ("install the schema", "post", "/salesforce/schema/", {"action": "install"}, {FULL}),
    ("retry messages", "post", "/maintenance/messages/action/", {"action": "retry"},
     {FULL, STANDARD}),
    ("delete messages", "post", "/maintenance/messages/action/", {"action": "delete_all"}, {FULL}),
    ("reset stored data", "get", "/maintenance/reset/", {}, {FULL}),
    ("change alerts", "post", "/maintenance/alerts/", {"mode": "never"}, {FULL}),
    ("invite a user", "post", "/security/invite/", {"email": "n@example.com", "role": LIMITED},
     {FULL}),
    ("change a role", "post", "/security/users/{other}/role/", {}, {FULL}),
    ("set client ownership", "post", "/security/users/{other}/clients/", {}, {FULL}),
]  # fmt: skip


@pytest.fixture
def people(django_user_model):
    return {
        FULL: make_user(django_user_model, "full", FULL),
        STANDARD: make_user(django_user_model, "standard", STANDARD),
        LIMITED: make_user(django_user_model, "limited", LIMITED),
        "": make_user(django_user_model, "nobody"),
    }


@pytest.mark.parametrize("role", [FULL, STANDARD, LIMITED, ""])
@pytest.mark.parametrize("url", READ_PAGES)
def test_every_role_reads_and_no_role_reads_nothing(client, people, role, url):
    client.force_login(people[role])
    assert client.get(url).status_code == (403 if role == "" else 200)


@pytest.mark.parametrize("role", [FULL, STANDARD, LIMITED, ""])
@pytest.mark.parametrize("name, method, url, data, allowed", ACTIONS, ids=[a[0] for a in ACTIONS])
def test_role_action_matrix(client, people, role, name, method, url, data, allowed):
    client.force_login(people[role])
    other = people[LIMITED if role != LIMITED else STANDARD]
    response = getattr(client, method)(url.format(other=other.pk), data)
    if role in allowed:
        assert response.status_code != 403, f"{role or 'no role'} may {name}"
    else:
        assert response.status_code == 403, f"{role or 'no role'} may not {name}"


def test_a_limited_user_sees_read_only_pages(client, people):
    client.force_login(people[LIMITED])
    assert "Changing them needs the Full access role" in client.get("/general/").text
    assert "Changing them needs the Full access role" in client.get("/security/").text
    assert 'action="/sync/now/"' not in client.get("/sync/").text


def test_invitation_emails_a_link_that_sets_the_password(alice_client, client):
    response = alice_client.post(
        "/security/invite/", {"email": "New.Person@Example.com", "role": STANDARD}, follow=True
    )
    assert "Invitation sent to new.person@example.com" in response.text
    (email,) = mail.outbox
    assert email.to == ["new.person@example.com"]
    link = re.search(r"http://127\.0\.0\.1:8000(/accounts/reset/\S+)", email.body).group(1)

    form = client.get(link, follow=True)
    assert "Choose your password" in form.text
    new_password = "a long new password 42"
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": new_password, "new_password2": new_password},
        follow=True,
    )
    assert "Password set" in done.text
    assert client.get("/sync/").status_code == 200  # logged in, with the Standard role
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(email="new.person@example.com")
    assert role_of(user) == STANDARD
    assert client.get(link).status_code in (200, 302)
    assert "has been used or has expired" in client.get(link, follow=True).text


def test_an_invitation_to_an_existing_email_is_refused(alice_client, alice):
    page = alice_client.post(
        "/security/invite/", {"email": alice.email, "role": FULL}, follow=True
    ).text
    assert "There is already a user with this email address." in page
    assert mail.outbox == []


def test_changing_a_role_is_audited_and_ones_own_role_is_refused(alice_client, alice, bob):
    alice_client.post(f"/security/users/{bob.pk}/role/", {f"u{bob.pk}-role": LIMITED})
    assert role_of(bob) == LIMITED
    entry = LogEntry.objects.filter(additional_data__area="security").latest("timestamp")
    assert entry.additional_data["action"] == f"bob: role {STANDARD} → {LIMITED}"
    assert entry.actor == alice

    page = alice_client.post(
        f"/security/users/{alice.pk}/role/", {f"u{alice.pk}-role": ""}, follow=True
    ).text
    assert "You cannot change your own role" in page
    assert role_of(alice) == FULL


@pytest.fixture
def agency(cm_emulator, cm_agency):
    connect(base_url=cm_emulator.base_url, api_key=cm_agency["api_key"], client_ids="all")
    return sorted(cm_agency["clients"], key=lambda c: c["Name"])


def test_client_ownership_limits_what_a_user_sees(alice_client, alice, bob, client, agency):
    first, second, _ = agency
    alice_client.post(
        f"/security/users/{bob.pk}/clients/", {f"c{bob.pk}-clients": [second["ClientID"]]}
    )
    assert list(ClientOwnership.objects.values_list("client_id", flat=True)) == [second["ClientID"]]
    Message.objects.create(code="SF_DUPLICATE", summary="first's", client_id=first["ClientID"])
    Message.objects.create(code="SF_DUPLICATE", summary="second's", client_id=second["ClientID"])

    client.force_login(bob)
    page = client.get("/sync/").text
    assert f'<span class="client-name">{second["Name"]}</span>' in page  # one client: no switcher
    assert first["Name"] not in page
    client.post("/campaign-monitor/switch-client/", {"client": first["ClientID"]})
    assert first["Name"] not in client.get("/sync/").text
    messages = client.get("/maintenance/messages/").text
    assert "second&#x27;s" in messages and "first&#x27;s" not in messages

    client.force_login(alice)
    alice_page = client.get("/sync/").text  # no ownership rows: every client
    assert 'id="client-switcher"' in alice_page


def test_open_campaign_monitor_signs_in_as_the_linked_person(
    alice_client, alice, cm_emulator, agency
):
    client_id = agency[0]["ClientID"]
    people = cm_emulator_people(cm_emulator, agency[0])
    alice_client.post(f"/security/users/{alice.pk}/override/", {f"o{alice.pk}-person": people[-1]})
    assert UserOverride.objects.get(user=alice).person_email == people[-1]

    cm_emulator.reset_request_counts()
    response = alice_client.post("/campaign-monitor/open/")
    assert response.status_code == 302
    assert response.url.startswith(f"{cm_emulator.root_url}/_emulator/session/")
    assert cm_emulator.request_counts()["PUT /externalsession.json"] == 1
    landing = __import__("requests").get(response.url, timeout=10).text
    assert people[-1] in landing and client_id in landing


def test_open_campaign_monitor_without_an_override_uses_the_connected_person(
    alice_client, cm_emulator, agency
):
    response = alice_client.post("/campaign-monitor/open/")
    assert response.url.startswith(f"{cm_emulator.root_url}/_emulator/session/")


def cm_emulator_people(emulator, client) -> list[str]:
    from campaign_monitor.models import Connection

    return [p.email for p in Connection.current().api().people(client["ClientID"])]


def test_disconnecting_resets_overrides_and_client_ownership(alice, bob, agency):
    ClientOwnership.objects.create(user=bob, client_id=agency[0]["ClientID"])
    UserOverride.objects.create(user=alice, client_id=agency[0]["ClientID"], person_email="p@x.io")
    disconnect(user=alice)
    assert not ClientOwnership.objects.exists()
    assert not UserOverride.objects.exists()


def test_roles_survive_a_password_login(client, bob):
    assert client.post("/accounts/login/", {"username": "bob", "password": PASSWORD}).url == (
        "/sync/"
    )
    assert client.post("/sync/now/").status_code != 403


def answer_at(page: str, anchor: str) -> str:
    """The text of the answer shown at ``anchor`` (templates/_answer.html)."""
    match = re.search(rf'id="{anchor}-answer"[^>]*>(.*?)</div>', page, re.S)
    return re.sub(r"<[^>]+>", " ", match.group(1)) if match else ""


def test_answers_open_next_to_the_person_or_form_they_concern(alice_client, alice, bob):
    response = alice_client.post(f"/security/users/{bob.pk}/role/", {f"u{bob.pk}-role": LIMITED})
    assert response.url == f"/security/#user-{bob.pk}"
    page = alice_client.get(response.url).text
    assert f'id="user-{bob.pk}"' in page
    assert "bob now has: Limited." in answer_at(page, f"user-{bob.pk}")

    response = alice_client.post("/security/invite/", {"email": "bob@example.com", "role": FULL})
    assert response.url == "/security/#invite"
    assert "Not invited: There is already a user" in answer_at(
        alice_client.get(response.url).text, "invite"
    )

    response = alice_client.post("/security/keys/", {"name": "", "access": "read"})
    assert response.url == "/security/#new-key"
    assert "No key created" in answer_at(alice_client.get(response.url).text, "new-key")


def test_a_confirmation_goes_back_to_the_person_it_concerns(alice_client, bob):
    page = alice_client.get(f"/security/users/{bob.pk}/deactivate/").text
    assert f'href="/security/#user-{bob.pk}">' in page
    assert bob.__class__.objects.get(pk=bob.pk).is_active  # asking changes nothing
    response = alice_client.post(f"/security/users/{bob.pk}/deactivate/")
    assert response.url == f"/security/#user-{bob.pk}"
    assert "bob is deactivated" in answer_at(alice_client.get(response.url).text, f"user-{bob.pk}")
