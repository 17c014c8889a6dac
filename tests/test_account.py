"""Your account: every user changes their own password, name and email address; a forgotten
password is reset by an emailed link; the first admin gets an email address and the alerts;
the Alerts card says when alerts would reach nobody."""

import re
from urllib.parse import urlsplit

import pytest
from auditlog.models import LogEntry
from django.core import mail
from django.core.management import call_command
from django.test import Client

from maintenance.models import AlertSettings

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW = "a-new-Passphrase-42"


def log_in(client, username: str, password: str):
    return client.post("/accounts/login/", {"username": username, "password": password})


def logged_in(client) -> bool:
    return client.get("/accounts/").status_code == 200


def change_password(client, old: str, new: str, again: str | None = None):
    data = {"old_password": old, "new_password1": new, "new_password2": again or new}
    return client.post("/accounts/password/", data)


# Password change


def test_the_password_change_needs_the_current_password(client, alice):
    log_in(client, "alice", PASSWORD)
    response = change_password(client, "not-it", NEW)
    assert response.status_code == 400
    assert "Password not changed." in response.text
    assert "Your old password was entered incorrectly" in response.text
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD) and not alice.check_password(NEW)


def test_a_weak_or_mismatched_new_password_is_refused(client, alice):
    log_in(client, "alice", PASSWORD)
    assert change_password(client, PASSWORD, NEW, NEW + "x").status_code == 400
    response = change_password(client, PASSWORD, "alice")
    assert response.status_code == 400
    assert "too similar" in response.text or "too short" in response.text
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_a_changed_password_keeps_this_session_and_ends_the_others(client, alice):
    elsewhere = Client()
    log_in(elsewhere, "alice", PASSWORD)
    assert log_in(client, "alice", PASSWORD).status_code == 302

    response = change_password(client, PASSWORD, NEW)

    assert response.status_code == 302 and response["Location"] == "/accounts/#password"
    page = client.get("/accounts/").text
    assert "Your password is changed." in page
    assert not logged_in(elsewhere)  # the other browser is logged out
    client.post("/accounts/logout/")
    assert log_in(client, "alice", PASSWORD).status_code == 200  # refused: the form again
    assert log_in(client, "alice", NEW).status_code == 302
    assert logged_in(client)
    entry = LogEntry.objects.filter(additional_data__action="alice: changed own password")
    assert entry.exists()
    assert NEW not in str(list(LogEntry.objects.values_list("additional_data", "changes")))


def test_wrong_current_passwords_do_not_lock_the_login(client, alice):
    """django-axes counts logins only: typos in the change form do not lock anyone out."""
    log_in(client, "alice", PASSWORD)
    for _ in range(6):
        change_password(client, "wrong", NEW)
    assert change_password(client, PASSWORD, NEW).status_code == 302
    client.post("/accounts/logout/")
    assert log_in(client, "alice", NEW).status_code == 302


def test_a_user_without_a_role_has_an_account_page_too(mallory_client, mallory):
    page = mallory_client.get("/accounts/")
    assert page.status_code == 200
    assert change_password(mallory_client, PASSWORD, NEW).status_code == 302
    mallory.refresh_from_db()
    assert mallory.check_password(NEW)


