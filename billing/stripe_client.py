"""The only module that speaks to Stripe (or localstripe): plain functions returning small
records, raising BillingError with a message a person can act on.

localstripe (the tests' and demo's Stripe) differs from Stripe where this module reads it:
- a subscription created with ``trial_end`` stays ``incomplete`` with no invoice, where Stripe
  says ``trialing`` (and issues a $0 invoice for the trial); subscription_of() reads such a
  subscription as trialing, which is safe on Stripe, whose ``incomplete`` always has an invoice;
- during the trial its ``current_period_end`` is a month after the start, where Stripe's is
  the trial's end; subscription_of() takes the trial's end while trialing;
- it has no clock: a trial never ends by itself and ``trial_end=now`` bills nothing, so the
  tests do what Stripe does at the trial's end themselves (tests/billing_fixtures.py).
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import stripe
from django.conf import settings

from .tiers import Tier

PRODUCT_ID = "cmsync"
TIMEOUT = 15  # seconds per request
MESSAGES = {
    "unreachable": "Stripe could not be reached. Nothing was changed; try again in a minute.",
    "auth": "Stripe refused cmsync's API key. Check STRIPE_SECRET_KEY.",
}


class BillingError(Exception):
    """A Stripe call failed; str() is a plain message for the console."""


class NotConfigured(BillingError):
    def __init__(self) -> None:
        super().__init__("Billing is not configured: set STRIPE_SECRET_KEY and related keys.")


@dataclass(frozen=True, slots=True)
class Card:
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    status: str
    plan_id: str
    period_end: datetime | None  # the next invoice: the trial's end while trialing
    trial_end: datetime | None = None


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    description: str
    amount: int  # cents, negative for a credit (unused time after a plan change)
    period_start: datetime | None
    period_end: datetime | None
    currency: str = ""

    @property
    def amount_text(self) -> str:
        return money(self.amount, self.currency)


@dataclass(frozen=True, slots=True)
class Invoice:
    id: str
    customer: str
    number: str
    created: datetime
    amount: int  # cents
    currency: str
    status: str
    hosted_url: str
    pdf_url: str
    customer_email: str
    period_start: datetime | None = None
    period_end: datetime | None = None
    lines: tuple[InvoiceLine, ...] = ()

    @property
    def amount_text(self) -> str:
        return money(self.amount, self.currency)

    @property
    def status_text(self) -> str:
        """Stripe's status in words for the Billing tab and the invoice email."""
        return INVOICE_STATUSES.get(self.status, self.status.replace("_", " ").capitalize())


# Stripe's invoice statuses (https://docs.stripe.com/invoicing/overview#invoice-statuses).
INVOICE_STATUSES = {
    "draft": "Draft",
    "open": "Not paid yet",
    "paid": "Paid",
    "uncollectible": "Uncollectible",
    "void": "Cancelled (void)",
}


def money(cents: int, currency: str) -> str:
    """ "8.00 USD", "-8.00 USD"."""
    return f"{cents / 100:,.2f} {currency.upper()}"


def configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY and settings.STRIPE_PUBLISHABLE_KEY)


def js_url() -> str:
    """Stripe.js: localstripe serves a fake one beside its API."""
    if settings.STRIPE_API_BASE:
        return f"{settings.STRIPE_API_BASE}/js.stripe.com/v3/"
    return "https://js.stripe.com/v3/"


# What Stripe's integration security guide asks a Content-Security-Policy to allow for Stripe.js
# and its card Element: the script, its frames, and its calls to the API.
STRIPE_JS_SOURCES = {
    "script-src": ["https://js.stripe.com", "https://*.js.stripe.com"],
    "frame-src": ["https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com"],
    "connect-src": ["https://api.stripe.com"],
}


def csp_sources() -> dict[str, list[str]]:
    """The origins the Billing tab adds to the Content-Security-Policy for Stripe.js.

    Pointed at localstripe (STRIPE_API_BASE: tests, `make run`), only that origin, which
    serves both the fake Stripe.js and the API it calls; otherwise Stripe's own."""
    if settings.STRIPE_API_BASE:
        parts = urlsplit(settings.STRIPE_API_BASE)
        origin = f"{parts.scheme}://{parts.netloc}"
        return {"script-src": [origin], "frame-src": [origin], "connect-src": [origin]}
    return STRIPE_JS_SOURCES


