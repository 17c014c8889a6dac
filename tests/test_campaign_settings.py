from datetime import UTC, datetime

import pytest
import time_machine

from settings_app.models import CampaignSettings, MemberStatusMapping

from .forms import campaigns_post, save_through_confirmation, shown_values

pytestmark = pytest.mark.django_db


def mapping() -> dict:
    return {m.activity: (m.label, m.responded) for m in MemberStatusMapping.load()}


def test_default_mapping_has_one_row_per_activity():
    assert mapping() == {
        "sent": ("Sent", False),
        "opened": ("Opened", True),
        "clicked": ("Clicked", True),
        "unsubscribed": ("Unsubscribed", False),
        "bounced": ("Bounced", False),
    }
    assert CampaignSettings.get_solo().member_status_mode == "never"


def test_campaign_settings_and_mapping_round_trip_through_the_form(alice_client):
    data = campaigns_post(
        mapping={"opened": ("Registered", False), "bounced": ("Hard bounce", True)},
        update_statistics=False,
        member_status_mode="once",
        auto_create_statuses=False,
    )
    response = save_through_confirmation(alice_client, "/campaigns/", data)  # mode changed
    assert response.status_code == 302

    settings = CampaignSettings.get_solo()
    assert settings.update_statistics is False
    assert settings.member_status_mode == "once"
    assert settings.auto_create_statuses is False
    assert mapping()["opened"] == ("Registered", False)
    assert mapping()["bounced"] == ("Hard bounce", True)
    assert mapping()["clicked"] == ("Clicked", True)

    shown = shown_values(alice_client.get("/campaigns/").text)
    assert shown["member_status_mode"] == ["once"]
    assert "update_statistics" not in shown
    assert shown["form-1-label"] == ["Registered"]
    assert "form-1-responded" not in shown
    assert shown["form-4-responded"] == ["on"]


def test_auto_create_records_the_moment_it_was_switched_on(alice_client):
    switched_on = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    with time_machine.travel(switched_on, tick=False):
        alice_client.post("/campaigns/", campaigns_post(auto_create_campaigns=True))
    assert CampaignSettings.get_solo().auto_create_since == switched_on
    assert "On since 1 Mar 2026, 09:30" in alice_client.get("/campaigns/").text

    # Saving other changes later keeps the original moment.
    alice_client.post("/campaigns/", campaigns_post(member_status_mode="always"))
    assert CampaignSettings.get_solo().auto_create_since == switched_on

    # Off and on again starts a new, later moment: still not retrospective.
    alice_client.post("/campaigns/", campaigns_post(auto_create_campaigns=False))
    assert CampaignSettings.get_solo().auto_create_since is None
    alice_client.post("/campaigns/", campaigns_post(auto_create_campaigns=True))
    assert CampaignSettings.get_solo().auto_create_since > switched_on


@pytest.mark.parametrize(
    "label, message",
    [
        ("", "This field is required."),
        ("   ", "This field is required."),
        ("x" * 41, "Ensure this value has at most 40 characters (it has 41)."),
    ],
)
def test_bad_mapping_label_shows_an_error_and_saves_nothing(alice_client, label, message):
    data = campaigns_post(mapping={"opened": (label, True)}, member_status_mode="always")
    response = alice_client.post("/campaigns/", data)
    assert response.status_code == 200
    assert message in response.text
    assert "Nothing was saved" in response.text
    assert mapping()["opened"] == ("Opened", True)
    assert CampaignSettings.get_solo().member_status_mode == "never"


def test_label_of_exactly_forty_characters_is_accepted(alice_client):
    label = "y" * 40
    alice_client.post("/campaigns/", campaigns_post(mapping={"sent": (label, False)}))
    assert mapping()["sent"] == (label, False)


def test_same_activity_twice_is_refused(alice_client):
    data = campaigns_post(mapping={"sent": ("First", False), "opened": ("Second", False)})
    opened = MemberStatusMapping.objects.get(activity="opened").pk
    data["form-0-id"] = opened  # a forged POST that maps Opened twice
    response = alice_client.post("/campaigns/", data)
    assert response.status_code == 200
    assert "Each activity can be mapped only once." in response.text
    assert mapping()["opened"] == ("Opened", True)


def test_invalid_member_status_mode_is_refused(alice_client):
    response = alice_client.post("/campaigns/", campaigns_post(member_status_mode="sometimes"))
    assert "Select a valid choice." in response.text
    assert CampaignSettings.get_solo().member_status_mode == "never"
