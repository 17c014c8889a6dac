"""The Campaign Monitor client against the emulator, over real HTTP."""

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from campaign_monitor import errors
from campaign_monitor.client import ApiKey, CampaignMonitorClient, authorize_url, exchange_code
from campaign_monitor.records import NewSubscriber, Subscriber

from .conftest import control


def api_for(emulator, key: str, **kwargs) -> CampaignMonitorClient:
    return CampaignMonitorClient(ApiKey(key), base_url=emulator.base_url, backoff=0.01, **kwargs)


@pytest.fixture
def api(cm_emulator, cm_agency) -> CampaignMonitorClient:
    return api_for(cm_emulator, cm_agency["api_key"])


@pytest.fixture
def first_list(cm_agency) -> str:
    return cm_agency["clients"][0]["lists"][0]["ListID"]


def counts(emulator) -> dict:
    return control(emulator, "GET", "requests")


def test_agency_key_sees_every_client_with_details_and_lists(api, cm_agency):
    clients = api.clients()
    assert [(c.client_id, c.name) for c in clients] == [
        (c["ClientID"], c["Name"]) for c in cm_agency["clients"]
    ]
    assert len(clients) == 3
    details = api.client_details(clients[0].client_id)
    assert details.client_id == clients[0].client_id
    assert details.company_name == clients[0].name
    lists = api.lists(clients[0].client_id)
    assert [m.list_id for m in lists] == [m["ListID"] for m in cm_agency["clients"][0]["lists"]]
    assert api.list_details(lists[0].list_id).title == lists[0].name


def test_direct_account_sees_one_client(cm_emulator, cm_direct):
    assert len(api_for(cm_emulator, cm_direct["api_key"]).clients()) == 1


def test_dates_are_read_in_the_account_time_zone(api):
    now = api.system_date()
    # The zone the client's TimeZone names, daylight saving and all, not today's offset.
    assert api.tz == ZoneInfo("Australia/Sydney")
    assert abs(now - datetime.now(UTC)) < timedelta(minutes=2)


def test_an_unknown_time_zone_name_falls_back_to_the_system_date_offset(api, monkeypatch):
    from campaign_monitor import client as client_module

    monkeypatch.setattr(client_module, "zone_for", lambda label: None)
    api.system_date()
    assert api.tz.utcoffset(None) == datetime.now(ZoneInfo("Australia/Sydney")).utcoffset()


def test_a_subscriber_row_without_its_date_is_set_aside_and_the_page_still_read(monkeypatch):
    # Before, such a row became a subscriber with no date, and the sync failed on it
    # (comparing or storing its state date) instead of reporting the one row.
    api = CampaignMonitorClient(ApiKey("key"), base_url="http://127.0.0.1:9")
    api._tz = UTC
    row = {"EmailAddress": "ann@example.com", "Name": "Ann", "State": "Active"}
    envelope = {
        "Results": [{**row, "Date": "2026-03-01 09:30:00"}, {**row, "Date": ""}],
        "ResultsOrderedBy": "date",
        "PageNumber": 1,
        "NumberOfPages": 1,
        "TotalNumberOfRecords": 2,
    }
    monkeypatch.setattr(api, "get", lambda path, params=None: envelope)

    (page,) = api.subscriber_pages("list-1", "active")

    assert [s.date for s in page.records] == [datetime(2026, 3, 1, 9, 30, tzinfo=UTC)]
    assert [reason for _, reason in page.rejected] == ["ValueError: The record has no Date"]


def test_subscribers_are_walked_across_every_page(cm_emulator, cm_agency, first_list):
    small = api_for(cm_emulator, cm_agency["api_key"], page_size=10)
    pages = list(small.subscriber_pages(first_list, "active"))
    assert len(pages) > 3
    assert [p.number for p in pages] == list(range(1, len(pages) + 1))
    emails = [s.email for p in pages for s in p.records]
    assert len(emails) == pages[0].total
    assert len(set(emails)) == len(emails)

    big = api_for(cm_emulator, cm_agency["api_key"])
    assert sorted(s.email for s in big.subscribers(first_list, "active")) == sorted(emails)
    dates = [s.date for p in pages for s in p.records]
    assert dates == sorted(dates)  # ordered by state date, oldest first
    assert counts(cm_emulator)["GET /lists/{id}/active.json"] == len(pages) + 1


def test_date_filter_returns_only_later_state_changes(api, first_list):
    everyone = list(api.subscribers(first_list, "active"))
    middle = sorted(s.date for s in everyone)[len(everyone) // 2]
    later = list(api.subscribers(first_list, "active", since=middle))
    assert 0 < len(later) < len(everyone)
    assert all(s.date >= middle for s in later)


def test_subscriber_records_are_typed(api, first_list):
    subscriber = next(api.subscribers(first_list, "active"))
    assert isinstance(subscriber, Subscriber)
    assert subscriber.state == "active"
    assert subscriber.date.tzinfo is not None
    assert subscriber.consent_to_track in ("Yes", "No")
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in subscriber.custom_fields)


