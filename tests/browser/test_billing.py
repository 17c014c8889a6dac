# ruff: noqa: F811 -- pytest fixtures imported from billing_fixtures are parameters here
"""Adding a card through Stripe.js Elements as served by localstripe (its fake Stripe.js
draws plain inputs: number, exp_month, exp_year, cvc, postal_code)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from billing.models import BillingAccount, StripeEvent
from tests.billing_fixtures import (  # noqa: F401
    WEBHOOK_SECRET,
    end_trial,
    localstripe,
    localstripe_server,
)
from tests.test_sync_celery import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fill_card(page, number: str = "4242424242424242") -> None:
    element = page.locator("#card-element")
    element.get_by_placeholder("number").fill(number)
    element.get_by_placeholder("exp_month").fill("12")
    element.get_by_placeholder("exp_year").fill("30")
    element.get_by_placeholder("cvc").fill("123")
    element.get_by_placeholder("postal_code").fill("10001")


def wait_for_events(*types: str) -> None:
    """localstripe delivers its signed events to our endpoint (about a second later); each is
    stored, then processed: wait until those of ``types`` are in and none is unprocessed."""

    def settled() -> bool:
        arrived = all(StripeEvent.objects.filter(type=kind).exists() for kind in types)
        return arrived and not StripeEvent.objects.filter(processed_at__isnull=True).exists()

    wait_for(settled, seconds=60)


@pytest.mark.parametrize("width", [1280, 390])
def test_a_card_added_in_the_trial_is_charged_only_when_the_trial_ends(
    console, live_server, localstripe, width
):
    localstripe.register_webhook(f"{live_server.url}/billing/webhook/", WEBHOOK_SECRET)
    page = console
    page.set_viewport_size({"width": width, "height": 844})
    page.get_by_role("link", name="Billing").click()
    expect(page.locator("#current-plan")).to_have_text("Free trial")
    expect(page.locator("#card-on-file")).to_have_text("No card on file.")
    ends = timezone.localtime(BillingAccount.get_solo().trial_ends_at)
    on = f"{ends.day} {ends:%B %Y}"
    expect(page.locator("#first-charge")).to_have_text(
        f"Your card will first be charged $8.00 on {on}, when your trial ends, "
        "then $8/month (up to 2,500 subscribers)."
    )

    fill_card(page)
    page.get_by_role("button", name="Save card").click()

    expect(page.locator("#card-on-file")).to_have_text("Visa ending in 4242, expires 12/2030")
    expect(page.locator("#current-plan")).to_contain_text("Up to 2,500 subscribers, $8/month")
    expect(page.locator("#current-plan")).to_contain_text("free until the trial ends")
    expect(page.locator("#next-invoice")).to_contain_text(f"{on}, 8.00 USD, the first charge")
    expect(page.get_by_text("No invoices yet.")).to_be_visible()
    wait_for_events("customer.subscription.created")
    page.reload()  # the subscription's event changed nothing: still trialing, no invoice
    expect(page.locator("#current-plan")).to_contain_text("free until the trial ends")
    expect(page.get_by_text("No invoices yet.")).to_be_visible()

    # The trial ends: Stripe invoices the subscription and charges the card.
    BillingAccount.objects.update(trial_ends_at=timezone.now() - timedelta(minutes=1))
    end_trial(localstripe, BillingAccount.get_solo().subscription_id)
    wait_for_events("invoice.payment_succeeded")
    page.reload()
    rows = page.locator("#invoices tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("8.00 USD")
    expect(rows.first).to_contain_text("Paid")
    expect(rows.first.locator("td.lines")).to_have_text("cmsync: 8.00 USD")
    expect(page.locator("#current-plan")).to_have_text("Up to 2,500 subscribers, $8/month")
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # the table scrolls
    account = BillingAccount.get_solo()
    assert account.subscription_status == "active" and not account.payment_failed
    rows.first.get_by_role("link", name="View").click()
    expect(page.locator("#invoice-lines")).to_contain_text("cmsync")
    expect(page.locator("#invoice-period")).not_to_have_text("none")


def test_a_declined_card_is_refused_in_the_page(console, localstripe):
    page = console
    page.goto(page.url.replace("/sync/", "/billing/"))
    fill_card(page, "4000000000000002")
    page.get_by_role("button", name="Save card").click()
    expect(page.locator("#card-status")).to_contain_text("declined")
    expect(page.locator("#card-on-file")).to_have_text("No card on file.")
