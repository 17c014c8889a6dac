"""Names and texts that come from Campaign Monitor and Salesforce are shown as text, never run.

Whoever can name a list, a campaign or a subscriber in Campaign Monitor, or write a validation
rule's message or a contact's name in Salesforce, can put markup there. A sync brings it into
cmsync's pages; every page that shows it must escape it.
"""

import html

import pytest
import requests

from maintenance.models import Message

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
PAYLOAD = SCRIPT + IMG
RAW = ("<script>alert(1)", "<img src=x onerror")


def rename_list(world, list_id: str, title: str) -> None:
    """Rename the list through Campaign Monitor's own API, as its owner would in the app."""
    agency = next(a for a in world.cm.info()["accounts"] if a["type"] == "agency")
    url = f"{world.cm.base_url}/lists/{list_id}.json"
    auth = (agency["api_key"], "x")
    details = requests.get(url, auth=auth, timeout=10).json()
    body = {
        "Title": title,
        "UnsubscribePage": details.get("UnsubscribePage") or "",
        "ConfirmedOptIn": details.get("ConfirmedOptIn", False),
        "ConfirmationSuccessPage": details.get("ConfirmationSuccessPage") or "",
        "UnsubscribeSetting": details.get("UnsubscribeSetting", "AllClientLists"),
    }
    requests.put(url, json=body, auth=auth, timeout=10).raise_for_status()


@pytest.fixture
def poisoned(world, alice):
    """Markup in a list's name, a subscriber's name, a campaign's name and subject, a
    Salesforce contact's name and a validation rule's message; then a sync."""
    rename_list(world, world.list_a, f"Newsletter {PAYLOAD}")
    world.cm.set_subscriber(
        list_id=world.list_a,
        email="held@example.com",
        state="Unsubscribed",
        name=f"Held {PAYLOAD}",
        date=world.local(-1),
    )
    world.cm.set_subscriber(
        list_id=world.list_a, email="reader@example.com", state="Active", name=PAYLOAD
    )
    world.cm.send_campaign(
        client_id=world.client["ClientID"],
        name=f"Spring {PAYLOAD}",
        subject=f"Hello {PAYLOAD}",
        list_ids=[world.list_a],
    )
    (held,) = world.gateway.create(
        "Contact",
        [{"LastName": PAYLOAD, "Email": "held@example.com", "Description": "BLOCK"}],
    )
    assert held.success, held.errors
    world.sf.add_validation_rule(
        object="Contact", field="Description", equals="BLOCK", message=f"Refused {PAYLOAD}"
    )
    run = world.sync()
    message = Message.objects.get(run=run)
    assert PAYLOAD in message.upstream_message  # the markup really came in, unchanged
    return {"run": run.pk, "list": world.list_a, "code": message.code}


PAGES = [
    "/sync/",
    "/sync/lists/",
    "/sync/runs/",
    "/sync/runs/{run}/",
    "/maintenance/",
    "/maintenance/messages/",
    "/maintenance/?area=sync#audit",
    "/maintenance/codes/{code}/",
    "/campaigns/",
    "/general/",
    "/security/",
    "/lists/{list}/rules/",
    "/lists/{list}/rules/add_contact/",
    "/lists/{list}/fields/",
    "/lists/{list}/import/",
    "/lists/{list}/import/history/",
]
# Where the payload must be seen, escaped: so the test cannot pass by showing nothing.
SHOWN = {
    "/sync/lists/": "list name",
    "/maintenance/messages/": "Salesforce's validation message",
    "/sync/runs/{run}/": "Salesforce's validation message",
}


@pytest.mark.parametrize("path", PAGES)
def test_pages_escape_what_came_from_upstream(alice_client, poisoned, path):
    response = alice_client.get(path.format(**poisoned))
    assert response.status_code == 200
    page = response.text
    for raw in RAW:
        assert raw not in page, f"{path} shows {raw!r} unescaped"
    if path in SHOWN:
        assert html.escape(SCRIPT) in page, f"{path} should show the {SHOWN[path]}, escaped"
        assert html.escape(IMG) in page


def test_the_api_returns_it_as_json_text(alice_client, poisoned):
    """JSON is not HTML: the API gives the text as it is, with a JSON content type."""
    response = alice_client.get("/api/v1/messages/")
    assert response["Content-Type"].startswith("application/json")
    assert PAYLOAD in response.json()["results"][0]["upstream_message"]
