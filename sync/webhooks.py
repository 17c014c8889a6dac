"""Campaign Monitor list webhooks: cmsync's own, registered on every connected list, and the
endpoint they post to.

Registration. With "Apply Campaign Monitor changes to Salesforce as they happen" on, each
connected list of a connected client (not set to "Prevent member sync") has one Active
webhook of cmsync's: Subscribe, Update and Deactivate events as JSON to
``<CMSYNC_URL>/campaign-monitor/webhook/<secret>/``. ``reconcile`` puts that in place and is
run by every primary sync (a missing webhook is created again, a deactivated one activated),
when the setting or a list's option changes, and, switched off or disconnected, removes
them. cmsync's webhooks are known by their URL (the console's address and the endpoint's
path), so one left over with an old secret is removed too. What each list's webhook is, and
what went wrong, is kept in ``ListWebhook`` for the Sync tab; failures are maintenance
messages.

The endpoint. The URL's secret (per installation, stored encrypted) is compared in constant
time; the batch must name a list cmsync syncs and have the documented shape; then its
events are stored once each in the inbox and a run is asked for (``sync.cm_events``), and
Campaign Monitor gets its 200 at once. Anything refused stores nothing.
"""

import hashlib
import json
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from campaign_monitor import errors as cm_errors
from campaign_monitor.client import CampaignMonitorClient
from campaign_monitor.models import ConnectedClient, Connection, ListOptions
from campaign_monitor.records import WEBHOOK_EVENTS, parse_date
from cmsync import endpoints
from maintenance.models import Message
from settings_app.models import SyncSettings

from . import cm_events
from .models import CampaignMonitorEvent, ListWebhook, SyncRun, WebhookWatch

log = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024  # 1000 events with their custom fields stay far below this
PATH_PREFIX = "/campaign-monitor/webhook/"


# -- the secret and the URL -----------------------------------------------------------------


def secret() -> str:
    """The installation's endpoint secret, generated the first time it is needed."""
    watch = WebhookWatch.get_solo()
    if not watch.secret:
        watch.secret = secrets.token_urlsafe(32)
        watch.save(update_fields=["secret"])
    return watch.secret


def secret_matches(candidate: str) -> bool:
    stored = WebhookWatch.get_solo().secret or ""
    return bool(stored) and constant_time_compare(candidate, stored)


def prefix() -> str:
    """The start of every URL of cmsync's webhooks, whatever their secret."""
    return f"{settings.CMSYNC_URL}{PATH_PREFIX}"


def url() -> str:
    return f"{settings.CMSYNC_URL}{reverse('cm-webhook', args=[secret()])}"


def unreachable_reason() -> str:
    """Why Campaign Monitor cannot post to the console's address (CMSYNC_URL); empty when
    it can: HTTPS, or plain HTTP to this machine with ALLOW_INSECURE_LOOPBACK (the local
    emulator of `make run` and the tests)."""
    try:
        endpoints.check(settings.CMSYNC_URL, "cmsync")
    except endpoints.EndpointRefused as exc:
        return f"The console's address (CMSYNC_URL) cannot take webhooks: {exc}"
    return ""


# -- registration ---------------------------------------------------------------------------


@dataclass
class WebhookChange:
    """What switching the setting did, for the console's message (as TabsChange)."""

    message: str
    done: bool


def _wanted_lists(clients: Iterable[ConnectedClient]) -> dict[str, tuple[ConnectedClient, str]]:
    """The lists that should have cmsync's webhook: list id → (client, list name)."""
    prevented = set(
        ListOptions.objects.filter(prevent_member_sync=True).values_list("list_id", flat=True)
    )
    return {
        m["ListID"]: (client, m.get("Name") or "")
        for client in clients
        for m in client.lists
        if m["ListID"] not in prevented
    }


