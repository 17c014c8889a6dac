"""List webhooks in the Campaign Monitor emulator, over real HTTP: creating, listing,
testing, activating and deleting them in the API's shapes and error codes, and the events
they POST to a local receiver (Subscribe, Update, Deactivate), batched, retried, paused and
redelivered."""

import http.client
import importlib
import re
import socket

import createsend
import pytest
import requests

from .webhook_receiver import Receiver

ALL_EVENTS = ["Subscribe", "Update", "Deactivate"]
# The keys of a webhook in GET lists/{id}/webhooks.json (the list_webhooks sample).
WEBHOOK_KEYS = ["WebhookID", "Events", "Url", "Status", "PayloadFormat"]
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:00$")
QUICK = [0.05, 0.05]


@pytest.fixture
def emu(cm_empty):
    cm_empty.set_webhook_retry_delays(QUICK)
    return cm_empty


@pytest.fixture
def agency(emu) -> dict:
    return emu.info()["accounts"][0]


@pytest.fixture
def list_id(agency) -> str:
    return agency["clients"][0]["lists"][0]["ListID"]


@pytest.fixture
def api(emu, agency):
    session = requests.Session()
    session.auth = (agency["api_key"], "x")

    def call(method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 20)
        return session.request(method, emu.base_url + path, **kwargs)

    return call


@pytest.fixture
def receiver():
    with Receiver() as endpoint:
        yield endpoint


def create(api, list_id: str, url: str, events=None, payload_format: str = "json") -> str:
    body = {"Events": events or ALL_EVENTS, "Url": url, "PayloadFormat": payload_format}
    reply = api("POST", f"/lists/{list_id}/webhooks.json", json=body)
    assert reply.status_code == 201, reply.text
    return reply.json()


def listed(api, list_id: str) -> list[dict]:
    reply = api("GET", f"/lists/{list_id}/webhooks.json")
    assert reply.status_code == 200, reply.text
    return reply.json()


def add(api, list_id: str, email: str, name: str = "", **extra) -> None:
    body = {"EmailAddress": email, "Name": name, "ConsentToTrack": "Yes", **extra}
    reply = api("POST", f"/subscribers/{list_id}.json", json=body)
    assert reply.status_code == 201, reply.text


def subscriber(api, list_id: str, email: str) -> dict:
    reply = api("GET", f"/subscribers/{list_id}.json", params={"email": email})
    assert reply.status_code == 200, reply.text
    return reply.json()


def import_people(api, list_id: str, emails: list[str]) -> None:
    people = [{"EmailAddress": e, "Name": "", "ConsentToTrack": "Yes"} for e in emails]
    reply = api("POST", f"/subscribers/{list_id}/import.json", json={"Subscribers": people})
    assert reply.status_code == 200, reply.text


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- managing webhooks -------------------------------------------------------------------


def test_create_list_activate_and_delete_in_the_sample_shapes(emu, api, list_id, receiver):
    first = create(api, list_id, receiver.url, ["deactivate"], "json")
    second = create(api, list_id, "https://hooks.example.com/cm", ["Subscribe", "update"], "XML")
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second
    hooks = listed(api, list_id)
    assert [list(h) for h in hooks] == [WEBHOOK_KEYS, WEBHOOK_KEYS]
    assert hooks == [
        {
            "WebhookID": first,
            "Events": ["Deactivate"],
            "Url": receiver.url,
            "Status": "Active",
            "PayloadFormat": "Json",
        },
        {
            "WebhookID": second,
            "Events": ["Subscribe", "Update"],
            "Url": "https://hooks.example.com/cm",
            "Status": "Active",
            "PayloadFormat": "Xml",
        },
    ]
    # createsend-python sends " " as the body of activate and deactivate
    path = f"/lists/{list_id}/webhooks/{first}"
    assert api("PUT", f"{path}/deactivate.json", data=" ").status_code == 200
    assert [h["Status"] for h in listed(api, list_id)] == ["Deactivated", "Active"]
    assert api("PUT", f"{path}/activate.json", data=" ").status_code == 200
    assert [h["Status"] for h in listed(api, list_id)] == ["Active", "Active"]
    reply = api("DELETE", f"{path}.json")
    assert (reply.status_code, reply.content) == (200, b"")
    assert [h["WebhookID"] for h in listed(api, list_id)] == [second]
    # another list does not see them; an unknown or deleted webhook is a bare 404
    other = emu.info()["accounts"][0]["clients"][0]["lists"][1]["ListID"]
    assert listed(api, other) == []
    for method, suffix in [("DELETE", ".json"), ("PUT", "/activate.json"), ("GET", "/test.json")]:
        gone = api(method, f"{path}{suffix}")
        assert (gone.status_code, gone.content) == (404, b"")
    moved = api("DELETE", f"/lists/{other}/webhooks/{second}.json")
    assert moved.status_code == 404


