"""People and API keys on the User security tab in the browser: a Full access user
deactivates bob (his open session and his login are refused) and reactivates him; an API
key's last use shows after a real API call; an expired key is refused; a key is revoked on
the confirmation page, named by its opaque id. At desktop width and at a phone's 390 px."""

import re
from datetime import timedelta

import pytest
import requests
import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from security.models import IntegrationKey
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = [pytest.param(1280, id="desktop"), pytest.param(390, id="phone")]
DEACTIVATED = "This account is deactivated. Ask a Full access user to reactivate it."


def fits(page, width: int) -> None:
    """Nothing wider than the window: no sideways scrolling at this width (call it once the
    page's heading is visible, so the page is the new one)."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def security_tab(page, base: str, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{base}/security/")
    expect(page.get_by_role("heading", name="User security")).to_be_visible()
    fits(page, width)


def call_api(base: str, secret: str) -> requests.Response:
    return requests.get(
        f"{base}/api/v1/runs/", headers={"Authorization": f"Api-Key {secret}"}, timeout=10
    )


def create_key(page, name: str, expires: str = "") -> str:
    """Create a key in the form; returns the key shown once."""
    form = page.get_by_role("form", name="Create an API key")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Access").select_option(label="Read-only")
    if expires:
        form.get_by_label("Expires on").fill(expires)
    form.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("heading", name="API key created")).to_be_visible()
    return page.locator("#new-key").inner_text()


@pytest.mark.parametrize("width", WIDTHS)
def test_deactivating_bob_ends_his_session_and_refuses_his_login_until_reactivated(
    console, browser, live_server, bob, width
):
    base = live_server.url
    bobs = browser.new_context()
    bobs_page = bobs.new_page()
    log_in(bobs_page, base, "bob")
    expect(bobs_page).to_have_url(re.compile(r"/sync/$"))

    page = console
    security_tab(page, base, width)
    bob_row = page.locator('[data-user="bob"]')
    bob_row.get_by_role("link", name="Deactivate…").click()
    expect(page.get_by_role("heading", name="Deactivate bob?")).to_be_visible()
    fits(page, width)
    page.get_by_role("button", name="Yes, deactivate bob").click()
    expect(page.get_by_role("status")).to_contain_text("bob is deactivated")
    expect(bob_row).to_contain_text("deactivated")
    fits(page, width)

    bobs_page.reload()
    expect(bobs_page).to_have_url(re.compile(r"/accounts/login/"))
    log_in(bobs_page, base, "bob")
    expect(bobs_page.get_by_role("alert")).to_have_text(DEACTIVATED)

    bob_row.get_by_role("link", name="Reactivate…").click()
    expect(page.get_by_role("heading", name="Reactivate bob?")).to_be_visible()
    fits(page, width)
    page.get_by_role("button", name="Yes, reactivate bob").click()
    expect(page.get_by_role("status")).to_contain_text("bob is active again")

    log_in(bobs_page, base, "bob")
    expect(bobs_page).to_have_url(re.compile(r"/sync/$"))
    bobs.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_an_api_keys_last_use_shows_after_a_real_api_call(console, live_server, width):
    base = live_server.url
    page = console
    security_tab(page, base, width)
    secret = create_key(page, "BI export")
    fits(page, width)
    page.get_by_role("link", name="Done").click()
    row = page.locator('[data-key="BI export"]')
    expect(row.locator(".last-used")).to_have_text("Never")

    assert call_api(base, secret).status_code == 200
    page.reload()
    expect(row.locator(".last-used time")).to_have_text(
        re.compile(r"^\d{1,2} \w{3} \d{4}, \d\d:\d\d$")
    )
    expect(row).to_contain_text("by alice")
    fits(page, width)


def test_an_expired_key_is_refused_and_shown_as_expired(console, live_server):
    base = live_server.url
    page = console
    security_tab(page, base, 1280)
    tomorrow = timezone.localdate() + timedelta(days=1)
    secret = create_key(page, "Short job", expires=tomorrow.isoformat())
    assert call_api(base, secret).status_code == 200

    expiry = IntegrationKey.objects.get(name="Short job").expiry_date
    with time_machine.travel(expiry + timedelta(minutes=1)):  # the live server's clock too
        refused = call_api(base, secret)
        assert refused.status_code == 401
        assert refused.json()["error"]["message"].startswith("This API key expired on")
        page.goto(f"{base}/security/")
        expect(page.locator('[data-key="Short job"] .key-state')).to_have_text("Expired")


def test_revoking_a_key_asks_first_at_a_url_without_its_hash(console, live_server):
    base = live_server.url
    page = console
    security_tab(page, base, 1280)
    secret = create_key(page, "BI export")
    page.get_by_role("link", name="Done").click()
    key = IntegrationKey.objects.get(name="BI export")

    page.locator('[data-key="BI export"]').get_by_role("link", name="Revoke…").click()
    expect(page.get_by_role("heading", name="Revoke the API key BI export?")).to_be_visible()
    assert page.url == f"{base}/security/keys/{key.public_id}/revoke/"
    assert key.prefix not in page.url and key.hashed_key not in page.url
    assert call_api(base, secret).status_code == 200  # asking revoked nothing

    page.get_by_role("button", name="Yes, revoke the key").click()
    expect(page.get_by_role("status")).to_contain_text("The API key BI export is revoked")
    expect(page.locator('[data-key="BI export"] .key-state')).to_have_text("Revoked")
    assert call_api(base, secret).status_code == 401
