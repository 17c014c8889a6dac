"""What billing does: the trial, adding a card (trial → paid), following the subscriber count
to the right tier, cancelling, resending invoices. Views, webhooks and the sync call these."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone

from . import stripe_client
from .models import BillingAccount
from .stripe_client import BillingError, Invoice, Subscription
from .tiers import Tier, active_subscribers, tier_by_limit, tier_for, up_to_of_plan

log = logging.getLogger(__name__)


class ContactUs(BillingError):
    def __init__(self, count: int) -> None:
        super().__init__(
            f"{count:,} active subscribers is above our largest plan: contact us for a price."
        )


def account() -> BillingAccount:
    return BillingAccount.get_solo()


def tracking_allowed() -> bool:
    """Email tracking is imported in the trial and on a paid plan (always, without billing)."""
    if not stripe_client.configured():
        return True
    return account().tracking_allowed()


def tracking_paused() -> bool:
    """For the Sync and Billing tabs; never creates the account (or starts the trial)."""
    if not stripe_client.configured():
        return False
    billing = BillingAccount.objects.first()
    return billing is not None and not billing.tracking_allowed()


def current_tier(billing: BillingAccount) -> Tier | None:
    return tier_by_limit(billing.tier_up_to) or tier_for(billing.subscriber_count)


def _apply_subscription(billing: BillingAccount, subscription: Subscription) -> None:
    billing.subscription_id = subscription.id
    billing.subscription_status = subscription.status
    billing.tier_up_to = up_to_of_plan(subscription.plan_id) or billing.tier_up_to
    billing.next_invoice_at = subscription.period_end


def _trial_end_for_stripe(billing: BillingAccount) -> datetime | None:
    """The trial's end while it is still ahead (Stripe refuses a trial_end in the past; a
    minute's margin covers the request's way there)."""
    assert billing.trial_ends_at is not None  # save() sets it: the account is stored
    if billing.trial_ends_at > timezone.now() + timedelta(minutes=1):
        return billing.trial_ends_at
    return None


def first_charge(billing: BillingAccount) -> str:
    """What saving a card will charge, said before it is saved; empty when nothing new starts
    (a paid plan already runs) or no plan fits the count."""
    tier = tier_for(billing.subscriber_count)
    if billing.has_paid_plan or tier is None:
        return ""
    trial_end = _trial_end_for_stripe(billing)
    if trial_end is None:
        return (
            f"Your card will be charged {tier.amount_text} today, then {tier.price} "
            f"({tier.label.lower()})."
        )
    when = timezone.localtime(trial_end)
    return (
        f"Your card will first be charged {tier.amount_text} on {when.day} {when:%B %Y}, when your "
        f"trial ends, then {tier.price} ({tier.label.lower()})."
    )


def add_card(payment_method_id: str) -> BillingAccount:
    """Attach a card confirmed by Stripe.js, make it the default, and start (or keep) the paid
    plan on the tier of the current subscriber count. During the trial the subscription
    carries the trial's end, so Stripe charges nothing before it."""
    billing = account()
    billing.customer_id = stripe_client.ensure_customer(billing.customer_id, billing.contact_email)
    billing.save(update_fields=["customer_id"])
    card = stripe_client.attach_card(billing.customer_id, payment_method_id)
    billing.card_brand, billing.card_last4 = card.brand, card.last4
    billing.card_exp_month, billing.card_exp_year = card.exp_month, card.exp_year
    billing.save()
    tier = tier_for(billing.subscriber_count)
    if tier is None:
        raise ContactUs(billing.subscriber_count)
    if billing.has_paid_plan:
        subscription = stripe_client.get_subscription(billing.subscription_id)
    else:
        trial_end = _trial_end_for_stripe(billing)
        subscription = stripe_client.subscribe(billing.customer_id, tier, trial_end)
    _apply_subscription(billing, subscription)
    billing.payment_failed = subscription.status not in {"active", "trialing"}
    billing.save()
    return billing


def setup_intent_secret() -> str:
    billing = account()
    billing.customer_id = stripe_client.ensure_customer(billing.customer_id, billing.contact_email)
    billing.save(update_fields=["customer_id"])
    return stripe_client.create_setup_intent(billing.customer_id)