@pytest.mark.parametrize(
    "change, code, message",
    [
        ({"Url": "not a url"}, 601, "Invalid Webhook URL"),
        ({"Url": "ftp://127.0.0.1/hook"}, 601, "Invalid Webhook URL"),
        ({"Url": None}, 601, "Invalid Webhook URL"),
        ({"PayloadFormat": "csv"}, 602, "Invalid Webhook Format"),
        ({"PayloadFormat": None}, 602, "Invalid Webhook Format"),
        ({"Events": ["Subscribe", "Unsubscribe"]}, 603, "Invalid Webhook Event"),
        ({"Events": []}, 603, "Invalid Webhook Event"),
        ({"Events": "Subscribe"}, 603, "Invalid Webhook Event"),
    ],
)
def test_create_refuses_bad_input_with_the_documented_codes(api, list_id, change, code, message):
    body = {"Events": ALL_EVENTS, "Url": "http://127.0.0.1:9/hook", "PayloadFormat": "json"}
    reply = api("POST", f"/lists/{list_id}/webhooks.json", json={**body, **change})
    assert (reply.status_code, reply.json()) == (400, {"Code": code, "Message": message})
    assert listed(api, list_id) == []


def test_webhooks_of_a_list_the_key_cannot_see_are_refused(emu, api, list_id):
    direct = emu.info()["accounts"][1]
    session = requests.Session()
    session.auth = (direct["api_key"], "x")
    reply = session.get(f"{emu.base_url}/lists/{list_id}/webhooks.json", timeout=20)
    assert (reply.status_code, reply.json()["Code"]) == (401, 101)
    body = {"Events": ALL_EVENTS, "Url": "http://127.0.0.1:9/", "PayloadFormat": "json"}
    reply = session.post(f"{emu.base_url}/lists/{list_id}/webhooks.json", json=body, timeout=20)
    assert reply.status_code == 401
    assert listed(api, list_id) == []


def test_the_test_endpoint_posts_a_sample_and_reports_a_failure_as_610(api, list_id, receiver):
    hook = create(api, list_id, receiver.url, ["Subscribe", "Deactivate"])
    reply = api("GET", f"/lists/{list_id}/webhooks/{hook}/test.json")
    assert (reply.status_code, reply.content) == (200, b"")
    (post,) = receiver.posts()
    assert post["ListID"] == list_id
    assert [(e["Type"], e["EmailAddress"]) for e in post["Events"]] == [
        ("Subscribe", "test@example.org"),
        ("Deactivate", "test@example.org"),
    ]
    receiver.script = [500]
    failed = api("GET", f"/lists/{list_id}/webhooks/{hook}/test.json")
    assert failed.status_code == 400
    body = failed.json()
    assert (body["Code"], body["Message"]) == (610, "The webhook request has failed")
    assert body["ResultData"]["FailureResponseCode"] == "500"
    assert body["ResultData"]["FailureStatus"] == "ProtocolError"
    unreachable = create(api, list_id, f"http://127.0.0.1:{closed_port()}/hook")
    refused = api("GET", f"/lists/{list_id}/webhooks/{unreachable}/test.json")
    assert (refused.status_code, refused.json()["Code"]) == (400, 610)
    assert refused.json()["ResultData"]["FailureStatus"] == "ConnectFailure"
    # a test is not retried, and does not deactivate the webhook
    assert len(receiver.received) == 2
    assert {h["Status"] for h in listed(api, list_id)} == {"Active"}


