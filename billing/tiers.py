"""The price tiers (settings.BILLING_TIERS) and the subscriber count that picks one."""

from dataclasses import dataclass

from django.conf import settings

from campaign_monitor.models import ConnectedClient
from sync.models import SubscriberState


@dataclass(frozen=True, slots=True, order=True)
class Tier:
    up_to: int  # active subscribers, inclusive
    amount: int  # cents a month

    @property
    def plan_id(self) -> str:
        """Stable, so the Stripe plan is created once and found again."""
        return f"cmsync-tier-{self.up_to}"

    @property
    def label(self) -> str:
        return f"Up to {self.up_to:,} subscribers"

    @property
    def price(self) -> str:
        dollars = (
            f"{self.amount / 100:,.0f}" if self.amount % 100 == 0 else f"{self.amount / 100:,.2f}"
        )
        return f"${dollars}/month"

    @property
    def amount_text(self) -> str:
        """One month, as a charge: "$8.00"."""
        return f"${self.amount / 100:,.2f}"


def all_tiers() -> list[Tier]:
    return sorted(Tier(up_to, amount) for up_to, amount in settings.BILLING_TIERS)


def tier_for(count: int) -> Tier | None:
    """The cheapest tier that holds ``count``; None above the last one ("contact us")."""
    return next((tier for tier in all_tiers() if count <= tier.up_to), None)


def tier_by_limit(up_to: int | None) -> Tier | None:
    return next((tier for tier in all_tiers() if tier.up_to == up_to), None)


def up_to_of_plan(plan_id: str) -> int | None:
    """The tier limit in a plan id made by Tier.plan_id ("cmsync-tier-2500" → 2500)."""
    prefix = "cmsync-tier-"
    rest = plan_id.removeprefix(prefix)
    return int(rest) if plan_id.startswith(prefix) and rest.isdigit() else None


def active_subscribers() -> int:
    """Active subscribers summed across every synced list, from the sync's local state."""
    list_ids = {
        item["ListID"]
        for lists in ConnectedClient.objects.filter(connected=True).values_list("lists", flat=True)
        for item in lists
    }
    return SubscriberState.objects.filter(list_id__in=list_ids, state="active").count()