def test_the_account_pages_need_a_login(client):
    for url in ("/accounts/", "/accounts/password/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    assert client.post("/accounts/", {"email": "x@example.com"}).status_code == 302


def test_the_header_links_to_your_account(alice_client):
    page = alice_client.get("/sync/").text
    assert '<a class="account" href="/accounts/"' in page
    assert ">Your account</a>" in page


# Name and email


def test_name_and_email_are_saved_and_audited(alice_client, alice):
    data = {"first_name": "Alice", "last_name": "Liddell", "email": " Alice@Wonder.Example "}
    response = alice_client.post("/accounts/", data, follow=True)
    assert "Your account is saved." in response.text
    alice.refresh_from_db()
    assert (alice.first_name, alice.last_name, alice.email) == (
        "Alice",
        "Liddell",
        "alice@wonder.example",
    )
    (entry,) = LogEntry.objects.filter(additional_data__action__startswith="alice: own account")
    assert (
        "email address alice@example.com → alice@wonder.example" in entry.additional_data["action"]
    )


def test_an_email_address_of_someone_else_or_a_bad_one_changes_nothing(alice_client, alice, bob):
    for email in ("BOB@example.com", "not an address"):
        data = {"first_name": "Changed", "last_name": "", "email": email}
        response = alice_client.post("/accounts/", data)
        assert response.status_code == 400
        assert "Not saved" in response.text
        alice.refresh_from_db()
        assert (alice.first_name, alice.email) == ("", "alice@example.com")
    assert (
        "Another user already has this email address."
        in alice_client.post("/accounts/", {"email": "bob@example.com"}).text
    )


def test_a_user_can_only_ever_change_themselves(alice_client, alice, bob):
    alice_client.post("/accounts/", {"first_name": "X", "email": "x@example.com", "id": bob.pk})
    bob.refresh_from_db()
    assert (bob.first_name, bob.email) == ("", "bob@example.com")


def test_no_email_address_is_said_on_the_account_page(mallory_client, mallory):
    mallory.email = ""
    mallory.save()
    assert "You have no email address" in mallory_client.get("/accounts/").text


# Forgot password


def reset_link(message) -> str:
    (url,) = re.findall(r"https?://\S+", message.body)
    return url


def test_forgot_password_emails_a_link_that_sets_a_new_password(client, alice, settings):
    settings.CMSYNC_URL = "https://cmsync.example.com"
    login_page = client.get("/accounts/login/").text
    assert 'href="/accounts/reset/"' in login_page and "Forgot your password?" in login_page

    response = client.post("/accounts/reset/", {"email": "ALICE@example.com"})

    assert response.status_code == 302 and response["Location"] == "/accounts/reset/sent/"
    assert "Check your email" in client.get("/accounts/reset/sent/").text
    (message,) = mail.outbox
    assert message.to == ["alice@example.com"]
    assert message.subject == "Choose a new cmsync password"
    url = reset_link(message)
    assert url.startswith("https://cmsync.example.com/accounts/reset/")  # not the Host header
    path = urlsplit(url).path

    form = client.get(path, follow=True)
    assert "Choose your password" in form.text
    set_url = form.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": NEW, "new_password2": NEW}, follow=True)
    assert "Password set" in done.text
    assert logged_in(client)

    client.post("/accounts/logout/")
    assert log_in(client, "alice", PASSWORD).status_code == 200
    assert log_in(client, "alice", NEW).status_code == 302
    again = client.get(path, follow=True).text
    assert "This link has been used or has expired." in again  # works once


def test_forgot_password_does_not_say_whether_an_address_exists(client, alice, mallory):
    mallory.set_unusable_password()  # invited, no password chosen yet: no reset link
    mallory.save()
    answers = []
    for email in ("alice@example.com", "nobody@example.com", "mallory@example.com"):
        response = client.post("/accounts/reset/", {"email": email}, follow=True)
        answers.append((response.status_code, response.redirect_chain, response.text))
    assert answers[0] == answers[1] == answers[2]
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


def test_forgot_password_sends_at_most_three_links_an_hour_to_one_address(client, alice, bob):
    answers = [client.post("/accounts/reset/", {"email": "alice@example.com"}) for _ in range(5)]
    assert [m.to for m in mail.outbox] == [["alice@example.com"]] * 3
    assert {(a.status_code, a["Location"]) for a in answers} == {(302, "/accounts/reset/sent/")}
    client.post("/accounts/reset/", {"email": "bob@example.com"})  # the limit is per address
    assert mail.outbox[-1].to == ["bob@example.com"]


def test_forgot_password_with_a_bad_address_says_so(client, alice):
    response = client.post("/accounts/reset/", {"email": "not an address"})
    assert response.status_code == 200
    assert "Enter a valid email address." in response.text
    assert mail.outbox == []


# The first admin


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path


def test_the_first_admin_gets_the_demo_email_and_the_alerts(var_dir, monkeypatch, capsys):
    monkeypatch.delenv("CMSYNC_ADMIN_EMAIL", raising=False)
    monkeypatch.delenv("CMSYNC_ADMIN_USERNAME", raising=False)
    call_command("ensure_admin")
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.get(username="admin")
    assert admin.email == "admin@cmsync.localhost"
    assert list(AlertSettings.get_solo().recipients.all()) == [admin]
    assert "admin@cmsync.localhost" in capsys.readouterr().out


def test_the_first_admin_email_comes_from_the_setting(var_dir, monkeypatch, django_user_model):
    monkeypatch.setenv("CMSYNC_ADMIN_EMAIL", "ops@example.com")
    call_command("ensure_admin")
    assert django_user_model.objects.get(is_superuser=True).email == "ops@example.com"


def test_an_existing_admin_without_email_gets_it_once(var_dir, monkeypatch, django_user_model):
    monkeypatch.delenv("CMSYNC_ADMIN_EMAIL", raising=False)
    monkeypatch.setenv("CMSYNC_ADMIN_PASSWORD", PASSWORD)
    admin = django_user_model.objects.create_superuser("admin", "", PASSWORD)
    call_command("ensure_admin")
    admin.refresh_from_db()
    assert admin.email == "admin@cmsync.localhost"

    admin.email = "chosen@example.com"
    admin.save()
    call_command("ensure_admin")
    admin.refresh_from_db()
    assert admin.email == "chosen@example.com"  # a chosen address is left alone


# Alerts that reach nobody


def alert_warning(client) -> str:
    page = client.get("/maintenance/").text
    found = re.search(r'<p class="warning" role="alert" id="alerts-no-recipient">(.*?)</p>', page)
    return found.group(1) if found else ""


def set_alerts(mode: str, *users) -> None:
    alerts = AlertSettings.get_solo()
    alerts.mode = mode
    alerts.save()
    alerts.recipients.set(users)


def test_alerts_say_when_no_user_has_an_email_address(alice_client, alice, bob):
    type(alice).objects.update(email="")
    assert "Alerts reach nobody: no user has an email address" in alert_warning(alice_client)
    set_alerts("never")
    assert alert_warning(alice_client) == ""


def test_alerts_say_when_nobody_is_chosen(alice_client, alice):
    assert alert_warning(alice_client).startswith("Alerts reach nobody: nobody is chosen")
    set_alerts("on_error", alice)
    assert alert_warning(alice_client) == ""


def test_alerts_say_when_the_chosen_people_lost_their_address(alice_client, alice, bob):
    set_alerts("always", alice, bob)
    type(alice).objects.filter(pk=bob.pk).update(email="")
    assert alert_warning(alice_client).startswith("bob: no email address")
    type(alice).objects.filter(pk=alice.pk).update(is_active=False)
    alice_client.force_login(type(alice).objects.create_superuser("root", "root@x.example", "x"))
    assert alert_warning(alice_client).startswith("Alerts reach nobody: alice, bob have no email")


def test_a_deactivated_recipient_gets_no_alert(alice, bob, world):
    set_alerts("always", alice, bob)
    type(alice).objects.filter(pk=bob.pk).update(is_active=False)
    world.sync()
    (sent,) = mail.outbox
    assert sent.to == ["alice@example.com"]


def test_forgot_password_still_sends_when_the_cache_is_down(client, alice, monkeypatch):
    """The hourly limit lives in the cache (Redis in production): with it down the link is
    still sent rather than the page failing."""
    from django.core import mail
    from redis.exceptions import ConnectionError as RedisConnectionError

    from security import account

    class Down:
        def add(self, *args, **kwargs):
            raise RedisConnectionError("Redis is down")

        incr = add

    monkeypatch.setattr(account, "cache", Down())
    mail.outbox.clear()
    response = client.post("/accounts/reset/", {"email": "alice@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