def test_the_official_client_manages_webhooks(emu, agency, list_id, receiver, monkeypatch):
    module = importlib.import_module("createsend.createsend")
    monkeypatch.setattr(module, "VerifiedHTTPSConnection", http.client.HTTPConnection)
    monkeypatch.setattr(createsend.CreateSend, "base_uri", emu.base_url)
    lst = createsend.List({"api_key": agency["api_key"]}, list_id)
    hook = lst.create_webhook(["Subscribe", "Deactivate"], receiver.url, "json")
    assert [(h.WebhookID, h.Status) for h in lst.webhooks()] == [(hook, "Active")]
    assert lst.test_webhook(hook) is True
    lst.deactivate_webhook(hook)
    assert lst.webhooks()[0].Status == "Deactivated"
    lst.activate_webhook(hook)
    assert lst.webhooks()[0].Status == "Active"
    with pytest.raises(createsend.BadRequest) as refused:
        lst.create_webhook(["Bounce"], receiver.url, "json")
    assert refused.value.data.Code == 603
    lst.delete_webhook(hook)
    assert lst.webhooks() == []


# ---- events --------------------------------------------------------------------------------


def test_subscribe_update_and_deactivate_events_carry_the_subscriber(emu, api, list_id, receiver):
    create(api, list_id, receiver.url)
    fields = [{"Key": "website", "Value": "https://ada.example"}]
    add(api, list_id, "Ada@Example.com", "Ada", CustomFields=fields)
    joined = subscriber(api, list_id, "ada@example.com")
    emu.advance_clock(120)
    edit = {"Name": "Ada Lovelace", "ConsentToTrack": "Unchanged"}
    edit["CustomFields"] = [{"Key": "[age]", "Value": "36"}]
    reply = api("PUT", f"/subscribers/{list_id}.json?email=ada@example.com", json=edit)
    assert reply.status_code == 200, reply.text
    moved = {"EmailAddress": "ada@lovelace.example", "ConsentToTrack": "Unchanged"}
    reply = api("PUT", f"/subscribers/{list_id}.json?email=ada@example.com", json=moved)
    assert reply.status_code == 200, reply.text
    emu.advance_clock(120)
    reply = api("POST", f"/subscribers/{list_id}/unsubscribe.json", json=moved)
    assert reply.status_code == 200, reply.text
    left = subscriber(api, list_id, "ada@lovelace.example")
    assert emu.wait_webhooks(10)
    events = receiver.events()
    assert [e["Type"] for e in events] == ["Subscribe", "Update", "Update", "Deactivate"]
    subscribed, renamed, readdressed, unsubscribed = events
    both = [{"Key": "website", "Value": "https://ada.example"}, {"Key": "age", "Value": "36"}]
    assert subscribed == {
        "CustomFields": fields,
        "Date": joined["Date"],
        "EmailAddress": "Ada@Example.com",
        "Name": "Ada",
        "SignupIPAddress": "TypeAPI",
        "Type": "Subscribe",
    }
    assert list(renamed) == [
        "CustomFields",
        "Date",
        "EmailAddress",
        "Name",
        "OldEmailAddress",
        "State",
        "Type",
    ]
    assert renamed["Name"] == "Ada Lovelace" and renamed["CustomFields"] == both
    assert renamed["OldEmailAddress"] == renamed["EmailAddress"] == "Ada@Example.com"
    assert renamed["State"] == "Active" and STAMP.match(renamed["Date"])
    assert renamed["Date"] > joined["Date"]  # when it was edited, not when it joined
    assert readdressed["OldEmailAddress"] == "Ada@Example.com"
    assert readdressed["EmailAddress"] == "ada@lovelace.example"
    assert unsubscribed == {
        "CustomFields": both,
        "Date": left["Date"],
        "EmailAddress": "ada@lovelace.example",
        "Name": "Ada Lovelace",
        "State": "Unsubscribed",
        "Type": "Deactivate",
    }
    assert {p["ListID"] for p in receiver.posts()} == {list_id}
    headers = receiver.received[0]["headers"]
    assert headers["Content-Type"] == "application/json; charset=utf-8"


