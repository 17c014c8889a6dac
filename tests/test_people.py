"""People and API keys on the User security tab (issue 17, item 3): deactivate and reactivate
a user, resend or revoke an invitation, and API keys' last use, expiry and revocation by an
opaque id, each asked on the confirmation page, audited, and refused (403) without Full access."""

import re
from datetime import timedelta

import pytest
import time_machine
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from security import service
from security.models import IntegrationKey
from security.roles import FULL, LIMITED, STANDARD, role_of

from .conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db

DEACTIVATED = "This account is deactivated. Ask a Full access user to reactivate it."


def last_action() -> LogEntry:
    return LogEntry.objects.filter(additional_data__area="security").latest("timestamp")


def log_in(username: str, password: str = PASSWORD) -> tuple[Client, str]:
    client = Client()
    response = client.post("/accounts/login/", {"username": username, "password": password})
    return client, response.text if response.status_code == 200 else ""


def api_for(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return client


# -- Deactivate and reactivate ----------------------------------------------------------------


def test_deactivating_asks_first_then_ends_the_sessions_and_refuses_the_login(
    alice_client, alice, bob
):
    bobs_browser, _ = log_in("bob")
    assert bobs_browser.get("/sync/").status_code == 200

    asked = alice_client.get(f"/security/users/{bob.pk}/deactivate/")
    assert "Deactivate bob?" in asked.text
    assert "logged out everywhere at once" in asked.text
    bob.refresh_from_db()
    assert bob.is_active  # asking changes nothing

    done = alice_client.post(f"/security/users/{bob.pk}/deactivate/", follow=True)
    assert "bob is deactivated: their sessions have ended" in done.text
    bob.refresh_from_db()
    assert not bob.is_active
    assert last_action().additional_data["action"] == "bob deactivated (1 session ended)"
    assert last_action().actor == alice

    refused = bobs_browser.get("/sync/")
    assert refused.status_code == 302 and refused.url.startswith("/accounts/login/")
    _, page = log_in("bob")
    assert DEACTIVATED in page
    assert "deactivated" in alice_client.get("/security/").text


def test_a_deactivated_user_with_a_wrong_password_is_told_only_that_it_did_not_match(bob):
    service.deactivate(bob)
    _, page = log_in("bob", "not the password")
    assert "didn't match" in page
    assert "deactivated" not in page


def test_reactivating_restores_the_login_with_the_same_password_and_role(alice_client, bob):
    service.deactivate(bob)
    asked = alice_client.get(f"/security/users/{bob.pk}/reactivate/")
    assert "Reactivate bob?" in asked.text and "with the role Standard" in asked.text

    done = alice_client.post(f"/security/users/{bob.pk}/reactivate/", follow=True)
    assert "bob is active again" in done.text
    assert last_action().additional_data["action"] == "bob reactivated"
    bobs_browser, _ = log_in("bob")
    assert bobs_browser.get("/sync/").status_code == 200
    bob.refresh_from_db()
    assert role_of(bob) == STANDARD


def test_reactivating_does_not_bring_back_a_session_from_before(alice_client, bob):
    bobs_browser, _ = log_in("bob")
    service.deactivate(bob)
    service.reactivate(bob)
    assert bobs_browser.get("/sync/").status_code == 302


def test_you_cannot_deactivate_yourself(alice_client, alice):
    page = alice_client.post(f"/security/users/{alice.pk}/deactivate/", follow=True).text
    assert "You cannot deactivate yourself" in page
    alice.refresh_from_db()
    assert alice.is_active
    assert f"/security/users/{alice.pk}/deactivate/" not in alice_client.get("/security/").text


def test_the_last_active_full_access_user_cannot_be_deactivated(alice, bob, django_user_model):
    assert "last active Full access user" in service.deactivation_refusal(alice, bob)
    make_user(django_user_model, "dave", FULL)
    assert service.deactivation_refusal(alice, bob) == ""


def test_an_api_keys_user_is_not_deactivated_as_a_person(alice_client, alice):
    key, _ = service.create_key("BI export", "read", alice)
    assert alice_client.post(f"/security/users/{key.user_id}/deactivate/").status_code == 404


def test_keys_a_deactivated_user_created_keep_working_and_say_so(alice_client, alice, bob):
    dave = make_user(get_user_model(), "dave", FULL)
    _, secret = service.create_key("BI export", "read", dave)
    asked = alice_client.get(f"/security/users/{dave.pk}/deactivate/").text
    assert "API keys they created keep working" in asked and "BI export" in asked

    alice_client.post(f"/security/users/{dave.pk}/deactivate/")
    assert api_for(secret).get("/api/v1/runs/").status_code == 200
    assert "by dave (deactivated)" in alice_client.get("/security/").text


# -- Invitations ------------------------------------------------------------------------------


def invitation_link(message) -> str:
    return re.search(r"http://127\.0\.0\.1:8000(/accounts/reset/\S+)", message.body).group(1)


@pytest.fixture
def invited(alice_client):
    alice_client.post("/security/invite/", {"email": "new@example.com", "role": LIMITED})
    return get_user_model().objects.get(email="new@example.com")


def test_a_pending_invitation_says_so_and_an_accepted_one_does_not(alice_client, invited, client):
    today = timezone.localdate()
    page = alice_client.get("/security/").text
    assert f"Invited {today.day} {today:%b %Y}, not accepted yet" in page
    assert "Resend invitation" in page

    link = invitation_link(mail.outbox[0])
    form = client.get(link, follow=True)
    new_password = "a long new password 42"
    client.post(
        form.redirect_chain[-1][0], {"new_password1": new_password, "new_password2": new_password}
    )
    assert "not accepted yet" not in alice_client.get("/security/").text


def test_resending_an_invitation_sends_a_new_link_and_the_old_one_stops_working(
    alice_client, invited, client
):
    old = invitation_link(mail.outbox[0])
    page = alice_client.post(f"/security/users/{invited.pk}/invitation/resend/", follow=True).text
    assert "Invitation sent again to new@example.com. The earlier link no longer works." in page
    assert len(mail.outbox) == 2 and mail.outbox[1].to == ["new@example.com"]
    new = invitation_link(mail.outbox[1])
    assert new != old
    assert last_action().additional_data["action"] == "Invitation to new@example.com sent again"

    assert "has been used or has expired" in client.get(old, follow=True).text
    assert "Choose your password" in client.get(new, follow=True).text


def test_revoking_an_invitation_asks_first_then_the_link_finds_nobody(
    alice_client, invited, client
):
    link = invitation_link(mail.outbox[0])
    asked = alice_client.get(f"/security/users/{invited.pk}/invitation/revoke/")
    assert "Revoke the invitation to new@example.com?" in asked.text
    assert get_user_model().objects.filter(pk=invited.pk).exists()

    done = alice_client.post(f"/security/users/{invited.pk}/invitation/revoke/", follow=True)
    assert "The invitation to new@example.com is revoked" in done.text
    assert not get_user_model().objects.filter(email="new@example.com").exists()
    entry = LogEntry.objects.get(additional_data__action="Invitation to new@example.com revoked")
    assert entry.actor is not None and entry.actor.username == "alice"
    assert "has been used or has expired" in client.get(link, follow=True).text
    again = alice_client.post(
        "/security/invite/", {"email": "new@example.com", "role": LIMITED}, follow=True
    )
    assert "Invitation sent to new@example.com" in again.text


def test_an_accepted_invitation_cannot_be_revoked_or_resent(alice_client, bob):
    page = alice_client.post(f"/security/users/{bob.pk}/invitation/revoke/", follow=True).text
    assert "bob has no pending invitation." in page
    alice_client.post(f"/security/users/{bob.pk}/invitation/resend/")
    assert get_user_model().objects.filter(pk=bob.pk).exists() and mail.outbox == []


# -- API keys ---------------------------------------------------------------------------------


def test_the_key_list_shows_who_created_it_and_when_and_never_the_hash(alice_client, alice):
    key, secret = service.create_key("BI export", "read", alice)
    page = alice_client.get("/security/").text
    row = page.split('data-key="BI export"')[1].split("</li>")[0]
    assert f"{key.prefix}…" in row
    assert "by alice" in row and "Read-only" in row
    assert "Never" in row  # neither used nor expiring
    assert key.hashed_key not in page and secret not in page and key.pk not in page


def test_revoking_a_key_asks_first_by_its_opaque_id_and_keeps_it_listed(alice_client, alice):
    key, secret = service.create_key("BI export", "read", alice)
    page = alice_client.get("/security/").text
    url = f"/security/keys/{key.public_id}/revoke/"
    assert f'href="{url}"' in page
    assert f"/security/keys/{key.pk}/" not in page and key.prefix not in url

    asked = alice_client.get(url)
    assert "Revoke the API key BI export?" in asked.text and "cannot be undone" in asked.text
    assert api_for(secret).get("/api/v1/runs/").status_code == 200  # asking revokes nothing

    done = alice_client.post(url, follow=True)
    assert "The API key BI export is revoked" in done.text
    assert api_for(secret).get("/api/v1/runs/").status_code == 401
    assert last_action().additional_data["action"] == "API key “BI export” revoked"
    row = done.text.split('data-key="BI export"')[1].split("</li>")[0]
    assert "Revoked" in row and "Revoke…" not in row
    assert alice_client.get(f"/security/keys/{key.pk}/revoke/").status_code == 404


def test_a_key_records_its_last_use_at_most_once_a_minute(alice):
    key, secret = service.create_key("BI export", "read", alice)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert api_for(secret).get("/api/v1/runs/").status_code == 200
    key.refresh_from_db()
    assert key.last_used_at == start

    with time_machine.travel(start + timedelta(seconds=59), tick=False):
        api_for(secret).get("/api/v1/runs/")
    key.refresh_from_db()
    assert key.last_used_at == start

    later = start + timedelta(seconds=61)
    with time_machine.travel(later, tick=False):
        api_for(secret).get("/api/v1/runs/")
    key.refresh_from_db()
    assert key.last_used_at == later


def test_a_key_used_within_the_minute_writes_nothing(alice):
    _, secret = service.create_key("BI export", "read", alice)
    api = api_for(secret)
    with CaptureQueriesContext(connection) as first:
        api.get("/api/v1/clients/")
    with CaptureQueriesContext(connection) as second:
        api.get("/api/v1/clients/")

    def updates(queries) -> list[str]:
        return [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]

    assert len(updates(first)) == 1 and "last_used_at" in updates(first)[0]
    assert updates(second) == []


def test_a_key_with_an_expiry_date_is_refused_once_it_has_passed(alice_client):
    tomorrow = timezone.localdate() + timedelta(days=1)
    page = alice_client.post(
        "/security/keys/",
        {"name": "Short job", "access": "read", "expires": tomorrow.isoformat()},
    ).text
    secret = page.split('<code id="new-key">')[1].split("</code>")[0]
    key = IntegrationKey.objects.get(name="Short job")
    assert timezone.localtime(key.expiry_date).date() == tomorrow
    assert last_action().additional_data["action"] == (
        f"API key “Short job” created (Read-only, expires {tomorrow.day} {tomorrow:%B %Y})"
    )
    assert api_for(secret).get("/api/v1/runs/").status_code == 200
    row = alice_client.get("/security/").text.split('data-key="Short job"')[1].split("</li>")[0]
    assert f"{tomorrow.day} {tomorrow:%b %Y}" in row and "Active" in row

    with time_machine.travel(key.expiry_date + timedelta(seconds=1)):
        response = api_for(secret).get("/api/v1/runs/")
        assert response.status_code == 401
        message = response.json()["error"]["message"]
        assert message.startswith(f"This API key expired on {tomorrow.day} {tomorrow:%B %Y}")
        row = alice_client.get("/security/").text.split('data-key="Short job"')[1]
        assert "Expired" in row.split("</li>")[0]


def test_an_expiry_date_must_be_after_today(alice_client):
    today = timezone.localdate()
    page = alice_client.post(
        "/security/keys/",
        {"name": "Old job", "access": "read", "expires": today.isoformat()},
        follow=True,
    ).text
    assert "No key created: Choose an expiry date after today." in page
    assert not IntegrationKey.objects.filter(name="Old job").exists()


# -- Who may -----------------------------------------------------------------------------------


def people_actions(bob, alice) -> list[tuple[str, str]]:
    """(method, url) of every new action, aimed at someone they would apply to."""
    key, _ = service.create_key("BI export", "read", alice)
    invited = service.invite("new@example.com", LIMITED, alice)
    inactive = make_user(get_user_model(), "erin", LIMITED)
    service.deactivate(inactive)
    return [("post", f"/security/users/{invited.pk}/invitation/resend/")] + [
        (method, url)
        for url in [
            f"/security/users/{bob.pk}/deactivate/",
            f"/security/users/{inactive.pk}/reactivate/",
            f"/security/users/{invited.pk}/invitation/revoke/",
            f"/security/keys/{key.public_id}/revoke/",
        ]
        for method in ("get", "post")
    ]


@pytest.mark.parametrize("persona", ["bob", "carol", "mallory"])
def test_without_full_access_every_people_and_key_action_is_refused(
    client, request, persona, alice, bob
):
    actions = people_actions(bob, alice)
    mail.outbox.clear()
    client.force_login(request.getfixturevalue(persona))
    for method, url in actions:
        assert getattr(client, method)(url).status_code == 403, f"{persona} {method} {url}"
    assert IntegrationKey.objects.filter(revoked=False).count() == 1
    assert get_user_model().objects.filter(email="new@example.com").exists()
    assert get_user_model().objects.get(username="bob").is_active
    assert not get_user_model().objects.get(username="erin").is_active
    assert mail.outbox == []


def test_with_full_access_every_people_and_key_action_is_allowed(alice_client, alice, bob):
    for method, url in people_actions(bob, alice):
        response = getattr(alice_client, method)(url)
        assert response.status_code in (200, 302), f"{method} {url}"
    assert not get_user_model().objects.get(username="bob").is_active
    assert get_user_model().objects.get(username="erin").is_active
    assert not IntegrationKey.objects.filter(revoked=False).exists()
    assert not get_user_model().objects.filter(email="new@example.com").exists()


def test_standard_and_limited_users_see_keys_and_states_but_no_actions(carol_client, alice, bob):
    service.create_key("BI export", "read", alice)
    service.deactivate(bob)
    page = carol_client.get("/security/").text
    assert 'data-key="BI export"' in page and "deactivated" in page
    assert "Revoke…" not in page and "Deactivate…" not in page and "Reactivate…" not in page
