import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def test_press_sync_now_watch_it_run_and_see_the_counts_and_a_message(console, world, sync_worker):
    page = console
    for i in range(12):
        world.subscriber(world.list_a, f"reader{i}@example.com", "Unsubscribed")
        world.contact(f"reader{i}@example.com")
    world.gateway.update(
        "Contact",
        [
            {
                "Id": world.gateway.find_people(["reader3@example.com"])["reader3@example.com"][
                    0
                ].id,
                "Description": "BLOCK",
            }
        ],
    )
    world.sf.add_validation_rule(
        object="Contact", field="Description", equals="BLOCK", message="Frozen by legal"
    )
    page.reload()

    page.get_by_role("button", name="Sync now").click()
    question = page.get_by_role("alertdialog", name="Run the first sync now?")
    expect(question.get_by_role("button", name="Preview the effect")).to_be_visible()
    question.get_by_role("button", name="Yes, sync now").click()
    expect(page.get_by_role("status")).to_contain_text("Sync started")
    summary = page.locator("[data-progress-url]")
    expect(summary.locator(".status")).to_have_text("Partly succeeded", timeout=60_000)

    opt_out = page.get_by_role("row", name="Email opt-out")
    expect(opt_out.locator('[data-count="read"]')).to_have_text("12")
    expect(opt_out.locator('[data-count="written"]')).to_have_text("11")
    expect(opt_out.locator('[data-count="failed"]')).to_have_text("1")
    messages = page.get_by_role("region", name="Maintenance messages of this run")
    expect(messages).to_contain_text("SF_VALIDATION_RULE")
    expect(messages).to_contain_text("Frozen by legal")

    page.get_by_role("link", name="Maintenance").click()
    expect(page.get_by_role("region", name="Maintenance messages")).to_contain_text(
        "SF_VALIDATION_RULE"
    )
