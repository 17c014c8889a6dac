"""A settings change that changes what the sync writes asks on its confirmation page, with
Preview the effect: the preview's page shows what it would change and leads back to save it,
at desktop width and at 390 px; nothing is written by asking or previewing."""

import pytest
from playwright.sync_api import expect

from settings_app.models import GeneralSettings

pytestmark = [pytest.mark.browser, pytest.mark.broker, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide at 390 px"


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "390px"])
def test_turning_opt_out_sync_on_asks_and_previews_the_effect(
    console, world, sync_worker, live_server, viewport
):
    page = console
    if viewport:
        page.set_viewport_size(viewport)
    GeneralSettings.objects.update(sync_email_opt_out=False)
    contacts = []
    for i in range(3):
        world.subscriber(world.list_a, f"ask{i}@example.com", "Unsubscribed")
        contacts.append(world.contact(f"ask{i}@example.com"))

    page.goto(f"{live_server.url}/general/")
    page.get_by_label("Sync Salesforce 'Email Opt Out' with Campaign Monitor").check()
    page.get_by_role("button", name="Save general options").click()

    question = page.get_by_role("alertdialog", name="Save these general options?")
    expect(question).to_be_in_viewport()
    expect(question).to_contain_text("tick 'Email Opt Out' on every Salesforce contact and lead")
    expect(question).to_contain_text("Nothing has been saved yet.")
    expect(question.get_by_role("link", name="Cancel")).to_be_visible()
    if viewport:
        fits(page)
    assert GeneralSettings.get_solo().sync_email_opt_out is False

    question.get_by_role("button", name="Preview the effect").click()
    expect(page.get_by_role("status")).to_contain_text("Preview started")
    expect(page.locator("[data-progress-url] .status")).to_have_text("Succeeded", timeout=60_000)
    result = page.get_by_role("region", name="What a sync would change")
    expect(result.locator("#preview-proposed")).to_contain_text(
        "Sync Salesforce 'Email Opt Out' with Campaign Monitor: on"
    )
    ticked = result.locator('details[data-kind="opted_out"]')
    expect(ticked.locator('[data-field="count"]')).to_have_text("3")
    decide = result.get_by_role("form", name="Your unsaved change")
    expect(decide.get_by_role("link", name="Cancel the change")).to_be_visible()
    if viewport:
        fits(page)
    assert GeneralSettings.get_solo().sync_email_opt_out is False
    assert not any(world.opted_out(c) for c in contacts)

    decide.get_by_role("button", name="Yes, save these settings").click()
    saved = page.locator("#settings-form").get_by_role("status")
    expect(saved).to_have_text("General settings saved.")
    expect(
        page.get_by_label("Sync Salesforce 'Email Opt Out' with Campaign Monitor")
    ).to_be_checked()
    assert GeneralSettings.get_solo().sync_email_opt_out is True