def test_delete_resubscribe_campaign_unsubscribe_and_hard_bounce(
    emu, api, agency, list_id, receiver
):
    add(api, list_id, "gone@example.com")
    add(api, list_id, "reader@example.com")
    add(api, list_id, "bouncer@example.com")
    create(api, list_id, receiver.url, ["Subscribe", "Deactivate"])
    assert api("DELETE", f"/subscribers/{list_id}.json?email=gone@example.com").ok
    back = {"EmailAddress": "gone@example.com", "ConsentToTrack": "Yes", "Resubscribe": True}
    assert api("POST", f"/subscribers/{list_id}.json", json=back).status_code == 201
    campaign = emu.send_campaign(agency["clients"][0]["ClientID"], "News", [list_id])
    emu.add_event(campaign, "unsubscribe", "reader@example.com")
    emu.add_event(campaign, "bounce", "bouncer@example.com", bounce_type="Soft")
    emu.add_event(campaign, "bounce", "bouncer@example.com", bounce_type="Hard")
    assert emu.wait_webhooks(10)
    # the Update of the resubscribing add is not asked for; a soft bounce changes nothing
    assert [(e["Type"], e["EmailAddress"], e.get("State")) for e in receiver.events()] == [
        ("Deactivate", "gone@example.com", "Deleted"),
        ("Subscribe", "gone@example.com", None),
        ("Deactivate", "reader@example.com", "Unsubscribed"),
        ("Deactivate", "bouncer@example.com", "Bounced"),
    ]


def test_control_surface_changes_send_events_too(emu, list_id, receiver, api):
    create(api, list_id, receiver.url)
    emu.set_subscriber(list_id, "made@example.com", "Active", name="Made")
    emu.set_subscriber(list_id, "made@example.com", "Active", name="Made Again")
    emu.set_subscriber(list_id, "made@example.com", "Bounced", date="2024-05-01 10:30:00")
    emu.set_subscriber(list_id, "quiet@example.com", "Unsubscribed")  # never was active
    assert emu.wait_webhooks(10)
    events = [(e["Type"], e["Name"], e.get("State")) for e in receiver.events()]
    assert events == [
        ("Subscribe", "Made", None),
        ("Update", "Made Again", "Active"),
        ("Deactivate", "Made Again", "Bounced"),
    ]
    assert receiver.events()[2]["Date"] == "2024-05-01 10:30:00"


def test_a_webhook_gets_only_its_events_and_only_its_lists(emu, api, agency, list_id, receiver):
    other = agency["clients"][0]["lists"][1]["ListID"]
    create(api, list_id, receiver.url, ["Deactivate"])
    add(api, list_id, "one@example.com")
    add(api, other, "one@example.com")
    assert api(
        "POST", f"/subscribers/{other}/unsubscribe.json", json={"EmailAddress": "one@example.com"}
    ).ok
    assert api(
        "POST", f"/subscribers/{list_id}/unsubscribe.json", json={"EmailAddress": "one@example.com"}
    ).ok
    assert emu.wait_webhooks(10)
    assert [(p["ListID"], [e["Type"] for e in p["Events"]]) for p in receiver.posts()] == [
        (list_id, ["Deactivate"])
    ]


