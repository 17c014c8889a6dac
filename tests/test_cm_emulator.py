"""The Campaign Monitor emulator, over real HTTP: the shapes, rules and error codes of the
real API v3.3, the control surface, and the official createsend library against it."""

import base64
import http.client
import importlib
import time
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import createsend
import pytest
import requests

from emulators.campaign_monitor import CampaignMonitorEmulator

STAMP = "%Y-%m-%d %H:%M:%S"
PAGE_KEYS = [
    "Results",
    "ResultsOrderedBy",
    "OrderDirection",
    "PageNumber",
    "PageSize",
    "RecordsOnThisPage",
    "TotalNumberOfRecords",
    "NumberOfPages",
]
SUBSCRIBER_KEYS = [
    "EmailAddress",
    "Name",
    "Date",
    "ListJoinedDate",
    "State",
    "CustomFields",
    "ReadsEmailWith",
]


@pytest.fixture(scope="module")
def emu():
    with CampaignMonitorEmulator(seed="demo") as emulator:
        yield emulator


@pytest.fixture(scope="module")
def info(emu):
    return emu.info()


@pytest.fixture(scope="module")
def agency(info):
    return info["accounts"][0]


@pytest.fixture(scope="module")
def direct(info):
    return info["accounts"][1]


@pytest.fixture(scope="module")
def api(emu, agency):
    """GET/POST/... against the API as the agency account."""
    return Api(emu.base_url, agency["api_key"])


@pytest.fixture(scope="module")
def direct_api(emu, direct):
    return Api(emu.base_url, direct["api_key"])


@pytest.fixture(autouse=True)
def no_faults_left(emu):
    yield
    emu.clear_faults()


class Api:
    def __init__(self, base_url: str, key: str | None = None, token: str | None = None):
        self.base_url = base_url
        self.session = requests.Session()
        if key:
            self.session.auth = (key, "x")
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def __call__(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path: str, **params) -> requests.Response:
        return self("GET", path, params=params)

    def ok(self, path: str, **params):
        reply = self.get(path, **params)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def all_pages(self, path: str, **params) -> list[dict]:
        results, page = [], 1
        while True:
            body = self.ok(path, page=page, **params)
            results += body["Results"]
            if body["PageNumber"] >= body["NumberOfPages"]:
                return results
            page += 1


def error(reply: requests.Response) -> tuple[int, int]:
    return reply.status_code, reply.json()["Code"]


def first_list(account: dict, client: int = 0, which: int = 0) -> str:
    return account["clients"][client]["lists"][which]["ListID"]


def minute(stamp: str) -> str:
    return stamp[:16] + ":00"


# ---- accounts, clients and auth ------------------------------------------------------------


def test_info_lists_an_agency_with_three_clients_and_a_direct_account(info, emu):
    agency, direct = info["accounts"]
    assert (agency["type"], len(agency["clients"])) == ("agency", 3)
    assert (direct["type"], len(direct["clients"])) == ("direct", 1)
    assert info["base_url"] == emu.base_url == emu.root_url + "/api/v3.3"
    assert requests.get(emu.root_url + "/_emulator/info").json() == info
    for client in agency["clients"] + direct["clients"]:
        assert len(client["ClientID"]) == 32 and len(client["lists"]) == 2


def test_same_seed_same_ids_keys_and_people():
    def snapshot():
        with CampaignMonitorEmulator(seed=500) as emulator:
            accounts = emulator.info()["accounts"]
            api = Api(emulator.base_url, accounts[0]["api_key"])
            people = api.ok(f"/lists/{first_list(accounts[0])}/active.json", pagesize=50)
            return accounts, [(p["EmailAddress"], p["Name"]) for p in people["Results"]]

    assert snapshot() == snapshot()


def test_clients_and_client_details(api, agency):
    clients = api.ok("/clients.json")
    assert clients == [{"ClientID": c["ClientID"], "Name": c["Name"]} for c in agency["clients"]]
    details = api.ok(f"/clients/{clients[0]['ClientID']}.json")
    assert list(details) == ["ApiKey", "AccessDetails", "BasicDetails", "BillingDetails"]
    assert details["ApiKey"] == agency["clients"][0]["ApiKey"]
    assert details["BasicDetails"]["TimeZone"] == "(GMT+10:00) Canberra, Melbourne, Sydney"
    lists = api.ok(f"/clients/{clients[0]['ClientID']}/lists.json")
    assert lists == agency["clients"][0]["lists"]
    people = api.ok(f"/clients/{clients[0]['ClientID']}/people.json")
    assert len(people) == 2 and set(people[0]) == {"EmailAddress", "Name", "Status", "AccessLevel"}


