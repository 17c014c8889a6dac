# ruff: noqa: F811 -- pytest fixtures imported from billing_fixtures are parameters here
"""Billing against localstripe over HTTP: trial, card, tiers, invoices, webhooks, errors."""

from datetime import UTC, timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from billing import accounts, webhooks
from billing.models import BillingAccount, StripeEvent
from campaign_monitor.models import ConnectedClient, Connection
from sync import tracking
from sync.models import SubscriberState

from .billing_fixtures import (  # noqa: F401
    card,
    end_trial,
    localstripe,
    localstripe_server,
    signed,
    stripe_api,
)

pytestmark = pytest.mark.django_db

SMALL_TIERS = [(2, 800), (5, 1500)]


def synced_list(active: int, list_id: str = "list-1") -> None:
    """A connected client whose list has ``active`` active subscribers in the local state."""
    connection = Connection.objects.first() or Connection.objects.create()
    client, _ = ConnectedClient.objects.get_or_create(
        connection=connection,
        client_id="client-1",
        defaults={"name": "Client", "connected": True, "lists": []},
    )
    if not any(m["ListID"] == list_id for m in client.lists):
        client.lists = [*client.lists, {"ListID": list_id, "Name": list_id}]
        client.save()
    have = SubscriberState.objects.filter(list_id=list_id).count()
    for n in range(have, active):
        SubscriberState.objects.create(
            client_id="client-1",
            list_id=list_id,
            email=f"p{n}@example.com",
            email_lc=f"p{n}@example.com",
            state="active",
            state_date=timezone.now(),
        )


def trial_over() -> None:
    """The trial ended a minute ago (without a card: no plan)."""
    BillingAccount.objects.update_or_create(
        defaults={"trial_ends_at": timezone.now() - timedelta(minutes=1)}
    )


def long_date(when) -> str:
    """ "17 December 2026", as the Billing tab says dates in sentences."""
    when = timezone.localtime(when)
    return f"{when.day} {when:%B %Y}"


def add_card(client, server, number: str = "4242424242424242"):
    return client.post(
        reverse("billing-card"), {"payment_method": card(server, number)}, follow=True
    )


def post_event(client, event: dict, secret: str | None = None):
    payload, signature = signed(event, *([secret] if secret else []))
    return client.post(
        reverse("billing-webhook"),
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )


def test_without_stripe_keys_the_billing_tab_says_billing_is_not_configured(alice_client, settings):
    settings.STRIPE_SECRET_KEY = ""
    response = alice_client.get(reverse("billing"))
    assert "Billing is not configured" in response.content.decode()
    assert alice_client.get(reverse("sync")).status_code == 200
    assert accounts.tracking_allowed()


def test_a_new_installation_is_in_a_fourteen_day_trial(alice_client, localstripe):
    page = alice_client.get(reverse("billing")).content.decode()
    account = BillingAccount.get_solo()
    assert "Free trial" in page
    assert account.trial_ends_at - timezone.now() > timedelta(days=13, hours=23)
    assert accounts.tracking_allowed()


def test_before_the_card_is_saved_the_tab_says_when_and_how_much_the_first_charge_is(
    alice_client, localstripe, settings
):
    settings.BILLING_TIERS = SMALL_TIERS
    synced_list(active=2)
    accounts.update_plan_after_sync()
    ends = BillingAccount.get_solo().trial_ends_at

    page = alice_client.get(reverse("billing")).content.decode()

    assert (
        f"Your card will first be charged $8.00 on {long_date(ends)}, when your trial ends" in page
    )
    trial_over()
    page = alice_client.get(reverse("billing")).content.decode()
    assert "Your card will be charged $8.00 today" in page


def test_a_card_added_in_the_trial_starts_the_plan_at_the_trials_end_and_charges_nothing(
    alice_client, localstripe, settings
):
    settings.BILLING_TIERS = SMALL_TIERS
    synced_list(active=2)
    accounts.update_plan_after_sync()

    page = add_card(alice_client, localstripe).content.decode()

    account = BillingAccount.get_solo()
    assert account.has_paid_plan and account.subscription_status == "trialing"
    assert account.tier_up_to == 2
    assert account.next_invoice_at == account.trial_ends_at.replace(microsecond=0)
    assert (account.card_brand, account.card_last4) == ("visa", "4242")
    assert "Visa ending in 4242, expires 12/2030" in page
    assert "Up to 2 subscribers, $8/month" in page and "free until the trial ends" in page
    assert f"Nothing is charged before your trial ends on {long_date(account.trial_ends_at)}" in (
        page
    )
    assert "No invoices yet." in page
    assert not account.payment_failed
    api = stripe_api(localstripe)
    sub = api.v1.subscriptions.retrieve(account.subscription_id)
    assert sub["items"]["data"][0]["plan"]["id"] == "cmsync-tier-2"
    assert sub.trial_end == int(account.trial_ends_at.timestamp())
    assert api.v1.invoices.list({"customer": account.customer_id}).data == []
    assert api.v1.charges.list({"customer": account.customer_id}).data == []


