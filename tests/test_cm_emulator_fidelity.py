"""The Campaign Monitor emulator against the real service's documented behaviour, over HTTP:
UnsubscribeSetting (AllClientLists and OnlyThisList), the client's suppression list and what
it does to adds and imports, and the account's time zone with daylight saving (Sydney)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

SYDNEY = ZoneInfo("Australia/Sydney")
PAGE_KEYS = {
    "Results",
    "ResultsOrderedBy",
    "OrderDirection",
    "PageNumber",
    "PageSize",
    "RecordsOnThisPage",
    "TotalNumberOfRecords",
    "NumberOfPages",
}


@pytest.fixture
def emu(cm_empty):
    """The session's shared emulator, reset to its seed for this test (conftest.py)."""
    return cm_empty


@pytest.fixture
def client(emu):
    return emu.info()["accounts"][0]["clients"][0]


@pytest.fixture
def other_client(emu):
    return emu.info()["accounts"][0]["clients"][1]


@pytest.fixture
def api(emu):
    session = requests.Session()
    session.auth = (emu.info()["accounts"][0]["api_key"], "x")

    def call(method: str, path: str, **kwargs) -> requests.Response:
        return session.request(method, f"{emu.base_url}/{path}", **kwargs)

    return call


def body(response: requests.Response):
    return response.json() if response.content else None


def add(api, list_id: str, email: str, resubscribe: bool = False) -> requests.Response:
    data = {"EmailAddress": email, "ConsentToTrack": "Yes", "Resubscribe": resubscribe}
    return api("POST", f"subscribers/{list_id}.json", json=data)


def state(api, list_id: str, email: str) -> str:
    return api("GET", f"subscribers/{list_id}.json", params={"email": email}).json()["State"]


def subscriber(api, list_id: str, email: str) -> dict:
    return api("GET", f"subscribers/{list_id}.json", params={"email": email}).json()


def suppressed(api, client_id: str) -> list[str]:
    page = api("GET", f"clients/{client_id}/suppressionlist.json").json()
    return [row["EmailAddress"] for row in page["Results"]]


def new_list(api, client_id: str, title: str, setting: str | None = None) -> str:
    data = {"Title": title, "UnsubscribePage": "", "ConfirmedOptIn": False}
    data["ConfirmationSuccessPage"] = ""
    if setting:
        data["UnsubscribeSetting"] = setting
    response = api("POST", f"lists/{client_id}.json", json=data)
    assert response.status_code == 201, response.text
    return response.json()


# -- UnsubscribeSetting ------------------------------------------------------------------------


def test_lists_default_to_all_client_lists_and_the_setting_can_be_created_and_changed(api, client):
    seeded = client["lists"][0]["ListID"]
    assert api("GET", f"lists/{seeded}.json").json()["UnsubscribeSetting"] == "AllClientLists"
    created = new_list(api, client["ClientID"], "Partners", "OnlyThisList")
    details = api("GET", f"lists/{created}.json").json()
    assert details["UnsubscribeSetting"] == "OnlyThisList" and details["Title"] == "Partners"
    assert created in [
        m["ListID"] for m in api("GET", f"clients/{client['ClientID']}/lists.json").json()
    ]

    update = {"Title": "Partners", "UnsubscribeSetting": "AllClientLists"}
    assert api("PUT", f"lists/{created}.json", json=update).status_code == 200
    assert api("GET", f"lists/{created}.json").json()["UnsubscribeSetting"] == "AllClientLists"

    refused = api("PUT", f"lists/{created}.json", json={"Title": "x", "UnsubscribeSetting": "Nope"})
    assert refused.status_code == 400
    assert api("GET", f"lists/{created}.json").json()["Title"] == "Partners"  # nothing changed


