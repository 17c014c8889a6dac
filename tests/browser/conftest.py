"""Playwright in Debian's chromium against Django's live server.

Playwright's sync API runs an event loop in the test thread, so Django's ORM calls made by
the test itself (fixtures, assertions) need DJANGO_ALLOW_ASYNC_UNSAFE.
"""

import os
import shutil

import pytest
from playwright.sync_api import expect

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session", autouse=True)
def allow_orm_beside_playwright():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


# Playwright's assertions wait up to 5 s by default (its actions 30 s): too little for a page
# load when CI's two cores are shared with everything else. They still return as soon as
# they hold.
expect.set_options(timeout=30_000)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not shutil.which(CHROMIUM):
        pytest.fail(f"Browser tests need chromium at {CHROMIUM}: apt-get install -y chromium")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture
def console(page, live_server, alice):
    """A browser logged in as alice through the login form."""
    from tests.conftest import PASSWORD

    page.goto(f"{live_server.url}/sync/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/sync/")
    return page