def test_when_the_trial_ends_the_first_invoice_charges_the_card(alice_client, localstripe):
    add_card(alice_client, localstripe)
    account = BillingAccount.get_solo()
    assert "No invoices yet." in alice_client.get(reverse("billing")).content.decode()

    trial_over()
    invoice_id = end_trial(localstripe, account.subscription_id)

    page = alice_client.get(reverse("billing")).content.decode()
    assert "No invoices yet." not in page
    assert "8.00 USD" in page and "<td>Paid</td>" in page
    invoice = stripe_api(localstripe).v1.invoices.retrieve(invoice_id)
    start = timezone.localtime(timezone.datetime.fromtimestamp(invoice.period_start, tz=UTC))
    assert f"{start.day} {start:%b %Y} –" in page  # the invoice's period
    assert "cmsync: 8.00 USD" in page  # its line
    assert accounts.tracking_allowed()


def test_after_the_trial_a_new_card_is_charged_at_once(alice_client, localstripe, settings):
    settings.BILLING_TIERS = SMALL_TIERS
    trial_over()
    page = add_card(alice_client, localstripe).content.decode()
    account = BillingAccount.get_solo()
    assert account.subscription_status == "active"
    (invoice,) = stripe_api(localstripe).v1.invoices.list({"customer": account.customer_id})
    assert (invoice.total, invoice.status) == (800, "paid")
    assert "8.00 USD" in page


def test_an_invoice_page_shows_its_period_and_lines(alice_client, localstripe):
    trial_over()
    add_card(alice_client, localstripe)
    account = BillingAccount.get_solo()
    (invoice,) = stripe_api(localstripe).v1.invoices.list({"customer": account.customer_id})
    page = alice_client.get(reverse("billing-invoice", args=[invoice.id])).content.decode()
    start = timezone.localtime(timezone.datetime.fromtimestamp(invoice.period_start, tz=UTC))
    end = timezone.localtime(timezone.datetime.fromtimestamp(invoice.period_end, tz=UTC))
    assert f"{start.day} {start:%b %Y} – {end.day} {end:%b %Y}" in page
    assert 'id="invoice-lines"' in page and "<td>cmsync</td>" in page


def test_a_sync_that_crosses_a_threshold_moves_the_subscription_to_the_next_tier(
    alice_client, localstripe, settings
):
    settings.BILLING_TIERS = SMALL_TIERS
    synced_list(active=1)
    accounts.update_plan_after_sync()
    add_card(alice_client, localstripe)
    assert BillingAccount.get_solo().tier_up_to == 2

    synced_list(active=4)  # the next run read four active subscribers
    accounts.update_plan_after_sync()

    account = BillingAccount.get_solo()
    assert (account.subscriber_count, account.tier_up_to) == (4, 5)
    sub = stripe_api(localstripe).v1.subscriptions.retrieve(account.subscription_id)
    assert sub["items"]["data"][0]["plan"]["id"] == "cmsync-tier-5"
    page = alice_client.get(reverse("billing")).content.decode()
    assert "Up to 5 subscribers, $15/month" in page
    assert (
        "moved the plan up from up to 2 subscribers ($8/month) to up to 5 subscribers "
        "($15/month)" in page
    )
    ends = long_date(account.trial_ends_at)
    assert f"The next invoice, on {ends}, is at the new price." in page
    assert f"{ends}, 15.00 USD, the first charge, when your trial ends" in page  # Stripe's preview


def test_the_subscriber_count_sums_active_subscribers_of_every_synced_list(localstripe):
    synced_list(active=3, list_id="list-1")
    synced_list(active=2, list_id="list-2")
    SubscriberState.objects.filter(email_lc="p0@example.com", list_id="list-2").update(
        state="unsubscribed"
    )
    SubscriberState.objects.create(  # a list no connected client has: not counted
        client_id="x",
        list_id="gone",
        email="z@x.com",
        email_lc="z@x.com",
        state="active",
        state_date=timezone.now(),
    )
    accounts.update_plan_after_sync()
    assert BillingAccount.get_solo().subscriber_count == 4