def test_an_all_client_lists_unsubscribe_reaches_every_such_list_and_the_suppression_list(
    emu, api, client, other_client
):
    list_a, list_b = (m["ListID"] for m in client["lists"])
    only = new_list(api, client["ClientID"], "Only this", "OnlyThisList")
    elsewhere = other_client["lists"][0]["ListID"]
    for list_id in (list_a, list_b, only, elsewhere):
        assert add(api, list_id, "Ann@Example.com").status_code == 201

    response = api(
        "POST", f"subscribers/{list_a}/unsubscribe.json", json={"EmailAddress": "ann@example.com"}
    )

    assert response.status_code == 200 and response.content == b""
    assert state(api, list_a, "ann@example.com") == "Unsubscribed"
    assert state(api, list_b, "ann@example.com") == "Unsubscribed"  # AllClientLists too
    assert subscriber(api, list_b, "ann@example.com")["Date"] == emu.now()[:16] + ":00"
    assert state(api, only, "ann@example.com") == "Active"  # OnlyThisList is isolated
    assert state(api, elsewhere, "ann@example.com") == "Active"  # another client
    page = api("GET", f"clients/{client['ClientID']}/suppressionlist.json").json()
    (row,) = page["Results"]
    assert row["EmailAddress"].lower() == "ann@example.com"
    assert (row["SuppressionReason"], row["State"]) == ("Unsubscribed", "Suppressed")
    assert suppressed(api, other_client["ClientID"]) == []
    # The unsubscribed endpoint of the other list shows the change (its paging cache too).
    gone = api("GET", f"lists/{list_b}/unsubscribed.json").json()
    assert [r["EmailAddress"].lower() for r in gone["Results"]] == ["ann@example.com"]


def test_an_only_this_list_unsubscribe_touches_nothing_else(api, client):
    list_a, list_b = (m["ListID"] for m in client["lists"])
    only = new_list(api, client["ClientID"], "Only this", "OnlyThisList")
    for list_id in (list_a, list_b, only):
        add(api, list_id, "bo@example.com")

    api("POST", f"subscribers/{only}/unsubscribe.json", json={"EmailAddress": "bo@example.com"})

    assert state(api, only, "bo@example.com") == "Unsubscribed"
    assert state(api, list_a, "bo@example.com") == "Active"
    assert state(api, list_b, "bo@example.com") == "Active"
    assert suppressed(api, client["ClientID"]) == []


def test_campaign_unsubscribes_and_the_control_surface_follow_the_setting(emu, api, client):
    list_a, list_b = (m["ListID"] for m in client["lists"])
    for email in ("cy@example.com", "di@example.com"):
        add(api, list_a, email)
        add(api, list_b, email)
    campaign = emu.send_campaign(client["ClientID"], "News", [list_a])

    emu.add_event(campaign, "unsubscribe", "cy@example.com")
    emu.set_subscriber(list_b, "di@example.com", "Unsubscribed")

    assert state(api, list_b, "cy@example.com") == "Unsubscribed"
    assert state(api, list_a, "di@example.com") == "Unsubscribed"
    assert sorted(suppressed(api, client["ClientID"])) == ["cy@example.com", "di@example.com"]

    emu.set_unsubscribe_setting(list_b, "OnlyThisList")
    add(api, list_a, "ed@example.com")
    emu.set_subscriber(list_b, "ed@example.com", "Unsubscribed")
    assert state(api, list_a, "ed@example.com") == "Active"
    assert "ed@example.com" not in suppressed(api, client["ClientID"])


# -- the suppression list ----------------------------------------------------------------------