def _client() -> stripe.StripeClient:
    if not configured():
        raise NotConfigured
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None,
        max_network_retries=1,
        http_client=stripe.RequestsClient(timeout=TIMEOUT),
    )


def _call(fn, *args, **kwargs) -> dict:
    """One Stripe request as a plain dict; Stripe's exceptions become BillingError."""
    try:
        return fn(*args, **kwargs).to_dict()
    except stripe.CardError as exc:
        raise BillingError(exc.user_message or "Your card was declined.") from exc
    except stripe.APIConnectionError as exc:
        raise BillingError(MESSAGES["unreachable"]) from exc
    except stripe.AuthenticationError as exc:
        raise BillingError(MESSAGES["auth"]) from exc
    except stripe.StripeError as exc:
        detail = exc.user_message or "unexpected answer"
        if exc.http_status and exc.http_status >= 500:
            raise BillingError(f"Stripe is having trouble ({detail}); try again later.") from exc
        raise BillingError(f"Stripe refused the request: {detail}") from exc


def _missing(exc: BillingError) -> bool:
    cause = exc.__cause__
    return isinstance(cause, stripe.InvalidRequestError) and cause.http_status == 404


def _when(timestamp: int | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, tz=UTC) if timestamp else None


def ensure_customer(customer_id: str, email: str) -> str:
    """The customer's id, creating the customer when there is none (or Stripe forgot it)."""
    client = _client()
    if customer_id:
        try:
            customer = _call(client.v1.customers.retrieve, customer_id)
            if not customer.get("deleted"):
                return customer_id
        except BillingError as exc:
            if not _missing(exc):
                raise
    params = {"description": "cmsync installation"}
    if email:
        params["email"] = email
    return _call(client.v1.customers.create, params)["id"]


def update_customer_email(customer_id: str, email: str) -> None:
    _call(_client().v1.customers.update, customer_id, {"email": email})


def create_setup_intent(customer_id: str) -> str:
    """A SetupIntent for Stripe.js to confirm in the browser; returns its client secret."""
    params = {"customer": customer_id, "usage": "off_session"}
    return _call(_client().v1.setup_intents.create, params)["client_secret"]


def attach_card(customer_id: str, payment_method_id: str) -> Card:
    """Attach the card to the customer and make it the default for invoices."""
    client = _client()
    method = _call(client.v1.payment_methods.retrieve, payment_method_id)
    if method.get("customer") != customer_id:
        method = _call(
            client.v1.payment_methods.attach, payment_method_id, {"customer": customer_id}
        )
    params = {"invoice_settings": {"default_payment_method": payment_method_id}}
    _call(client.v1.customers.update, customer_id, params)
    card = method.get("card") or {}
    return Card(
        brand=card.get("brand", ""),
        last4=card.get("last4", ""),
        exp_month=card.get("exp_month") or 0,
        exp_year=card.get("exp_year") or 0,
    )


def ensure_plan(tier: Tier) -> str:
    """The tier's monthly plan (stable id), created with the product the first time."""
    client = _client()
    try:
        return _call(client.v1.plans.retrieve, tier.plan_id)["id"]
    except BillingError as exc:
        if not _missing(exc):
            raise
    try:
        _call(client.v1.products.retrieve, PRODUCT_ID)
    except BillingError as exc:
        if not _missing(exc):
            raise
        _call(client.v1.products.create, {"id": PRODUCT_ID, "name": "cmsync"})
    params = {
        "id": tier.plan_id,
        "product": PRODUCT_ID,
        "amount": tier.amount,
        "currency": settings.BILLING_CURRENCY,
        "interval": "month",
        "nickname": tier.label,
    }
    return _call(client.v1.plans.create, params)["id"]


def subscription_of(data: dict) -> Subscription:
    """A subscription as the API or a webhook event gives it (see the module docstring for
    how localstripe's trial is read)."""
    items = (data.get("items") or {}).get("data") or [{}]
    plan = data.get("plan") or items[0].get("plan") or {}
    status = data.get("status", "")
    trial_end = _when(data.get("trial_end"))
    in_trial = trial_end is not None and trial_end > datetime.now(tz=UTC)
    if status == "incomplete" and in_trial and not data.get("latest_invoice"):
        status = "trialing"
    period_end = data.get("current_period_end") or items[0].get("current_period_end")
    next_invoice = trial_end if status == "trialing" and in_trial else _when(period_end)
    return Subscription(data["id"], status, plan.get("id", ""), next_invoice, trial_end)