def test_a_primary_sync_updates_the_subscriber_count(world, localstripe):
    world.subscriber(world.list_a, "ann@example.com", "Active")
    world.subscriber(world.list_b, "ann@example.com", "Active")
    world.sync()
    assert BillingAccount.get_solo().subscriber_count == 2


def test_a_declined_card_says_so_and_keeps_the_trial(alice_client, localstripe):
    page = add_card(alice_client, localstripe, "4000000000000002").content.decode()
    assert "The card was not saved. Your card was declined." in page
    assert not BillingAccount.get_solo().has_paid_plan


def test_stripe_down_gives_a_clear_message_not_a_500(alice_client, localstripe, settings):
    pm = card(localstripe)
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    response = alice_client.post(reverse("billing-card"), {"payment_method": pm}, follow=True)
    assert response.status_code == 200
    assert "Stripe could not be reached" in response.content.decode()
    setup = alice_client.post(reverse("billing-card-setup"))
    assert setup.status_code == 502 and "could not be reached" in setup.json()["error"]
    BillingAccount.objects.update(customer_id="cus_somebody")
    page = alice_client.get(reverse("billing")).content.decode()
    assert "Stripe could not be reached" in page


def test_invoices_stripe_sent_without_a_date_are_said_on_the_tab_not_a_500(
    alice_client, localstripe, monkeypatch
):
    # Stripe dates every invoice. Undated ones could not be listed newest first: the Billing
    # tab answered 500 when two came; now it says what Stripe sent, as for Stripe being down.
    from billing import stripe_client

    BillingAccount.objects.update_or_create(defaults={"customer_id": "cus_dateless"})
    undated = {"id": "in_undated", "customer": "cus_dateless", "total": 800, "currency": "usd"}
    page_of_two = {"data": [undated, {**undated, "id": "in_undated_too"}]}
    monkeypatch.setattr(stripe_client, "_call", lambda fn, *args, **kwargs: page_of_two)

    response = alice_client.get(reverse("billing"))

    assert response.status_code == 200
    assert "Stripe sent invoice in_undated without a date" in response.content.decode()


def test_resend_emails_the_invoice_link_to_the_billing_contact(alice_client, localstripe):
    trial_over()
    alice_client.post(reverse("billing-contact"), {"email": "Billing@Example.com"})
    add_card(alice_client, localstripe)
    account = BillingAccount.get_solo()
    (invoice,) = stripe_api(localstripe).v1.invoices.list({"customer": account.customer_id})
    mail.outbox.clear()

    page = alice_client.post(
        reverse("billing-resend"), {"invoice": invoice.id}, follow=True
    ).content.decode()

    assert "Invoice sent to billing@example.com" in page
    (email,) = mail.outbox
    assert email.to == ["billing@example.com"]
    assert f"http://127.0.0.1:8000/billing/invoices/{invoice.id}/" in email.body
    view = alice_client.get(reverse("billing-invoice", args=[invoice.id]))
    assert "8.00 USD" in view.content.decode()


def test_an_invoice_of_another_customer_is_not_resent(alice_client, localstripe):
    trial_over()
    add_card(alice_client, localstripe)
    api = stripe_api(localstripe)
    other = api.v1.customers.create({"email": "x@example.com"})
    assert alice_client.get(reverse("billing-invoice", args=["in_nothing"])).status_code in (
        302,
        404,
    )
    mail.outbox.clear()
    alice_client.post(reverse("billing-resend"), {"invoice": "in_" + other.id[4:]})
    assert mail.outbox == []


def test_only_full_access_changes_billing_and_read_roles_may_view(
    bob_client, carol, localstripe, client, mallory
):
    assert bob_client.get(reverse("billing")).status_code == 200
    for name in ("billing-card", "billing-card-setup", "billing-contact", "billing-resend"):
        assert bob_client.post(reverse(name), {"email": "a@b.c"}).status_code == 403
    client.force_login(carol)
    page = client.get(reverse("billing")).content.decode()
    assert "Save card" not in page and "Billing contact" in page
    client.force_login(mallory)
    assert client.get(reverse("billing")).status_code == 403


def test_the_billing_contact_is_saved_and_sent_to_stripe(alice_client, localstripe):
    add_card(alice_client, localstripe)
    alice_client.post(reverse("billing-contact"), {"email": "pay@example.com"})
    account = BillingAccount.get_solo()
    assert account.contact_email == "pay@example.com"
    assert stripe_api(localstripe).v1.customers.retrieve(account.customer_id).email == (
        "pay@example.com"
    )


def test_a_webhook_with_a_bad_signature_is_rejected(client, localstripe):
    event = {"id": "evt_1", "type": "invoice.payment_failed", "data": {"object": {}}}
    response = post_event(client, event, secret="whsec_wrong")
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


