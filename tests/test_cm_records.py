"""Parsing Campaign Monitor's response shapes into typed records (no HTTP)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from campaign_monitor.records import (
    Campaign,
    ImportResult,
    Subscriber,
    TrackingEvent,
    WebhookEvent,
    format_date,
    offset_from_system_date,
    parse_date,
)

SYDNEY = timezone(timedelta(hours=10))


@pytest.mark.parametrize(
    "system_date, utc_now, hours",
    [
        ("2026-11-27 19:00:00", datetime(2026, 11, 27, 9, 0, 3, tzinfo=UTC), 10),
        ("2026-11-27 03:59:58", datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC), -5),
        ("2026-11-27 14:30:00", datetime(2026, 11, 27, 9, 0, 0, tzinfo=UTC), 5.5),
        ("2026-11-28 00:45:00", datetime(2026, 11, 27, 11, 0, 0, tzinfo=UTC), 13.75),
    ],
)
def test_account_offset_comes_from_system_date(system_date, utc_now, hours):
    assert offset_from_system_date(system_date, utc_now) == timezone(timedelta(hours=hours))


def test_dates_are_read_and_written_account_local():
    value = parse_date("2026-03-01 09:30:00", SYDNEY)
    assert value == datetime(2026, 2, 28, 23, 30, tzinfo=UTC)
    assert parse_date("2026-03-01 09:30", SYDNEY) == value
    assert parse_date("", SYDNEY) is None
    assert format_date(datetime(2026, 2, 28, 23, 30, tzinfo=UTC), SYDNEY) == "2026-03-01 09:30"
    with pytest.raises(ValueError):
        parse_date("1 March 2026", SYDNEY)


def test_subscriber_keeps_repeated_multi_select_keys_and_optional_fields():
    row = {
        "EmailAddress": "Zoe.Angstrom@Example.COM",
        "Name": "Zoë Ångström",
        "Date": "2026-10-25 10:28:00",
        "ListJoinedDate": "2026-10-24 10:28:00",
        "State": "Unsubscribed",
        "CustomFields": [
            {"Key": "interests", "Value": "baking"},
            {"Key": "interests", "Value": "cycling"},
            {"Key": "age", "Value": "41"},
        ],
        "ReadsEmailWith": "",
    }
    subscriber = Subscriber.from_api(row, SYDNEY)
    assert subscriber.email == "Zoe.Angstrom@Example.COM"
    assert subscriber.state == "unsubscribed"
    assert subscriber.custom_fields == (
        ("interests", "baking"),
        ("interests", "cycling"),
        ("age", "41"),
    )
    assert subscriber.consent_to_track is None
    assert subscriber.date == datetime(2026, 10, 25, 0, 28, tzinfo=UTC)


def test_campaign_without_tags():
    row = {
        "CampaignID": "c1",
        "Name": "Spring",
        "Subject": "Spring sale",
        "FromName": "Shop",
        "FromEmail": "shop@example.com",
        "ReplyTo": "shop@example.com",
        "SentDate": "2026-10-06 16:20:00",
        "TotalRecipients": 11222,
        "WebVersionURL": "https://example.com/t/r-1",
    }
    campaign = Campaign.from_api(row, SYDNEY)
    assert campaign.tags == ()
    assert campaign.total_recipients == 11222


@pytest.mark.parametrize(
    "parse, row, missing",
    [
        (
            Subscriber.from_api,
            {"EmailAddress": "a@example.com", "State": "Active", "Date": ""},
            "Date",
        ),
        (Campaign.from_api, {"CampaignID": "c1", "SentDate": ""}, "SentDate"),
        (TrackingEvent.parser("opens"), {"EmailAddress": "a@example.com", "Date": ""}, "Date"),
    ],
)
def test_a_record_without_its_date_is_refused_saying_which(parse, row, missing):
    with pytest.raises(ValueError, match=f"^The record has no {missing}$"):
        parse(row, SYDNEY)


def test_bounce_reason_is_trimmed():
    row = {
        "EmailAddress": "a@example.com",
        "ListID": "l1",
        "BounceType": "Soft",
        "Date": "2026-10-06 16:20:00",
        "Reason": "Soft Bounce - Mailbox Full ",
    }
    event = TrackingEvent.parser("bounces")(row, SYDNEY)
    assert (event.kind, event.bounce_type, event.reason) == (
        "bounces",
        "Soft",
        "Soft Bounce - Mailbox Full",
    )


def test_import_results_add_up_over_batches():
    result = ImportResult()
    result.add(
        {
            "TotalUniqueEmailsSubmitted": 1000,
            "TotalNewSubscribers": 990,
            "TotalExistingSubscribers": 10,
            "FailureDetails": [],
            "DuplicateEmailsInSubmission": [],
        }
    )
    result.add(
        {
            "TotalUniqueEmailsSubmitted": 3,
            "TotalNewSubscribers": 0,
            "TotalExistingSubscribers": 2,
            "FailureDetails": [
                {"EmailAddress": "x@y", "Code": 1, "Message": "Invalid Email Address"}
            ],
            "DuplicateEmailsInSubmission": ["d@example.com"],
        }
    )
    assert (result.submitted, result.new, result.existing) == (1003, 990, 12)
    assert [(f.email, f.code) for f in result.failures] == [("x@y", 1)]
    assert result.duplicates == ["d@example.com"]


GOOD_EVENT = {
    "Type": "Update",
    "EmailAddress": "ann@example.com",
    "Name": "Ann",
    "State": "Active",
    "Date": "2026-03-01 09:30:00",
    "CustomFields": [{"Key": "Level", "Value": "Gold"}],
}


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"Type": "Bounce"}, "Unknown event type “Bounce”"),
        ({"Type": None}, "Unknown event type “”"),
        ({"State": "Sleeping"}, "Unknown subscriber state “Sleeping”"),
        ({"Type": "Deactivate"}, "A Deactivate event cannot leave the state “Active”"),
        ({"EmailAddress": ""}, "The event has no EmailAddress"),
        ({"EmailAddress": 42}, "The event's EmailAddress is not text"),
        ({"Date": None}, "The event has no Date"),
        ({"Date": ["2026"]}, "The event's Date is not text"),
        ({"Date": "1 March 2026"}, "Unrecognised Campaign Monitor date: “1 March 2026”"),
        ({"CustomFields": [{"Key": "Level"}]}, "not a list of Key and Value pairs"),
        ({"CustomFields": "Level=Gold"}, "not a list of Key and Value pairs"),
    ],
)
def test_an_unreadable_webhook_event_says_what_is_wrong_with_it(change, reason):
    """The reason reaches the Maintenance messages: it names the event's fields and never a
    Python exception type (KeyError, TypeError) or a repr."""
    with pytest.raises(ValueError) as refused:
        WebhookEvent.from_api({**GOOD_EVENT, **change}, SYDNEY)
    assert reason in str(refused.value)
    assert "Error" not in str(refused.value) and "'" not in str(refused.value).replace(
        "event's", ""
    )


def test_a_readable_webhook_event_keeps_its_fields():
    event = WebhookEvent.from_api(GOOD_EVENT, SYDNEY)
    assert (event.kind, event.email, event.state) == ("Update", "ann@example.com", "active")
    assert event.custom_fields == (("Level", "Gold"),)
