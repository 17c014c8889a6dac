"""localstripe (PyPI) as the real Stripe server for billing tests, over HTTP."""

import hashlib
import hmac
import json
import time

import pytest
import stripe

from billing.localstripe import LocalStripe

WEBHOOK_SECRET = "whsec_cmsync_tests"


@pytest.fixture(scope="session")
def localstripe_server():
    with LocalStripe() as server:
        yield server


@pytest.fixture
def localstripe(localstripe_server, settings):
    """cmsync configured against localstripe (fresh customers per test; plans persist)."""
    settings.STRIPE_SECRET_KEY = "sk_test_cmsync"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_cmsync"
    settings.STRIPE_API_BASE = localstripe_server.api_base
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    return localstripe_server


def stripe_api(server: LocalStripe) -> stripe.StripeClient:
    """The test's own hand on Stripe, as Stripe.js or the dashboard would be."""
    return stripe.StripeClient("sk_test_cmsync", base_addresses={"api": server.api_base})


def card(server: LocalStripe, number: str = "4242424242424242") -> str:
    """A payment method as Stripe.js creates it in the browser; returns its id."""
    method = stripe_api(server).v1.payment_methods.create(
        {
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }
    )
    return method.id


def signed(event: dict, secret: str = WEBHOOK_SECRET) -> tuple[bytes, str]:
    """A payload and Stripe-Signature header as Stripe (and localstripe) sign them."""
    payload = json.dumps(event).encode()
    stamp = int(time.time())
    digest = hmac.new(secret.encode(), b"%d.%s" % (stamp, payload), hashlib.sha256).hexdigest()
    return payload, f"t={stamp},v1={digest}"


def end_trial(server: LocalStripe, subscription_id: str) -> str:
    """What Stripe does when a subscription's trial ends: invoice the subscription and charge
    the default card. localstripe has no clock and bills nothing on ``trial_end=now``, so the
    test asks it for that invoice itself; localstripe computes the invoice from the
    subscription's plan and charges the card. Returns the invoice's id."""
    api = stripe_api(server)
    api.v1.subscriptions.update(subscription_id, {"trial_end": "now"})
    subscription = api.v1.subscriptions.retrieve(subscription_id)
    invoice = api.v1.invoices.create(
        {"customer": subscription.customer, "subscription": subscription_id}
    )
    return api.v1.invoices.pay(invoice.id).id
