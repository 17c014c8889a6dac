"""Campaign Monitor → Salesforce as it happens: acting on list webhook events.

The endpoint (``sync/webhooks.py``) stores each event once in an inbox
(``CampaignMonitorEvent``); a run of kind "Campaign Monitor changes" works through it, in
batches, with the primary sync's own functions:

1. each event's state goes into the local subscriber state (``steps.store_states``): an
   event older than the state already stored changes nothing, as in the primary sync;
2. mapped custom fields go to Salesforce (``subscriptions.hooks.on_subscriber_page``),
   from the events that are not older than what is stored;
3. the emails whose state changed get the opt-out rule over every connected list
   (``steps.opt_out_for``), written only where Salesforce differs, and cmsync's own writes
   announced to change detection first, so they do not come back as reactions;
4. their list memberships are written (``memberships``).

An Update that changed the address is stored under the new address; the old one keeps the
state stored for it, as the primary sync (which never reads it again) keeps it. The primary
sync stays the safety net: an event Campaign Monitor never delivered is read by its next run.
"""

import logging
from collections import defaultdict
from datetime import timedelta, tzinfo

from django.utils import timezone as django_timezone

from campaign_monitor.models import ConnectedClient, Connection, ListOptions
from campaign_monitor.records import WebhookEvent
from salesforce import permissions
from subscriptions import hooks as subscriptions

from . import memberships, runner, steps
from .context import Context
from .models import CampaignMonitorEvent, SubscriberState, SyncRun

log = logging.getLogger(__name__)

BATCH = 1000  # events per batch: one webhook POST's worth
KEEP_PROCESSED = timedelta(days=7)
# A run that failed leaves its events in the inbox; the dispatcher asks again after this.
RETRY_AFTER = timedelta(minutes=5)


def pending() -> int:
    return CampaignMonitorEvent.objects.filter(processed_at=None).count()


def request_if_pending(trigger: str = SyncRun.Trigger.WEBHOOK) -> SyncRun | None:
    """Queue a "Campaign Monitor changes" run when the inbox holds work (one at a time)."""
    if not CampaignMonitorEvent.objects.filter(processed_at=None).exists():
        return None
    if Connection.current() is None:
        return None
    try:
        run, _ = runner.request_run(trigger, kind=SyncRun.Kind.CM_EVENTS)
    except (
        runner.BrokerUnavailable
    ) as exc:  # queued: the dispatcher sends it once the broker is back
        return exc.run
    return run


def retry_due(now=None) -> SyncRun | None:
    """The dispatcher's every-minute check: events left by a run that stopped (a failure, a
    lost broker) get a new run, at most every RETRY_AFTER."""
    now = now or django_timezone.now()
    last = SyncRun.objects.filter(kind=SyncRun.Kind.CM_EVENTS).first()
    if last is not None and (last.is_active or (last.finished_at or now) > now - RETRY_AFTER):
        return None
    return request_if_pending(SyncRun.Trigger.SCHEDULE)


def process(ctx: Context) -> None:
    """Work through the inbox in arrival order (see the module docstring)."""
    ctx.begin("cm_events")
    tz = ctx.cm.tz  # the account's time zone, read once per run
    missing = None  # cmsync's schema in the org, checked once per run when needed
    blocked: list[str] = []  # and what of it the sync user may not use
    while batch := list(
        CampaignMonitorEvent.objects.filter(processed_at=None).order_by("id")[:BATCH]
    ):
        ctx.forget_people()  # a later batch may decide an email this run already wrote
        opt_out, members = _apply(ctx, batch, tz)
        if opt_out:
            ctx.begin("opt_out")
            steps.opt_out_for(ctx, opt_out)
        if members:
            if missing is None:  # as the primary sync checks it
                missing, blocked = permissions.unusable(ctx.sf)
            memberships.sync_lists_and_memberships(ctx, missing, blocked, emails=sorted(members))
        now = django_timezone.now()
        for event in batch:
            event.processed_at, event.run = now, ctx.run
        # Done only now: a run that stops above acts on the batch again (idempotently).
        CampaignMonitorEvent.objects.bulk_update(batch, ["processed_at", "run", "outcome"])
        ctx.begin("cm_events")
    CampaignMonitorEvent.objects.filter(
        processed_at__lt=django_timezone.now() - KEEP_PROCESSED
    ).delete()