def test_a_repeated_event_is_stored_and_processed_once(client, localstripe, monkeypatch):
    BillingAccount.objects.update_or_create(defaults={"customer_id": "cus_ours"})
    calls = []
    monkeypatch.setitem(webhooks.HANDLERS, "invoice.payment_failed", lambda b, o: calls.append(o))
    event = {
        "id": "evt_twice",
        "type": "invoice.payment_failed",
        "data": {"object": {"id": "in_1", "customer": "cus_ours"}},
    }
    assert post_event(client, event).status_code == 200
    assert post_event(client, event).status_code == 200
    assert len(calls) == 1
    (row,) = StripeEvent.objects.all()
    assert row.processed_at is not None and row.type == "invoice.payment_failed"


def test_a_failing_handler_answers_500_so_stripe_retries(client, localstripe, monkeypatch):
    BillingAccount.objects.update_or_create(defaults={"customer_id": "cus_ours"})

    def broken(billing, obj):
        raise RuntimeError("database on fire")

    monkeypatch.setitem(webhooks.HANDLERS, "invoice.paid", broken)
    event = {
        "id": "evt_retry",
        "type": "invoice.paid",
        "data": {"object": {"customer": "cus_ours"}},
    }
    assert post_event(client, event).status_code == 500
    assert StripeEvent.objects.get().processed_at is None
    monkeypatch.setitem(webhooks.HANDLERS, "invoice.paid", webhooks.invoice_paid)
    assert post_event(client, event).status_code == 200  # the retry is processed
    assert StripeEvent.objects.get().processed_at is not None


def test_a_failed_payment_shows_a_banner_on_every_tab_until_an_invoice_is_paid(
    alice_client, carol, localstripe
):
    add_card(alice_client, localstripe)
    customer = BillingAccount.get_solo().customer_id
    failed = {
        "id": "evt_f",
        "type": "invoice.payment_failed",
        "data": {"object": {"customer": customer}},
    }
    assert post_event(alice_client, failed).status_code == 200
    for name in ("sync", "general", "maintenance", "security", "billing"):
        assert "The last payment failed" in alice_client.get(reverse(name)).content.decode()
    alice_client.force_login(carol)  # read-only roles see it too, without the link
    assert "Ask a Full access admin" in alice_client.get(reverse("sync")).content.decode()
    paid = {"id": "evt_p", "type": "invoice.paid", "data": {"object": {"customer": customer}}}
    post_event(alice_client, paid)
    assert "The last payment failed" not in alice_client.get(reverse("sync")).content.decode()


def test_subscription_events_follow_the_plan_and_its_cancellation(client, localstripe):
    BillingAccount.objects.update_or_create(
        defaults={
            "customer_id": "cus_ours",
            "subscription_id": "sub_1",
            "subscription_status": "active",
        }
    )
    sub = {
        "id": "sub_1",
        "customer": "cus_ours",
        "status": "past_due",
        "current_period_end": 1900000000,
        "items": {"data": [{"plan": {"id": "cmsync-tier-5000"}}]},
    }
    post_event(
        client, {"id": "evt_u", "type": "customer.subscription.updated", "data": {"object": sub}}
    )
    account = BillingAccount.get_solo()
    assert (account.subscription_status, account.tier_up_to) == ("past_due", 5000)
    post_event(
        client, {"id": "evt_d", "type": "customer.subscription.deleted", "data": {"object": sub}}
    )
    assert not BillingAccount.get_solo().has_paid_plan


def test_events_of_another_customer_change_nothing(client, localstripe):
    BillingAccount.objects.update_or_create(defaults={"customer_id": "cus_ours"})
    event = {
        "id": "evt_x",
        "type": "invoice.payment_failed",
        "data": {"object": {"customer": "cus_x"}},
    }
    assert post_event(client, event).status_code == 200
    assert not BillingAccount.get_solo().payment_failed


class FakeContext:
    clients = []

    def begin(self, step):
        raise AssertionError("the tracking step should not start")


def test_after_the_trial_without_a_paid_plan_tracking_import_is_paused_and_says_so(
    alice_client, localstripe
):
    BillingAccount.objects.update_or_create(
        defaults={"trial_ends_at": timezone.now() - timedelta(minutes=1)}
    )
    tracking.import_tracking(FakeContext())  # returns before counting anything
    assert "Email tracking import is paused" in alice_client.get(reverse("sync")).content.decode()
    assert (
        "no longer imports email tracking" in alice_client.get(reverse("billing")).content.decode()
    )