def test_a_state_change_moves_the_subscriber_to_the_other_state_list(cm_emulator, api, first_list):
    subscriber = next(api.subscribers(first_list, "active"))
    before = api.system_date()
    control(
        cm_emulator,
        "POST",
        "subscribers",
        json={"ListID": first_list, "EmailAddress": subscriber.email, "State": "Unsubscribed"},
    )
    moved = [s for s in api.subscribers(first_list, "unsubscribed", since=before)]
    assert [s.email for s in moved] == [subscriber.email]
    assert subscriber.email not in {s.email for s in api.subscribers(first_list, "active")}


def test_bad_key_is_an_authentication_error(cm_emulator):
    with pytest.raises(errors.AuthenticationError) as caught:
        api_for(cm_emulator, "not-a-key").clients()
    assert caught.value.code == 50
    assert caught.value.status == 401


def test_a_client_of_another_account_is_an_authentication_error(cm_emulator, cm_direct, api):
    with pytest.raises(errors.AuthenticationError) as caught:
        api.lists(cm_direct["clients"][0]["ClientID"])
    assert caught.value.code == 102


def test_unknown_path_is_not_found(api):
    with pytest.raises(errors.NotFoundError):
        api.get("no/such/thing.json")


def test_invalid_email_is_a_validation_error_with_the_code(api, first_list):
    with pytest.raises(errors.ValidationError) as caught:
        api.add_subscriber(first_list, NewSubscriber("not-an-email", consent_to_track="Yes"))
    assert caught.value.code == 1
    assert "Invalid Email Address" in str(caught.value)


def test_unreachable_api_is_a_network_error():
    with socket_closed_port() as port:
        api = CampaignMonitorClient(
            ApiKey("k"), base_url=f"http://127.0.0.1:{port}/api/v3.3", retries=1, backoff=0.01
        )
        with pytest.raises(errors.NetworkError) as caught:
            api.clients()
    assert f"127.0.0.1:{port}" in str(caught.value)


def test_persistent_server_errors_raise_after_retries(cm_emulator, api):
    control(cm_emulator, "POST", "faults", json={"status": 500, "count": 20, "path": "clients"})
    with pytest.raises(errors.ServerError) as caught:
        api.clients()
    assert caught.value.status == 500
    assert counts(cm_emulator)["GET /clients.json"] == 5  # first call and four retries


def test_429_is_retried_after_retry_after(cm_emulator, api):
    control(
        cm_emulator,
        "POST",
        "faults",
        json={"status": 429, "count": 1, "path": "clients", "retry_after": 1},
    )
    started = time.monotonic()
    assert len(api.clients()) == 3
    assert time.monotonic() - started >= 1
    assert counts(cm_emulator)["GET /clients.json"] == 2


def test_429_honours_x_ratelimit_reset(cm_emulator, api):
    control(
        cm_emulator,
        "POST",
        "faults",
        json={"status": 429, "count": 1, "path": "clients", "ratelimit_reset": 1},
    )
    started = time.monotonic()
    assert len(api.clients()) == 3
    assert time.monotonic() - started >= 1


def test_persistent_rate_limit_is_a_rate_limited_error(cm_emulator, cm_agency):
    api = api_for(cm_emulator, cm_agency["api_key"], retries=1)
    control(cm_emulator, "POST", "faults", json={"status": 429, "count": 5, "path": "clients"})
    with pytest.raises(errors.RateLimitedError):
        api.clients()


def test_other_client_errors_are_not_retried(cm_emulator):
    with pytest.raises(errors.AuthenticationError):
        api_for(cm_emulator, "wrong").clients()
    assert counts(cm_emulator)["GET /clients.json"] == 1


def oauth_tokens(emulator):
    oauth = emulator.info()["oauth"]
    redirect_uri = "http://127.0.0.1:9/callback"
    url = authorize_url(oauth["client_id"], redirect_uri, "ViewReports", "s1", emulator.base_url)
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    code = answer.headers["Location"].split("code=")[1].split("&")[0]
    return exchange_code(
        oauth["client_id"], oauth["client_secret"], redirect_uri, code, emulator.base_url
    )


def test_oauth_code_exchange_and_refresh_on_expired_token(cm_emulator):
    tokens = oauth_tokens(cm_emulator)
    refreshed = []
    api = CampaignMonitorClient(
        tokens, base_url=cm_emulator.base_url, on_token_refresh=refreshed.append
    )
    assert len(api.clients()) == 3

    control(cm_emulator, "POST", "faults", json={"expire_tokens": True})
    assert len(api.clients()) == 3
    assert len(refreshed) == 1
    assert refreshed[0].access_token != tokens.access_token
    assert api.credentials == refreshed[0]


