"""Lists that grow, in the browser: paging and searching maintenance messages, and their
CSV export, at desktop and phone width."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from maintenance.models import Message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1280, 390])
def test_page_through_and_search_messages(console, live_server, width):
    page = console
    page.set_viewport_size({"width": width, "height": 800})
    start = timezone.now() - timedelta(hours=2)
    for n in range(1, 61):
        Message.objects.create(
            code="SF_DUPLICATE",
            summary=f"Contact number {n} not written",
            record={"fields": {"Email": f"person{n}@example.com"}},
            created_at=start + timedelta(minutes=n),
        )
    page.goto(f"{live_server.url}/maintenance/messages/")
    expect(page.get_by_text("Page 1 of 2")).to_be_visible()
    expect(page.get_by_text("Contact number 60 not written")).to_be_visible()

    page.get_by_role("link", name="Older →").click()
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()
    expect(page.get_by_text("Contact number 1 not written", exact=True)).to_be_visible()
    expect(page.get_by_text("Contact number 60 not written")).to_have_count(0)

    page.get_by_label("Search").fill("person7@example.com")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("Contact number 7 not written")).to_be_visible()
    expect(page.locator(".message-list > li")).to_have_count(1)
    expect(page.get_by_text("Page 1 of")).to_have_count(0)

    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    text = open(download.value.path(), encoding="utf-8").read()
    assert "Contact number 7 not written" in text
    assert "Contact number 8 not written" not in text
    assert page.evaluate("document.documentElement.scrollWidth") <= width
