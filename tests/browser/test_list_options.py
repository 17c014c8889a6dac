import pytest
from playwright.sync_api import expect

from campaign_monitor.models import ListOptions

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_switch_prevent_member_sync_from_the_sync_tab_on_a_phone(console, live_server, world):
    page = console
    page.set_viewport_size({"width": 375, "height": 800})
    page.reload()
    page.get_by_role("link", name="Subscriber list options").click()
    expect(page.get_by_role("heading", name="Subscriber lists")).to_be_visible()
    expect(
        page.get_by_text('Members won\'t sync whilst "Prevent Member Sync" is enabled.')
    ).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0

    name = world.client["lists"][0]["Name"]
    page.get_by_label(name).check()
    page.get_by_role("button", name="Save list options").click()
    expect(page.get_by_role("status")).to_contain_text(f"List options saved: {name}.")
    expect(page.get_by_label(name)).to_be_checked()
    assert ListOptions.objects.get(list_id=world.list_a).prevent_member_sync