def test_a_client_key_sees_only_its_client(emu, agency):
    own, other = agency["clients"][0], agency["clients"][1]
    client_api = Api(emu.base_url, own["ApiKey"])
    assert client_api.ok("/clients.json") == [{"ClientID": own["ClientID"], "Name": own["Name"]}]
    assert client_api.get(f"/clients/{own['ClientID']}/lists.json").status_code == 200
    assert error(client_api.get(f"/clients/{other['ClientID']}/lists.json")) == (401, 102)
    assert error(client_api.get(f"/lists/{first_list(agency, 1)}/active.json")) == (401, 101)


def test_auth_errors(emu, api, agency, direct):
    anonymous = Api(emu.base_url)
    reply = anonymous.get("/clients.json")
    assert reply.status_code == 401
    assert reply.json() == {
        "Code": 50,
        "Message": "Must supply a valid HTTP Basic Authorization header",
    }
    assert error(Api(emu.base_url, "not-a-key").get("/clients.json")) == (401, 50)
    assert error(Api(emu.base_url, token="made-up").get("/clients.json")) == (401, 120)
    other_client = direct["clients"][0]["ClientID"]
    assert error(api.get(f"/clients/{other_client}.json")) == (401, 102)
    assert error(api.get("/clients/0123456789abcdef0123456789abcdef.json")) == (401, 102)
    assert error(api.get(f"/lists/{first_list(direct)}/active.json")) == (401, 101)
    assert error(api.get("/campaigns/0123456789abcdef0123456789abcdef/summary.json")) == (
        401,
        301,
    )


def test_unknown_paths_are_404_with_an_empty_body(emu, api):
    for path in ("/nothing.json", "/clients"):
        reply = api.get(path)
        assert (reply.status_code, reply.content) == (404, b"")
    assert requests.get(emu.root_url + "/elsewhere").status_code == 404


def test_systemdate_follows_the_emulated_clock(emu, api):
    before = api.ok("/systemdate.json")["SystemDate"]
    assert before.endswith(":00") and len(before) == 19
    emu.advance_clock(3600)
    after = datetime.strptime(api.ok("/systemdate.json")["SystemDate"], STAMP)
    assert (
        timedelta(minutes=59) <= after - datetime.strptime(before, STAMP) <= timedelta(minutes=61)
    )
    clock = requests.get(emu.root_url + "/_emulator/clock").json()["now"]
    assert minute(clock) == api.ok("/systemdate.json")["SystemDate"]


def test_keep_alive_serves_several_requests_on_one_connection(emu, agency):
    auth = base64.b64encode(f"{agency['api_key']}:x".encode()).decode()
    conn = http.client.HTTPConnection(emu.host, emu.port, timeout=5)
    for _ in range(3):
        conn.request("GET", "/api/v3.3/systemdate.json", headers={"Authorization": f"Basic {auth}"})
        reply = conn.getresponse()
        assert reply.status == 200 and reply.getheader("Content-Length")
        reply.read()
    assert conn.sock is not None  # never closed in between
    conn.close()


# ---- list subscribers: paging, ordering, filters ------------------------------------------


def test_active_page_shape_and_tracking_preference(api, agency):
    path = f"/lists/{first_list(agency)}/active.json"
    body = api.ok(path, pagesize=10)
    assert list(body) == PAGE_KEYS
    assert (body["ResultsOrderedBy"], body["OrderDirection"], body["PageSize"]) == (
        "email",
        "asc",
        10,
    )
    assert all(list(r) == SUBSCRIBER_KEYS for r in body["Results"])
    assert {r["State"] for r in body["Results"]} == {"Active"}
    with_consent = api.ok(path, pagesize=10, includetrackingpreference="True")["Results"]
    assert all(r["ConsentToTrack"] in ("Yes", "No") for r in with_consent)
    # parameter names are case-insensitive (createsend-php sends pageSize, orderField...)
    php = api.ok(
        path,
        pageSize=10,
        orderField="date",
        orderDirection="desc",
        includeTrackingPreference="true",
    )
    assert (php["PageSize"], php["ResultsOrderedBy"], php["OrderDirection"]) == (10, "date", "desc")
    assert "ConsentToTrack" in php["Results"][0]


def test_seeded_people_have_unicode_names_mixed_case_emails_and_custom_fields(api, agency):
    people = api.all_pages(f"/lists/{first_list(agency)}/active.json")
    names = {p["Name"] for p in people}
    assert any(ord(ch) > 0x2E80 for name in names for ch in name)  # CJK
    assert any("ł" in name.lower() or "ö" in name for name in names)
    assert any(p["EmailAddress"] != p["EmailAddress"].lower() for p in people)
    keys = [[f["Key"] for f in p["CustomFields"]] for p in people]
    assert any(k.count("interests") > 1 for k in keys)  # multi-select repeats its key
    assert {"website", "age", "birthday"} <= {k for ks in keys for k in ks}


