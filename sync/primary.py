"""The primary sync's body: Campaign Monitor → Salesforce, step by step (DESIGN.md §4).

Registered with the runner as the body of "primary" runs (``sync.runner.register``); after
each run the billing plan follows the active subscriber count.
"""

from billing.accounts import update_plan_after_sync
from salesforce import permissions, schema

from . import campaigns, memberships, runner, spread, steps, tracking, webhooks
from .context import Context
from .models import SyncRun

# What the campaign and tracking steps write to; the list objects have their own check.
CAMPAIGN_OBJECTS = ("Campaign", "CampaignMember", "CM_Email_Tracking__c")


def _schema_ready(ctx: Context, missing: list[schema.Component]) -> bool:
    """Campaign and tracking steps need their objects and fields in the org."""
    missing = [c for c in missing if c.object_name in CAMPAIGN_OBJECTS]
    if missing:
        ctx.message(
            "SF_SCHEMA_MISSING",
            f"cmsync's Salesforce schema is missing {len(missing)} parts; campaigns and "
            "tracking were skipped",
            record={"missing": [c.full_name for c in missing]},
            severity="warning",
            step="campaigns",
        )
    return not missing


def _access_ready(ctx: Context, blocked: list[str]) -> bool:
    """Installed is not enough: the sync user must be allowed to read and write it
    (cmsync's permission set, assigned by Install)."""
    blocked = [name for name in blocked if name.split(".")[0] in CAMPAIGN_OBJECTS]
    if blocked:
        ctx.message(
            "SF_NO_ACCESS",
            f"The sync user cannot use {len(blocked)} of cmsync's objects and fields in "
            "Salesforce; campaigns and tracking were skipped",
            record={"inaccessible": blocked},
            severity="warning",
            step="campaigns",
        )
    return not blocked


def run(ctx: Context) -> None:
    """The primary sync's steps, in order (DESIGN.md §4). The per-list and per-campaign
    pieces are work items spread over the running workers (sync/spread.py); each phase ends
    before the next begins, so the opt-out decision sees every list's states."""
    steps.retry_requested(ctx)
    for client in ctx.clients:
        steps.discover(ctx, client)
    keep_webhooks(ctx)
    ctx.begin("subscribers")
    spread.run_phase(ctx, "states", state_items(ctx))
    ctx.read_people()
    steps.opt_out(ctx)
    # What the sync user may use: a describe as that user (its permission sets decide).
    missing, blocked = permissions.unusable(ctx.sf)
    memberships.sync_lists_and_memberships(ctx, missing, blocked)
    if _schema_ready(ctx, missing) and _access_ready(ctx, blocked):
        for client in ctx.clients:
            campaigns.discover_campaigns(ctx, client)
        campaigns.link_campaigns(ctx)
        if ctx.campaigns.update_statistics:
            spread.run_phase(ctx, "statistics", campaigns.statistics_items(ctx))
        if tracking.prepare(ctx):
            spread.run_phase(ctx, "tracking", tracking.campaign_items(ctx))
        tracking.retention(ctx)


def state_items(ctx: Context) -> list[str]:
    """The subscriber-states phase: each list's states, and each client's suppression list."""
    lists = [f"list:{m['ListID']}" for client in ctx.clients for m in client.lists]
    return lists + [f"suppressions:{client.client_id}" for client in ctx.clients]


def states_item(ctx: Context, key: str) -> None:
    kind, _, ident = key.partition(":")
    for client in ctx.clients:
        if kind == "suppressions" and client.client_id == ident:
            steps.suppressions(ctx, client)
            return
        for mailing_list in client.lists if kind == "list" else ():
            if mailing_list["ListID"] == ident:
                steps.list_subscribers(ctx, client, mailing_list)
                return
    # Disconnected (or the list gone) since the phase began: nothing of it to read.


def keep_webhooks(ctx: Context) -> None:
    """The cheap check of each primary sync: cmsync's webhooks in place on every list (one
    call a list when nothing is missing); see sync/webhooks.py."""
    ctx.begin("webhooks")
    rows = webhooks.reconcile(ctx.cm, ctx.clients, run=ctx.run)
    active = sum(row.state == row.State.ACTIVE for row in rows)
    failed = sum(row.state == row.State.FAILED for row in rows)
    ctx.count("webhooks", read=len(rows), written=active, failed=failed)
    ctx.checkpoint()


runner.register(SyncRun.Kind.PRIMARY, run, then=lambda run: update_plan_after_sync())
spread.register("states", states_item)
spread.register("statistics", campaigns.statistics_item)
spread.register("tracking", tracking.campaign_item)
