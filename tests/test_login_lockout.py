"""Brute-force protection (django-axes): five wrong passwords for one username from one address
lock that pair out for 15 minutes, on the console's login and the admin's; the lockout is
audited, and a Full access admin unlocks it on the User security tab (or `axes_reset`)."""

from datetime import timedelta

import pytest
import time_machine
from auditlog.models import LogEntry
from django.core.management import call_command
from django.utils import timezone

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.9"
ELSEWHERE = "198.51.100.7"
LIMIT = 5


def log_in(client, username: str, password: str, ip=ATTACKER, url="/accounts/login/", **extra):
    data = {"username": username, "password": password}
    return client.post(url, data, REMOTE_ADDR=ip, **extra)


def logged_in(client) -> bool:
    return client.get("/sync/").status_code == 200


def lock_out(client, username: str = "alice", ip: str = ATTACKER, url="/accounts/login/"):
    for _ in range(LIMIT - 1):
        response = log_in(client, username, "wrong", ip, url)
        assert response.status_code == 200 and "locked" not in response.text.lower()
    return log_in(client, username, "wrong", ip, url)


def test_wrong_passwords_then_the_right_one_do_not_log_in(client, alice):
    lock_out(client)
    for _ in range(20):
        log_in(client, "alice", "wrong")

    response = log_in(client, "alice", PASSWORD)

    assert response.status_code == 429
    assert "Too many failed logins" in response.text
    assert "15 minutes" in response.text
    assert 'class="card narrow"' in response.text  # the console's own page, not a bare text
    assert not logged_in(client)


def test_the_fifth_failure_already_shows_the_lockout_page(client, alice):
    response = lock_out(client)
    assert response.status_code == 429
    assert "Too many failed logins" in response.text


def test_the_admin_login_is_protected_too(client, django_user_model):
    django_user_model.objects.create_user("root", password=PASSWORD, is_staff=True)
    response = lock_out(client, "root", url="/admin/login/?next=/admin/")
    assert response.status_code == 429
    response = log_in(client, "root", PASSWORD, url="/admin/login/?next=/admin/")
    assert response.status_code == 429
    assert client.get("/admin/").status_code == 302  # still sent to log in


def test_someone_else_cannot_lock_the_admin_out_from_another_address(client, alice):
    lock_out(client, "alice", ATTACKER)
    response = log_in(client, "alice", PASSWORD, ELSEWHERE)
    assert response.status_code == 302 and logged_in(client)


def test_a_shared_address_is_not_locked_for_other_usernames(client, alice, bob):
    lock_out(client, "alice", ATTACKER)
    assert log_in(client, "bob", PASSWORD, ATTACKER).status_code == 302


def test_the_lockout_ends_after_the_cool_off(client, alice):
    lock_out(client)
    with time_machine.travel(timezone.now() + timedelta(minutes=14), tick=False):
        assert log_in(client, "alice", PASSWORD).status_code == 429
    with time_machine.travel(timezone.now() + timedelta(minutes=16), tick=False):
        assert log_in(client, "alice", PASSWORD).status_code == 302


def test_a_successful_login_forgets_earlier_typos(client, alice):
    for _ in range(LIMIT - 1):
        log_in(client, "alice", "wrong")
    assert log_in(client, "alice", PASSWORD).status_code == 302
    client.post("/accounts/logout/")
    for _ in range(LIMIT - 1):
        log_in(client, "alice", "wrong")
    assert log_in(client, "alice", PASSWORD).status_code == 302


def test_forging_x_forwarded_for_does_not_escape_the_lockout(client, alice):
    for n in range(LIMIT + 2):
        log_in(client, "alice", "wrong", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
    assert log_in(client, "alice", PASSWORD, HTTP_X_FORWARDED_FOR="10.0.1.1").status_code == 429


def test_behind_a_proxy_the_address_the_proxy_saw_counts(client, alice, settings):
    settings.BEHIND_PROXY = True
    proxy = "10.0.0.1"
    # The proxy appends the address it saw; what the client wrote before it is not believed.
    for n in range(LIMIT):
        log_in(client, "alice", "wrong", proxy, HTTP_X_FORWARDED_FOR=f"1.1.1.{n}, {ATTACKER}")
    response = log_in(client, "alice", PASSWORD, proxy, HTTP_X_FORWARDED_FOR=f"9.9.9.9, {ATTACKER}")
    assert response.status_code == 429
    # Someone else behind the same proxy is not locked out.
    response = log_in(client, "alice", PASSWORD, proxy, HTTP_X_FORWARDED_FOR=ELSEWHERE)
    assert response.status_code == 302


def test_a_lockout_is_audited_once(client, alice):
    lock_out(client)
    for _ in range(3):
        log_in(client, "alice", "wrong")
    entries = [
        e
        for e in LogEntry.objects.all()
        if "locked out" in (e.additional_data or {}).get("action", "")
    ]
    assert len(entries) == 1
    entry = entries[0]
    assert entry.additional_data["area"] == "security"
    assert "“alice”" in entry.additional_data["action"]
    assert ATTACKER in entry.additional_data["action"]
    assert entry.remote_addr == ATTACKER


def test_an_unknown_username_is_locked_out_and_audited_too(client, db):
    assert lock_out(client, "nobody").status_code == 429
    assert any(
        "“nobody”" in (e.additional_data or {}).get("action", "") for e in LogEntry.objects.all()
    )


def test_a_full_access_admin_sees_lockouts_and_unlocks_them(client, alice, bob):
    lock_out(client, "bob", ATTACKER)
    client.force_login(alice)

    page = client.get("/security/").text
    assert "Locked out" in page and "bob" in page and ATTACKER in page
    unlock_url = page.split('action="/security/lockouts/')[1].split('"')[0]
    response = client.post(f"/security/lockouts/{unlock_url}", follow=True)

    assert "unlocked" in response.text
    assert ATTACKER not in client.get("/security/").text
    again = client.post(f"/security/lockouts/{unlock_url}", follow=True)
    assert "already ended" in again.text
    client.post("/accounts/logout/")
    assert log_in(client, "bob", PASSWORD, ATTACKER).status_code == 302
    assert any(
        "Unlocked login" in (e.additional_data or {}).get("action", "") and e.actor == alice
        for e in LogEntry.objects.all()
    )


def test_only_full_access_may_unlock(client, alice, bob):
    from axes.models import AccessAttempt

    lock_out(client, "alice", ATTACKER)
    attempt = AccessAttempt.objects.get()
    client.force_login(bob)
    assert ATTACKER not in client.get("/security/").text
    assert client.post(f"/security/lockouts/{attempt.pk}/unlock/").status_code == 403
    assert AccessAttempt.objects.exists()


def test_manage_py_axes_reset_unlocks_everyone(client, alice):
    lock_out(client)
    call_command("axes_reset")
    assert log_in(client, "alice", PASSWORD).status_code == 302


def test_a_very_long_username_is_refused_not_a_server_error(client, db):
    client.raise_request_exception = False
    response = log_in(client, "x" * 5000, "wrong")
    assert response.status_code == 200
    assert "didn't match" in response.text


def test_the_rest_api_with_a_key_is_not_affected(client, alice):
    from rest_framework.test import APIClient

    from security.service import create_key

    lock_out(client, "alice", "127.0.0.1")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {create_key('bi', 'read', alice)[1]}")
    assert api.get("/api/v1/runs/").status_code == 200
