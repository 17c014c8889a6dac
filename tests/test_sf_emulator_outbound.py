"""The Salesforce emulator's Outbound Messages, received by a tiny local SOAP endpoint.

Writes go over real HTTP (the REST API and the control surface); the endpoint is a
ThreadingHTTPServer on 127.0.0.1 that records what it gets and answers with scripted
replies (an Ack by default).
"""

import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.etree import ElementTree

import pytest
import requests

from emulators.salesforce import SalesforceEmulator

SOAPENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
OUTBOUND = "http://soap.sforce.com/2005/09/outbound"
SF = "urn:sobject.enterprise.soap.sforce.com"
NS = {"soapenv": SOAPENV, "o": OUTBOUND, "sf": SF, "xsi": XSI}
NIL = f"{{{XSI}}}nil"
ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAPENV}"><soapenv:Body>'
    f'<notificationsResponse xmlns="{OUTBOUND}"><Ack>{{}}</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
)
FIELDS = ["Email", "HasOptedOutOfEmail", "SystemModstamp", "LastName", "Description"]
ZULU = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
QUICK = [0.05, 0.05, 0.05]


class Endpoint:
    """A local SOAP endpoint: records every POST and answers from a script of
    (status, ack) pairs, then with 200 + Ack true."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.script: list[tuple[int, str]] = []
        self.delay = 0.0
        self.lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with endpoint.lock:
                    endpoint.received.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                    status, ack = endpoint.script.pop(0) if endpoint.script else (200, "true")
                time.sleep(endpoint.delay)
                payload = ACK.format(ack).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/salesforce/outbound"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,))
        self.thread.daemon = True
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def notifications(self, index: int = -1) -> ElementTree.Element:
        root = ElementTree.fromstring(self.received[index]["body"])
        found = root.find("soapenv:Body/o:notifications", NS)
        assert found is not None
        return found


@pytest.fixture
def emu(sf_emulator):
    """The session's shared emulator, reset to its seed for this test (conftest.py)."""
    return sf_emulator


@pytest.fixture
def endpoint():
    server = Endpoint()
    yield server
    server.close()


