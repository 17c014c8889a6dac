# ruff: noqa: F811 -- pytest fixtures imported from billing_fixtures are parameters here
"""Adding a card through Stripe.js Elements as served by localstripe (its fake Stripe.js
draws plain inputs: number, exp_month, exp_year, cvc, postal_code)."""

import time

import pytest
from playwright.sync_api import expect

from billing.models import BillingAccount, StripeEvent
from tests.billing_fixtures import WEBHOOK_SECRET, localstripe, localstripe_server  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_add_a_card_with_stripe_js_see_it_and_its_invoice(console, live_server, localstripe):
    localstripe.register_webhook(f"{live_server.url}/billing/webhook/", WEBHOOK_SECRET)
    page = console
    page.get_by_role("link", name="Billing").click()
    expect(page.locator("#current-plan")).to_have_text("Free trial")
    expect(page.locator("#card-on-file")).to_have_text("No card on file.")

    element = page.locator("#card-element")
    element.get_by_placeholder("number").fill("4242424242424242")
    element.get_by_placeholder("exp_month").fill("12")
    element.get_by_placeholder("exp_year").fill("30")
    element.get_by_placeholder("cvc").fill("123")
    element.get_by_placeholder("postal_code").fill("10001")
    page.get_by_role("button", name="Save card").click()

    expect(page.locator("#card-on-file")).to_have_text("Visa ending in 4242, expires 12/2030")
    expect(page.locator("#current-plan")).to_contain_text("Up to 2,500 subscribers, $8/month")
    rows = page.locator("#invoices tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("8.00 USD")
    expect(rows.first).to_contain_text("paid")
    expect(rows.first.get_by_role("link", name="View")).to_be_visible()

    # localstripe delivers its signed events to our endpoint (about a second later); each is
    # stored, then processed, so wait until the last one is in and none is left unprocessed.
    def settled() -> bool:
        paid = StripeEvent.objects.filter(type="invoice.payment_succeeded").exists()
        return paid and not StripeEvent.objects.filter(processed_at__isnull=True).exists()

    deadline = time.monotonic() + 60
    while not settled():
        assert time.monotonic() < deadline, list(
            StripeEvent.objects.values_list("type", "processed_at")
        )
        time.sleep(0.2)
    assert not BillingAccount.get_solo().payment_failed


def test_a_declined_card_is_refused_in_the_page(console, localstripe):
    page = console
    page.goto(page.url.replace("/sync/", "/billing/"))
    element = page.locator("#card-element")
    element.get_by_placeholder("number").fill("4000000000000002")
    element.get_by_placeholder("exp_month").fill("12")
    element.get_by_placeholder("exp_year").fill("30")
    element.get_by_placeholder("cvc").fill("123")
    page.get_by_role("button", name="Save card").click()
    expect(page.locator("#card-status")).to_contain_text("declined")
    expect(page.locator("#card-on-file")).to_have_text("No card on file.")