# ---- delivery --------------------------------------------------------------------------------


def test_an_import_of_1000_is_one_post_and_2500_changes_go_in_batches_of_at_most_1000(
    emu, api, list_id, receiver
):
    create(api, list_id, receiver.url, ["Subscribe"])
    import_people(api, list_id, [f"first{i:04d}@example.com" for i in range(1000)])
    assert emu.wait_webhooks(20)
    assert [len(p["Events"]) for p in receiver.posts()] == [1000]
    emu.pause_webhooks()
    emails = [f"batch{i:04d}@example.com" for i in range(2500)]
    for start in (0, 1000, 2000):
        import_people(api, list_id, emails[start : start + 1000])
    assert not emu.wait_webhooks(0.3)  # held while paused
    assert len(receiver.received) == 1
    emu.resume_webhooks()
    assert emu.wait_webhooks(30)
    assert [len(p["Events"]) for p in receiver.posts()] == [1000, 1000, 1000, 500]
    assert [e["EmailAddress"] for e in receiver.events()[1000:]] == emails


def test_failed_posts_are_retried_with_back_off_until_one_succeeds(emu, api, list_id, receiver):
    emu.set_webhook_retry_delays([0.3, 0.6, 5])
    create(api, list_id, receiver.url)
    receiver.script = [500, 503]
    add(api, list_id, "retry@example.com", "Retry")
    assert emu.wait_webhooks(10)
    first, second, third = receiver.received
    assert [r["status"] for r in receiver.received] == [500, 503, 200]
    assert first["json"] == second["json"] == third["json"]
    assert second["at"] - first["at"] >= 0.3 - 0.05
    assert third["at"] - second["at"] >= 0.6 - 0.05
    tries = [(d["batch"], d["attempt"], d["status"], d["ok"]) for d in emu.webhook_deliveries()]
    assert tries == [(1, 1, 500, False), (1, 2, 503, False), (1, 3, 200, True)]
    assert [e["EmailAddress"] for e in receiver.events()] == ["retry@example.com"]
    assert listed(api, list_id)[0]["Status"] == "Active"


def test_a_webhook_that_keeps_failing_is_deactivated_and_sent_nothing_more(
    emu, api, list_id, receiver
):
    create(api, list_id, f"http://127.0.0.1:{closed_port()}/gone")
    create(api, list_id, receiver.url)
    add(api, list_id, "first@example.com")
    assert emu.wait_webhooks(10)
    failing, working = listed(api, list_id)
    assert (failing["Status"], working["Status"]) == ("Deactivated", "Active")
    attempts = [d for d in emu.webhook_deliveries() if d["WebhookID"] == failing["WebhookID"]]
    assert [(d["attempt"], d["status"]) for d in attempts] == [(1, None), (2, None), (3, None)]
    assert all("ConnectionRefusedError" in d["error"] for d in attempts)
    add(api, list_id, "second@example.com")
    assert emu.wait_webhooks(10)
    after = [d for d in emu.webhook_deliveries() if d["WebhookID"] == failing["WebhookID"]]
    assert len(after) == 3
    assert [e["EmailAddress"] for e in receiver.events()] == [
        "first@example.com",
        "second@example.com",
    ]


def test_a_deactivated_webhook_delivers_nothing_until_activated(emu, api, list_id, receiver):
    hook = create(api, list_id, receiver.url)
    assert api("PUT", f"/lists/{list_id}/webhooks/{hook}/deactivate.json").ok
    add(api, list_id, "while-off@example.com")
    assert emu.wait_webhooks(10)
    assert receiver.received == [] and emu.webhook_deliveries() == []
    assert api("PUT", f"/lists/{list_id}/webhooks/{hook}/activate.json").ok
    add(api, list_id, "back-on@example.com")
    assert emu.wait_webhooks(10)
    assert [e["EmailAddress"] for e in receiver.events()] == ["back-on@example.com"]


