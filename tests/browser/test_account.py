"""Your account in the browser: change the password from the header's link, and reset a
forgotten one by the emailed link; at desktop width and at a phone's 390 px."""

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW = "a-new-Passphrase-42"
WIDTHS = [pytest.param(1280, id="desktop"), pytest.param(390, id="phone")]


def fits(page, width: int) -> None:
    """Nothing wider than the window: no sideways scrolling at this width (call it once the
    page's heading is visible, so the page is the new one)."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def log_in(page, base: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


@pytest.mark.parametrize("width", WIDTHS)
def test_change_your_password(console, live_server, alice, width):
    page = console
    page.set_viewport_size({"width": width, "height": 800})
    page.get_by_role("link", name="Your account").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    fits(page, width)
    page.get_by_role("link", name="Change password…").click()
    expect(page.get_by_role("heading", name="Change password")).to_be_visible()
    fits(page, width)

    page.get_by_label("Current password").fill("not-it")
    page.get_by_label("New password", exact=True).fill(NEW)
    page.get_by_label("New password again").fill(NEW)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("alert")).to_contain_text("Password not changed.")
    expect(page.get_by_role("alert")).to_be_in_viewport()

    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW)
    page.get_by_label("New password again").fill(NEW)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_have_text("Your password is changed.")
    expect(page).to_have_url(re.compile(r"/accounts/#password$"))  # still logged in

    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server.url, PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text("didn't match")
    log_in(page, live_server.url, NEW)
    expect(page).to_have_url(re.compile(r"/sync/$"))


@pytest.mark.parametrize("width", WIDTHS)
def test_reset_a_forgotten_password_by_email(page, live_server, alice, width):
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Forgot password")).to_be_visible()
    fits(page, width)
    page.get_by_label("Email address").fill("alice@example.com")
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    fits(page, width)

    (message,) = mail.outbox
    (url,) = re.findall(r"https?://\S+", message.body)
    page.goto(live_server.url + urlsplit(url).path)
    expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
    page.get_by_label("New password").fill(NEW)
    page.get_by_label("Again").fill(NEW)
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("heading", name="Password set")).to_be_visible()

    page.get_by_role("link", name="Go to the console").click()
    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server.url, NEW)
    expect(page).to_have_url(re.compile(r"/sync/$"))
