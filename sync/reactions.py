"""Salesforce → Campaign Monitor: the body of a run of kind "Salesforce changes" (DESIGN.md §5).

It works through the inbox (``sync.inbox``) in arrival order and acts as the general options
say. Reactions fire on a *transition* against ``WatchedRecord`` (opt-out ticked, record
deleted): a change seen twice, by the poll and by an Outbound Message or by a redelivery,
acts once; cmsync's own writes are recognised by ``sync.echo``. Of two states of one record
in one second, the record's current value decides which is the later (an older state
arriving late never wins). Converted Leads are not acted on: the Contact a Lead became is a
Contact like any other. Subscription rules and field mappings then act on each batch through
``subscriptions.on_changes``.
"""

from datetime import timedelta

from django.db.models import Min
from django.utils import timezone

from campaign_monitor import errors as cm_errors
from campaign_monitor.records import LIVE_STATES
from maintenance.models import Message
from settings_app import gates
from settings_app.models import GeneralSettings
from subscriptions import hooks as subscriptions

from . import echo, runner
from .context import Context
from .inbox import PEOPLE, request_if_pending
from .models import SalesforceChange, SyncRun, WatchedRecord

KEEP_PROCESSED = timedelta(days=7)
BATCH = 200


def process(ctx: Context) -> None:
    """Work through the inbox in arrival order, as the general options say."""
    ctx.begin("changes")
    for step in ("unsubscribe", "delete"):
        ctx.count(step)
    while batch := list(SalesforceChange.objects.filter(processed_at=None).order_by("id")[:BATCH]):
        general = GeneralSettings.get_solo()  # an admin may switch triggers off mid-run
        firsts = _first_of_batches(batch) if gates.bulk_triggers_off(general) else None
        converted = _converted(ctx, batch)
        handled = []
        for change in batch:
            if change.record_id[:15] in converted:
                outcome = "not acted on: a converted Lead (its Contact stands for the person)"
                ctx.count("changes", read=1, skipped=1)
            elif refusal := gates.change_refusal(
                general, first_of_batch=firsts is None or change.pk in firsts
            ):
                outcome = refusal
                ctx.count("changes", read=1, skipped=1)
            else:
                outcome = _handle(ctx, general, change)
                ctx.count("changes", read=1)
                handled.append(change)
            change.processed_at, change.run, change.outcome = timezone.now(), ctx.run, outcome
        if handled:
            subscriptions.on_changes(ctx, general, handled)  # subscription rules, field mappings
        # Done only now: a run that stops above acts on the batch again (idempotently).
        SalesforceChange.objects.bulk_update(batch, ["processed_at", "run", "outcome"])
        ctx.checkpoint()
    SalesforceChange.objects.filter(processed_at__lt=timezone.now() - KEEP_PROCESSED).delete()


def _converted(ctx: Context, changes: list[SalesforceChange]) -> set[str]:
    """The (15-character) ids of the converted Leads among these changes."""
    leads = {c.record_id for c in changes if c.sobject == "Lead"}
    return {i[:15] for i in ctx.sf.converted_leads(leads)} if leads else set()


def _first_of_batches(changes: list[SalesforceChange]) -> set[int]:
    """Ids of the first change of each batch, looking across earlier runs too."""
    batches = {c.batch for c in changes}
    firsts = SalesforceChange.objects.filter(batch__in=batches).values("batch")
    return {row["first"] for row in firsts.annotate(first=Min("id"))}


def _handle(ctx: Context, general: GeneralSettings, change: SalesforceChange) -> str:
    if change.sobject not in PEOPLE:
        return _account_changed(ctx, general, change)
    watched = WatchedRecord.objects.filter(record_id=change.record_id).first()
    if watched is None:
        watched = WatchedRecord(
            record_id=change.record_id, sobject=change.sobject, email_lc=change.email.lower()
        )
    if watched.modstamp and change.modstamp and change.modstamp < watched.modstamp:
        return "not acted on: older than a change already handled"
    if _earlier_in_its_second(ctx, change, watched):
        return "not acted on: older than a change already handled"
    if change.email:
        watched.email_lc = change.email.lower()
    if change.modstamp:
        watched.modstamp = change.modstamp
    if change.deleted:
        outcome = "deletion already handled"
        if not watched.deleted:
            watched.deleted = True
            outcome = _deleted(ctx, general, change)
        watched.save()
        return outcome
    watched.deleted = False
    outcome = "no action needed"
    if change.opted_out is not None:
        outcome = _opt_out_changed(ctx, general, change, watched)
    watched.save()
    return outcome