@pytest.fixture
def api(emu):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {emu.issue_token()}"
    base = f"{emu.root_url}/services/data/v62.0"

    def call(method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return session.request(method, base + path, **kwargs)

    return call


def control(emu: SalesforceEmulator, method: str, path: str, **kwargs) -> requests.Response:
    kwargs.setdefault("timeout", 20)
    return requests.request(method, f"{emu.root_url}/_emulator/{path}", **kwargs)


def contacts(emu: SalesforceEmulator, count: int) -> list[str]:
    records = [{"LastName": f"Person{i}", "Email": f"person{i}@example.com"} for i in range(count)]
    results = emu.insert("Contact", records)
    assert all(r["success"] for r in results), results
    return [r["id"] for r in results]


def sobjects(notifications: ElementTree.Element) -> list[dict[str, str | None]]:
    """{field: text, or None when xsi:nil} for each Notification's sObject."""
    out = []
    for notification in notifications.findall("o:Notification", NS):
        sobject = notification.find("o:sObject", NS)
        assert sobject is not None
        values: dict[str, str | None] = {}
        for element in sobject:
            assert element.tag.startswith(f"{{{SF}}}")
            name = element.tag.split("}")[1]
            values[name] = None if element.get(NIL) == "true" else (element.text or "")
        out.append(values)
    return out


def test_collection_update_sends_one_message_with_a_notification_per_record(emu, endpoint, api):
    first, second, third = contacts(emu, 3)
    action = emu.add_outbound_message(endpoint.url, "Contact", FIELDS)
    assert action["id"].startswith("04k") and len(action["id"]) == 18
    assert action["fields"] == ["Id", *FIELDS]

    reply = api(
        "PATCH",
        "/composite/sobjects",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Contact"}, "Id": first, "HasOptedOutOfEmail": True},
                {"attributes": {"type": "Contact"}, "Id": second, "Email": "b&c@example.com"},
                {"attributes": {"type": "Contact"}, "Id": third, "LastName": "O'Brien <&> Sons"},
            ],
        },
    )
    assert reply.status_code == 200 and all(r["success"] for r in reply.json())
    assert emu.wait_outbound(10)

    assert len(endpoint.received) == 1
    request = endpoint.received[0]
    assert request["path"] == "/salesforce/outbound"
    assert request["headers"]["Content-Type"] == "text/xml; charset=utf-8"
    assert request["headers"]["SOAPAction"] == '""'
    assert request["body"].startswith(b'<?xml version="1.0" encoding="UTF-8"?>')

    root = ElementTree.fromstring(request["body"])
    assert root.tag == f"{{{SOAPENV}}}Envelope"
    notifications = endpoint.notifications()
    org_id = emu.info()["org"]["Id"]
    assert notifications.findtext("o:OrganizationId", namespaces=NS) == org_id
    assert len(org_id) == 18 and org_id.startswith("00D")
    assert notifications.findtext("o:ActionId", namespaces=NS) == action["id"]
    session = notifications.find("o:SessionId", NS)
    assert session is not None and session.get(NIL) == "true"
    assert notifications.findtext("o:EnterpriseUrl", namespaces=NS) == (
        f"{emu.root_url}/services/Soap/c/62.0/{org_id}"
    )
    assert notifications.findtext("o:PartnerUrl", namespaces=NS) == (
        f"{emu.root_url}/services/Soap/u/62.0/{org_id}"
    )
    ids = [n.findtext("o:Id", namespaces=NS) for n in notifications.findall("o:Notification", NS)]
    assert len(ids) == 3 and len(set(ids)) == 3
    assert all(i and i.startswith("04l") and len(i) == 18 for i in ids)
    for notification in notifications.findall("o:Notification", NS):
        sobject = notification.find("o:sObject", NS)
        assert sobject is not None and sobject.get(f"{{{XSI}}}type") == "sf:Contact"

    records = sobjects(notifications)
    assert [r["Id"] for r in records] == [first, second, third]
    assert all(list(r) == ["Id", *FIELDS] for r in records)
    assert [r["HasOptedOutOfEmail"] for r in records] == ["true", "false", "false"]
    assert records[1]["Email"] == "b&c@example.com"
    assert records[2]["LastName"] == "O'Brien <&> Sons"
    assert b"O'Brien &lt;&amp;&gt; Sons" in request["body"]
    assert all(r["Description"] is None for r in records)
    assert all(ZULU.match(r["SystemModstamp"] or "") for r in records)
    stored = api("GET", f"/sobjects/Contact/{first}").json()["SystemModstamp"]
    assert records[0]["SystemModstamp"] == stored.replace("+0000", "Z")

    [delivery] = emu.outbound_deliveries()
    assert delivery["url"] == endpoint.url
    assert delivery["status"] == 200 and delivery["ack"] is True and delivery["attempt"] == 1
    assert delivery["notification_ids"] == ids
    assert delivery["record_ids"] == [first, second, third]
    assert ZULU.match(delivery["time"])


def test_every_write_path_notifies_after_the_write(emu, endpoint, api):
    emu.add_outbound_message(endpoint.url, "Contact", ["LastName"], retry_delays=QUICK)
    created = api("POST", "/sobjects/Contact", json={"LastName": "Rest"}).json()["id"]
    assert api("PATCH", f"/sobjects/Contact/{created}", json={"LastName": "Patched"}).ok
    assert api("PATCH", f"/sobjects/Contact/Id/{created}", json={"LastName": "Upserted"}).ok
    reply = api(
        "PATCH",
        "/composite/sobjects/Contact/Id",
        json={"records": [{"attributes": {"type": "Contact"}, "Id": created, "LastName": "U2"}]},
    )
    assert reply.ok and reply.json()[0]["success"]
    reply = api(
        "POST",
        "/composite/sobjects",
        json={"records": [{"attributes": {"type": "Contact"}, "LastName": "Collection"}]},
    )
    collected = reply.json()[0]["id"]
    reply = control(
        emu, "POST", "records", json={"type": "Contact", "records": [{"LastName": "C"}]}
    )
    controlled = reply.json()[0]["id"]
    assert emu.wait_outbound(10)

    seen = [(r["Id"], r["LastName"]) for i in range(6) for r in sobjects(endpoint.notifications(i))]
    assert seen == [
        (created, "Rest"),
        (created, "Patched"),
        (created, "Upserted"),
        (created, "U2"),
        (collected, "Collection"),
        (controlled, "C"),
    ]
    assert [d["message"] for d in emu.outbound_deliveries()] == [1, 2, 3, 4, 5, 6]


