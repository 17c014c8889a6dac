import pytest
from playwright.sync_api import expect

from campaign_monitor.models import Connection

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_connect_pick_two_clients_switch_and_disconnect(console, cm_emulator, cm_agency):
    page = console
    page.get_by_role("link", name="Connect to Campaign Monitor").click()

    page.get_by_label("API key").fill("this-is-not-the-key")
    page.get_by_text("Advanced").click()
    page.get_by_label("API address").fill(cm_emulator.base_url)
    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_role("alert")).to_contain_text("did not accept these credentials")
    assert not Connection.objects.exists()

    page.get_by_label("API key").fill(cm_agency["api_key"])
    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_role("heading", name="Choose clients to connect")).to_be_visible()
    first, second, third = (c["Name"] for c in cm_agency["clients"])
    page.get_by_label(first).check()
    page.get_by_label(second).check()
    page.get_by_role("button", name="Connect these clients").click()

    shown, other = sorted([first, second])  # clients are listed by name
    expect(page.get_by_role("status")).to_contain_text(f"Connected clients: {shown}, {other}")
    switcher = page.get_by_label("Client")
    expect(switcher.locator("option")).to_have_text([shown, other])
    expect(page.get_by_role("heading", name=shown, exact=True)).to_be_visible()

    # The switcher sends its form from a deferred script (no inline script under the CSP):
    # choose once the page has loaded, as a person would; a change before it is not seen.
    page.wait_for_load_state()
    switcher.select_option(label=other)
    expect(page.get_by_role("heading", name=other, exact=True)).to_be_visible()
    other_id = next(c["ClientID"] for c in cm_agency["clients"] if c["Name"] == other)
    expect(page.get_by_label("Client")).to_have_value(other_id)
    page.get_by_role("link", name="General").click()
    expect(page.get_by_label("Client")).to_have_value(other_id)

    page.get_by_role("link", name="Sync", exact=True).click()
    page.get_by_role("link", name="Disconnect").click()
    expect(
        page.get_by_text("Everything in Campaign Monitor and in Salesforce stays")
    ).to_be_visible()
    page.get_by_role("button", name="Disconnect").click()
    expect(page.get_by_role("status")).to_have_text("Disconnected from Campaign Monitor.")
    expect(page.get_by_text("Not connected.")).to_be_visible()
    expect(page.get_by_label("Client")).to_have_count(0)
    assert not Connection.objects.exists()