def test_paging_with_pagesize_10_walks_every_record_once(api, agency):
    path = f"/lists/{first_list(agency)}/active.json"
    total = api.ok(path)["TotalNumberOfRecords"]
    pages = -(-total // 10)
    seen = []
    for page in range(1, pages + 1):
        body = api.ok(path, page=page, pagesize=10)
        assert (body["PageNumber"], body["NumberOfPages"]) == (page, pages)
        assert body["TotalNumberOfRecords"] == total
        assert body["RecordsOnThisPage"] == len(body["Results"]) == min(10, total - len(seen))
        seen += [r["EmailAddress"] for r in body["Results"]]
    assert len(seen) == len(set(seen)) == total
    assert seen == sorted(seen, key=str.lower)
    past_end = api.ok(path, page=pages + 1, pagesize=10)
    assert past_end["Results"] == [] and past_end["RecordsOnThisPage"] == 0
    assert (past_end["TotalNumberOfRecords"], past_end["NumberOfPages"]) == (total, pages)


def test_ordering_by_email_name_and_date_both_ways(api, agency):
    path = f"/lists/{first_list(agency)}/unsubscribed.json"
    asc = api.all_pages(path, pagesize=10)
    desc = api.all_pages(path, pagesize=10, orderdirection="desc")
    assert [r["EmailAddress"] for r in desc] == [r["EmailAddress"] for r in asc][::-1]
    by_date = api.all_pages(path, pagesize=10, orderfield="date", orderdirection="desc")
    assert [r["Date"] for r in by_date] == sorted((r["Date"] for r in asc), reverse=True)
    body = api.ok(path, orderfield="NAME", orderdirection="ASC")
    assert (body["ResultsOrderedBy"], body["OrderDirection"]) == ("name", "asc")
    assert [r["Name"] for r in body["Results"]] == sorted(r["Name"] for r in asc)


def test_date_filter_returns_state_changes_on_or_after_it(api, agency):
    path = f"/lists/{first_list(agency)}/active.json"
    dates = sorted(r["Date"] for r in api.all_pages(path))
    middle = dates[len(dates) // 2]
    # the API takes a day, a minute or a second; a day means from its midnight
    for value, since in [
        (middle, middle),
        (middle[:16], middle),
        (middle[:10], middle[:10] + " 00:00:00"),
    ]:
        recent = api.all_pages(path, date=value, pagesize=10, orderfield="date")
        assert [r["Date"] for r in recent] == [d for d in dates if d >= since]
    assert api.ok(path, date="2999-01-01")["TotalNumberOfRecords"] == 0


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"page": 0}, 800),
        ({"page": "x"}, 800),
        ({"pagesize": 9}, 801),
        ({"pagesize": 1001}, 801),
        ({"orderfield": "colour"}, 802),
        ({"orderdirection": "sideways"}, 803),
        ({"date": "yesterday"}, 5),
        ({"date": "2024-13-45"}, 5),
    ],
)
def test_paging_errors(api, agency, params, code):
    assert error(api.get(f"/lists/{first_list(agency)}/active.json", **params)) == (400, code)


def test_report_paging_errors(api, agency):
    campaign = api.ok(f"/clients/{agency['clients'][0]['ClientID']}/campaigns.json")["Results"][0]
    path = f"/campaigns/{campaign['CampaignID']}"
    assert error(api.get(f"{path}/opens.json", orderfield="name")) == (400, 802)
    assert error(api.get(f"{path}/recipients.json", pagesize=2000)) == (400, 801)
    assert error(api.get(f"{path}/clicks.json", date="soon")) == (400, 5)


def test_control_state_change_moves_a_subscriber_with_a_new_date(emu, api, agency):
    list_id = first_list(agency)
    person = api.ok(f"/lists/{list_id}/active.json", pagesize=10)["Results"][3]
    emu.advance_clock(120)
    now = minute(emu.now())
    reply = requests.post(
        emu.root_url + "/_emulator/subscribers",
        json={"ListID": list_id, "EmailAddress": person["EmailAddress"], "State": "Unsubscribed"},
    )
    assert reply.status_code == 200 and reply.json()["State"] == "Unsubscribed"
    active = api.all_pages(f"/lists/{list_id}/active.json")
    assert person["EmailAddress"] not in [r["EmailAddress"] for r in active]
    moved = api.ok(f"/lists/{list_id}/unsubscribed.json", date=now)["Results"]
    assert [(r["EmailAddress"], r["Date"]) for r in moved] == [(person["EmailAddress"], now)]
    assert moved[0]["ListJoinedDate"] == person["ListJoinedDate"]


# ---- subscriber writes --------------------------------------------------------------------


def add(api, list_id: str, email: str, **extra) -> requests.Response:
    body = {
        "EmailAddress": email,
        "Name": "New Person",
        "CustomFields": [],
        "Resubscribe": False,
        "ConsentToTrack": "Yes",
        **extra,
    }
    return api("POST", f"/subscribers/{list_id}.json", json=body)


