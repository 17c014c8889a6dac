"""The styled 403 and 404 pages in the browser: inside the console's frame, with its tabs,
saying why in a sentence, at desktop and phone width."""

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = [1280, 390]


def log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next=/sync/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/sync/")


@pytest.mark.parametrize("width", WIDTHS)
def test_a_refused_page_is_styled_and_says_which_role(page, live_server, bob, width):
    page.set_viewport_size({"width": width, "height": 800})
    log_in(page, live_server, "bob")
    response = page.goto(f"{live_server.url}/maintenance/reset/")
    assert response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text(
        "This needs the Full access role. Ask a Full access admin if you need it."
    )
    tabs = page.get_by_role("navigation", name="Console")
    expect(tabs.get_by_role("link", name="Maintenance")).to_be_attached()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.get_by_role("link", name="Back to the Sync tab").click()
    page.wait_for_url("**/sync/")


@pytest.mark.parametrize("width", WIDTHS)
def test_a_missing_page_is_styled_inside_the_console(console, live_server, width):
    console.set_viewport_size({"width": width, "height": 800})
    response = console.goto(f"{live_server.url}/sync/runs/987654/")
    assert response.status == 404
    expect(console.get_by_role("heading", name="Not found")).to_be_visible()
    expect(console.get_by_role("alert")).to_contain_text("does not exist")
    expect(console.get_by_role("navigation", name="Console")).to_be_attached()
    expect(console.get_by_role("button", name="Log out")).to_be_attached()
    assert console.evaluate("document.documentElement.scrollWidth") <= width
