import pytest

from settings_app.models import SyncSettings

from .forms import save_through_confirmation, shown_values, sync_post

pytestmark = pytest.mark.django_db


def test_defaults_are_hourly_with_every_tracking_type():
    settings = SyncSettings.get_solo()
    assert settings.frequency == "hourly"
    assert settings.tracking_types == ["sent", "opened", "clicked", "unsubscribed", "bounced"]
    assert settings.days_to_keep == 365


def test_every_sync_setting_round_trips_through_the_form(alice_client):
    data = sync_post(
        frequency="custom",
        hour="6",
        weekday="fri",
        custom_days=["wed", "mon"],
        track_opened=False,
        track_bounced=False,
        days_to_keep="30",
    )
    response = save_through_confirmation(alice_client, "/sync/", data)  # days to keep lowered
    assert response.status_code == 302

    settings = SyncSettings.get_solo()
    assert settings.frequency == "custom"
    assert settings.hour == 6
    assert settings.weekday == "fri"
    assert settings.custom_days == "mon,wed"
    assert settings.tracking_types == ["sent", "clicked", "unsubscribed"]
    assert settings.days_to_keep == 30

    page = alice_client.get("/sync/").text
    assert "Sync settings saved." in page
    shown = shown_values(page)
    assert shown["frequency"] == ["custom"]
    assert shown["hour"] == ["6"]
    assert shown["weekday"] == ["fri"]
    assert shown["custom_days"] == ["mon", "wed"]
    assert "track_opened" not in shown
    assert shown["track_sent"] == ["on"]
    assert shown["days_to_keep"] == ["30"]


def test_turning_tracking_off_keeps_the_chosen_types(alice_client):
    alice_client.post("/sync/", sync_post(import_tracking=False, track_sent=False))
    settings = SyncSettings.get_solo()
    assert settings.import_tracking is False
    assert settings.tracking_types == []
    assert settings.track_opened is True


@pytest.mark.parametrize(
    "changes, message",
    [
        (
            {"frequency": "custom", "custom_days": []},
            "Custom needs at least one day of the week.",
        ),
        ({"hour": "24"}, "Select a valid choice. 24 is not one of the available choices."),
        ({"hour": "-1"}, "Select a valid choice."),
        ({"days_to_keep": "0"}, "Keep tracking data for at least 1 day: the minimum is 1."),
        ({"days_to_keep": "3651"}, "Keep tracking data for at most 3650 days (about ten years)."),
        ({"days_to_keep": "a week"}, "Enter a whole number."),
        ({"frequency": "fortnightly"}, "Select a valid choice. fortnightly is not one of"),
        ({"weekday": "someday"}, "Select a valid choice."),
        (
            {f"track_{t}": False for t in ["sent", "opened", "clicked", "unsubscribed", "bounced"]},
            "Choose at least one tracking type to import, or turn tracking import off.",
        ),
    ],
)
def test_bad_input_shows_an_error_and_saves_nothing(alice_client, changes, message):
    before = SyncSettings.get_solo()
    response = alice_client.post(
        "/sync/", sync_post(**{"frequency": "daily", "hour": "3", **changes})
    )
    assert response.status_code == 200
    assert message in response.text
    assert "Nothing was saved" in response.text
    after = SyncSettings.get_solo()
    assert [after.frequency, after.hour, after.days_to_keep, after.tracking_types] == [
        before.frequency,
        before.hour,
        before.days_to_keep,
        before.tracking_types,
    ]


def test_custom_days_are_only_required_for_custom(alice_client):
    response = alice_client.post("/sync/", sync_post(frequency="weekly", weekday="tue"))
    assert response.status_code == 302
    assert SyncSettings.get_solo().weekday == "tue"


def test_choosing_never_asks_for_confirmation_first(alice_client):
    response = alice_client.post("/sync/", sync_post(frequency="never"))
    assert response.status_code == 302
    page = alice_client.get(response.url).text
    assert "Save these sync settings?" in page
    assert "the primary sync stops running on its own" in page
    assert SyncSettings.get_solo().frequency == "hourly"

    response = alice_client.post("/sync/", sync_post(frequency="never", confirmed="1"))
    assert response.status_code == 302
    assert SyncSettings.get_solo().frequency == "never"


def test_saving_again_with_never_already_chosen_needs_no_confirmation(alice_client):
    settings = SyncSettings.get_solo()
    settings.frequency = "never"
    settings.save()
    response = alice_client.post("/sync/", sync_post(change_poll_minutes="10"))
    assert response.status_code == 302
    assert SyncSettings.get_solo().change_poll_minutes == 10


def test_sync_page_shows_the_installation_time_zone(alice_client, settings):
    settings.TIME_ZONE = "Europe/London"
    assert "time zone, Europe/London" in alice_client.get("/sync/").text
