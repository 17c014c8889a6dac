import pytest
from playwright.sync_api import expect

from settings_app.models import CampaignSettings, GeneralSettings, SyncSettings

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_change_a_sync_setting_and_see_it_in_the_audit_log(console, live_server):
    page = console
    expect(page.get_by_role("heading", name="Sync settings")).to_be_visible()
    page.get_by_label("Days to keep in Salesforce").fill("45")
    page.get_by_role("button", name="Save sync settings").click()
    question = page.get_by_role("alertdialog", name="Save these sync settings?")
    expect(question).to_contain_text("older than 45 days")  # lowering deletes: it asks
    question.get_by_role("button", name="Yes, save these settings").click()
    expect(page.get_by_role("status")).to_have_text("Sync settings saved.")
    expect(page.get_by_label("Days to keep in Salesforce")).to_have_value("45")
    assert SyncSettings.get_solo().days_to_keep == 45

    page.get_by_role("link", name="Maintenance").click()
    row = page.get_by_role("row").filter(has_text="Days to keep")
    expect(row).to_contain_text("alice")
    expect(row).to_contain_text("127.0.0.1")
    expect(row.locator("del")).to_have_text("365")
    expect(row.locator("ins")).to_have_text("45")


def test_schedule_fields_follow_the_frequency_and_custom_needs_a_day(console):
    page = console
    expect(page.get_by_label("Hour of the day")).to_be_hidden()  # hourly: no hour to pick
    page.get_by_label("Custom").check()
    expect(page.get_by_label("Hour of the day")).to_be_visible()
    expect(page.get_by_label("Monday")).to_be_visible()
    expect(page.get_by_label("Day of the week")).to_be_hidden()

    page.get_by_role("button", name="Save sync settings").click()
    # Said next to the field (and in the summary at the top of the card).
    days = page.locator(".field.invalid", has_text="Days of the week")
    expect(days.get_by_text("Custom needs at least one day of the week.")).to_be_visible()
    expect(page.get_by_text("Nothing was saved")).to_be_visible()
    assert SyncSettings.get_solo().frequency == "hourly"

    page.get_by_label("Wednesday").check()
    page.get_by_label("Hour of the day").select_option("07:00")
    page.get_by_role("button", name="Save sync settings").click()
    expect(page.get_by_role("status")).to_have_text("Sync settings saved.")
    settings = SyncSettings.get_solo()
    assert (settings.frequency, settings.custom_days, settings.hour) == ("custom", "wed", 7)


def test_risky_general_option_asks_for_confirmation(console):
    page = console
    page.get_by_role("link", name="General").click()
    page.get_by_label("Disable account, contact and lead triggers").check()
    page.get_by_role("button", name="Save general options").click()

    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("will no longer unsubscribe anyone")
    assert GeneralSettings.get_solo().disable_triggers is False

    dialog.get_by_role("button", name="Yes, save these settings").click()
    expect(page.get_by_role("status")).to_have_text("General settings saved.")
    expect(page.get_by_label("Disable account, contact and lead triggers")).to_be_checked()
    assert GeneralSettings.get_solo().disable_triggers is True


def test_campaign_mapping_change_and_a_bad_label(console):
    page = console
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_label("Once only").check()
    page.get_by_label("Member status for Opened").fill("Registered")
    page.get_by_role("button", name="Save campaign settings").click()
    dialog = page.get_by_role("alertdialog", name="Save these campaign settings?")
    expect(dialog).to_contain_text("Opened → “Registered” (was “Opened”)")
    dialog.get_by_role("button", name="Yes, save these settings").click()
    expect(page.get_by_role("status")).to_have_text("Campaign settings saved.")
    expect(page.get_by_label("Member status for Opened")).to_have_value("Registered")

    clicked = page.get_by_label("Member status for Clicked")
    clicked.fill("C" * 41)
    expect(clicked).to_have_value("C" * 40)  # the field stops at Salesforce's limit
    clicked.fill("")
    page.get_by_label("Always").check()
    page.get_by_role("button", name="Save campaign settings").click()
    expect(page.get_by_role("row", name="Clicked")).to_contain_text("This field is required.")
    expect(page.get_by_text("Nothing was saved")).to_be_visible()
    assert CampaignSettings.get_solo().member_status_mode == "once"

    page.get_by_role("link", name="Maintenance").click()
    row = page.get_by_role("row").filter(has_text="Registered")
    expect(row).to_contain_text("alice")
    expect(row.locator("del")).to_have_text("Opened")


def test_audit_log_filter_by_area(console):
    page = console
    page.get_by_label("Days to keep in Salesforce").fill("20")
    page.get_by_role("button", name="Save sync settings").click()
    page.get_by_role("link", name="General").click()
    page.get_by_label("Show tabs on the Campaign Monitor layout").uncheck()
    page.get_by_role("button", name="Save general options").click()

    page.get_by_role("link", name="Maintenance").click()
    page.get_by_label("Area").select_option("General")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("row").filter(has_text="Show tabs")).to_have_count(1)
    expect(page.get_by_role("row").filter(has_text="Days to keep")).to_have_count(0)


@pytest.mark.parametrize("path", ["/sync/", "/general/", "/campaigns/", "/maintenance/"])
def test_pages_fit_a_phone_screen(console, live_server, path):
    page = console
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"{live_server.url}{path}")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    expect(page.get_by_role("navigation", name="Console")).to_be_visible()


def test_anonymous_visitor_is_sent_to_login(page, live_server):
    page.goto(f"{live_server.url}/campaigns/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/campaigns/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
