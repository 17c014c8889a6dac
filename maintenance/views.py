from functools import partial
from urllib.parse import urlencode

from auditlog.models import LogEntry
from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Model, Q
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from cmsync import answers
from cmsync.access import require_perm
from sync import runner
from sync.models import SyncRun

from . import export, health, reset
from .alerts import recipient_warning
from .audit import AREAS, change_rows, record_action
from .codes import CODES
from .forms import AlertForm, MessageFilterForm, ResetForm
from .models import AlertSettings, Message

COMPONENTS = "salesforce.change_salesforcesettings"
AUDIT_PAGE_SIZE = 25
MESSAGES_PAGE_SIZE = 50


def _messages_for(request: HttpRequest):
    """The messages this user may see, retry and delete (the API uses it too)."""
    return Message.objects.visible_to(request.user).select_related("run")


def _audit_entries(request: HttpRequest) -> tuple:
    """The audit entries of the chosen area, user and search, newest first, with the filter
    as the page shows it."""
    entries = LogEntry.objects.select_related("actor", "content_type").order_by("-timestamp", "-id")
    area = request.GET.get("area", "")
    if area in AREAS:
        entries = entries.filter(additional_data__area=area)
    else:
        area = ""
    user_id = request.GET.get("user", "")
    if user_id.isdigit():
        entries = entries.filter(actor_id=int(user_id))
    else:
        user_id = ""
    search = request.GET.get("q", "").strip()
    if search:
        entries = entries.filter(_audit_search(search))
    return entries, {"area": area, "user": user_id, "q": search}


def _audit_search(text: str) -> Q:
    """Who (user name, email) or what (a field name as shown or as stored, a value, an action,
    the changed object)."""
    who = (
        Q(actor__username__icontains=text)
        | Q(actor__email__icontains=text)
        | Q(actor__first_name__icontains=text)
        | Q(actor__last_name__icontains=text)
    )
    what = (
        Q(object_repr__icontains=text)
        | Q(changes__icontains=text)
        | Q(changes__icontains=text.replace(" ", "_"))
        | Q(additional_data__action__icontains=text)
    )
    return who | what