def test_add_returns_the_email_as_a_bare_string_and_keeps_its_case(api, agency):
    list_id = first_list(agency, 2)
    fields = [
        {"Key": "[website]", "Value": "https://example.com/?a=1&b=2"},
        {"Key": "interests", "Value": "Music"},
        {"Key": "interests", "Value": "Travel"},
        {"Key": "unknown", "Value": "ignored"},
    ]
    reply = add(api, list_id, "Zoë.Tester@Example.COM", Name="Zoë Ångström", CustomFields=fields)
    assert (reply.status_code, reply.json()) == (201, "Zoë.Tester@Example.COM")
    record = api.ok(f"/subscribers/{list_id}.json", email="zoë.tester@example.com")
    assert (record["EmailAddress"], record["Name"], record["State"]) == (
        "Zoë.Tester@Example.COM",
        "Zoë Ångström",
        "Active",
    )
    assert record["CustomFields"] == [
        {"Key": "website", "Value": "https://example.com/?a=1&b=2"},
        {"Key": "interests", "Value": "Music"},
        {"Key": "interests", "Value": "Travel"},
    ]
    assert record["Date"] == record["ListJoinedDate"] and "ConsentToTrack" not in record


@pytest.mark.parametrize(
    ("email", "extra", "code"),
    [
        ("example+1@example", {}, 1),
        ("two@@example.com", {}, 1),
        ("@example.com", {}, 1),
        ("valid@example.com", {"ConsentToTrack": None}, 214),
        ("valid@example.com", {"ConsentToTrack": "Maybe"}, 215),
    ],
)
def test_add_validation_errors(api, agency, email, extra, code):
    assert error(add(api, first_list(agency, 2), email, **extra)) == (400, code)


def test_add_without_resubscribe_refuses_inactive_people(emu, api, agency):
    list_id = first_list(agency, 2)
    for n, (state, code) in enumerate(
        [("Unsubscribed", 206), ("Deleted", 205), ("Bounced", 207), ("Unconfirmed", 208)]
    ):
        email = f"refused{n}@example.com"
        emu.set_subscriber(list_id, email, state, date="2024-01-02 03:04:00")
        assert error(add(api, list_id, email)) == (400, code)
    emu.advance_clock(60)
    assert add(api, list_id, "REFUSED0@example.com", Resubscribe=True).status_code == 201
    back = api.ok(f"/subscribers/{list_id}.json", email="refused0@example.com")
    assert (back["State"], back["Date"]) == ("Active", minute(emu.now()))
    assert back["ListJoinedDate"] == "2024-01-02 03:04:00"


def test_update_unsubscribe_and_delete(api, agency):
    list_id = first_list(agency, 2, 1)
    assert add(api, list_id, "mover@example.com").status_code == 201
    body = {
        "EmailAddress": "Moved@example.com",
        "Name": "Moved",
        "CustomFields": [],
        "Resubscribe": False,
        "ConsentToTrack": "Unchanged",
    }
    reply = api(
        "PUT", f"/subscribers/{list_id}.json", params={"email": "mover@example.com"}, json=body
    )
    assert (reply.status_code, reply.content) == (200, b"")
    assert api.ok(f"/subscribers/{list_id}.json", email="moved@example.com")["Name"] == "Moved"
    assert error(api.get(f"/subscribers/{list_id}.json", email="mover@example.com")) == (400, 203)

    reply = api(
        "POST",
        f"/subscribers/{list_id}/unsubscribe.json",
        json={"EmailAddress": "moved@example.com"},
    )
    assert reply.status_code == 200
    unsubscribed = api.all_pages(f"/lists/{list_id}/unsubscribed.json")
    assert "Moved@example.com" in [r["EmailAddress"] for r in unsubscribed]

    reply = api("DELETE", f"/subscribers/{list_id}.json", params={"email": "MOVED@example.com"})
    assert reply.status_code == 200
    deleted = api.all_pages(f"/lists/{list_id}/deleted.json")
    assert "Moved@example.com" in [r["EmailAddress"] for r in deleted]

    for method, kwargs in [
        ("PUT", {"params": {"email": "nobody@example.com"}, "json": body}),
        ("DELETE", {"params": {"email": "nobody@example.com"}}),
        ("POST", {"json": {"EmailAddress": "nobody@example.com"}}),
    ]:
        suffix = "/unsubscribe" if method == "POST" else ""
        assert error(api(method, f"/subscribers/{list_id}{suffix}.json", **kwargs)) == (400, 203)


def test_import_success(api, agency):
    list_id = first_list(agency, 1, 1)
    people = [
        {
            "EmailAddress": f"imported{n}@example.com",
            "Name": f"Imported {n}",
            "ConsentToTrack": "Yes",
        }
        for n in range(3)
    ]
    reply = api(
        "POST",
        f"/subscribers/{list_id}/import.json",
        json={"Subscribers": people, "Resubscribe": True},
    )
    assert reply.status_code == 200
    assert reply.json() == {
        "FailureDetails": [],
        "TotalUniqueEmailsSubmitted": 3,
        "TotalExistingSubscribers": 0,
        "TotalNewSubscribers": 3,
        "DuplicateEmailsInSubmission": [],
    }


