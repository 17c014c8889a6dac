import html

import pytest

from settings_app.forms import GeneralSettingsForm
from settings_app.models import GeneralSettings

from .forms import general_post, shown_values

pytestmark = pytest.mark.django_db

OPTIONS = GeneralSettingsForm._meta.fields


def test_there_are_eleven_general_options_each_explained(alice_client):
    page = html.unescape(alice_client.get("/general/").text)
    assert len(OPTIONS) == 11
    for name in OPTIONS:
        field = GeneralSettingsForm.base_fields[name]
        assert field.help_text, name
        assert str(field.label) in page
        assert field.help_text in page


def test_defaults_keep_opt_out_protection_on():
    settings = GeneralSettings.get_solo()
    assert settings.sync_email_opt_out is True
    assert settings.unsubscribe_on_opt_out is True
    assert settings.disable_triggers is False
    assert settings.trigger_list_journeys is False


@pytest.mark.parametrize("name", OPTIONS)
def test_each_option_round_trips_through_the_form(alice_client, name):
    before = getattr(GeneralSettings.get_solo(), name)
    response = alice_client.post("/general/", general_post(**{name: not before, "confirmed": "1"}))
    assert response.status_code == 302
    assert getattr(GeneralSettings.get_solo(), name) is (not before)
    shown = shown_values(alice_client.get("/general/").text)
    assert (name in shown) is (not before)


@pytest.mark.parametrize(
    "name, warning",
    [
        ("trigger_list_journeys", "a bulk import may email everyone in it"),
        ("disable_triggers", "will no longer unsubscribe anyone"),
        ("disable_bulk_triggers", "only the first record is processed"),
    ],
)
def test_risky_options_ask_for_confirmation_and_save_nothing_until_confirmed(
    alice_client, name, warning
):
    response = alice_client.post("/general/", general_post(**{name: True, "show_tabs": False}))
    assert response.status_code == 302 and response.url.startswith("/settings/confirm/")
    page = alice_client.get(response.url).text
    assert "Save these general options?" in page and 'role="alertdialog"' in page
    assert warning in page and "Nothing has been saved yet." in page
    settings = GeneralSettings.get_solo()
    assert getattr(settings, name) is False
    assert settings.show_tabs is True  # the other change waits for the confirmation too

    # The confirmation keeps what was submitted, so "Yes" saves exactly that.
    saved = alice_client.post(response.url)
    assert saved.url == "/general/#settings-form"
    settings = GeneralSettings.get_solo()
    assert getattr(settings, name) is True
    assert settings.show_tabs is False
    assert "General settings saved." in alice_client.get("/general/").text


def test_turning_a_risky_option_off_needs_no_confirmation(alice_client):
    GeneralSettings.objects.update(disable_triggers=True)
    response = alice_client.post("/general/", general_post(disable_triggers=False))
    assert response.status_code == 302
    assert GeneralSettings.get_solo().disable_triggers is False


def test_no_option_is_marked_not_active_yet(alice_client):
    page = alice_client.get("/general/").text
    assert "not active yet" not in page
    assert "Show tabs on the Campaign Monitor layout" in page


def test_the_intro_names_what_the_tab_holds(alice_client):
    page = alice_client.get("/general/").text
    assert "its tabs in Salesforce, list journeys and the daily full sync" in page
    assert "not active yet" not in page
