import pytest
from playwright.sync_api import expect

from subscriptions.models import ImportJob

pytestmark = [pytest.mark.browser, pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def contacts(world, *emails, **fields) -> None:
    records = [
        {"FirstName": "Web", "LastName": f"Visitor{n}", "Email": e, **fields}
        for n, e in enumerate(emails)
    ]
    assert all(r.success for r in world.gateway.create("Contact", records))


def test_the_whole_wizard_from_source_to_result_on_a_phone(
    console, live_server, world, sync_worker
):
    page = console
    page.set_viewport_size({"width": 375, "height": 800})
    contacts(
        world, "web.one@example.com", "web.two@example.com", "blocked@example.com", LeadSource="Web"
    )
    contacts(world, "quiet@example.com", LeadSource="Web", HasOptedOutOfEmail=True)
    contacts(world, "phone@example.com", LeadSource="Phone Inquiry")
    world.cm.suppress(world.client["ClientID"], ["blocked@example.com"])
    name = world.client["lists"][0]["Name"]

    page.goto(f"{live_server.url}/lists/{world.list_a}/import/")
    expect(
        page.get_by_role("heading", name=f"Import Salesforce people into {name}")
    ).to_be_visible()
    page.get_by_label("Contacts matching conditions").check()
    page.get_by_role("button", name="Next: choose the people").click()

    expect(page.get_by_role("group", name="Contacts matching these conditions")).to_be_visible()
    page.locator("[name=field_1]").fill("LeadSource")
    page.locator("[name=operator_1]").select_option("equals")
    page.locator("[name=value_1]").fill("Web")
    page.get_by_role("button", name="Next: mapping").click()

    page.get_by_label("First name and last name (FirstName LastName)").check()
    page.get_by_label("Yes").check()
    page.get_by_role("button", name="Next: options").click()

    expect(page.get_by_label("Add and update")).to_be_checked()
    page.get_by_label("Now").check()
    page.get_by_role("button", name="Next: preview").click()

    counts = page.locator("#preview-counts")
    expect(counts.locator('[data-count="found"]')).to_have_text("4")
    expect(counts.locator('[data-count="allowed"]')).to_have_text("3")
    expect(counts.locator('[data-count="skipped"]')).to_have_text("1")
    skipped = page.get_by_role("region", name="Who is skipped, and why")
    expect(skipped).to_contain_text("Email Opt Out is ticked")
    expect(skipped).to_contain_text("quiet@example.com")
    expect(page.get_by_role("region", name="Sample rows")).to_contain_text("Web Visitor0")
    expect(page.locator("#options-in-force")).to_contain_text("Add and update")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0

    page.get_by_role("button", name="Start import").click()
    expect(page.get_by_role("status")).to_contain_text("Import started.")
    result = page.locator("#import-result")
    # The suppressed address is reported as suppressed, not as a failure.
    expect(result.locator(".status")).to_have_text("Succeeded", timeout=60_000)
    totals = page.locator("#totals")
    expect(totals.locator('[data-count="new"]')).to_have_text("2")
    expect(totals.locator('[data-count="failed"]')).to_have_text("0")
    expect(totals.locator('[data-count="suppressed"]')).to_have_text("1")
    expect(totals.locator('[data-count="opted_out"]')).to_have_text("1")
    refused = page.get_by_role("row").filter(has_text="blocked@example.com")
    expect(refused).to_contain_text("In Suppression List")
    expect(refused).to_contain_text("204")

    page.get_by_role("link", name="← Past imports of this list").click()
    expect(page.get_by_role("row").filter(has_text="Succeeded")).to_have_count(1)
    assert ImportJob.objects.get().status == ImportJob.Status.SUCCEEDED