def subscribe(customer_id: str, tier: Tier, trial_end: datetime | None = None) -> Subscription:
    """Start the tier's plan; with ``trial_end`` (in the future) nothing is charged before it."""
    plan_id = ensure_plan(tier)
    params: dict[str, object] = {"customer": customer_id, "items": [{"plan": plan_id}]}
    if trial_end is not None:
        params["trial_end"] = int(trial_end.timestamp())
    return subscription_of(_call(_client().v1.subscriptions.create, params))


def get_subscription(subscription_id: str) -> Subscription:
    return subscription_of(_call(_client().v1.subscriptions.retrieve, subscription_id))


def cancel_subscription(subscription_id: str) -> Subscription:
    """End the subscription now: no further invoice (and no refund of the current month)."""
    return subscription_of(_call(_client().v1.subscriptions.cancel, subscription_id))


def change_tier(subscription_id: str, tier: Tier) -> Subscription:
    """Move the subscription's one item to the tier's plan."""
    plan_id = ensure_plan(tier)
    current = _call(_client().v1.subscriptions.retrieve, subscription_id)
    item_id = current["items"]["data"][0]["id"]
    params = {"items": [{"id": item_id, "plan": plan_id}]}
    return subscription_of(_call(_client().v1.subscriptions.update, subscription_id, params))


def _line(data: dict, currency: str) -> InvoiceLine:
    period = data.get("period") or {}
    return InvoiceLine(
        description=data.get("description") or "",
        amount=data.get("amount") or 0,
        period_start=_when(period.get("start")),
        period_end=_when(period.get("end")),
        currency=data.get("currency") or currency,
    )


def _invoice(data: dict) -> Invoice:
    lines = (data.get("lines") or {}).get("data") or []
    currency = data.get("currency") or settings.BILLING_CURRENCY
    # Every Stripe invoice has one; without it the invoices could not be listed newest first.
    created = _when(data.get("created") or data.get("date"))
    if created is None:
        raise BillingError(f"Stripe sent invoice {data['id']} without a date.")
    return Invoice(
        id=data["id"],
        customer=data.get("customer") or "",
        number=data.get("number") or data["id"],
        created=created,
        amount=data.get("total") or data.get("amount_due") or 0,
        currency=currency,
        status=data.get("status") or "",
        hosted_url=data.get("hosted_invoice_url") or "",
        pdf_url=data.get("invoice_pdf") or "",
        customer_email=data.get("customer_email") or "",
        period_start=_when(data.get("period_start")),
        period_end=_when(data.get("period_end")),
        lines=tuple(_line(line, currency) for line in lines),
    )


def list_invoices(customer_id: str, limit: int = 24) -> list[Invoice]:
    params = {"customer": customer_id, "limit": limit}
    page = _call(_client().v1.invoices.list, params)
    return sorted((_invoice(d) for d in page["data"]), key=lambda i: i.created, reverse=True)


def get_invoice(invoice_id: str) -> Invoice:
    return _invoice(_call(_client().v1.invoices.retrieve, invoice_id))


def upcoming_invoice(customer_id: str, subscription_id: str) -> Invoice:
    """Stripe's preview of the subscription's next invoice (its amount and lines, including
    the credit and charge of a plan change); nothing is created or charged."""
    params = {"customer": customer_id, "subscription": subscription_id}
    return _invoice(_call(_client().v1.invoices.create_preview, params))


def verify_event(payload: bytes, signature: str) -> dict:
    """The event, if the signature matches STRIPE_WEBHOOK_SECRET; else ValueError."""
    if not settings.STRIPE_WEBHOOK_SECRET:
        raise ValueError("STRIPE_WEBHOOK_SECRET is not set")
    try:
        stripe.WebhookSignature.verify_header(
            payload, signature, settings.STRIPE_WEBHOOK_SECRET, stripe.Webhook.DEFAULT_TOLERANCE
        )
    except stripe.SignatureVerificationError as exc:
        raise ValueError("bad signature") from exc
    event = json.loads(payload)  # a ValueError too when it is not JSON
    if not isinstance(event, dict):
        raise ValueError("the payload is not a Stripe event")
    return event