def test_adds_and_imports_of_a_suppressed_address_answer_as_campaign_monitor_does(emu, api, client):
    list_a, list_b = (m["ListID"] for m in client["lists"])
    only = new_list(api, client["ClientID"], "Only this", "OnlyThisList")
    emu.suppress(client["ClientID"], ["held@example.com"])

    refused = add(api, list_a, "held@example.com")
    assert (refused.status_code, refused.json()["Code"]) == (400, 204)
    assert refused.json()["Message"] == "In Suppression List"
    # An import is scrubbed against the suppression list, Resubscribe or not.
    people = [
        {"EmailAddress": e, "ConsentToTrack": "Yes"} for e in ("held@example.com", "ok@example.com")
    ]
    imported = api(
        "POST",
        f"subscribers/{list_b}/import.json",
        json={"Subscribers": people, "Resubscribe": True},
    )
    assert imported.status_code == 400
    result = imported.json()
    assert result["Code"] == 210
    assert result["ResultData"]["FailureDetails"] == [
        {"EmailAddress": "held@example.com", "Code": 204, "Message": "In Suppression List"}
    ]
    assert result["ResultData"]["TotalNewSubscribers"] == 1
    # An OnlyThisList list does not consult the suppression list.
    assert add(api, only, "held@example.com").status_code == 201
    # A one-at-a-time resubscribe gets in; the address stays suppressed.
    assert add(api, list_a, "held@example.com", resubscribe=True).status_code == 201
    assert state(api, list_a, "held@example.com") == "Active"
    assert suppressed(api, client["ClientID"]) == ["held@example.com"]


def test_the_suppression_list_is_paged_like_the_sample_and_unsuppress_removes_one(emu, api, client):
    emails = [f"s{n:02d}@example.com" for n in range(12)]
    path = f"clients/{client['ClientID']}/suppressionlist.json"
    assert (
        api(
            "POST", f"clients/{client['ClientID']}/suppress.json", json={"EmailAddresses": emails}
        ).status_code
        == 200
    )

    first = api("GET", path, params={"page": 1, "pagesize": 10}).json()
    second = api("GET", path, params={"page": 2, "pagesize": 10}).json()

    assert set(first) == PAGE_KEYS
    assert (first["ResultsOrderedBy"], first["OrderDirection"]) == ("email", "asc")
    assert (first["TotalNumberOfRecords"], first["NumberOfPages"]) == (12, 2)
    assert (first["RecordsOnThisPage"], second["RecordsOnThisPage"]) == (10, 2)
    assert [r["EmailAddress"] for r in first["Results"] + second["Results"]] == emails
    row = first["Results"][0]
    assert set(row) == {"SuppressionReason", "EmailAddress", "Date", "State"}
    local_now = datetime.strptime(emu.now(), "%Y-%m-%d %H:%M:%S")
    assert abs(datetime.strptime(row["Date"], "%Y-%m-%d %H:%M:%S") - local_now) < timedelta(
        minutes=2
    )
    backwards = api("GET", path, params={"orderdirection": "desc"}).json()
    assert backwards["Results"][0]["EmailAddress"] == emails[-1]
    assert api("GET", path, params={"pagesize": 5}).json()["Code"] == 801

    unsuppress = f"clients/{client['ClientID']}/unsuppress.json"
    response = api("PUT", unsuppress, params={"email": "s03@example.com"}, data=" ")
    assert response.status_code == 200 and response.content == b""
    assert "s03@example.com" not in suppressed(api, client["ClientID"])
    again = api("PUT", unsuppress, params={"email": "s03@example.com"}, data=" ")
    assert (again.status_code, again.json()["Code"]) == (400, 176)
    assert add(api, client["lists"][0]["ListID"], "s03@example.com").status_code == 201


def test_suppressing_unsubscribes_active_people_of_all_client_lists_only(api, client):
    list_a = client["lists"][0]["ListID"]
    only = new_list(api, client["ClientID"], "Only this", "OnlyThisList")
    add(api, list_a, "fi@example.com")
    add(api, only, "fi@example.com")

    api(
        "POST",
        f"clients/{client['ClientID']}/suppress.json",
        json={"EmailAddresses": ["fi@example.com"]},
    )

    assert state(api, list_a, "fi@example.com") == "Unsubscribed"
    assert state(api, only, "fi@example.com") == "Active"


# -- the account's time zone -------------------------------------------------------------------


