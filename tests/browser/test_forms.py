# ruff: noqa: F811 -- pytest fixtures imported from billing_fixtures are parameters here
"""Forms never hide their answer: after a POST the page opens at the confirmation or the
error, on a desktop screen and on a 390 px phone, and destructive actions ask on a page of
their own."""

import pytest
from playwright.sync_api import expect

from billing.models import BillingAccount
from maintenance.models import Message
from settings_app.models import SyncSettings
from subscriptions.models import FieldMapping, ImportJob
from sync.models import SyncRun
from tests.billing_fixtures import localstripe, localstripe_server  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(params=list(SCREENS))
def screen(request, console):
    console.set_viewport_size(SCREENS[request.param])
    return console


def test_a_risky_settings_change_asks_in_view(screen, live_server):
    page = screen
    page.goto(f"{live_server.url}/sync/")
    page.get_by_label("Never").check()
    page.get_by_role("button", name="Save sync settings").click()

    dialog = page.get_by_role("alertdialog", name="Save these sync settings?")
    expect(dialog).to_be_in_viewport()
    expect(dialog).to_be_focused()
    expect(dialog).to_contain_text("the primary sync stops running on its own")
    assert SyncSettings.get_solo().frequency == "hourly"

    dialog.get_by_role("button", name="Yes, save these settings").click()
    saved = page.locator("#sync-settings").get_by_role("status")
    expect(saved).to_have_text("Sync settings saved.")
    expect(saved).to_be_in_viewport()
    assert SyncSettings.get_solo().frequency == "never"


def test_an_invalid_value_is_refused_in_view_with_the_real_minimum(screen, live_server):
    page = screen
    page.goto(f"{live_server.url}/sync/")
    expect(page.get_by_text("From 1 to 3650 days.")).to_be_visible()
    page.get_by_label("Days to keep in Salesforce").fill("0")
    page.get_by_role("button", name="Save sync settings").click()

    answer = page.locator("#form-answer")
    expect(answer).to_be_in_viewport()
    expect(answer).to_be_focused()
    expect(answer).to_contain_text("Nothing was saved")
    expect(answer).to_contain_text("Keep tracking data for at least 1 day: the minimum is 1.")
    assert SyncSettings.get_solo().days_to_keep == 365


def test_a_risky_general_option_asks_in_view(screen, live_server):
    page = screen
    page.goto(f"{live_server.url}/general/")
    page.get_by_label("Disable account, contact and lead triggers").check()
    page.get_by_role("button", name="Save general options").click()
    expect(page.get_by_role("alertdialog", name="Save these general options?")).to_be_in_viewport()


def test_delete_all_messages_asks_on_its_own_page(screen, live_server):
    page = screen
    Message.objects.create(code="SF_RESTRICTED_PICKLIST", summary="Contact 003XYZ not written")
    page.goto(f"{live_server.url}/maintenance/messages/")
    page.get_by_role("link", name="Delete all…").click()
    expect(page).to_have_url(f"{live_server.url}/maintenance/messages/delete/?all=1")
    question = page.get_by_role("alertdialog")
    expect(question).to_be_in_viewport()
    expect(question).to_contain_text("Delete all 1 message you can see?")
    assert Message.objects.count() == 1

    question.get_by_role("link", name="Keep them").click()
    assert Message.objects.count() == 1
    page.get_by_role("link", name="Delete all…").click()
    page.get_by_role("button", name="Yes, delete all 1 message").click()
    answer = page.locator("#messages-form").get_by_role("status")
    expect(answer).to_have_text("Deleted 1 message.")
    expect(answer).to_be_in_viewport()
    assert not Message.objects.exists()


def test_reset_asks_on_its_own_page_and_refuses_without_the_tick_in_view(screen, live_server):
    page = screen
    page.goto(f"{live_server.url}/maintenance/")
    page.get_by_role("link", name="Reset stored data…").click()
    expect(page.get_by_role("alertdialog", name="Reset stored data?")).to_be_in_viewport()
    page.get_by_role("button", name="Reset stored data").click()
    refused = page.get_by_role("alert").filter(has_text="Nothing was reset")
    expect(refused).to_be_in_viewport()
    page.get_by_label("I understand that the next sync will read everything again").check()
    page.get_by_role("button", name="Reset stored data").click()
    answer = page.locator("#reset").get_by_role("status")
    expect(answer).to_contain_text("Stored sync data cleared")
    expect(answer).to_be_in_viewport()


def test_the_run_page_cancel_asks_then_says_who_cancelled(screen, live_server):
    page = screen
    run = SyncRun.objects.create(trigger="manual")
    page.goto(f"{live_server.url}/sync/runs/{run.pk}/")
    expect(page.locator("[data-field=status_display]")).to_have_text("Queued")
    page.get_by_role("link", name="Cancel this run…").click()
    question = page.get_by_role("alertdialog")
    expect(question).to_contain_text(f"Cancel primary sync run {run.pk}?")
    expect(question).to_be_in_viewport()
    question.get_by_role("button", name="Yes, cancel the run").click()

    expect(page.locator("[data-field=status_display]")).to_have_text("Cancelled")
    expect(page.locator("#run").get_by_role("status")).to_have_text("Cancelled by alice.")
    expect(page.get_by_role("link", name="Cancel this run…")).to_have_count(0)
    run.refresh_from_db()
    assert run.status == "cancelled"


def expect_answer_in_view(answer, text: str) -> None:
    """The answer to the POST: on screen without scrolling, focused, saying ``text``."""
    expect(answer).to_contain_text(text)
    expect(answer).to_be_in_viewport()
    expect(answer).to_be_focused()


