"""Stripe webhook events: stored once by id, then handled idempotently (each handler sets
state from the event rather than adding to it, so processing twice changes nothing)."""

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from .models import EVENT_ID_MAX_LENGTH, EVENT_TYPE_MAX_LENGTH, BillingAccount, StripeEvent
from .stripe_client import subscription_of
from .tiers import up_to_of_plan

log = logging.getLogger(__name__)


def _ours(billing: BillingAccount, obj: dict) -> bool:
    return bool(billing.customer_id) and obj.get("customer") == billing.customer_id


def invoice_paid(billing: BillingAccount, invoice: dict) -> None:
    billing.payment_failed = False
    if invoice.get("subscription") in (None, billing.subscription_id) and billing.subscription_id:
        billing.subscription_status = "active"
        created = invoice.get("created") or invoice.get("date")
        changed = billing.plan_changed_at
        if changed and created and datetime.fromtimestamp(created, tz=UTC) >= changed:
            billing.previous_tier_up_to = billing.plan_changed_at = None  # invoiced now


def invoice_payment_failed(billing: BillingAccount, invoice: dict) -> None:
    billing.payment_failed = True


def subscription_updated(billing: BillingAccount, subscription: dict) -> None:
    if billing.subscription_id and subscription["id"] != billing.subscription_id:
        return
    read = subscription_of(subscription)
    billing.subscription_id = read.id
    billing.subscription_status = read.status
    billing.tier_up_to = up_to_of_plan(read.plan_id) or billing.tier_up_to
    if read.period_end:
        billing.next_invoice_at = read.period_end


def subscription_deleted(billing: BillingAccount, subscription: dict) -> None:
    if subscription["id"] == billing.subscription_id:
        billing.subscription_status = "canceled"
        billing.next_invoice_at = None


def payment_method_attached(billing: BillingAccount, method: dict) -> None:
    card = method.get("card")
    if card:
        billing.card_brand, billing.card_last4 = card.get("brand", ""), card.get("last4", "")
        billing.card_exp_month, billing.card_exp_year = card.get("exp_month"), card.get("exp_year")


HANDLERS: dict[str, Callable[[BillingAccount, dict], None]] = {
    "invoice.paid": invoice_paid,
    "invoice.payment_succeeded": invoice_paid,  # what localstripe sends for a paid invoice
    "invoice.payment_failed": invoice_payment_failed,
    "customer.subscription.created": subscription_updated,
    "customer.subscription.updated": subscription_updated,
    "customer.subscription.deleted": subscription_deleted,
    "payment_method.attached": payment_method_attached,
}


def check(event: dict) -> None:
    """Refuse (ValueError) a signed payload that is not an event cmsync can store and process:
    no id, an id or type longer than their columns, data that is not an object, a NUL."""
    event_id, kind = event.get("id"), event.get("type", "")
    if not isinstance(event_id, str) or not event_id.strip():
        raise ValueError("the event has no id")
    if len(event_id) > EVENT_ID_MAX_LENGTH:
        raise ValueError("the event's id is too long")
    if not isinstance(kind, str) or len(kind) > EVENT_TYPE_MAX_LENGTH:
        raise ValueError("the event's type is not valid")
    data = event.get("data") or {}
    if not isinstance(data, dict) or not isinstance(data.get("object") or {}, dict):
        raise ValueError("the event's data is not an object")
    if "\\u0000" in json.dumps(event):  # PostgreSQL stores no NUL character, not even in JSON
        raise ValueError("the event contains a NUL character")


def store(event: dict) -> StripeEvent:
    """Keep the raw event once by its id (a redelivery finds the stored row)."""
    check(event)
    row, _ = StripeEvent.objects.get_or_create(
        event_id=event["id"], defaults={"type": event.get("type", ""), "payload": event}
    )
    return row


def process(row: StripeEvent) -> bool:
    """Handle a stored event unless it already was; True if it was handled now. Raises on
    failure (after noting the error) so the endpoint answers non-2xx and Stripe retries."""
    handler = HANDLERS.get(row.type)
    try:
        with transaction.atomic():
            event = StripeEvent.objects.select_for_update().get(pk=row.pk)
            if event.processed_at is not None:
                return False
            obj = (event.payload.get("data") or {}).get("object") or {}
            billing = BillingAccount.get_solo()
            if handler is not None and _ours(billing, obj):
                handler(billing, obj)
                billing.save()
            event.processed_at, event.last_error = timezone.now(), ""
            event.save(update_fields=["processed_at", "last_error"])
    except Exception as exc:
        log.exception("Stripe event %s failed", row.event_id)
        StripeEvent.objects.filter(pk=row.pk).update(last_error=f"{type(exc).__name__}: {exc}")
        raise
    return True