def test_import_partial_success_is_a_400_with_result_data(api, agency):
    list_id = first_list(agency, 1, 1)
    people = [
        {"EmailAddress": "partial1@example.com", "ConsentToTrack": "Yes"},
        {"EmailAddress": "example+1@example", "ConsentToTrack": "Yes"},
        {"EmailAddress": "Partial2@example.com", "ConsentToTrack": "No"},
        {"EmailAddress": "PARTIAL1@example.com", "ConsentToTrack": "Yes"},
    ]
    reply = api(
        "POST",
        f"/subscribers/{list_id}/import.json",
        json={"Subscribers": people, "Resubscribe": False},
    )
    assert reply.status_code == 400
    body = reply.json()
    assert (body["Code"], body["Message"]) == (210, "Subscriber Import had some failures")
    assert body["ResultData"] == {
        "FailureDetails": [
            {"EmailAddress": "example+1@example", "Code": 1, "Message": "Invalid Email Address"}
        ],
        "TotalUniqueEmailsSubmitted": 3,
        "TotalExistingSubscribers": 0,
        "TotalNewSubscribers": 2,
        "DuplicateEmailsInSubmission": ["PARTIAL1@example.com"],
    }
    assert api.ok(f"/subscribers/{list_id}.json", email="partial2@example.com")["State"] == "Active"


def test_import_limits(api, agency):
    path = f"/subscribers/{first_list(agency, 1, 1)}/import.json"
    many = [{"EmailAddress": f"bulk{n}@example.com", "ConsentToTrack": "Yes"} for n in range(1001)]
    assert error(api("POST", path, json={"Subscribers": many, "Resubscribe": True})) == (400, 209)
    assert error(api("POST", path, json={"Subscribers": [], "Resubscribe": True})) == (400, 212)


# ---- campaigns ------------------------------------------------------------------------------


def test_campaign_listing_is_paged_by_sent_date(emu, direct_api, direct):
    api = direct_api
    client = direct["clients"][0]
    list_ids = [lst["ListID"] for lst in client["lists"]]
    for n in range(8):
        emu.send_campaign(
            client["ClientID"], f"Extra {n}", list_ids, sent_date=f"2024-03-{n + 1:02d} 09:30:00"
        )
    path = f"/clients/{client['ClientID']}/campaigns.json"
    everything = api.all_pages(path, pagesize=10)
    assert len(everything) == 13
    assert [c["SentDate"] for c in everything] == sorted(
        (c["SentDate"] for c in everything), reverse=True
    )
    second = api.ok(path, pagesize=10, page=2)
    assert (second["ResultsOrderedBy"], second["OrderDirection"]) == ("SentDate", "desc")
    assert (second["RecordsOnThisPage"], second["NumberOfPages"]) == (3, 2)
    window = api.ok(path, sentfromdate="2024-03-03", senttodate="2024-03-05", orderdirection="asc")
    assert [c["Name"] for c in window["Results"]] == ["Extra 2", "Extra 3", "Extra 4"]
    recent = api.ok(path, sentfromdate="2024-04-01")
    assert recent["TotalNumberOfRecords"] == 5
    assert error(api.get(path, sentfromdate="March")) == (400, 5)
    first = everything[0]
    assert set(first) >= {"WebVersionURL", "CampaignID", "Subject", "SentDate", "TotalRecipients"}


def test_scheduled_and_drafts_are_bare_arrays(api, agency):
    client_id = agency["clients"][0]["ClientID"]
    scheduled = api.ok(f"/clients/{client_id}/scheduled.json")
    drafts = api.ok(f"/clients/{client_id}/drafts.json")
    assert len(scheduled) == len(drafts) == 1
    assert scheduled[0]["ScheduledTimeZone"] == "(GMT+10:00) Canberra, Melbourne, Sydney"
    assert "DateScheduled" not in drafts[0] and "PreviewURL" in drafts[0]


def test_seeded_reports_have_every_kind_of_event(api, agency):
    client_id = agency["clients"][0]["ClientID"]
    campaign = api.ok(f"/clients/{client_id}/campaigns.json")["Results"][0]["CampaignID"]
    path = f"/campaigns/{campaign}"
    opens = api.all_pages(f"{path}/opens.json")
    assert len(opens) > len({o["EmailAddress"] for o in opens})  # some people open twice
    clicks = api.ok(f"{path}/clicks.json")["Results"]
    assert any("?" in c["URL"] and "&" in c["URL"] for c in clicks)
    bounces = api.ok(f"{path}/bounces.json")["Results"]
    assert {b["BounceType"] for b in bounces} == {"Soft", "Hard"}
    assert api.ok(f"{path}/spam.json")["Results"]
    assert api.ok(f"{path}/unsubscribes.json")["Results"]