def set_contact(email: str) -> None:
    billing = account()
    billing.contact_email = email
    billing.save(update_fields=["contact_email"])
    if billing.customer_id and stripe_client.configured():
        stripe_client.update_customer_email(billing.customer_id, email)


def update_plan_after_sync() -> None:
    """After every run: store the active subscriber count and, when it crosses into another
    tier, move the Stripe subscription with it. Never raises: billing must not fail a sync."""
    try:
        _follow_subscriber_count()
    except Exception:
        log.exception("Could not update the billing plan after the sync")


def _follow_subscriber_count() -> None:
    billing = account()
    billing.subscriber_count = active_subscribers()
    billing.counted_at = timezone.now()
    billing.save(update_fields=["subscriber_count", "counted_at"])
    tier = tier_for(billing.subscriber_count)
    if tier is None or not stripe_client.configured() or not billing.has_paid_plan:
        return
    if tier.up_to == billing.tier_up_to:
        return
    billing.previous_tier_up_to, billing.plan_changed_at = billing.tier_up_to, timezone.now()
    _apply_subscription(billing, stripe_client.change_tier(billing.subscription_id, tier))
    billing.save()
    log.info("Billing plan changed to %s (%s)", tier.label, tier.price)


def upcoming_change(billing: BillingAccount) -> str:
    """The plan change the subscriber count made that no invoice has carried yet, in a
    sentence for the Billing tab; empty when there is none."""
    old, new = tier_by_limit(billing.previous_tier_up_to), tier_by_limit(billing.tier_up_to)
    if not billing.has_paid_plan or old is None or new is None or old == new:
        return ""
    when = timezone.localtime(billing.plan_changed_at)
    direction = "up" if new.up_to > old.up_to else "down"
    text = (
        f"On {when.day} {when:%B %Y} the active subscriber count moved the plan {direction} from "
        f"{old.label.lower()} ({old.price}) to {new.label.lower()} ({new.price})."
    )
    if billing.next_invoice_at:
        due = timezone.localtime(billing.next_invoice_at)
        text += f" The next invoice, on {due.day} {due:%B %Y}, "
        text += "is at the new price"
        text += "." if billing.subscription_status == "trialing" else ", less the unused time."
    return text


def cancel_billing() -> BillingAccount:
    """End the paid plan now (Stripe sends no further invoice). Email tracking then pauses as
    it does when a trial ends without a plan; a trial still running keeps it until its end."""
    billing = account()
    if not billing.has_paid_plan:
        raise BillingError("There is no paid plan to cancel.")
    subscription = stripe_client.cancel_subscription(billing.subscription_id)
    billing.subscription_status = subscription.status or "canceled"
    billing.next_invoice_at = None
    billing.previous_tier_up_to = billing.plan_changed_at = None
    billing.payment_failed = False
    billing.save()
    return billing


def invoice_link(invoice: Invoice) -> str:
    """Stripe's hosted page when it has one (localstripe does not), else ours."""
    path = reverse("billing-invoice", args=[invoice.id])
    return invoice.hosted_url or f"{settings.CMSYNC_URL}{path}"


def our_invoice(invoice_id: str) -> Invoice:
    """The invoice, only if it is this installation's."""
    billing = account()
    invoice = stripe_client.get_invoice(invoice_id) if billing.customer_id else None
    if invoice is None or invoice.customer != billing.customer_id:
        raise BillingError("No such invoice.")
    return invoice


def resend_invoice(invoice_id: str) -> str:
    """Email the invoice's link to the billing contact (our mail: Stripe's send_invoice is not
    available everywhere). Returns the address it went to."""
    billing = account()
    invoice = our_invoice(invoice_id)
    to = billing.contact_email or invoice.customer_email
    if not to:
        raise BillingError("Set a billing contact first.")
    body = (
        f"Invoice {invoice.number} from cmsync, {invoice.created:%d %b %Y}: "
        f"{invoice.amount_text} ({invoice.status_text.lower()}).\n\n"
        f"View it: {invoice_link(invoice)}\n"
    )
    if invoice.pdf_url:
        body += f"PDF: {invoice.pdf_url}\n"
    send_mail(f"cmsync invoice {invoice.number}", body, None, [to])
    return to
