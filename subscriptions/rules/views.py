"""A list's subscription rules: the four rules (add/remove contact, add/remove lead), each
edited with a condition builder, deleted, or run retrospectively in the background."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from cmsync import answers
from cmsync.access import require_perm
from maintenance.audit import record_action
from salesforce import errors as sf_errors
from salesforce.connection import explain, usable_connection
from salesforce.gateway import memo_describe
from security.access import visible_connected_clients
from settings_app.models import GeneralSettings

from ..criteria import OPERATORS
from ..models import SubscriptionRule
from . import work
from .forms import RuleForm, initial_for

VIEW = "subscriptions.view_subscriptionrule"
ADD = "subscriptions.add_subscriptionrule"
CHANGE = "subscriptions.change_subscriptionrule"
DELETE = "subscriptions.delete_subscriptionrule"
ACTIONS = dict(SubscriptionRule.Action.choices)
RULE_FORM = "settings-form"  # the rule form: its errors open there


def _target(request: HttpRequest, list_id: str) -> work.Target:
    """The list, if it belongs to a connected client this user may see (else 404)."""
    found = work.targets(visible_connected_clients(request.user)).get(list_id)
    if found is None:
        raise Http404("No such list among the connected clients you can see.")
    return found


def _action(action: str) -> str:
    if action not in ACTIONS:
        raise Http404("No such rule.")
    return action


def describe_condition(condition: dict) -> str:
    operator = str(condition.get("operator"))
    label = OPERATORS.get(operator, (operator,))[0]
    text = f"{condition.get('field')} {label}"
    if condition.get("operator") in ("is_blank", "is_not_blank"):
        return text
    return f"{text} “{condition.get('value', '')}”"


def _slot(action: str, rule: SubscriptionRule | None) -> dict:
    skipped = (rule.retro_result.get("skipped") or {}) if rule else {}
    return {
        "action": action,
        "title": ACTIONS[action],
        "sobject": "Contact" if action.endswith("contact") else "Lead",
        "rule": rule,
        "conditions": [describe_condition(c) for c in rule.conditions] if rule else [],
        "reads_account": rule is not None
        and any(str(c.get("field", "")).startswith("Account.") for c in rule.conditions),
        "skipped": [(work.REASONS.get(k, k), n) for k, n in skipped.items()],
        "skipped_total": sum(skipped.values()),
    }


@login_required
def rules_page(request: HttpRequest, list_id: str) -> HttpResponse:
    require_perm(request, VIEW)
    target = _target(request, list_id)
    found = {r.action: r for r in SubscriptionRule.objects.filter(list_id=list_id)}
    context = {
        "target": target,
        "slots": [_slot(action, found.get(action)) for action in ACTIONS],
        "general": GeneralSettings.get_solo(),
        "can_add": request.user.has_perm(ADD),
        "can_change": request.user.has_perm(CHANGE),
        "can_delete": request.user.has_perm(DELETE),
    }
    return render(request, "subscriptions/rules.html", context)


def _rule_form(request: HttpRequest, rule, sobject: str, data) -> tuple[RuleForm | None, str]:
    """The form with fields from Salesforce's describe, or why Salesforce cannot be asked."""
    connection = usable_connection(request.user)
    if connection is None:
        return None, "Connect to Salesforce (Sync tab) to choose the fields of conditions."
    describe = memo_describe(connection.gateway(retries=1))
    try:
        return RuleForm(data, initial=initial_for(rule), describe=describe, sobject=sobject), ""
    except sf_errors.SalesforceError as exc:
        return None, f"Salesforce could not list the fields: {explain(exc)}"


@login_required
def rule_edit(request: HttpRequest, list_id: str, action: str) -> HttpResponse:
    require_perm(request, VIEW)
    target, action = _target(request, list_id), _action(action)
    rule = SubscriptionRule.objects.filter(list_id=list_id, action=action).first()
    perm = CHANGE if rule else ADD
    data = None
    if request.method == "POST":
        require_perm(request, perm)
        data = request.POST
    sobject = "Contact" if action.endswith("contact") else "Lead"
    form, problem = _rule_form(request, rule, sobject, data)
    if form is not None and data is not None:
        try:
            valid = form.is_valid()
        except sf_errors.SalesforceError as exc:
            form, problem, valid = (
                None,
                f"Salesforce could not check the fields: {explain(exc)}",
                False,
            )
        if form is not None and valid:  # a failed check dropped the form
            rule = rule or SubscriptionRule(list_id=list_id, action=action)
            rule.conditions = form.conditions
            rule.logic = form.cleaned_data["logic"]
            rule.active = form.cleaned_data["active"]
            rule.save()
            here = f"rule-{action}"
            answers.success(request, f"Rule '{ACTIONS[action]}' of {target.name} saved.", here)
            return answers.redirect_to(here, "subscriptions-rules", list_id=list_id)
    context = {
        "anchor": RULE_FORM,
        "target": target,
        "title": ACTIONS[action],
        "sobject": sobject,
        "adds": action.startswith("add"),
        "rule": rule,
        "form": form,
        "problem": problem,
        "can_change": request.user.has_perm(perm),
        "general": GeneralSettings.get_solo(),
    }
    return render(request, "subscriptions/rule.html", context, status=200)


def _ask(request: HttpRequest, template: str, target, action: str, rule) -> HttpResponse:
    """The confirmation page of a rule action (GET asks, POST does it)."""
    cancel_url = reverse("subscriptions-rules", args=[target.list_id]) + f"#rule-{action}"
    context = {"target": target, "rule": rule, "title": ACTIONS[action], "cancel_url": cancel_url}
    context["sobject"] = "Contact" if action.endswith("contact") else "Lead"
    return render(request, template, context)


@login_required
def rule_delete(request: HttpRequest, list_id: str, action: str) -> HttpResponse:
    """Delete a rule: asks first (GET), deletes (POST)."""
    require_perm(request, DELETE)
    target, action = _target(request, list_id), _action(action)
    rule = get_object_or_404(SubscriptionRule, list_id=list_id, action=action)
    if request.method != "POST":
        return _ask(request, "subscriptions/rule_delete.html", target, action, rule)
    rule.delete()
    here = f"rule-{action}"
    answers.success(request, f"Rule '{ACTIONS[action]}' of {target.name} deleted.", here)
    return answers.redirect_to(here, "subscriptions-rules", list_id=list_id)


@login_required
def rule_retrospective(request: HttpRequest, list_id: str, action: str) -> HttpResponse:
    """Apply a rule to every existing record: asks first (GET), starts it (POST)."""
    require_perm(request, CHANGE)
    target, action = _target(request, list_id), _action(action)
    rule = get_object_or_404(SubscriptionRule, list_id=list_id, action=action)
    if request.method != "POST":
        return _ask(request, "subscriptions/rule_retrospective.html", target, action, rule)
    here = f"rule-{action}"
    try:
        work.request_retrospective(rule)
    except work.RetroRefused as exc:
        answers.error(request, str(exc), here)
    else:
        record_action(rule, "sync", f"Retrospective run of “{rule}” requested")
        answers.success(
            request,
            f"Rule '{ACTIONS[action]}' of {target.name} is being applied to all existing "
            "records in the background. Its result appears here when it has finished.",
            here,
        )
    return answers.redirect_to(here, "subscriptions-rules", list_id=list_id)