def test_a_paid_plan_after_the_trial_keeps_tracking(alice_client, localstripe):
    add_card(alice_client, localstripe)
    BillingAccount.objects.update(trial_ends_at=timezone.now() - timedelta(days=1))
    assert accounts.tracking_allowed()
    assert (
        "Email tracking import is paused" not in alice_client.get(reverse("sync")).content.decode()
    )


def test_a_real_sync_crossing_a_threshold_changes_the_stripe_plan(
    alice_client, localstripe, settings, world
):
    settings.BILLING_TIERS = SMALL_TIERS
    world.subscriber(world.list_a, "one@example.com", "Active")
    world.sync()
    add_card(alice_client, localstripe)
    assert BillingAccount.get_solo().tier_up_to == 2

    for n in range(4):
        world.subscriber(world.list_b, f"new{n}@example.com", "Active", minutes_later=1)
    world.sync()
    account = BillingAccount.get_solo()
    assert (account.subscriber_count, account.tier_up_to) == (5, 5)
    sub = stripe_api(localstripe).v1.subscriptions.retrieve(account.subscription_id)
    assert sub["items"]["data"][0]["plan"]["id"] == "cmsync-tier-5"


def test_invoices_are_listed_through_the_api(alice, alice_client, localstripe):
    from rest_framework.test import APIClient

    from security.service import create_key

    trial_over()
    add_card(alice_client, localstripe)
    _, secret = create_key("accounts", "read", alice)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    (invoice,) = api.get("/api/v1/billing/invoices/").json()
    assert (invoice["amount"], invoice["currency"], invoice["status"]) == (800, "usd", "paid")


def test_cancel_billing_asks_first_then_ends_the_plan_audited_and_pauses_tracking(
    alice_client, localstripe
):
    from auditlog.models import LogEntry

    trial_over()
    add_card(alice_client, localstripe)
    account = BillingAccount.get_solo()
    assert account.subscription_status == "active"
    assert "Cancel billing" in alice_client.get(reverse("billing")).content.decode()

    confirm = alice_client.get(reverse("billing-cancel")).content.decode()
    assert "Cancel billing?" in confirm and "Yes, cancel billing" in confirm
    assert "Email tracking import pauses at once" in confirm
    assert BillingAccount.get_solo().has_paid_plan  # asking changed nothing

    page = alice_client.post(reverse("billing-cancel"), follow=True).content.decode()

    assert "Billing cancelled: nothing more will be charged." in page
    assert "None: billing was cancelled" in page
    assert "no longer imports email tracking" in page
    account = BillingAccount.get_solo()
    assert not account.has_paid_plan and account.next_invoice_at is None
    sub = stripe_api(localstripe).v1.subscriptions.retrieve(account.subscription_id)
    assert sub.status == "canceled"
    assert not accounts.tracking_allowed()
    entry = LogEntry.objects.filter(additional_data__action="Billing cancelled").get()
    assert entry.actor.username == "alice"
    again = alice_client.post(reverse("billing-cancel"), follow=True).content.decode()
    assert "There is no paid plan to cancel." in again


def test_cancel_billing_in_the_trial_keeps_tracking_until_the_trial_ends(alice_client, localstripe):
    add_card(alice_client, localstripe)
    page = alice_client.post(reverse("billing-cancel"), follow=True).content.decode()
    assert "Email tracking is imported until the trial ends" in page
    assert not BillingAccount.get_solo().has_paid_plan
    assert accounts.tracking_allowed()


def test_only_full_access_may_cancel_billing(alice_client, bob, carol, localstripe, client):
    add_card(alice_client, localstripe)
    for user in (bob, carol):
        client.force_login(user)
        assert client.get(reverse("billing-cancel")).status_code == 403
        assert client.post(reverse("billing-cancel")).status_code == 403
        assert "Cancel billing" not in client.get(reverse("billing")).content.decode()
    assert BillingAccount.get_solo().has_paid_plan


def test_the_billing_contact_answers_in_its_card(alice_client, localstripe):
    response = alice_client.post(reverse("billing-contact"), {"email": "not-an-email"})
    assert response.url == "/billing/#billing-contact"
    page = alice_client.get(response.url).text
    card = page[page.index('id="billing-contact"') :]
    assert "Not saved: enter a valid email address for the billing contact." in card
    assert BillingAccount.get_solo().contact_email != "not-an-email"
    response = alice_client.post(reverse("billing-contact"), {"email": "pay@example.com"})
    assert response.url == "/billing/#billing-contact"
    card = alice_client.get(response.url).text.split('id="billing-contact"', 1)[1]
    assert "Billing contact saved." in card