def test_bad_oauth_code_is_an_authentication_error(cm_emulator):
    oauth = cm_emulator.info()["oauth"]
    with pytest.raises(errors.AuthenticationError, match="invalid or expired"):
        exchange_code(
            oauth["client_id"], oauth["client_secret"], "http://x/", "nope", cm_emulator.base_url
        )


def test_partly_failed_import_is_a_result_with_the_failures(api, first_list):
    people = [
        NewSubscriber("New.Person1@Example.com", "New One", consent_to_track="Yes"),
        NewSubscriber("broken@example", "Broken", consent_to_track="Yes"),
        NewSubscriber("new.person2@example.com", "Zoë Ångström", consent_to_track="No"),
    ]
    result = api.import_subscribers(first_list, people)
    assert [(f.email, f.code) for f in result.failures] == [("broken@example", 1)]
    assert result.submitted == 3
    active = {s.email.lower() for s in api.subscribers(first_list, "active")}
    assert {"new.person1@example.com", "new.person2@example.com"} <= active


def test_large_imports_go_in_calls_of_a_thousand(cm_emulator, api, first_list):
    people = (NewSubscriber(f"bulk{i}@example.com", consent_to_track="Yes") for i in range(1500))
    result = api.import_subscribers(first_list, people)
    assert result.failures == []
    assert result.new == 1500
    assert counts(cm_emulator)["POST /subscribers/{id}/import.json"] == 2


def test_unsubscribe_and_delete(api, first_list):
    one, two = [s.email for s in list(api.subscribers(first_list, "active"))[:2]]
    api.unsubscribe(first_list, one)
    api.delete_subscriber(first_list, two)
    assert one in {s.email for s in api.subscribers(first_list, "unsubscribed")}
    assert two in {s.email for s in api.subscribers(first_list, "deleted")}


def test_add_without_resubscribe_keeps_an_unsubscribed_subscriber_out(api, first_list):
    email = next(api.subscribers(first_list, "unsubscribed")).email
    with pytest.raises(errors.ValidationError) as caught:
        api.add_subscriber(first_list, NewSubscriber(email, consent_to_track="Yes"))
    assert caught.value.code == 206
    api.add_subscriber(first_list, NewSubscriber(email, consent_to_track="Yes"), resubscribe=True)
    assert email in {s.email for s in api.subscribers(first_list, "active")}


def test_campaigns_summary_and_tracking_events(api, cm_agency):
    client_id = cm_agency["clients"][0]["ClientID"]
    campaigns = list(api.sent_campaigns(client_id))
    assert campaigns
    assert [c.sent_date for c in campaigns] == sorted(c.sent_date for c in campaigns)
    recent = list(api.sent_campaigns(client_id, sent_from=campaigns[-1].sent_date))
    assert campaigns[-1].campaign_id in {c.campaign_id for c in recent}
    assert len(recent) < len(campaigns)

    campaign = campaigns[0]
    summary = api.campaign_summary(campaign.campaign_id)
    opens = list(api.opens(campaign.campaign_id))
    clicks = list(api.clicks(campaign.campaign_id))
    assert summary.total_opened == len(opens)
    assert summary.unique_opened == len({o.email.lower() for o in opens})
    assert summary.clicks == len(clicks)
    assert summary.recipients == len(list(api.recipients(campaign.campaign_id)))
    assert all(c.url for c in clicks)
    assert len(list(api.bounces(campaign.campaign_id))) == summary.bounced
    assert len(list(api.unsubscribes(campaign.campaign_id))) == summary.unsubscribed
    assert api.campaign_lists_and_segments(campaign.campaign_id).lists


def test_scheduled_and_draft_campaigns(api, cm_agency):
    client_id = cm_agency["clients"][0]["ClientID"]
    assert api.scheduled_campaigns(client_id)[0].date_scheduled is not None
    assert api.draft_campaigns(client_id)[0].date_created is not None


def test_people_of_a_client(api, cm_agency):
    people = api.people(cm_agency["clients"][0]["ClientID"])
    assert people and all("@" in p.email for p in people)


def test_the_api_key_never_appears_in_errors(cm_emulator):
    key = "super-secret-key-123456"
    with pytest.raises(errors.AuthenticationError) as caught:
        api_for(cm_emulator, key).clients()
    assert key not in str(caught.value)
    assert key not in repr(ApiKey(key))


class socket_closed_port:
    """A port on 127.0.0.1 that nothing listens on."""

    def __enter__(self) -> int:
        import socket

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        return self.port

    def __exit__(self, *exc) -> None:
        pass