@login_required
def maintenance(request: HttpRequest) -> HttpResponse:
    """The Maintenance tab: sync health, messages by code, alerts, reset and the audit log."""
    require_perm(request, "auditlog.view_logentry")
    entries, audit_filter = _audit_entries(request)
    page = Paginator(entries, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    for entry in page:
        data = entry.additional_data or {}
        entry.area_title = AREAS.get(data.get("area") or "", "")
        entry.action_text = data.get("action", "")
    _name_foreign_keys(page.object_list)
    for entry in page.object_list:
        entry.change_rows = change_rows(entry) if entry.action == LogEntry.Action.UPDATE else []
    users = get_user_model().objects.filter(logentry__isnull=False).distinct().order_by("username")
    by_code = _messages_for(request).values("code").annotate(n=Count("id")).order_by("-n", "code")
    context = {
        "page": page,
        "areas": AREAS,
        "area": audit_filter["area"],
        "users": users,
        "user_id": audit_filter["user"],
        "audit_q": audit_filter["q"],
        "audit_query": urlencode({k: v for k, v in audit_filter.items() if v}),
        "health": health.summary(),
        "by_code": [{**row, "title": CODES[row["code"]].title} for row in by_code],
        "alert_form": AlertForm(instance=AlertSettings.get_solo()),
        "alert_warning": recipient_warning(),
        "can_change_alerts": request.user.has_perm("maintenance.reset_data"),
        "can_reset": request.user.has_perm("maintenance.reset_data"),
        "can_manage_components": request.user.has_perm(COMPONENTS),
        "components": components_context(),
    }
    return render(request, "maintenance/maintenance.html", context)


def _name_foreign_keys(entries) -> None:
    """The objects a page of changes points at (the new sync user, ...) read in one query per
    model for the whole page; auditlog's changes_display_dict reads them one per value."""
    wanted: dict[type[Model], set[str]] = {}
    for entry in entries:
        model = entry.content_type.model_class()
        if entry.action != LogEntry.Action.UPDATE or model is None:
            continue
        for name, values in entry.changes_dict.items():
            field = next((f for f in model._meta.concrete_fields if f.name == name), None)
            if field is not None and (field.many_to_one or field.one_to_one):
                wanted.setdefault(field.related_model, set()).update(map(str, values))
    names: dict[tuple[type[Model], str], str] = {}
    for related, values in wanted.items():
        by_pk = {}
        for value in values - {"None"}:
            try:
                by_pk[related._meta.pk.to_python(value)] = value
            except ValidationError:
                continue
        for pk, obj in related._default_manager.in_bulk(list(by_pk)).items():
            names[(related, by_pk[pk])] = str(obj)
    for entry in entries:
        entry._get_changes_display_for_fk_field = partial(_fk_display, entry, names)


def _fk_display(entry, names: dict, field, value) -> str:
    """A name read for the page, else auditlog's own answer ("None", "Deleted 'User' (3)")."""
    return names.get((field.related_model, str(value))) or (
        LogEntry._get_changes_display_for_fk_field(entry, field, value)
    )


@login_required
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    """The audit log of the current filter and search as CSV, every page."""
    require_perm(request, "auditlog.view_logentry")
    entries, _ = _audit_entries(request)
    return export.csv_response(
        "cmsync-audit-log.csv", export.AUDIT_HEADER, export.audit_rows(entries)
    )


def components_context() -> dict:
    from salesforce import tabs
    from salesforce.models import SalesforceSettings
    from salesforce.schema import components
    from settings_app.models import GeneralSettings

    sf = SalesforceSettings.get_solo()
    schema_parts = components()
    show_tabs = GeneralSettings.get_solo().show_tabs
    installed = {name.lower() for name in sf.tabs_installed}
    tab_states = [
        {"label": tab.label, "installed": tab.object_name.lower() in installed}
        for tab in tabs.components()
    ]
    return {
        "checked_at": sf.schema_checked_at,
        "schema_total": len(schema_parts),
        "schema_missing": sf.schema_missing,
        "layouts_missing": sf.layouts_missing,
        "permissions_missing": sf.permissions_missing,
        "show_tabs": show_tabs,
        "tabs": tab_states,
        # Wanted and absent; with Show tabs off, none is missing.
        "tabs_missing": [t["label"] for t in tab_states if show_tabs and not t["installed"]],
    }


def _filtered_messages(request: HttpRequest) -> tuple:
    messages = _messages_for(request)
    form = MessageFilterForm(request.GET or None, messages=messages)
    if form.is_valid():
        messages = form.filter(messages)
    return messages, form


@login_required
def message_list(request: HttpRequest) -> HttpResponse:
    require_perm(request, "maintenance.view_message")
    messages, form = _filtered_messages(request)
    page = Paginator(messages, MESSAGES_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "form": form,
        "query": query.urlencode(),
        "can_retry": request.user.has_perm("maintenance.retry_message"),
        "can_delete": request.user.has_perm("maintenance.delete_message"),
    }
    return render(request, "maintenance/messages.html", context)


@login_required
def message_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The messages of the current filter and search as CSV, every page; only those the
    user may see. A filter that is not valid exports nothing rather than everything."""
    require_perm(request, "maintenance.view_message")
    messages, form = _filtered_messages(request)
    if form.is_bound and not form.is_valid():
        problems = "; ".join(
            f"{form[name].label}: {' '.join(e)}" for name, e in form.errors.items()
        )
        return HttpResponseBadRequest(
            f"Not exported: {problems}", content_type="text/plain; charset=utf-8"
        )
    return export.csv_response(
        "cmsync-messages.csv", export.MESSAGE_HEADER, export.message_rows(messages)
    )


MESSAGES_ANCHOR = "messages-form"


@login_required
@require_POST
def message_action(request: HttpRequest) -> HttpResponse:
    """Retry selected now; Delete selected and Delete all go to their confirmation page."""
    action = request.POST.get("action")
    visible = _messages_for(request)
    chosen = visible.filter(pk__in=request.POST.getlist("message"))
    if action == "retry":
        require_perm(request, "maintenance.retry_message")
        retryable = [m.pk for m in chosen if m.retryable]
        Message.objects.filter(pk__in=retryable).update(retry_requested=True)
        if retryable:
            _request_retry_run(request, len(retryable))
        else:
            answers.error(
                request,
                "None of the chosen messages has a record that can be retried.",
                MESSAGES_ANCHOR,
            )
    elif action in ("delete", "delete_all"):
        require_perm(request, "maintenance.delete_message")
        if action == "delete_all":
            query = urlencode({"all": "1"})
        else:
            query = urlencode({"message": [m.pk for m in chosen]}, doseq=True)
        return redirect(f"{reverse('maintenance-messages-delete')}?{query}")
    return answers.redirect_to(MESSAGES_ANCHOR, "maintenance-messages")


def _messages_to_delete(request: HttpRequest, data) -> tuple:
    """The messages a delete confirmation names: all the user can see, or those chosen."""
    visible = _messages_for(request)
    if data.get("all") == "1":
        return visible, True
    return visible.filter(pk__in=[i for i in data.getlist("message") if i.isdigit()]), False


@login_required
def message_delete(request: HttpRequest) -> HttpResponse:
    """Delete selected or all messages: asks first (GET), deletes (POST)."""
    require_perm(request, "maintenance.delete_message")
    data = request.POST if request.method == "POST" else request.GET
    target, everything = _messages_to_delete(request, data)
    if request.method == "POST":
        deleted, _ = target.delete()
        answers.success(request, f"Deleted {plural(deleted, 'message')}.", MESSAGES_ANCHOR)
        return answers.redirect_to(MESSAGES_ANCHOR, "maintenance-messages")
    count = target.count()
    if not count:
        answers.error(request, "Choose the messages to delete first.", MESSAGES_ANCHOR)
        return answers.redirect_to(MESSAGES_ANCHOR, "maintenance-messages")
    context = {
        "count": count,
        "everything": everything,
        "ids": [] if everything else list(target.values_list("pk", flat=True)),
        "cancel_url": reverse("maintenance-messages"),
    }
    return render(request, "maintenance/delete_messages.html", context)


def plural(count: int, noun: str) -> str:
    """ "1 message", "2 messages"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _request_retry_run(request: HttpRequest, count: int) -> None:
    try:
        runner.ensure_ready()
        run, _ = runner.request_run(SyncRun.Trigger.MANUAL, user=request.user)
    except (runner.SyncUnavailable, runner.BrokerUnavailable) as exc:
        answers.warning(
            request, f"{records(count)} will be retried at the next sync. {exc}", MESSAGES_ANCHOR
        )
        return
    record_action(run, "sync", f"Retry of {records(count)} (sync run {run.pk})")
    queued = "is" if count == 1 else "are"
    answers.success(
        request,
        f"{records(count)} {queued} queued: sync run {run.pk} writes them first.",
        MESSAGES_ANCHOR,
    )


def records(count: int) -> str:
    """ "1 record", "2 records"."""
    return f"{count} record{'' if count == 1 else 's'}"


@login_required
def code_help(request: HttpRequest, code: str) -> HttpResponse:
    require_perm(request, "maintenance.view_message")
    if code not in CODES:
        raise Http404("No such message code")
    return render(request, "maintenance/code.html", {"code": code, "help": CODES[code]})


@login_required
def reset_view(request: HttpRequest) -> HttpResponse:
    require_perm(request, "maintenance.reset_data")
    form = ResetForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            cleared = reset.reset_stored_data(
                request.user, delete_tracking=form.cleaned_data["delete_tracking"]
            )
        except reset.ResetRefused as exc:
            answers.error(request, str(exc), "reset")
            return answers.redirect_to("reset", "maintenance")
        answers.success(request, f"Stored sync data cleared: {reset.describe(cleared)}.", "reset")
        return answers.redirect_to("reset", "maintenance")
    context = {"form": form, "counts": reset.counts(), "cancel_url": reverse("maintenance")}
    return render(request, "maintenance/reset.html", context)


@login_required
@require_POST
def alerts_view(request: HttpRequest) -> HttpResponse:
    require_perm(request, "maintenance.reset_data")  # Full access
    form = AlertForm(request.POST, instance=AlertSettings.get_solo())
    if form.is_valid():
        form.save()
        answers.success(request, "Alert settings saved.", "alerts")
    else:
        problems = " ".join(str(e) for errors in form.errors.values() for e in errors)
        answers.error(request, f"Alert settings not saved: {problems}", "alerts")
    return answers.redirect_to("alerts", "maintenance")


def _components_connection(request: HttpRequest):
    from salesforce.connection import usable_connection

    connection = usable_connection(request.user)
    if connection is None:
        answers.error(request, "Connect Salesforce first (Sync tab).", "components")
    return connection


@login_required
@require_POST
def components_view(request: HttpRequest) -> HttpResponse:
    """Check or install cmsync's Salesforce components."""
    from salesforce.connection import check_schema, explain, install_components
    from salesforce.errors import SalesforceError
    from salesforce.models import SalesforceSettings

    require_perm(request, COMPONENTS)
    connection = _components_connection(request)
    if connection is None:
        return answers.redirect_to("components", "maintenance")
    try:
        if request.POST.get("action") == "install":
            added = install_components(connection, settings.CMSYNC_URL)
            record_action(
                SalesforceSettings.get_solo(),
                "maintenance",
                f"Installed Salesforce components: {', '.join(added) or 'nothing was missing'}",
            )
            answers.success(request, f"Installed {len(added)} Salesforce components.", "components")
        else:
            check_schema(connection)
            answers.success(request, "Salesforce components checked.", "components")
    except SalesforceError as exc:
        answers.error(request, explain(exc), "components")
    return answers.redirect_to("components", "maintenance")


@login_required
def remove_components_view(request: HttpRequest) -> HttpResponse:
    """Ask first, saying what data goes; then remove layout items (and the schema)."""
    from salesforce.connection import explain, removal_counts, remove_components
    from salesforce.errors import SalesforceError
    from salesforce.models import SalesforceSettings

    require_perm(request, COMPONENTS)
    connection = _components_connection(request)
    if connection is None:
        return answers.redirect_to("components", "maintenance")
    layouts_only = request.GET.get("what", request.POST.get("what")) == "layouts"
    if request.method == "POST":
        try:
            removed = remove_components(connection, layouts_only=layouts_only)
        except SalesforceError as exc:
            answers.error(request, explain(exc), "components")
            return answers.redirect_to("components", "maintenance")
        record_action(
            SalesforceSettings.get_solo(),
            "maintenance",
            f"Removed Salesforce components: {', '.join(removed) or 'nothing was installed'}",
        )
        answers.success(request, f"Removed {len(removed)} Salesforce components.", "components")
        return answers.redirect_to("components", "maintenance")
    try:
        counts = {} if layouts_only else removal_counts(connection)
    except SalesforceError as exc:
        answers.error(request, explain(exc), "components")
        return answers.redirect_to("components", "maintenance")
    context = {
        "layouts_only": layouts_only,
        "counts": counts,
        "cancel_url": reverse("maintenance") + "#components",
    }
    return render(request, "maintenance/remove_components.html", context)


@login_required
def readers_view(request: HttpRequest) -> HttpResponse:
    """Who has cmsync's reader permission set in Salesforce: active Salesforce users with
    checkboxes; saving assigns and unassigns it."""
    from salesforce import permissions
    from salesforce.connection import explain
    from salesforce.errors import SalesforceError
    from salesforce.models import SalesforceSettings

    require_perm(request, COMPONENTS)
    connection = _components_connection(request)
    if connection is None:
        return answers.redirect_to("components", "maintenance")
    try:
        gateway = connection.gateway(retries=1)
        if permissions.READER not in permissions.installed_sets(gateway):
            answers.error(
                request,
                "Install cmsync's components first: the reader set is missing.",
                "components",
            )
            return answers.redirect_to("components", "maintenance")
        users = permissions.active_users(gateway)
        if request.method == "POST":
            known = {u.id for u in users}
            chosen = [i for i in request.POST.getlist("user") if i in known]
            added, removed = permissions.set_readers(gateway, chosen, among=known)
            names = {u.id: u.name for u in users}
            record_action(
                SalesforceSettings.get_solo(),
                "maintenance",
                f"Reader permission set ({permissions.READER}): assigned to "
                f"{', '.join(names.get(i, i) for i in added) or 'nobody new'}; removed from "
                f"{', '.join(names.get(i, i) for i in removed) or 'nobody'}",
            )
            flash.success(
                request, f"Read access saved: {len(added)} added, {len(removed)} removed."
            )
            return redirect("maintenance-readers")
        assigned = permissions.assignees(gateway, permissions.READER)
    except SalesforceError as exc:
        answers.error(request, explain(exc), "components")
        return answers.redirect_to("components", "maintenance")
    context = {"users": users, "assigned": assigned, "set_name": permissions.READER}
    return render(request, "maintenance/readers.html", context)