def test_deactivating_drops_what_was_queued(emu, api, list_id, receiver):
    hook = create(api, list_id, receiver.url)
    emu.pause_webhooks()
    add(api, list_id, "queued@example.com")
    assert not emu.wait_webhooks(0.3)
    assert api("PUT", f"/lists/{list_id}/webhooks/{hook}/deactivate.json").ok
    emu.resume_webhooks()
    assert emu.wait_webhooks(10)
    assert receiver.received == []


def test_pause_then_redeliver_the_last_batch_unchanged(emu, api, list_id, receiver):
    hook = create(api, list_id, receiver.url)
    other = Receiver()
    try:
        create(api, list_id, other.url, ["Deactivate"])
        add(api, list_id, "one@example.com")
        assert emu.wait_webhooks(10)  # so that each add is a batch of its own
        add(api, list_id, "two@example.com")
        assert emu.wait_webhooks(10)
        assert len(receiver.received) == 2 and other.received == []
        emu.pause_webhooks()
        summary = emu.redeliver_last_webhook(hook)
        assert summary == {"batch": 2, "WebhookID": hook, "events": 1}
        assert not emu.wait_webhooks(0.3)
        emu.resume_webhooks()
        assert emu.wait_webhooks(10)
        posts = receiver.posts()
        assert len(posts) == 3 and posts[2] == posts[1]
        assert posts[2]["Events"][0]["EmailAddress"] == "two@example.com"
        again = emu.webhook_deliveries()[-1]
        assert (again["batch"], again["redelivery"], again["ok"]) == (2, True, True)
        assert other.received == []
    finally:
        other.close()


def test_non_local_urls_and_xml_payloads_are_recorded_but_not_sent(emu, api, list_id):
    create(api, list_id, "https://hooks.example.com/cm")
    create(api, list_id, "http://127.0.0.1:9/xml", payload_format="xml")
    add(api, list_id, "far@example.com")
    assert emu.wait_webhooks(10)
    deliveries = emu.webhook_deliveries()
    assert [(d["attempt"], d["ok"], d["status"]) for d in deliveries] == [
        (1, False, None),
        (1, False, None),
    ]
    assert "127.0.0.1 or localhost" in deliveries[0]["error"]
    assert "Xml" in deliveries[1]["error"]
    assert {h["Status"] for h in listed(api, list_id)} == {"Active"}


def test_the_control_surface_over_http(emu, api, list_id, receiver):
    def control(method: str, path: str, **body) -> requests.Response:
        url = f"{emu.root_url}/_emulator/webhooks{path}"
        return requests.request(method, url, json=body, timeout=20)

    hook = create(api, list_id, receiver.url)
    assert control("GET", "").json() == [{"ListID": list_id, **listed(api, list_id)[0]}]
    assert control("POST", "/retry_delays", retry_delays=[0.05]).json() == {"retry_delays": [0.05]}
    assert control("POST", "/retry_delays", retry_delays=["soon"]).status_code == 400
    assert control("POST", "/redeliver_last").status_code == 400  # nothing sent yet
    assert control("POST", "/pause").json() == {"paused": True}
    add(api, list_id, "http@example.com")
    assert control("POST", "/wait", timeout=0.3).json() == {"idle": False, "deliveries": []}
    assert control("POST", "/resume").json() == {"paused": False}
    waited = control("POST", "/wait", timeout=10).json()
    assert waited["idle"] and [d["ok"] for d in waited["deliveries"]] == [True]
    assert control("POST", "/redeliver_last", WebhookID=hook).status_code == 202
    assert control("POST", "/wait", timeout=10).json()["idle"]
    assert [d["redelivery"] for d in control("GET", "/deliveries").json()] == [False, True]
    assert control("DELETE", "/deliveries").json() == {"ok": True}
    assert control("GET", "/deliveries").json() == []
    assert control("GET", "/nope").status_code == 404
    assert len(receiver.received) == 2
