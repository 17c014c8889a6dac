from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cmsync.access import require_perm

from .audit import AREAS
from .models import Message

AUDIT_PAGE_SIZE = 25
MESSAGES_SHOWN = 50


@login_required
def maintenance(request: HttpRequest) -> HttpResponse:
    """The Maintenance tab: the sync's latest maintenance messages and the audit log."""
    require_perm(request, "auditlog.view_logentry")
    entries = LogEntry.objects.select_related("actor", "content_type").order_by("-timestamp", "-id")
    area = request.GET.get("area", "")
    if area in AREAS:
        entries = entries.filter(additional_data__area=area)
    user_id = request.GET.get("user", "")
    if user_id.isdigit():
        entries = entries.filter(actor_id=int(user_id))
    recent_messages = Message.objects.select_related("run")[:MESSAGES_SHOWN]
    page = Paginator(entries, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    for entry in page:
        entry.area_title = AREAS.get((entry.additional_data or {}).get("area"), "")
    users = get_user_model().objects.filter(logentry__isnull=False).distinct().order_by("username")
    context = {
        "page": page,
        "areas": AREAS,
        "area": area,
        "users": users,
        "user_id": user_id,
        "recent_messages": recent_messages,
        "message_count": Message.objects.count(),
    }
    return render(request, "maintenance/maintenance.html", context)