def test_an_invalid_billing_contact_is_refused_in_its_card(screen, live_server, localstripe):
    page = screen
    page.goto(f"{live_server.url}/billing/")
    card = page.get_by_role("region", name="Billing contact")
    card.get_by_label("Billing contact").fill("not-an-email")
    card.get_by_role("button", name="Save contact").click()

    expect(page).to_have_url(f"{live_server.url}/billing/#billing-contact")
    answer = page.locator("#billing-contact-answer")
    expect_answer_in_view(answer, "Not saved: enter a valid email address for the billing contact.")
    expect(page.get_by_role("region", name="Billing contact")).to_contain_text("Not saved")
    assert BillingAccount.get_solo().contact_email != "not-an-email"

    card.get_by_label("Billing contact").fill("pay@example.com")
    card.get_by_role("button", name="Save contact").click()
    expect_answer_in_view(page.locator("#billing-contact-answer"), "Billing contact saved.")


def test_a_wrong_current_password_is_refused_in_view(screen, live_server):
    page = screen
    page.goto(f"{live_server.url}/accounts/")
    page.get_by_role("link", name="Change password…").click()
    page.get_by_label("Current password").fill("not-it")
    page.get_by_label("New password", exact=True).fill("a-new-Passphrase-42")
    page.get_by_label("New password again").fill("a-new-Passphrase-42")
    page.get_by_role("button", name="Change password").click()

    answer = page.locator("#form-answer")
    expect_answer_in_view(answer, "Password not changed.")
    expect(answer).to_contain_text("Current password: Your old password was entered incorrectly")
    expect(page.get_by_role("alert")).to_have_count(1)


def test_an_invitation_to_a_taken_or_invalid_email_is_refused_next_to_the_form(
    screen, live_server, bob
):
    page = screen
    page.goto(f"{live_server.url}/security/")
    invite = page.get_by_role("region", name="Invite a user")
    invite.get_by_label("Email address").fill("bob@example.com")
    invite.get_by_role("button", name="Send invitation").click()

    expect(page).to_have_url(f"{live_server.url}/security/#invite")
    answer = page.locator("#invite-answer")
    expect_answer_in_view(answer, "Not invited: There is already a user with this email address.")
    expect(page.get_by_role("region", name="Invite a user")).to_contain_text("Not invited")

    invite.get_by_label("Email address").fill("not an email")
    invite.get_by_role("button", name="Send invitation").click()
    expect_answer_in_view(page.locator("#invite-answer"), "Not invited: Enter a valid email")


def test_a_role_change_answers_next_to_the_person(screen, live_server, bob):
    page = screen
    page.goto(f"{live_server.url}/security/")
    row = page.locator('[data-user="bob"]')
    row.get_by_label("Role").select_option("Limited")
    row.get_by_role("button", name="Save role").click()
    answer = page.locator('[data-user="bob"] [data-answer]')
    expect_answer_in_view(answer, "bob now has: Limited.")


def draft_with_a_date_field(world, alice) -> tuple[ImportJob, FieldMapping]:
    bounced = FieldMapping.objects.create(
        list_id=world.list_a,
        cm_key="[bounced]",
        cm_type="Date",
        contact_field="EmailBouncedDate",
        direction=FieldMapping.Direction.TO_CM,
    )
    job = ImportJob.objects.create(
        list_id=world.list_a,
        client_id=world.client["ClientID"],
        created_by=alice,
        source=ImportJob.Source.CONTACTS,
        status=ImportJob.Status.DRAFT,
    )
    return job, bounced


def test_a_mapping_step_error_opens_at_the_error(screen, live_server, world, alice):
    page = screen
    job, bounced = draft_with_a_date_field(world, alice)
    page.goto(f"{live_server.url}/lists/{world.list_a}/import/{job.pk}/mapping/")
    # A choice the step no longer accepts (a stale page, or a field changed in Salesforce
    # since it was drawn): Title is text, and [bounced] is a date.
    page.locator(f"[name=contact_{bounced.pk}]").evaluate(
        "select => select.add(new Option('Title', 'Title', true, true))"
    )
    page.get_by_role("button", name="Next: options").click()

    answer = page.locator("#form-answer")
    expect_answer_in_view(answer, "Not saved: please correct the errors below.")
    expect(answer).to_contain_text("“Title” is not a Contact field that can fill [bounced].")
    job.refresh_from_db()
    assert "fields" not in job.mapping


def test_discarding_a_draft_import_asks_on_its_own_page(screen, live_server, world, alice):
    page = screen
    job, _ = draft_with_a_date_field(world, alice)
    page.goto(f"{live_server.url}/lists/{world.list_a}/import/{job.pk}/source/")
    page.get_by_role("link", name="Discard this draft…").click()

    question = page.get_by_role("alertdialog", name="Discard this draft import into")
    expect(question).to_be_in_viewport()
    expect(question).to_be_focused()
    expect(question).to_contain_text("Nothing was imported yet")
    question.get_by_role("link", name="Keep the draft").click()
    expect(page.get_by_role("button", name="Next: choose the people")).to_be_visible()
    assert ImportJob.objects.filter(pk=job.pk).exists()

    page.get_by_role("link", name="Discard this draft…").click()
    page.get_by_role("button", name="Yes, discard the draft").click()
    expect_answer_in_view(page.locator("#import-step-answer"), "Draft import discarded.")
    assert not ImportJob.objects.filter(pk=job.pk).exists()
