"""Preview on the Sync tab: press it, watch it run, read what a sync would change, at desktop
width and at 390 px; nothing is written to Salesforce."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.broker, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "390px"])
def test_preview_button_and_result_page(console, world, sync_worker, viewport):
    page = console
    if viewport:
        page.set_viewport_size(viewport)
    contacts = []
    for i in range(3):
        world.subscriber(world.list_a, f"pre{i}@example.com", "Unsubscribed")
        contacts.append(world.contact(f"pre{i}@example.com"))
    page.reload()

    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("status")).to_contain_text("Preview started")
    summary = page.locator("[data-progress-url]")
    expect(summary.locator(".status")).to_have_text("Succeeded", timeout=60_000)

    result = page.get_by_role("region", name="What a sync would change")
    expect(result).to_contain_text("nothing was written")
    ticked = result.locator('details[data-kind="opted_out"]')
    expect(ticked.locator('[data-field="count"]')).to_have_text("3")
    ticked.locator("summary").click()
    expect(ticked.get_by_role("row", name="pre0@example.com")).to_contain_text("false → true")
    expect(result.get_by_role("link", name="Download every change (CSV)")).to_be_visible()
    if viewport:
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the preview page is {width} px wide at 390 px"
    assert not any(world.opted_out(c) for c in contacts)