def test_summary_counts_match_the_events(emu, direct_api, direct):
    api = direct_api
    client = direct["clients"][0]
    list_id = client["lists"][0]["ListID"]
    for n in range(4):
        emu.set_subscriber(list_id, f"Reader{n}@Example.com", "Active", name=f"Reader {n}")
    campaign = requests.post(
        emu.root_url + "/_emulator/campaigns",
        json={"ClientID": client["ClientID"], "Name": "Counted", "ListIDs": [list_id]},
    ).json()["CampaignID"]
    emu.advance_clock(300)
    events = [
        ("open", "reader0@example.com", {}),
        ("open", "reader0@example.com", {}),
        ("open", "reader1@example.com", {}),
        ("click", "reader1@example.com", {"URL": "https://example.com/?x=1&y=2"}),
        ("unsubscribe", "reader2@example.com", {}),
        ("bounce", "reader3@example.com", {"BounceType": "Hard", "Reason": "Gone"}),
        ("spam", "reader1@example.com", {}),
    ]
    for kind, email, extra in events:
        reply = requests.post(
            emu.root_url + "/_emulator/events",
            json={"CampaignID": campaign, "Type": kind, "EmailAddress": email, **extra},
        )
        assert reply.status_code == 201, reply.text
    summary = api.ok(f"/campaigns/{campaign}/summary.json")
    recipients = api.all_pages(f"/campaigns/{campaign}/recipients.json", pagesize=10)
    assert summary["Recipients"] == len(recipients)
    assert {
        k: summary[k] for k in ("TotalOpened", "UniqueOpened", "Clicks", "Unsubscribed", "Bounced")
    } == {"TotalOpened": 3, "UniqueOpened": 2, "Clicks": 1, "Unsubscribed": 1, "Bounced": 1}
    assert summary["SpamComplaints"] == 1 and summary["Name"] == "Counted"

    now = minute(emu.now())
    click = api.ok(f"/campaigns/{campaign}/clicks.json")["Results"]
    assert (click[0]["EmailAddress"], click[0]["URL"], click[0]["ListID"], click[0]["Date"]) == (
        "Reader1@Example.com",
        "https://example.com/?x=1&y=2",
        list_id,
        now,
    )
    bounce = api.ok(f"/campaigns/{campaign}/bounces.json")["Results"][0]
    assert (bounce["BounceType"], bounce["Reason"]) == ("Hard", "Gone")
    states = {
        email: api.ok(f"/subscribers/{list_id}.json", email=email)
        for email in ("reader2@example.com", "reader3@example.com")
    }
    assert [(s["State"], s["Date"]) for s in states.values()] == [
        ("Unsubscribed", now),
        ("Bounced", now),
    ]
    lists = api.ok(f"/campaigns/{campaign}/listsandsegments.json")
    assert lists["Lists"][0]["ListID"] == list_id and lists["Segments"] == []
    stranger = {"CampaignID": campaign, "Type": "open", "EmailAddress": "x@y.com"}
    bad = requests.post(emu.root_url + "/_emulator/events", json=stranger)
    assert bad.status_code == 400


# ---- faults, OAuth, request counts ----------------------------------------------------------


def test_rate_limit_fault_honours_count_and_headers(emu, api):
    reply = requests.post(
        emu.root_url + "/_emulator/faults",
        json={"status": 429, "count": 2, "retry_after": 7, "ratelimit_reset": 30},
    )
    assert reply.status_code == 200
    for _ in range(2):
        limited = api.get("/systemdate.json")
        assert limited.status_code == 429
        assert limited.json() == {"Code": 429, "Message": "Rate limit exceeded"}
        assert limited.headers["Retry-After"] == "7"
        assert limited.headers["X-RateLimit-Reset"] == "30"
    assert api.get("/systemdate.json").status_code == 200


def test_server_error_fault_matches_its_path_only(emu, api, agency):
    emu.add_fault(status=500, path="/active.json")
    assert api.get("/systemdate.json").status_code == 200
    failed = api.get(f"/lists/{first_list(agency)}/active.json")
    assert failed.status_code == 500
    assert failed.json() == {"Code": 500, "Message": "Sorry, we've run into a problem"}
    assert api.get(f"/lists/{first_list(agency)}/active.json").status_code == 200
    emu.add_fault(status=503, count=5)
    assert api.get("/systemdate.json").status_code == 503
    assert requests.delete(emu.root_url + "/_emulator/faults").status_code == 200
    assert api.get("/systemdate.json").status_code == 200


def test_armed_faults_are_listed_until_used_up(emu, api):
    """The soak reads what is still armed to tell a fault that reached a client from one
    that never did."""
    faults = emu.root_url + "/_emulator/faults"
    assert requests.get(faults).json() == []
    emu.add_fault(status=429, count=2, retry_after=1)
    assert api.get("/systemdate.json").status_code == 429
    (left,) = requests.get(faults).json()
    assert (left["status"], left["count"], left["retry_after"]) == (429, 1, 1)
    assert api.get("/systemdate.json").status_code == 429
    assert requests.get(faults).json() == []