def test_retries_the_same_message_until_acknowledged(emu, endpoint):
    [record] = contacts(emu, 1)
    emu.add_outbound_message(endpoint.url, "Contact", ["Email"], retry_delays=QUICK)
    endpoint.script = [(500, "false"), (200, "false")]
    emu.insert("Contact", [{"LastName": "Retried"}])
    assert emu.wait_outbound(10)

    deliveries = emu.outbound_deliveries()
    assert [(d["attempt"], d["status"], d["ack"]) for d in deliveries] == [
        (1, 500, False),
        (2, 200, False),
        (3, 200, True),
    ]
    assert len({tuple(d["notification_ids"]) for d in deliveries}) == 1
    assert len({r["body"] for r in endpoint.received}) == 1  # the same message each time
    assert record not in deliveries[0]["record_ids"]


def test_gives_up_after_the_retry_delays(emu, endpoint):
    emu.add_outbound_message(endpoint.url, "Lead", ["Company"], retry_delays=[0.01, 0.02])
    endpoint.script = [(503, "false")] * 10
    result = emu.insert(
        "Lead", [{"LastName": "L", "Company": "Acme", "Status": "Open - Not Contacted"}]
    )
    assert result[0]["success"], result
    assert emu.wait_outbound(10)
    assert [(d["attempt"], d["status"], d["ack"]) for d in emu.outbound_deliveries()] == [
        (1, 503, False),
        (2, 503, False),
        (3, 503, False),
    ]
    assert sobjects(endpoint.notifications())[0]["Company"] == "Acme"
    assert (
        endpoint.notifications().find("o:Notification/o:sObject", NS).get(f"{{{XSI}}}type")
        == "sf:Lead"
    )


def test_an_endpoint_that_is_down_is_retried(emu, endpoint):
    url = endpoint.url
    endpoint.close()  # nothing listens on the port any more
    emu.add_outbound_message(url, "Contact", [], retry_delays=[0.01])
    contacts(emu, 1)
    assert emu.wait_outbound(10)
    deliveries = emu.outbound_deliveries()
    assert [(d["attempt"], d["status"], d["ack"]) for d in deliveries] == [
        (1, None, False),
        (2, None, False),
    ]
    assert deliveries[0]["error"]


def test_deletes_send_nothing(emu, endpoint, api):
    first, second, third = contacts(emu, 3)
    emu.add_outbound_message(endpoint.url, "Contact", FIELDS)
    assert api("DELETE", f"/sobjects/Contact/{first}").status_code == 204
    assert api("DELETE", f"/composite/sobjects?ids={second},{third}").ok
    assert emu.wait_outbound(10)
    assert endpoint.received == [] and emu.outbound_deliveries() == []


def test_failed_and_rolled_back_records_send_nothing(emu, endpoint, api):
    good, other = contacts(emu, 2)
    emu.add_outbound_message(endpoint.url, "Contact", ["Email"])
    records = [
        {"attributes": {"type": "Contact"}, "Id": good, "Email": "fine@example.com"},
        {"attributes": {"type": "Contact"}, "Id": other, "Email": "not an address"},
    ]
    reply = api("PATCH", "/composite/sobjects", json={"allOrNone": True, "records": records})
    assert [r["success"] for r in reply.json()] == [False, False]
    reply = api("PATCH", "/sobjects/Contact/" + other, json={"Email": "still not"})
    assert reply.status_code == 400
    assert emu.wait_outbound(10)
    assert endpoint.received == []

    reply = api("PATCH", "/composite/sobjects", json={"allOrNone": False, "records": records})
    assert [r["success"] for r in reply.json()] == [True, False]
    assert emu.wait_outbound(10)
    assert [r["Id"] for r in sobjects(endpoint.notifications())] == [good]


def test_more_than_100_records_are_split(emu, endpoint, api):
    emu.add_outbound_message(endpoint.url, "Contact", ["LastName"])
    records = [{"attributes": {"type": "Contact"}, "LastName": f"N{i}"} for i in range(150)]
    reply = api("POST", "/composite/sobjects", json={"records": records})
    assert all(r["success"] for r in reply.json())
    assert emu.wait_outbound(10)
    counts = [len(sobjects(endpoint.notifications(i))) for i in range(len(endpoint.received))]
    assert counts == [100, 50]
    names = [r["LastName"] for i in range(2) for r in sobjects(endpoint.notifications(i))]
    assert names == [f"N{i}" for i in range(150)]


def test_each_action_on_the_object_sends_its_own_message(emu, endpoint):
    one = emu.add_outbound_message(endpoint.url, "Contact", ["Email"], name="first")
    two = emu.add_outbound_message(endpoint.url, "Contact", ["LastName"], name="second")
    emu.add_outbound_message(endpoint.url, "Lead", ["Email"], name="leads")
    contacts(emu, 2)
    assert emu.wait_outbound(10)
    actions = sorted(
        e.findtext("o:ActionId", namespaces=NS)
        for e in map(endpoint.notifications, range(len(endpoint.received)))
    )
    assert actions == sorted([one["id"], two["id"]])
    assert [a["name"] for a in emu.outbound_messages()] == ["first", "second", "leads"]