def reconcile(
    api: CampaignMonitorClient,
    clients: Iterable[ConnectedClient],
    *,
    only: set[str] | None = None,
    run: SyncRun | None = None,
) -> list[ListWebhook]:
    """Make Campaign Monitor hold what the settings say: one Active webhook of cmsync's on
    each list that takes events, none elsewhere (lists dropped since included). ``only``:
    just these list ids. One list's failure is its row's state and a message; the others
    go on. Returns the rows looked at."""
    clients = list(clients)
    connected = {m["ListID"]: (c, m.get("Name") or "") for c in clients for m in c.lists}
    wanted = _wanted_lists(clients) if SyncSettings.get_solo().cm_webhooks else {}
    why_not = unreachable_reason() if wanted else ""
    if why_not:
        wanted = {}
    known = {row.list_id: row for row in ListWebhook.objects.all()}
    list_ids = set(connected) | set(known)
    if only is not None:
        list_ids &= only
    rows = []
    for list_id in sorted(list_ids):
        client, name = connected.get(list_id, (None, ""))
        row = known.get(list_id) or ListWebhook(list_id=list_id)
        if client is not None:
            row.client_id, row.name = client.client_id, name[:200]
        try:
            if list_id in wanted:
                _register(api, row)
            else:
                _remove(api, row)
                row.detail = _not_wanted(list_id, connected, why_not)
        except cm_errors.NotFoundError as exc:
            if list_id in connected:
                _failed(row, exc, run)
            else:  # the list itself is gone from the account: so is its webhook
                row.state = ListWebhook.State.REMOVED
        except cm_errors.CampaignMonitorError as exc:
            _failed(row, exc, run)
        row.checked_at = timezone.now()
        if list_id not in connected and row.state == ListWebhook.State.REMOVED:
            if row.pk:  # nothing left to show or to remove
                row.delete()
            continue
        row.save()
        rows.append(row)
    return rows


def _not_wanted(list_id: str, connected: dict, why_not: str) -> str:
    if list_id not in connected:
        return "The list is no longer connected."
    if not SyncSettings.get_solo().cm_webhooks:
        return "'Apply Campaign Monitor changes to Salesforce as they happen' is off."
    if why_not:
        return why_not
    return "'Prevent member sync' is on for this list."


def _ours(api: CampaignMonitorClient, list_id: str) -> list:
    start = prefix()
    return [hook for hook in api.webhooks(list_id) if hook.url.startswith(start)]


def _complete(hook) -> bool:
    return set(WEBHOOK_EVENTS) <= set(hook.events) and hook.payload_format.lower() == "json"


def _register(api: CampaignMonitorClient, row: ListWebhook) -> None:
    """Keep exactly one webhook of ours, with the current URL, and Active."""
    target = url()
    current = None
    for hook in _ours(api, row.list_id):
        if current is None and hook.url == target and _complete(hook):
            current = hook
        else:  # an old secret, a duplicate, fewer events, XML
            api.delete_webhook(row.list_id, hook.webhook_id)
    if current is None:
        row.webhook_id = api.create_webhook(row.list_id, target, WEBHOOK_EVENTS, "json")
        log.info("Campaign Monitor webhook registered on list %s", row.list_id)
    else:
        row.webhook_id = current.webhook_id
        if not current.active:
            api.activate_webhook(row.list_id, current.webhook_id)
            log.info("Campaign Monitor webhook of list %s activated again", row.list_id)
    row.state, row.detail = ListWebhook.State.ACTIVE, ""


def _remove(api: CampaignMonitorClient, row: ListWebhook) -> None:
    for hook in _ours(api, row.list_id):
        api.delete_webhook(row.list_id, hook.webhook_id)
    row.state, row.webhook_id = ListWebhook.State.REMOVED, ""


def _failed(row: ListWebhook, exc: cm_errors.CampaignMonitorError, run: SyncRun | None) -> None:
    error = str(exc)
    log.warning("Campaign Monitor webhook of list %s: %s", row.list_id, error)
    if row.state != ListWebhook.State.FAILED or row.detail != error:  # once per new problem
        Message.objects.create(
            code="CM_WEBHOOK_FAILED",
            severity=Message.Severity.WARNING,
            step="webhooks",
            run=run,
            client_id=row.client_id,
            summary=f"cmsync could not keep its webhook on list {row.name or row.list_id}",
            upstream_message=error,
            record={"list_id": row.list_id},
        )
    row.state, row.detail = ListWebhook.State.FAILED, error


def reconcile_now(only: set[str] | None = None) -> list[ListWebhook]:
    """``reconcile`` outside a run (a setting changed): nothing when not connected."""
    connection = Connection.current()
    if connection is None:
        return []
    api = connection.api(retries=1)
    return reconcile(api, connection.connected_clients(), only=only)


def apply_setting() -> WebhookChange:
    """After the setting was switched: register or remove the webhooks now."""
    on = SyncSettings.get_solo().cm_webhooks
    if Connection.current() is None:
        return WebhookChange("Campaign Monitor is not connected: no webhooks to change.", True)
    rows = reconcile_now()
    failed = [row for row in rows if row.state == ListWebhook.State.FAILED]
    if failed:
        names = ", ".join(row.name or row.list_id for row in failed)
        return WebhookChange(
            f"Campaign Monitor refused the webhook change on {names}; the next sync tries "
            "again (see Maintenance messages).",
            False,
        )
    if on and (reason := unreachable_reason()):
        return WebhookChange(f"{reason} Changes arrive with the primary sync.", False)
    if on:
        active = sum(row.state == ListWebhook.State.ACTIVE for row in rows)
        return WebhookChange(f"Webhooks registered on {active} list(s).", True)
    return WebhookChange("Webhooks removed: changes arrive with the primary sync.", True)


