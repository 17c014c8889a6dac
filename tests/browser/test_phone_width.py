"""Every page at phone width (390 px): nothing wider than the screen, with full tables, long
emails, ids and URLs; the tab bar scrolls with a visible cue when its tabs do not fit.

Set SCREENSHOTS=/tmp/shots to keep a full-page screenshot of each page at 390 px and at
desktop width (for looking at them, not for asserting)."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from billing import stripe_client
from billing.models import BillingAccount
from maintenance.audit import record_action
from maintenance.models import Message
from security.service import create_key
from subscriptions.models import FieldMapping, ImportJob
from sync.models import SyncRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
LONG_EMAIL = "averyveryverylongfirstname.andalongsurname-withadash@subdomain.example-company.com"
LONG_ID = "a0B5g00000ZzYyXxWwVvUuTtSsRrQqPpOoNnMmLlKk"
SHOTS = os.environ.get("SCREENSHOTS", "")

# Pages that need only cmsync's own database, and those that need a connected list.
PAGES = {
    "sync": "/sync/",
    "general": "/general/",
    "campaigns": "/campaigns/",
    "maintenance": "/maintenance/",
    "messages": "/maintenance/messages/",
    "audit": "/maintenance/?area=security#audit",
    "security": "/security/",
    "billing": "/billing/",
    "account": "/accounts/",
    "runs": "/sync/runs/",
    "run": "/sync/runs/{run}/",
}
LIST_PAGES = {
    "lists": "/sync/lists/",
    "rules": "/lists/{list}/rules/",
    "fields": "/lists/{list}/fields/",
    "import": "/lists/{list}/import/",
    "import-history": "/lists/{list}/import/history/",
    "import-mapping": "/lists/{list}/import/{job}/mapping/",
}


def seed(alice) -> dict:
    """Full tables with long values: runs, messages, audit entries, API keys, invoices."""
    now = timezone.now()
    runs = [
        SyncRun(
            trigger=SyncRun.Trigger.SCHEDULE,
            status=SyncRun.Status.PARTIAL,
            active=None,
            created_at=now - timedelta(hours=n),
            started_at=now - timedelta(hours=n),
            finished_at=now - timedelta(hours=n) + timedelta(minutes=3),
            last_error=f"Salesforce refused {LONG_EMAIL}: DUPLICATES_DETECTED {LONG_ID}",
        )
        for n in range(1, 31)
    ]
    SyncRun.objects.bulk_create(runs)
    run = SyncRun.objects.order_by("-created_at").first()
    Message.objects.bulk_create(
        Message(
            code="SF_DUPLICATE",
            run=run,
            step="people",
            summary=f"Contact {LONG_EMAIL} not written",
            upstream_message=f"DUPLICATES_DETECTED: Use one of these records? {LONG_ID}",
            record={"Id": LONG_ID, "Email": LONG_EMAIL, "Website": "https://" + "x" * 90},
        )
        for _ in range(30)
    )
    for n in range(30):
        record_action(alice, "security", f"API key “{LONG_ID}{n}” created for {LONG_EMAIL}")
    for n in range(5):
        create_key(f"{LONG_EMAIL[:47]} {n}", "read", alice)  # names hold 50 characters
    account = BillingAccount.objects.get_or_create(pk=1)[0]
    account.customer_id = "cus_" + LONG_ID
    account.contact_email = LONG_EMAIL
    account.save()
    return {"run": run.pk}


def invoices(customer_id: str, limit: int = 24) -> list:
    return [
        stripe_client.Invoice(
            id=f"in_{LONG_ID}{n}",
            customer=customer_id,
            number=f"CMSYNC-{LONG_ID}-{n:04d}",
            created=timezone.now() - timedelta(days=30 * n),
            amount=80000,
            currency="usd",
            status="paid",
            hosted_url="http://127.0.0.1:9/invoice",
            pdf_url="http://127.0.0.1:9/invoice.pdf",
            customer_email=LONG_EMAIL,
        )
        for n in range(12)
    ]


@pytest.fixture
def seeded(console, alice, settings, monkeypatch):
    settings.STRIPE_SECRET_KEY = "sk_test_cmsync"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_cmsync"
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens: Stripe.js is not needed
    monkeypatch.setattr(stripe_client, "list_invoices", invoices)
    alice.email = LONG_EMAIL
    alice.save()
    return console, seed(alice)


WIDEST = """() => [...document.querySelectorAll("body *")]
  .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5)
  .filter((el) => !el.closest("table, .tabs, .table-scroll, .scroll") || el.matches("table"))
  .slice(0, 5)
  .map((el) => el.tagName.toLowerCase() + (el.className ? "." + el.className : "") + " "
       + Math.round(el.getBoundingClientRect().right) + "px")"""


def wide(page) -> list[str]:
    """The first elements reaching past the screen's right edge (for the failure message)."""
    return page.evaluate(WIDEST)


def check(page, url: str, name: str) -> None:
    """The page at phone width is no wider than the screen; screenshots when asked."""
    page.set_viewport_size(PHONE)
    page.goto(url)
    expect(page.locator("main")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} is {width} px wide at 390 px: {wide(page)}"
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=f"{SHOTS}/{name}-390.png", full_page=True)
        page.screenshot(path=f"{SHOTS}/{name}-390-top.png")
        page.set_viewport_size(DESKTOP)
        page.screenshot(path=f"{SHOTS}/{name}-desktop.png", full_page=True)
        page.screenshot(path=f"{SHOTS}/{name}-desktop-top.png")


@pytest.mark.parametrize("name", list(PAGES))
def test_page_fits_a_phone(seeded, live_server, name):
    page, ids = seeded
    check(page, live_server.url + PAGES[name].format(**ids), name)


@pytest.mark.parametrize("name", list(LIST_PAGES))
def test_list_page_fits_a_phone(seeded, live_server, world, name):
    page, ids = seeded
    for n in range(6):
        FieldMapping.objects.create(
            list_id=world.list_a,
            cm_key=f"[averyverylongcustomfieldname{n}]",
            cm_type="Text",
            contact_field="Description",
            direction=FieldMapping.Direction.TO_CM,
        )
    job = ImportJob.objects.create(
        list_id=world.list_a,
        client_id=world.client["ClientID"],
        source=ImportJob.Source.CONTACTS,
        status=ImportJob.Status.DRAFT,
    )
    ids |= {"list": world.list_a, "job": job.pk}
    check(page, live_server.url + LIST_PAGES[name].format(**ids), name)


def test_the_tab_bar_scrolls_with_a_cue_and_shows_the_current_tab(seeded, live_server):
    page, _ = seeded
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/billing/")
    bar = page.locator(".tabs-bar")
    current = bar.get_by_role("link", name="Billing")
    expect(current).to_be_in_viewport()
    more, earlier = bar.get_by_label("More tabs"), bar.get_by_label("Earlier tabs")
    expect(earlier).to_be_visible()  # Billing is the last tab: the earlier ones are hidden

    page.goto(f"{live_server.url}/sync/")
    expect(more).to_be_visible()
    expect(earlier).to_be_hidden()
    more.click()
    expect(earlier).to_be_visible()
    expect(bar.get_by_role("link", name="Billing")).to_be_in_viewport()

    page.set_viewport_size(DESKTOP)
    expect(more).to_be_hidden()
    expect(earlier).to_be_hidden()
