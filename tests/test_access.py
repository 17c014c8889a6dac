"""Every console page checks login and permissions on the server."""

from html.parser import HTMLParser

import pytest

from settings_app.models import GeneralSettings

from .conftest import PASSWORD
from .forms import general_post

pytestmark = pytest.mark.django_db

PAGES = ["/sync/", "/general/", "/campaigns/", "/maintenance/"]
SETTINGS_PAGES = ["/sync/", "/general/", "/campaigns/"]


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_users_are_sent_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url == f"/accounts/login/?next={url}"


def test_home_leads_anonymous_users_to_login(client):
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/accounts/login/")
    assert "Log in" in response.text


@pytest.mark.parametrize("url", SETTINGS_PAGES)
def test_anonymous_post_is_sent_to_login_and_changes_nothing(client, url):
    response = client.post(url, general_post(disable_triggers=True, confirmed="1"))
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
    assert GeneralSettings.get_solo().disable_triggers is False


@pytest.mark.parametrize("url", PAGES)
def test_user_without_permissions_is_refused(mallory_client, url):
    assert mallory_client.get(url).status_code == 403


def test_user_without_permissions_sees_no_tabs(mallory_client):
    response = mallory_client.get("/sync/")
    assert b'aria-label="Console"' not in response.content


class _Controls(HTMLParser):
    """The settings form's controls that are not disabled (by themselves or a fieldset)."""

    def __init__(self) -> None:
        super().__init__()
        self.in_form, self.fieldsets, self.found, self.editable = False, [], 0, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("id") == "settings-form":
            self.in_form = True
        elif self.in_form and tag == "fieldset":
            self.fieldsets.append("disabled" in attrs)
        elif self.in_form and tag in ("input", "select", "textarea"):
            if attrs.get("type") == "hidden":
                return
            self.found += 1
            if "disabled" not in attrs and not any(self.fieldsets):
                self.editable.append(attrs.get("name"))

    def handle_endtag(self, tag):
        if tag == "form":
            self.in_form = False
        elif self.in_form and tag == "fieldset":
            self.fieldsets.pop()


def editable_controls(html: str) -> list:
    parser = _Controls()
    parser.feed(html)
    assert parser.found, "the settings form shows no setting"
    return parser.editable


@pytest.mark.parametrize("url", SETTINGS_PAGES)
def test_read_only_user_sees_settings_without_a_save_button(carol_client, url):
    response = carol_client.get(url)
    assert response.status_code == 200
    assert "Changing them needs the Full access role" in response.text
    editable = editable_controls(response.text)
    assert editable == [], f"a read-only user can edit {editable}"
    assert 'type="submit" class="primary"' not in response.text


@pytest.mark.parametrize("url", SETTINGS_PAGES)
def test_read_only_user_cannot_post_changes(carol_client, url):
    response = carol_client.post(url, general_post(disable_triggers=True, confirmed="1"))
    assert response.status_code == 403
    assert GeneralSettings.get_solo().disable_triggers is False


def test_login_page_logs_in_and_lands_on_sync(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == "/sync/"


def test_wrong_password_is_refused(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "didn't match" in response.text
    assert client.get("/sync/").status_code == 302


def test_logout_ends_the_session(alice_client):
    assert alice_client.post("/accounts/logout/").status_code == 302
    assert alice_client.get("/sync/").status_code == 302