def test_delay_fault_slows_a_response(emu, api):
    emu.add_fault(delay=0.3)
    started = time.perf_counter()
    assert api.get("/systemdate.json").status_code == 200
    assert time.perf_counter() - started >= 0.3


def oauth_code(emu, info, state="xyz") -> str:
    reply = requests.get(
        info["oauth"]["authorize_url"],
        params={
            "client_id": info["oauth"]["client_id"],
            "redirect_uri": "https://app.test/cb",
            "scope": "ViewReports,ManageLists",
            "state": state,
        },
        allow_redirects=False,
    )
    assert reply.status_code == 302
    location = urlsplit(reply.headers["Location"])
    assert location.netloc == "app.test"
    query = parse_qs(location.query)
    assert query["state"] == [state]
    return query["code"][0]


def test_oauth_authorize_exchange_use_expire_refresh(emu, info):
    oauth = info["oauth"]
    form = {
        "grant_type": "authorization_code",
        "client_id": oauth["client_id"],
        "client_secret": oauth["client_secret"],
        "redirect_uri": "https://app.test/cb",
        "code": oauth_code(emu, info),
    }
    tokens = requests.post(oauth["token_url"], data=form).json()
    assert set(tokens) == {"access_token", "expires_in", "refresh_token"}
    assert tokens["expires_in"] == 1209600
    again = requests.post(oauth["token_url"], data=form)
    assert again.status_code == 400
    assert again.json() == {
        "error": "invalid_grant",
        "error_description": "Specified code was invalid or expired",
    }
    bearer = Api(emu.base_url, token=tokens["access_token"])
    assert len(bearer.ok("/clients.json")) == 3  # tokens act as the agency

    requests.post(emu.root_url + "/_emulator/faults", json={"expire_tokens": True})
    assert bearer.get("/clients.json").json() == {"Code": 121, "Message": "Expired OAuth Token"}

    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    fresh = requests.post(oauth["token_url"], data=refresh).json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert Api(emu.base_url, token=fresh["access_token"]).get("/clients.json").status_code == 200
    assert requests.post(oauth["token_url"], data=refresh).status_code == 400


def test_oauth_rejects_an_unknown_application(info):
    reply = requests.get(
        info["oauth"]["authorize_url"],
        params={"client_id": "nope", "redirect_uri": "https://app.test/cb", "scope": "x"},
        allow_redirects=False,
    )
    assert reply.status_code == 400 and reply.json()["error"]


def test_request_counts_per_route(emu, api, agency):
    requests.delete(emu.root_url + "/_emulator/requests")
    list_id = first_list(agency)
    for page in (1, 2):
        api.get(f"/lists/{list_id}/active.json", page=page, pagesize=10)
    api.get("/clients.json")
    api.get("/nothing.json")
    requests.get(emu.root_url + "/_emulator/info")
    counts = requests.get(emu.root_url + "/_emulator/requests").json()
    assert counts == {"GET /lists/{id}/active.json": 2, "GET /clients.json": 1}
    assert emu.request_counts() == counts
    emu.reset_request_counts()
    assert emu.request_counts() == {}


def test_external_session_url_points_at_the_emulator(emu, api, agency):
    body = {
        "Email": "admin@example.com",
        "Chrome": "None",
        "Url": "/subscribers/",
        "IntegratorID": "a1b2",
        "ClientID": agency["clients"][0]["ClientID"],
    }
    url = api("PUT", "/externalsession.json", json=body).json()["SessionUrl"]
    assert url.startswith(emu.root_url + "/_emulator/session/")
    assert "admin@example.com" in requests.get(url).text


# ---- big lists: anchored paging stays exact --------------------------------------------------


