import logging

from csp.decorators import csp_update
from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from cmsync import answers
from cmsync.access import require_perm
from maintenance.audit import record_action

from . import accounts, stripe_client, webhooks
from .forms import CardForm, ContactForm, ResendForm
from .stripe_client import BillingError
from .tiers import all_tiers

VIEW, CHANGE = "billing.view_billingaccount", "billing.change_billingaccount"
# The Billing tab's cards: each answer opens in the card whose form was posted.
PLAN, CARD, INVOICES = "billing-plan", "billing-card", "billing-invoices"
CONTACT = "billing-contact"
log = logging.getLogger(__name__)


@login_required
def billing(request: HttpRequest) -> HttpResponseBase:
    """The Billing tab: plan, subscriber count, trial, card, invoices and billing contact."""
    require_perm(request, VIEW)
    context = {"configured": stripe_client.configured(), "tiers": all_tiers()}
    if context["configured"]:
        account = accounts.account()
        context.update(
            account=account,
            tier=accounts.current_tier(account),
            in_trial=account.in_trial(),
            tracking_paused=not account.tracking_allowed(),
            can_change=request.user.has_perm(CHANGE),
            contact_form=ContactForm(initial={"email": account.contact_email}),
            publishable_key=settings.STRIPE_PUBLISHABLE_KEY,
            stripe_js=stripe_client.js_url(),
            invoices=[],
            first_charge=accounts.first_charge(account),
            upcoming_change=accounts.upcoming_change(account),
            upcoming=None,
        )
        if account.customer_id:
            try:
                context["invoices"] = stripe_client.list_invoices(account.customer_id)
                if account.has_paid_plan:
                    context["upcoming"] = stripe_client.upcoming_invoice(
                        account.customer_id, account.subscription_id
                    )
            except BillingError as exc:
                context["invoices_error"] = str(exc)
    response = render(request, "billing/billing.html", context)
    if context.get("can_change"):  # the card form loads Stripe.js: widen this page's policy
        allow_stripe_js = csp_update(stripe_client.csp_sources())
        return allow_stripe_js(lambda _request: response)(request)
    return response


@login_required
@require_POST
def card_setup(request: HttpRequest) -> JsonResponse:
    """A SetupIntent's client secret for Stripe.js (JSON)."""
    require_perm(request, CHANGE)
    try:
        return JsonResponse({"client_secret": accounts.setup_intent_secret()})
    except BillingError as exc:
        return JsonResponse({"error": str(exc)}, status=502)


@login_required
@require_POST
def card_save(request: HttpRequest) -> HttpResponse:
    """Stripe.js confirmed the SetupIntent; attach its payment method and start the plan."""
    require_perm(request, CHANGE)
    form = CardForm(request.POST)
    if not form.is_valid():
        answers.error(request, "The card was not saved: Stripe.js sent no payment method.", CARD)
        return answers.redirect_to(CARD, "billing")
    try:
        account = accounts.add_card(form.cleaned_data["payment_method"])
    except BillingError as exc:
        answers.error(request, f"The card was not saved. {exc}", CARD)
        return answers.redirect_to(CARD, "billing")
    record_action(account, "billing", f"Card saved: {account.card_brand} {account.card_last4}")
    tier = accounts.current_tier(account)
    assert tier is not None  # add_card refuses (ContactUs) a count above every tier
    if account.payment_failed:
        answers.error(request, "The card was saved, but the payment failed.", CARD)
    elif account.subscription_status == "trialing" and account.next_invoice_at:
        due = timezone.localtime(account.next_invoice_at)
        answers.success(
            request,
            f"Card saved. Your plan: {tier.label}. Nothing is charged "
            f"before your trial ends on {due.day} {due:%B %Y}.",
            CARD,
        )
    else:
        answers.success(request, f"Card saved. Your plan: {tier.label}.", CARD)
    return answers.redirect_to(CARD, "billing")


@login_required
def cancel(request: HttpRequest) -> HttpResponse:
    """Cancel billing: a confirmation page (GET), then the cancellation (POST)."""
    require_perm(request, CHANGE)
    account = accounts.account()
    if not stripe_client.configured() or not account.has_paid_plan:
        answers.error(request, "There is no paid plan to cancel.", PLAN)
        return answers.redirect_to(PLAN, "billing")
    if request.method != "POST":
        context = {
            "account": account,
            "tier": accounts.current_tier(account),
            "in_trial": account.in_trial(),
            "cancel_url": f"{reverse('billing')}#{PLAN}",
        }
        return render(request, "billing/cancel.html", context)
    try:
        accounts.cancel_billing()
    except BillingError as exc:
        answers.error(request, f"Billing was not cancelled. {exc}", PLAN)
        return answers.redirect_to(PLAN, "billing")
    record_action(account, "billing", "Billing cancelled")
    if account.in_trial():
        ends = timezone.localtime(account.trial_ends_at)
        answers.success(
            request,
            f"Billing cancelled: nothing more will be charged. Email tracking is imported until "
            f"the trial ends on {ends.day} {ends:%B %Y}.",
            PLAN,
        )
    else:
        answers.success(
            request,
            "Billing cancelled: nothing more will be charged. Email tracking import is paused; "
            "add a card to resume it.",
            PLAN,
        )
    return answers.redirect_to(PLAN, "billing")


@login_required
@require_POST
def contact(request: HttpRequest) -> HttpResponse:
    require_perm(request, CHANGE)
    form = ContactForm(request.POST)
    if not form.is_valid():
        answers.error(
            request, "Not saved: enter a valid email address for the billing contact.", CONTACT
        )
        return answers.redirect_to(CONTACT, "billing")
    try:
        accounts.set_contact(form.cleaned_data["email"])
        answers.success(request, "Billing contact saved.", CONTACT)
    except BillingError as exc:
        answers.warning(request, f"Saved here, but Stripe was not updated: {exc}", CONTACT)
    return answers.redirect_to(CONTACT, "billing")


@login_required
@require_POST
def resend(request: HttpRequest) -> HttpResponse:
    require_perm(request, CHANGE)
    form = ResendForm(request.POST)
    if not form.is_valid():
        raise Http404
    try:
        to = accounts.resend_invoice(form.cleaned_data["invoice"])
        answers.success(request, f"Invoice sent to {to}.", INVOICES)
    except BillingError as exc:
        answers.error(request, f"The invoice was not sent. {exc}", INVOICES)
    return answers.redirect_to(INVOICES, "billing")


@login_required
def invoice(request: HttpRequest, invoice_id: str) -> HttpResponse:
    """Our own page for an invoice when Stripe has no hosted page for it (localstripe)."""
    require_perm(request, VIEW)
    try:
        found = accounts.our_invoice(invoice_id)
    except BillingError as exc:
        if str(exc) == "No such invoice.":
            raise Http404 from exc
        flash.error(request, str(exc))
        return redirect("billing")
    return render(request, "billing/invoice.html", {"invoice": found})


@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> HttpResponse:
    """Stripe's events: verify the signature, store once by id, process idempotently.
    Any failure answers non-2xx so Stripe delivers the event again."""
    try:
        event = stripe_client.verify_event(
            request.body, request.headers.get("Stripe-Signature", "")
        )
        row = webhooks.store(event)
    except ValueError as exc:
        return HttpResponse(f"Rejected: {exc}", status=400, content_type="text/plain")
    try:
        webhooks.process(row)
    except Exception:
        return HttpResponse("Processing failed", status=500, content_type="text/plain")
    return HttpResponse("OK", content_type="text/plain")
