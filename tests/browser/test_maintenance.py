import pytest
from playwright.sync_api import expect

from maintenance.models import Message
from sync.models import SyncRun

from ..conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/sync/")


def test_message_details_help_retry_and_delete_all(console, live_server, world):
    page = console
    run = SyncRun.objects.create(trigger="manual", status="partial", active=None)
    record = {"sobject": "Contact", "operation": "update", "fields": {"Id": "003XYZ"}}
    Message.objects.create(
        code="SF_RESTRICTED_PICKLIST",
        summary="Contact 003XYZ not written (Email opt-out)",
        upstream_message="bad value for restricted picklist field: Country",
        record=record,
        run=run,
    )
    page.goto(f"{live_server.url}/maintenance/messages/")
    item = page.get_by_role("listitem").filter(has_text="Contact 003XYZ")
    item.get_by_text("Details").click()
    expect(item).to_contain_text("bad value for restricted picklist field: Country")
    expect(item).to_contain_text("003XYZ")

    item.get_by_role("link", name="SF_RESTRICTED_PICKLIST").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("restricted picklist")
    expect(page.get_by_text("Add the value to the picklist")).to_be_visible()
    page.go_back()

    page.get_by_label(f"Select message {Message.objects.get().pk}").check()
    page.get_by_role("button", name="Retry selected").click()
    expect(page.get_by_role("status")).to_contain_text("1 record is queued")
    expect(page.get_by_text("retry queued")).to_be_visible()

    page.get_by_role("link", name="Delete all…").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("Delete all 1 message you can see?")
    page.get_by_role("button", name="Yes, delete all 1 message").click()
    expect(page.get_by_role("status")).to_have_text("Deleted 1 message.")
    expect(page.get_by_text("No messages.")).to_be_visible()


def test_reset_stored_data_then_sync_now_runs_a_full_sync(console, live_server, world):
    page = console
    world.subscriber(world.list_a, "reset@example.com", "Unsubscribed")
    world.contact("reset@example.com")
    world.sync()
    page.goto(f"{live_server.url}/maintenance/")
    page.get_by_role("link", name="Reset stored data…").click()
    expect(page.get_by_text("1 stored subscriber states")).to_be_visible()
    page.get_by_label("I understand that the next sync will read everything again").check()
    page.get_by_role("button", name="Reset stored data").click()
    expect(page.get_by_role("status")).to_contain_text("Stored sync data cleared: ")

    from sync import runner

    page.goto(f"{live_server.url}/sync/")
    page.get_by_role("button", name="Sync now").click()
    run = SyncRun.objects.get(active=True)
    runner.execute(run.pk)
    page.reload()
    subscribers = page.get_by_role("row", name="Subscribers")
    expect(subscribers.locator('[data-count="read"]')).to_have_text("1")
    expect(subscribers.locator('[data-count="written"]')).to_have_text("1")


def test_a_standard_user_cannot_change_settings_and_is_told_why(page, live_server, bob):
    log_in(page, live_server, "bob")
    page.goto(f"{live_server.url}/general/")
    expect(page.get_by_text("Changing them needs the Full access role.")).to_be_visible()
    expect(page.get_by_label("Perform a full daily sync")).to_be_disabled()
    expect(page.get_by_role("button", name="Save general options")).to_have_count(0)
    page.goto(f"{live_server.url}/sync/")
    expect(page.get_by_role("button", name="Sync now")).to_be_visible()


def test_a_limited_user_sees_read_only_pages(page, live_server, carol):
    log_in(page, live_server, "carol")
    for path in ("/sync/", "/campaigns/", "/security/"):
        page.goto(f"{live_server.url}{path}")
        expect(page.get_by_text("Changing them needs the Full access role")).to_be_visible()
    page.goto(f"{live_server.url}/sync/")
    expect(page.get_by_role("button", name="Sync now")).to_have_count(0)
    page.goto(f"{live_server.url}/maintenance/")
    expect(page.get_by_role("link", name="Reset stored data…")).to_have_count(0)


def test_install_and_remove_salesforce_components(console, live_server, sf_emulator, alice):
    from salesforce import layouts, schema
    from salesforce.connection import connect_client_credentials

    info = sf_emulator.info()
    oauth = info["oauth"]
    gateway = connect_client_credentials(
        alice, info["login_url"], oauth["client_id"], oauth["client_secret"]
    ).gateway()
    page = console
    page.goto(f"{live_server.url}/maintenance/")
    section = page.get_by_role("region", name="Salesforce components")
    section.get_by_role("button", name="Check").click()
    expect(page.get_by_role("region", name="Salesforce components")).to_contain_text("missing")

    page.get_by_role("button", name="Install components").click()
    expect(page.get_by_role("status")).to_contain_text("Installed")
    expect(page.get_by_role("region", name="Salesforce components")).to_contain_text(
        "everything is installed."
    )
    assert layouts.missing(gateway) == []

    page.get_by_role("link", name="Remove everything…").click()
    expect(page.get_by_text("Their data goes with them")).to_be_visible()
    page.get_by_role("button", name="Remove").click()
    expect(page.get_by_role("status")).to_contain_text("Removed")
    assert len(schema.missing(gateway)) == len(schema.components())


def test_a_missing_grant_is_shown_and_install_fixes_it(console, live_server, world):
    from salesforce import permissions

    permissions.remove(world.gateway)  # installed, but nobody granted the sync user access
    page = console
    page.goto(f"{live_server.url}/maintenance/")
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#grants-missing")).to_contain_text("Access is missing")
    page.get_by_text("What is missing").click()
    expect(page.get_by_text("cmsync_Integration: the permission set")).to_be_visible()

    page.get_by_role("button", name="Install components").click()
    expect(page.get_by_text("everything is installed.")).to_be_visible()
    expect(page.locator("#grants-missing")).to_have_count(0)
    sync_user = world.sf_connection.sf_user_id
    assert sync_user in permissions.assignees(world.gateway, permissions.INTEGRATION)


def test_the_health_card_shows_a_stopped_beat_at_desktop_and_phone_width(console, live_server):
    from datetime import timedelta

    from django.utils import timezone

    from maintenance import heartbeats

    from .test_phone_width import DESKTOP, PHONE

    page = console
    heartbeats.stamp("beat", timezone.now() - timedelta(minutes=5))
    heartbeats.stamp("worker:celery@box-1")
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        page.goto(f"{live_server.url}/maintenance/")
        beat = page.locator("#health-beat")
        expect(beat).to_contain_text("Problem: Celery beat has not ticked since")
        expect(beat).to_be_in_viewport()
        expect(page.locator("#health-workers")).to_contain_text("1 consuming: celery@box-1")
        expect(page.locator("#health-broker")).to_contain_text("reachable")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["width"], f"{width} px wide at {size['width']} px"