def _apply(
    ctx: Context, batch: list[CampaignMonitorEvent], tz: tzinfo
) -> tuple[set[str], set[str]]:
    """Store the batch's states and write its custom fields; the emails whose opt-out, and
    those whose memberships, are now pending."""
    owners = {m["ListID"]: client for client in ctx.clients for m in client.lists}
    prevented = set(
        ListOptions.objects.filter(prevent_member_sync=True).values_list("list_id", flat=True)
    )
    latest: dict[tuple[str, str], tuple[CampaignMonitorEvent, WebhookEvent]] = {}
    for row in batch:
        client = owners.get(row.list_id)
        if client is None or row.list_id in prevented:
            why = "is no longer connected" if client is None else "has “Prevent member sync” on"
            row.outcome = f"not acted on: the list {why}"
            ctx.count("cm_events", read=1, skipped=1)
            continue
        try:
            event = WebhookEvent.from_api(row.payload, tz)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            _unreadable(ctx, row, client, exc)
            continue
        ctx.count("cm_events", read=1)
        key = (row.list_id, event.email.lower())
        if key in latest and latest[key][1].date > event.date:
            row.outcome = "not acted on: a later event of the same batch says more"
            continue
        if key in latest:
            latest[key][0].outcome = "not acted on: a later event of the same batch says more"
        latest[key] = (row, event)
    if not latest:
        return set(), set()
    fresh = _store(ctx, latest, owners)
    _custom_fields(ctx, fresh, owners)
    emails = {email for _, email in latest}
    rows = SubscriberState.objects.filter(email_lc__in=emails)
    return (
        set(rows.filter(opt_out_pending=True).values_list("email_lc", flat=True).distinct()),
        set(rows.filter(membership_pending=True).values_list("email_lc", flat=True).distinct()),
    )


def _store(ctx: Context, latest: dict, owners: dict[str, ConnectedClient]) -> dict:
    """Each list's latest event per email into the subscriber state; the events not older
    than what was stored (their custom fields are the subscriber's current ones).

    An event that repeats the stored state changes nothing: an Update is dated when the
    subscriber was edited, not when the state changed, and the primary sync would not see a
    change there either."""
    ctx.begin("subscribers")
    by_list: dict[str, dict] = defaultdict(dict)
    for (list_id, email_lc), pair in latest.items():
        by_list[list_id][email_lc] = pair
    fresh = {}
    for list_id, pairs in by_list.items():
        stored = {
            email_lc: (state, date)
            for email_lc, state, date in SubscriberState.objects.filter(
                list_id=list_id, email_lc__in=pairs
            ).values_list("email_lc", "state", "state_date")
        }
        by_state = defaultdict(list)
        for email_lc, (row, event) in pairs.items():
            state, date = stored.get(email_lc, ("", None))
            if date is not None and date > event.date:
                row.outcome = "not acted on: older than the state already stored"
                ctx.count("subscribers", read=1, unchanged=1)
                continue
            fresh[(list_id, email_lc)] = (row, event)
            if state == event.state:
                row.outcome = f"still {event.state} on the list"
                ctx.count("subscribers", read=1, unchanged=1)
                continue
            row.outcome = f"{event.state} on the list"
            by_state[event.state].append(event.subscriber())
        for state, records in by_state.items():
            client_id = owners[list_id].client_id
            written, unchanged = steps.store_states(
                client_id, list_id, state, records, waiting=ctx.beat
            )
            ctx.count("subscribers", read=len(records), written=written, unchanged=unchanged)
    return fresh


def _custom_fields(ctx: Context, fresh: dict, owners: dict[str, ConnectedClient]) -> None:
    by_list = defaultdict(list)
    for (list_id, _), (_, event) in fresh.items():
        by_list[list_id].append(event.subscriber())
    for list_id, records in by_list.items():
        subscriptions.on_subscriber_page(ctx, owners[list_id], list_id, records)


def _unreadable(ctx: Context, row: CampaignMonitorEvent, client, exc: Exception) -> None:
    reason = _what_was_wrong(exc)
    ctx.message(
        "CM_WEBHOOK_BAD_EVENT",
        f"A Campaign Monitor event for {row.email or 'an unknown address'} could not be read",
        upstream=reason,
        record={"list_id": row.list_id, "event": row.payload},
        client_id=client.client_id,
        step="cm_events",
    )
    row.outcome = f"not read: {reason}"[:200]
    ctx.count("cm_events", read=1, failed=1)


def _what_was_wrong(exc: Exception) -> str:
    """A sentence for the admin about the event itself: the event parser says what was wrong
    in a ValueError; anything else it let through is a value of a kind Campaign Monitor does
    not send, and the exception's own text would only name Python's types."""
    if isinstance(exc, ValueError) and str(exc):
        return str(exc).rstrip(".") + "."
    return "One of the event's values is not of the kind Campaign Monitor sends."


def _then(run: SyncRun) -> None:
    if run.status != SyncRun.Status.FAILED:
        request_if_pending()  # arrived while this run was finishing


runner.register(SyncRun.Kind.CM_EVENTS, process, then=_then)