def test_system_date_and_client_time_zone_are_sydney_with_daylight_saving(emu, api, client):
    details = api("GET", f"clients/{client['ClientID']}.json").json()
    assert details["BasicDetails"]["TimeZone"] == "(GMT+10:00) Canberra, Melbourne, Sydney"
    system = api("GET", "systemdate.json").json()["SystemDate"]
    expected = datetime.now(UTC).astimezone(SYDNEY).replace(tzinfo=None)
    assert abs(datetime.strptime(system, "%Y-%m-%d %H:%M:%S") - expected) < timedelta(minutes=2)

    emu.set_clock("2026-10-04 01:59:00")  # Sydney springs forward at 02:00 AEST
    assert api("GET", "systemdate.json").json()["SystemDate"] == "2026-10-04 01:59:00"
    emu.advance_clock(120)
    assert api("GET", "systemdate.json").json()["SystemDate"] == "2026-10-04 03:01:00"

    emu.set_clock("2026-04-05 02:59:00+11:00")  # falls back at 03:00 AEDT to 02:00 AEST
    assert api("GET", "systemdate.json").json()["SystemDate"] == "2026-04-05 02:59:00"
    emu.advance_clock(120)
    assert api("GET", "systemdate.json").json()["SystemDate"] == "2026-04-05 02:01:00"
    assert emu.utc_now().startswith("2026-04-04 16:01")


def test_dates_across_fall_back_order_as_instants_and_filters_read_local_time(emu, api, client):
    list_id = client["lists"][0]["ListID"]
    # 02:50 daylight time, then 02:10 standard time: 40 minutes later, an earlier wall clock.
    emu.set_subscriber(list_id, "first@example.com", "Active", date="2026-04-05 02:50:00+11:00")
    emu.set_subscriber(list_id, "second@example.com", "Active", date="2026-04-05 02:10:00+10:00")
    emu.set_subscriber(list_id, "before@example.com", "Active", date="2026-04-05 01:30:00")

    page = api("GET", f"lists/{list_id}/active.json", params={"orderfield": "date"}).json()
    rows = [(r["EmailAddress"], r["Date"]) for r in page["Results"]]
    assert rows == [
        ("before@example.com", "2026-04-05 01:30:00"),
        ("first@example.com", "2026-04-05 02:50:00"),
        ("second@example.com", "2026-04-05 02:10:00"),
    ]
    # A repeated local time is read as standard time (the later instant), as .NET does.
    since = api("GET", f"lists/{list_id}/active.json", params={"date": "2026-04-05 02:05"}).json()
    assert [r["EmailAddress"] for r in since["Results"]] == ["second@example.com"]
    since = api("GET", f"lists/{list_id}/active.json", params={"date": "2026-04-05 01:59"}).json()
    assert since["TotalNumberOfRecords"] == 2
    # A local time the spring-forward hour skips is no date at all.
    skipped = api("GET", f"lists/{list_id}/active.json", params={"date": "2026-10-04 02:30"})
    assert (skipped.status_code, skipped.json()["Code"]) == (400, 5)


def test_dates_across_spring_forward_and_the_control_surface(emu, api, client):
    list_id = client["lists"][0]["ListID"]
    emu.set_subscriber(list_id, "early@example.com", "Active", date="2026-10-04 01:55:00")
    emu.set_subscriber(list_id, "late@example.com", "Active", date="2026-10-04 03:05:00")
    page = api("GET", f"lists/{list_id}/active.json", params={"date": "2026-10-04 01:58"}).json()
    assert [(r["EmailAddress"], r["Date"]) for r in page["Results"]] == [
        ("late@example.com", "2026-10-04 03:05:00")
    ]
    with pytest.raises(ValueError, match="does not exist"):
        emu.set_subscriber(list_id, "gap@example.com", "Active", date="2026-10-04 02:30:00")
    campaign = emu.send_campaign(
        client["ClientID"], "Spring", [list_id], sent_date="2026-10-04 03:10:00"
    )
    sent = api(
        "GET", f"clients/{client['ClientID']}/campaigns.json", params={"sentfromdate": "2026-10-04"}
    ).json()
    assert [(c["CampaignID"], c["SentDate"]) for c in sent["Results"]] == [
        (campaign, "2026-10-04 03:10:00")
    ]