def _earlier_in_its_second(ctx: Context, change: SalesforceChange, watched: WatchedRecord) -> bool:
    """A change stamped in the same second as the one last applied, saying otherwise: only
    Salesforce's current record tells which came later (its value, if still stamped in that
    second; if stamped later, the later change comes by itself and this one is old)."""
    same_second = watched.modstamp is not None and change.modstamp == watched.modstamp
    if not same_second or change.deleted or change.opted_out is None:
        return False
    if change.opted_out == watched.opted_out:
        return False
    current = ctx.sf.opt_out_state(change.sobject, change.record_id)
    return current is None or current != (change.opted_out, change.modstamp)


def _opt_out_changed(
    ctx: Context, general: GeneralSettings, change: SalesforceChange, watched: WatchedRecord
) -> str:
    echoed = echo.own_write(watched, change.opted_out)
    if echoed is not None:
        return echoed
    was, watched.opted_out = watched.opted_out, bool(change.opted_out)
    if not change.opted_out or was:
        return "no action needed"
    if not general.unsubscribe_on_opt_out:
        return "opted out; 'Unsubscribe when Email Opt Out is ticked' is off"
    return _set_everywhere(ctx, change, "unsubscribe")


def _deleted(ctx: Context, general: GeneralSettings, change: SalesforceChange) -> str:
    if not general.delete_subscriber_on_record_delete:
        return "deleted; 'Set subscriber to Deleted' is off"
    if not change.email:
        return "deleted; the record had no email"
    others = [
        person
        # find_people keys by the trimmed, lower-case email: ask by the same key.
        for person in ctx.sf.find_people([change.email]).get(change.email.strip().lower(), [])
        if person.id != change.record_id
    ]
    if others:
        other = others[0]
        ctx.message(
            "SF_DELETE_KEPT",
            f"{change.sobject} {change.record_id} was deleted, but {other.sobject} {other.id} "
            f"still has {change.email}: its subscriber was not set to Deleted",
            record={"deleted": change.record_id, "email": change.email, "kept_by": other.id},
            severity=Message.Severity.INFO,
            step="delete",
        )
        ctx.count("delete", skipped=1)
        return f"not acted on: {other.sobject} {other.id} still has this email"
    return _set_everywhere(ctx, change, "delete")


def _set_everywhere(ctx: Context, change: SalesforceChange, action: str) -> str:
    """Unsubscribe or delete the address on every connected list where it still gets email.

    Unsubscribed and bounced stay as they are: Deleted is weaker (an import may bring a
    deleted subscriber back), so it never replaces them.
    """
    email, done, failed = change.email, 0, 0
    if not email:
        return "opted out; the record has no email"
    for client in ctx.clients:
        connected = {m["ListID"] for m in client.lists}
        try:
            memberships = ctx.cm.lists_for_email(client.client_id, email)
        except (cm_errors.ValidationError, cm_errors.NotFoundError) as exc:
            _refused(ctx, change, action, client.client_id, "", exc)
            ctx.count(action, read=1, failed=1)
            return f"failed: {exc}"
        for membership in memberships:
            if membership.list_id not in connected or membership.state not in LIVE_STATES:
                continue
            try:
                if action == "unsubscribe":
                    ctx.cm.unsubscribe(membership.list_id, email)
                else:
                    ctx.cm.delete_subscriber(membership.list_id, email)
            except (cm_errors.ValidationError, cm_errors.NotFoundError) as exc:
                _refused(ctx, change, action, client.client_id, membership.list_id, exc)
                failed += 1
                continue
            done += 1
    ctx.count(action, read=1, written=done, failed=failed, unchanged=int(not done and not failed))
    verb = "unsubscribed from" if action == "unsubscribe" else "set to Deleted on"
    outcome = f"{verb} {done} list(s)" if done else "already off every list"
    return outcome + (f", {failed} refused" if failed else "")


def _refused(
    ctx: Context, change, action: str, client_id: str, list_id: str, exc: Exception
) -> None:
    what = "unsubscribe" if action == "unsubscribe" else "set to Deleted"
    ctx.message(
        "CM_REACTION_FAILED",
        f"Could not {what} {change.email} ({change.sobject} {change.record_id})",
        upstream=str(exc),
        record={"email": change.email, "record_id": change.record_id, "list_id": list_id},
        client_id=client_id,
        step=action,
    )


def _account_changed(ctx: Context, general: GeneralSettings, change: SalesforceChange) -> str:
    if refusal := gates.account_change_refusal(general):
        return refusal
    # Subscription rules then re-check its contacts and say what they did (rules.py).
    return "account changed"


def _then(run: SyncRun) -> None:
    if run.status != SyncRun.Status.FAILED:
        request_if_pending()  # arrived while this run was finishing


runner.register(SyncRun.Kind.CHANGES, process, then=_then)
