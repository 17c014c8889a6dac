from datetime import timedelta

from auditlog.registry import auditlog
from django.conf import settings
from django.db import models
from django.utils import timezone

from cmsync.memo import MemoizedSingleton
from maintenance.audit import InAuditArea

# Subscription statuses that count as a paid plan (past_due: still ours while Stripe retries).
PAID_STATUSES = {"active", "trialing", "past_due"}
# The longest event id and type stored (the webhook refuses longer ones before storing).
EVENT_ID_MAX_LENGTH, EVENT_TYPE_MAX_LENGTH = 255, 100


class BillingAccount(InAuditArea, MemoizedSingleton):
    """The installation's Stripe customer, plan, card on file and trial."""

    audit_area = "billing"

    customer_id = models.CharField(max_length=64, blank=True)
    subscription_id = models.CharField(max_length=64, blank=True)
    subscription_status = models.CharField(max_length=24, blank=True)
    tier_up_to = models.PositiveIntegerField(null=True, blank=True)  # the plan's tier
    subscriber_count = models.PositiveIntegerField(default=0)
    counted_at = models.DateTimeField(null=True, blank=True)
    trial_ends_at = models.DateTimeField(null=True, blank=True)
    next_invoice_at = models.DateTimeField(null=True, blank=True)
    # The last plan change the subscriber count made, shown until an invoice carries it.
    previous_tier_up_to = models.PositiveIntegerField(null=True, blank=True)
    plan_changed_at = models.DateTimeField(null=True, blank=True)
    contact_email = models.EmailField("billing contact", blank=True)
    card_brand = models.CharField(max_length=20, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    card_exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    card_exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    payment_failed = models.BooleanField(default=False)

    class Meta:
        verbose_name = "billing account"

    def __str__(self) -> str:
        return "Billing account"

    def save(self, *args, **kwargs) -> None:
        if self.trial_ends_at is None:  # the trial starts when the account is first created
            self.trial_ends_at = timezone.now() + timedelta(days=settings.BILLING_TRIAL_DAYS)
        super().save(*args, **kwargs)

    @property
    def has_paid_plan(self) -> bool:
        return bool(self.subscription_id) and self.subscription_status in PAID_STATUSES

    def in_trial(self, now=None) -> bool:
        assert self.trial_ends_at is not None  # save() sets it: the account is stored
        return (now or timezone.now()) < self.trial_ends_at

    def tracking_allowed(self, now=None) -> bool:
        """Email tracking is imported during the trial and on a paid plan."""
        return self.has_paid_plan or self.in_trial(now)


class StripeEvent(models.Model):
    """Every webhook event, stored once by its id before it is processed."""

    event_id = models.CharField(max_length=EVENT_ID_MAX_LENGTH, unique=True)
    type = models.CharField(max_length=EVENT_TYPE_MAX_LENGTH)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


# Card details are not secrets (brand, last 4); the count changes every run and is not audited.
auditlog.register(BillingAccount, exclude_fields=["subscriber_count", "counted_at"])