def remove_all(connection: Connection) -> None:
    """Disconnecting: remove cmsync's webhooks while the credentials still exist. A failure
    is logged and does not stop the disconnect (a webhook left behind is refused)."""
    api = connection.api(retries=1)
    for row in ListWebhook.objects.all():
        try:
            _remove(api, row)
        except cm_errors.CampaignMonitorError as exc:
            log.warning("Could not remove the webhook of list %s: %s", row.list_id, exc)
    ListWebhook.objects.all().delete()


# -- the endpoint ---------------------------------------------------------------------------


class Refused(Exception):
    """The batch is not taken; ``status`` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def _text(event: dict, name: str, required: bool = True) -> str:
    value = event.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise Refused(400, f"Each event needs {name} as text.")
    return value.strip()


def parse(body: bytes) -> tuple[str, list[dict]]:
    """The list id and the events of a webhook POST, checked against the documented shape."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(400, f"Not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("Events"), list):
        raise Refused(400, 'Expected {"Events": [...], "ListID": "..."}.')
    list_id = data.get("ListID")
    if not isinstance(list_id, str) or not list_id.strip():
        raise Refused(400, "The batch has no ListID.")
    for event in data["Events"]:
        if not isinstance(event, dict):
            raise Refused(400, "Each event must be an object.")
        if event.get("Type") not in WEBHOOK_EVENTS:
            raise Refused(400, f"Unknown event Type “{str(event.get('Type'))[:40]}”.")
        _text(event, "EmailAddress")
        _text(event, "State", required=False)
        _text(event, "OldEmailAddress", required=False)
        try:
            parse_date(_text(event, "Date"), UTC)  # the format; the time zone comes later
        except ValueError as exc:
            raise Refused(400, str(exc)) from exc
        fields = event.get("CustomFields") or []
        if not isinstance(fields, list) or not all(
            isinstance(f, dict) and "Key" in f and "Value" in f for f in fields
        ):
            raise Refused(400, "CustomFields must be a list of {Key, Value}.")
    return list_id.strip(), data["Events"]


def _key(list_id: str, event: dict) -> str:
    text = json.dumps([list_id, event], sort_keys=True, ensure_ascii=False)
    return hashlib.sha1(text.encode()).hexdigest()


def _taken(list_id: str) -> bool:
    """Whether the list's events are wanted: a connected list of a connected client, with
    the setting on and "Prevent member sync" off."""
    connection = Connection.current()
    if connection is None or not SyncSettings.get_solo().cm_webhooks:
        return False
    return list_id in _wanted_lists(connection.connected_clients())


def receive(list_id: str, events: list[dict]) -> int:
    """Store the events, each once; returns how many were new."""
    rows = {}
    for event in events:
        key = _key(list_id, event)
        rows[key] = CampaignMonitorEvent(
            key=key,
            list_id=list_id[:64],
            kind=event["Type"],
            email=event["EmailAddress"].strip()[:254],
            old_email=(event.get("OldEmailAddress") or "").strip()[:254],
            state=(event.get("State") or "")[:20],
            date=event["Date"].strip()[:20],
            payload=event,
        )
    with transaction.atomic():
        known = set(
            CampaignMonitorEvent.objects.filter(key__in=list(rows)).values_list("key", flat=True)
        )
        new = [row for key, row in rows.items() if key not in known]
        CampaignMonitorEvent.objects.bulk_create(new, batch_size=500, ignore_conflicts=True)
    return len(new)


def handle(candidate: str, body: bytes) -> int:
    """Take a webhook POST: check, store, ask for a run. How many events were new."""
    if not secret_matches(candidate):
        raise Refused(404, "Unknown endpoint.")
    if len(body) > MAX_BYTES:
        raise Refused(413, "The batch is too large.")
    list_id, events = parse(body)
    if not _taken(list_id):
        _refused(f"Events of list {list_id[:64]}, which cmsync does not sync, were refused.")
        raise Refused(403, "cmsync does not take events of this list.")
    new = receive(list_id, events)
    now = timezone.now()
    ListWebhook.objects.filter(list_id=list_id).update(last_event_at=now)
    WebhookWatch.objects.filter(pk=WebhookWatch.get_solo().pk).update(last_event_at=now)
    if new:
        cm_events.request_if_pending(SyncRun.Trigger.WEBHOOK)
    return new


def _refused(reason: str) -> None:
    log.warning("Campaign Monitor webhook: %s", reason)
    WebhookWatch.objects.filter(pk=WebhookWatch.get_solo().pk).update(
        last_refused_at=timezone.now(), last_refusal=reason[:200]
    )