def test_paging_is_exact_across_anchor_boundaries_and_after_writes():
    with CampaignMonitorEmulator(seed=3000) as big:
        account = big.info()["accounts"][0]
        api = Api(big.base_url, account["api_key"])
        path = f"/lists/{first_list(account)}/active.json"
        full = api.all_pages(path)
        emails = [r["EmailAddress"] for r in full]
        assert len(emails) > 2000 and emails == sorted(emails, key=str.lower)
        assert [r["EmailAddress"] for r in api.all_pages(path, pagesize=370)] == emails
        desc = api.all_pages(path, pagesize=370, orderdirection="desc")
        assert [r["EmailAddress"] for r in desc] == emails[::-1]
        since = sorted(r["Date"] for r in full)[len(full) // 3]
        for field in ("email", "name", "date"):
            part = api.all_pages(path, pagesize=450, date=since, orderfield=field)
            assert len(part) == sum(r["Date"] >= since for r in full)
        big.set_subscriber(first_list(account), emails[1500], "Deleted")
        after = api.all_pages(path, pagesize=1000)
        assert len(after) == len(full) - 1 and emails[1500] not in {
            r["EmailAddress"] for r in after
        }


def test_a_data_dir_keeps_its_state_across_restarts(tmp_path):
    def run(seed: str, email: str, state: str | None) -> str | None:
        with CampaignMonitorEmulator(seed=seed, data_dir=tmp_path) as emulator:
            list_id = first_list(emulator.info()["accounts"][0])
            if state:
                emulator.set_subscriber(list_id, email, state)
            api = Api(emulator.base_url, emulator.info()["accounts"][0]["api_key"])
            reply = api.get(f"/subscribers/{list_id}.json", email=email)
            return reply.json().get("State") if reply.status_code == 200 else None

    assert run("empty", "kept@example.com", "Active") == "Active"
    assert run("empty", "kept@example.com", None) == "Active"
    assert run("demo", "kept@example.com", None) is None  # another seed starts over


# ---- the official client, unchanged ------------------------------------------------------


@pytest.fixture
def official(emu, info, monkeypatch):
    """createsend pointed at the emulator: plain HTTP instead of its pinned HTTPS."""
    module = importlib.import_module("createsend.createsend")
    monkeypatch.setattr(module, "VerifiedHTTPSConnection", http.client.HTTPConnection)
    monkeypatch.setattr(createsend.CreateSend, "base_uri", emu.base_url)
    monkeypatch.setattr(createsend.CreateSend, "oauth_token_uri", info["oauth"]["token_url"])
    return createsend


def test_createsend_reads_what_requests_reads(official, api, agency):
    auth = {"api_key": agency["api_key"]}
    clients = official.CreateSend(auth).clients()
    assert [(c.ClientID, c.Name) for c in clients] == [
        (c["ClientID"], c["Name"]) for c in api.ok("/clients.json")
    ]
    client_id = clients[0].ClientID
    lists = official.Client(auth, client_id).lists()
    assert [x.ListID for x in lists] == [
        x["ListID"] for x in api.ok(f"/clients/{client_id}/lists.json")
    ]
    for state in ("active", "unsubscribed"):
        results, page = [], 1
        while True:
            body = getattr(official.List(auth, lists[0].ListID), state)(
                "", page, 10, "email", "asc"
            )
            results += [(r.EmailAddress, r.Date, r.State) for r in body.Results]
            if body.PageNumber >= body.NumberOfPages:
                break
            page += 1
        expected = api.all_pages(f"/lists/{lists[0].ListID}/{state}.json", pagesize=10)
        assert results == [(r["EmailAddress"], r["Date"], r["State"]) for r in expected]
    campaigns = official.Client(auth, client_id).campaigns()
    expected = api.ok(f"/clients/{client_id}/campaigns.json")
    assert [c.CampaignID for c in campaigns.Results] == [
        c["CampaignID"] for c in expected["Results"]
    ]
    campaign = official.Campaign(auth, campaigns.Results[0].CampaignID)
    summary = campaign.summary()
    plain = api.ok(f"/campaigns/{campaign.campaign_id}/summary.json")
    assert {k: getattr(summary, k) for k in plain} == plain
    opens = campaign.opens("", 1, 10, "date", "asc")
    plain_opens = api.ok(f"/campaigns/{campaign.campaign_id}/opens.json", pagesize=10)
    assert [(o.EmailAddress, o.Date, o.City) for o in opens.Results] == [
        (o["EmailAddress"], o["Date"], o["City"]) for o in plain_opens["Results"]
    ]
    assert official.CreateSend(auth).systemdate() == api.ok("/systemdate.json")["SystemDate"]


def test_createsend_errors_imports_and_oauth(official, emu, info, agency):
    auth = {"api_key": agency["api_key"]}
    list_id = first_list(agency, 2, 1)
    with pytest.raises(official.Unauthorized) as denied:
        official.CreateSend({"api_key": "wrong"}).clients()
    assert denied.value.data.Code == 50
    with pytest.raises(official.NotFound):
        official.CreateSend(auth)._get("/nothing.json")
    people = [
        {"EmailAddress": "lib1@example.com", "ConsentToTrack": "Yes"},
        {"EmailAddress": "example+1@example", "ConsentToTrack": "Yes"},
    ]
    result = official.Subscriber(auth).import_subscribers(list_id, people, True)
    assert result.TotalNewSubscribers == 1 and result.FailureDetails[0].Code == 1
    assert official.Subscriber(auth).add(list_id, "lib2@example.com", "Lib", [], True, "yes") == (
        "lib2@example.com"
    )

    oauth = info["oauth"]
    access, _, refresh = official.CreateSend().exchange_token(
        oauth["client_id"], oauth["client_secret"], "https://app.test/cb", oauth_code(emu, info)
    )
    cs = official.CreateSend({"access_token": access, "refresh_token": refresh})
    assert len(cs.clients()) == 3
    emu.expire_tokens()
    with pytest.raises(official.ExpiredOAuthToken):
        cs.clients()
    cs.refresh_token()
    assert len(cs.clients()) == 3
    emu.add_fault(status=429)
    with pytest.raises(official.ClientError, match="429"):
        cs.clients()