def test_redeliver_last_sends_the_same_message_again(emu, endpoint):
    emu.add_outbound_message(endpoint.url, "Contact", ["Email"])
    contacts(emu, 2)
    assert emu.wait_outbound(10)
    again = emu.redeliver_last()
    assert emu.wait_outbound(10)
    assert len(endpoint.received) == 2
    assert endpoint.received[0]["body"] == endpoint.received[1]["body"]
    first, second = emu.outbound_deliveries()
    assert second["notification_ids"] == first["notification_ids"] == again["notification_ids"]
    assert (first["attempt"], first["redelivery"]) == (1, False)
    assert (second["attempt"], second["redelivery"]) == (2, True)


def test_the_write_is_not_delayed_by_the_endpoint(emu, endpoint, api):
    endpoint.delay = 1.5
    emu.add_outbound_message(endpoint.url, "Contact", ["Email"])
    started = time.monotonic()
    assert api("POST", "/sobjects/Contact", json={"LastName": "Fast"}).status_code == 201
    assert time.monotonic() - started < 1.0
    assert emu.outbound_deliveries() == []  # still in flight
    assert emu.wait_outbound(10)
    assert emu.outbound_deliveries()[0]["ack"] is True


def test_configuration_is_checked(emu, endpoint):
    for url in (
        "https://example.com/outbound",
        "http://10.0.0.1:8000/outbound",
        "http://127.0.0.1.example.com/outbound",
        "ftp://127.0.0.1/outbound",
        "",
    ):
        with pytest.raises(ValueError):
            emu.add_outbound_message(url, "Contact", ["Email"])
    with pytest.raises(ValueError):
        emu.add_outbound_message(endpoint.url, "Nope__c", ["Email"])
    with pytest.raises(ValueError):
        emu.add_outbound_message(endpoint.url, "Contact", ["NoSuchField"])
    with pytest.raises(ValueError):
        emu.add_outbound_message(endpoint.url, "Contact", ["Email"], retry_delays=[-1])
    assert emu.add_outbound_message("http://localhost:9/x", "lead", ["email"])["fields"] == [
        "Id",
        "Email",
    ]

    reply = control(
        emu,
        "POST",
        "outbound_messages",
        json={"endpoint_url": "http://example.com/x", "sobject": "Contact", "fields": []},
    )
    assert reply.status_code == 400 and "127.0.0.1" in reply.json()["error"]
    assert [a["sobject"] for a in emu.outbound_messages()] == ["Lead"]


def test_control_surface_over_http(emu, endpoint, api):
    reply = control(
        emu,
        "POST",
        "outbound_messages",
        json={
            "endpoint_url": endpoint.url,
            "sobject": "Contact",
            "fields": ["Email", "HasOptedOutOfEmail"],
            "retry_delays": QUICK,
        },
    )
    assert reply.status_code == 201
    action = reply.json()
    assert control(emu, "GET", "outbound_messages").json() == [action]
    assert control(emu, "POST", "outbound_messages/redeliver_last").status_code == 400

    endpoint.script = [(500, "false")]
    api("POST", "/sobjects/Contact", json={"LastName": "Http", "HasOptedOutOfEmail": True})
    waited = control(emu, "POST", "outbound_deliveries/wait", json={"timeout": 10}).json()
    assert waited["idle"] is True
    assert [(d["attempt"], d["ack"]) for d in waited["deliveries"]] == [(1, False), (2, True)]
    assert control(emu, "GET", "outbound_deliveries").json() == waited["deliveries"]

    assert control(emu, "POST", "outbound_messages/redeliver_last").status_code == 202
    waited = control(emu, "POST", "outbound_deliveries/wait", json={}).json()
    assert [d["attempt"] for d in waited["deliveries"]] == [1, 2, 3]
    assert len(endpoint.received) == 3

    assert control(emu, "DELETE", "outbound_deliveries").json() == []
    assert control(emu, "DELETE", "outbound_messages").json() == {"removed": 1}
    assert control(emu, "GET", "outbound_messages").json() == []
    api("POST", "/sobjects/Contact", json={"LastName": "Unwatched"})
    waited = control(emu, "POST", "outbound_deliveries/wait", json={"timeout": 5}).json()
    assert waited == {"idle": True, "deliveries": []}
    assert len(endpoint.received) == 3
