# ruff: noqa: F811 -- pytest fixtures imported from billing_fixtures are parameters here
"""With the Content-Security-Policy on, the browser blocks nothing on any tab: every script and
style the console uses comes from a file the policy allows (Stripe.js from localstripe here).

A listener added before any page script collects the browser's `securitypolicyviolation`
events, and the console's CSP errors too, on every page visited."""

import pytest
from playwright.sync_api import expect

from campaign_monitor.connection import connect as connect_cm
from subscriptions.models import ImportJob
from sync.models import SyncRun
from tests.billing_fixtures import localstripe, localstripe_server  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LISTEN = """document.addEventListener("securitypolicyviolation", (e) => {
  (window.__violations = window.__violations || []).push(
    e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " + e.sourceFile
  );
});"""

PAGES = [
    "/sync/",
    "/general/",
    "/campaigns/",
    "/maintenance/",
    "/maintenance/messages/",
    "/security/",
    "/billing/",
    "/accounts/",
    "/accounts/password/",
    "/sync/runs/",
    "/sync/runs/{run}/",
    "/sync/lists/",
    "/lists/{list}/rules/",
    "/lists/{list}/rules/subscribe/",
    "/lists/{list}/fields/",
    "/lists/{list}/import/",
    "/lists/{list}/import/history/",
    "/lists/{list}/import/{job}/",
    "/campaign-monitor/connect/",
    "/salesforce/app/",
    "/api/v1/docs/",
    "/admin/",
]


@pytest.fixture
def watched(console):
    """The logged-in page, with every CSP violation and CSP console error collected."""
    errors: list[str] = []
    console.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    console.context.add_init_script(LISTEN)
    return console, errors


def violations(page) -> list[str]:
    return page.evaluate("window.__violations || []")


def test_the_listener_sees_what_the_policy_blocks(watched, live_server):
    """The check below can fail: an inline script added to a page is blocked and reported."""
    page, errors = watched
    page.goto(f"{live_server.url}/sync/")
    page.evaluate(
        """() => { const s = document.createElement("script");
        s.textContent = "window.__ran = true"; document.body.append(s); }"""
    )
    page.wait_for_function("(window.__violations || []).length > 0")
    assert page.evaluate("window.__ran === undefined")
    assert "script-src" in violations(page)[0]


def test_no_tab_meets_a_policy_violation(watched, live_server, world, localstripe, admin_user):
    page, errors = watched
    # Two clients: the header's client switcher (its script) is on every page.
    connect_cm(
        base_url=world.cm.base_url,
        api_key=next(a for a in world.cm.info()["accounts"] if a["type"] == "agency")["api_key"],
        client_ids=[world.client["ClientID"], world.other_client["ClientID"]],
    )
    run = world.sync()
    job = ImportJob.objects.create(
        list_id=world.list_a,
        client_id=world.client["ClientID"],
        source=ImportJob.Source.CONTACTS,
        status=ImportJob.Status.RUNNING,  # its page reloads itself (reload.js) while it runs
    )
    ids = {"run": run.pk, "list": world.list_a, "job": job.pk}
    assert SyncRun.objects.filter(pk=run.pk).exists()
    seen = {}
    for path in PAGES:
        url = live_server.url + path.format(**ids)
        page.goto(url)
        page.wait_for_load_state("load")
        seen[path] = violations(page)
    assert page.locator("#client-switcher").count() == 0  # the docs/admin have no switcher
    page.goto(f"{live_server.url}/billing/")
    expect(page.locator("#card-element input").first).to_be_visible()  # Stripe.js ran
    page.goto(f"{live_server.url}/sync/")
    expect(page.locator("#client-switcher")).to_be_visible()
    assert {path: found for path, found in seen.items() if found} == {}
    assert errors == []
