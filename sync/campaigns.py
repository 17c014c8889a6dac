"""Campaign steps: discover sent campaigns, auto-create and link Salesforce Campaigns, copy
their statistics (DESIGN.md §4 step 4, §5 "Auto-create campaigns", "Campaign statistics")."""

from datetime import timedelta

from django.utils import timezone

from campaign_monitor.models import ConnectedClient

from .context import Context
from .models import CampaignLink

STATISTICS = {
    "CM_Recipients__c": "recipients",
    "CM_Total_Opens__c": "total_opened",
    "CM_Unique_Opens__c": "unique_opened",
    "CM_Clicks__c": "clicks",
    "CM_Unsubscribes__c": "unsubscribed",
    "CM_Bounces__c": "bounced",
    "CM_Spam_Complaints__c": "spam_complaints",
    "CM_Web_Version_URL__c": "web_version_url",
}


def window_start(ctx: Context):
    """Campaigns and events older than "days to keep" are out of scope."""
    return timezone.now() - timedelta(days=ctx.sync_settings.days_to_keep)


def discover_campaigns(ctx: Context, client: ConnectedClient) -> None:
    """Sent campaigns inside the tracking window, and any sent since auto-create was on."""
    ctx.begin("campaigns")
    since = window_start(ctx)
    auto_since = ctx.campaigns.auto_create_since if ctx.campaigns.auto_create_campaigns else None
    if auto_since and auto_since < since:
        since = auto_since
    for page in ctx.cm.campaign_pages(client.client_id, sent_from=since):
        for campaign in page.records:
            CampaignLink.objects.update_or_create(
                cm_campaign_id=campaign.campaign_id,
                defaults={
                    "client_id": client.client_id,
                    "name": campaign.name,
                    "sent_date": campaign.sent_date,
                },
            )
        ctx.count("campaigns", read=len(page.records))
        ctx.checkpoint()


def _client_links(client_ids: list[str]):
    # Written in the same order every run: campaigns sent in the same minute tie on the date.
    return CampaignLink.objects.filter(client_id__in=client_ids).order_by(
        "sent_date", "cm_campaign_id"
    )


def link_campaigns(ctx: Context) -> None:
    """Link Salesforce Campaigns by their CM_Campaign_Id__c; auto-create the missing ones
    for campaigns sent after auto-create was switched on (never retrospectively)."""
    links = _client_links([c.client_id for c in ctx.clients])
    unlinked = {link.cm_campaign_id: link for link in links.filter(sf_campaign_id="")}
    if unlinked:
        for cm_id, sf_id in ctx.sf.campaigns_by_cm_id(unlinked).items():
            link = unlinked.pop(cm_id, None)
            if link:
                link.sf_campaign_id = sf_id
                link.save(update_fields=["sf_campaign_id"])
    since = ctx.campaigns.auto_create_since
    if not (ctx.campaigns.auto_create_campaigns and since):
        return
    wanted = [link for link in unlinked.values() if link.sent_date >= since]
    records = [
        {
            "CM_Campaign_Id__c": link.cm_campaign_id,
            "Name": link.name[:80],
            "IsActive": True,
            "StartDate": link.sent_date.date().isoformat(),
        }
        for link in wanted
    ]
    results = ctx.sf.upsert("Campaign", "CM_Campaign_Id__c", records)
    for link, result in zip(wanted, results, strict=True):
        if result.success:
            link.sf_campaign_id = result.id
            link.save(update_fields=["sf_campaign_id"])
    owner = {link.cm_campaign_id: link.client_id for link in wanted}
    ctx.record_failures(
        "campaigns", "Campaign", results, lambda r: owner.get(r.record["CM_Campaign_Id__c"], "")
    )
    ctx.checkpoint()


# Campaigns whose statistics one work item copies: a Campaign Monitor call each, and one
# Salesforce call for all of them.
STATISTICS_ITEM = 50


def _statistics_links(ctx: Context):
    """Linked campaigns in the window, by Campaign Monitor id (an item's range is stable)."""
    links = CampaignLink.objects.filter(client_id__in=[c.client_id for c in ctx.clients])
    return (
        links.exclude(sf_campaign_id="")
        .filter(sent_date__gte=window_start(ctx))
        .order_by("cm_campaign_id")
    )


def statistics_items(ctx: Context) -> list[str]:
    """The statistics phase's items: ranges of campaign ids, ``first:last``."""
    ids = list(_statistics_links(ctx).values_list("cm_campaign_id", flat=True))
    chunks = [ids[at : at + STATISTICS_ITEM] for at in range(0, len(ids), STATISTICS_ITEM)]
    return [f"{chunk[0]}:{chunk[-1]}" for chunk in chunks]


def statistics_item(ctx: Context, key: str) -> None:
    """The statistics of the campaigns in one range of ids."""
    first, _, last = key.partition(":")
    statistics(ctx, _statistics_links(ctx).filter(cm_campaign_id__range=(first, last)))


def statistics(ctx: Context, links=None) -> None:
    """Each linked campaign's Campaign Monitor summary onto its Salesforce Campaign (of
    ``links``; by default every one in the window)."""
    if not ctx.campaigns.update_statistics:
        return
    ctx.begin("campaigns")
    if links is None:
        links = _statistics_links(ctx)
    changed, updates = [], []
    for link in links.iterator():
        summary = ctx.cm.campaign_summary(link.cm_campaign_id)
        values = {field: getattr(summary, attr) for field, attr in STATISTICS.items()}
        if values == link.statistics:
            ctx.count("campaigns", unchanged=1)
            continue
        link.statistics = values
        changed.append(link)
        updates.append({"Id": link.sf_campaign_id, **values})
    results = ctx.sf.update("Campaign", updates)
    for link, result in zip(changed, results, strict=True):
        if result.success:
            link.save(update_fields=["statistics"])
    owner = {link.sf_campaign_id: link.client_id for link in changed}
    ctx.record_failures("campaigns", "Campaign", results, lambda r: owner.get(r.record["Id"], ""))
    ctx.checkpoint()
