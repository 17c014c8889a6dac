"""Custom field mappings of one subscriber list: everyone with access may look, Full access
adds, changes and deletes. Campaign Monitor's fields come from the list itself and the
Salesforce fields from the sync user's describe of Contact and Lead, so a mapping is checked
against the fields as they are."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from campaign_monitor import errors as cm_errors
from campaign_monitor.models import ConnectedClient, Connection
from cmsync.access import require_perm
from salesforce import errors as sf_errors
from salesforce.connection import sync_user_status
from security.access import visible_connected_clients

from ..models import FieldMapping
from .forms import FieldMappingForm

VIEW = "subscriptions.view_fieldmapping"
ADD = "subscriptions.add_fieldmapping"
CHANGE = "subscriptions.change_fieldmapping"
DELETE = "subscriptions.delete_fieldmapping"


def _list_or_404(request: HttpRequest, list_id: str) -> tuple[ConnectedClient, dict]:
    """The visible connected client holding the list, and the list; 404 for anyone else's."""
    for client in visible_connected_clients(request.user):
        for found in client.lists:
            if found["ListID"] == list_id:
                return client, found
    raise Http404("No such list")


def _sources(list_id: str) -> tuple[dict[str, Any], list[str]]:
    """What the form offers: the list's custom fields and the Contact and Lead describes,
    or the reasons they cannot be read."""
    problems: list[str] = []
    sources: dict[str, Any] = {}  # FieldMappingForm's cm_fields and describes
    connection = Connection.current()
    if connection is None:
        problems.append("Campaign Monitor is not connected: its custom fields cannot be read.")
    else:
        try:
            sources["cm_fields"] = connection.api().custom_fields(list_id)
        except cm_errors.CampaignMonitorError as exc:
            problems.append(f"Campaign Monitor's custom fields could not be read: {exc}")
    status = sync_user_status()
    if status.problem:
        problems.append(f"Salesforce fields cannot be read. {status.problem}")
    else:
        assert status.connection is not None  # no problem comes with a connection
        try:
            gateway = status.connection.gateway(retries=1)
            sources["describes"] = {s: gateway.describe(s) for s in ("Contact", "Lead")}
        except sf_errors.SalesforceError as exc:
            problems.append(f"Salesforce's Contact and Lead fields could not be read: {exc}")
    return (sources if not problems else {}), problems


def _render(request, client, found, form, problems, editing=None) -> HttpResponse:
    mappings = FieldMapping.objects.filter(list_id=found["ListID"])
    context = {
        "client": client,
        "list": found,
        "list_id": found["ListID"],
        "mappings": mappings,
        "form": form,
        "problems": problems,
        "editing": editing,
        "can_add": request.user.has_perm(ADD),
        "can_change": request.user.has_perm(CHANGE),
        "can_delete": request.user.has_perm(DELETE),
    }
    return render(request, "subscriptions/fields.html", context)


@login_required
def fields(request: HttpRequest, list_id: str) -> HttpResponse:
    """The list's mappings, and (Full access) a form to add one."""
    require_perm(request, VIEW)
    client, found = _list_or_404(request, list_id)
    if request.method == "POST":
        require_perm(request, ADD)
    form: FieldMappingForm | None = None
    problems: list[str] = []
    if request.user.has_perm(ADD):
        sources, problems = _sources(list_id)
        if sources:
            data = request.POST if request.method == "POST" else None
            form = FieldMappingForm(data, list_id=list_id, **sources)
            if data is not None and form.is_valid():
                mapping = form.save()
                messages.success(request, f"Mapping of {mapping.cm_key} saved.")
                return redirect("subscriptions-fields", list_id)
    return _render(request, client, found, form, problems)


@login_required
def edit(request: HttpRequest, list_id: str, pk: int) -> HttpResponse:
    require_perm(request, CHANGE)
    client, found = _list_or_404(request, list_id)
    mapping = get_object_or_404(FieldMapping, pk=pk, list_id=list_id)
    sources, problems = _sources(list_id)
    form = None
    if sources:
        data = request.POST if request.method == "POST" else None
        form = FieldMappingForm(data, list_id=list_id, instance=mapping, **sources)
        if data is not None and form.is_valid():
            form.save()
            messages.success(request, f"Mapping of {mapping.cm_key} saved.")
            return redirect("subscriptions-fields", list_id)
    return _render(request, client, found, form, problems, editing=mapping)


@login_required
def delete(request: HttpRequest, list_id: str, pk: int) -> HttpResponse:
    """Delete a mapping: asks first (GET), deletes (POST)."""
    require_perm(request, DELETE)
    _, found = _list_or_404(request, list_id)
    mapping = get_object_or_404(FieldMapping, pk=pk, list_id=list_id)
    if request.method != "POST":
        context = {
            "mapping": mapping,
            "list": found,
            "cancel_url": reverse("subscriptions-fields", args=[list_id]),
        }
        return render(request, "subscriptions/field_delete.html", context)
    mapping.delete()
    messages.success(request, f"Mapping of {mapping.cm_key} deleted.")
    return redirect("subscriptions-fields", list_id)
