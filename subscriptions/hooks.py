"""The two ways the sync calls into subscriptions (nothing in ``sync`` imports more of it):

- ``on_changes``: a "Salesforce changes" run's batch of handled changes (``sync.reactions``)
  goes through the subscription rules, then the Salesforce → Campaign Monitor field mappings;
- ``on_subscriber_page``: a page of subscribers the primary sync (or a run of Campaign
  Monitor events) stored goes onto Salesforce through the Campaign Monitor → Salesforce
  field mappings.
"""

from typing import TYPE_CHECKING

from campaign_monitor.models import ConnectedClient
from campaign_monitor.records import Subscriber
from settings_app.models import GeneralSettings

from .fields import mappings
from .rules import work as rules

if TYPE_CHECKING:
    from sync.context import Context  # sync imports this module


def on_changes(ctx: "Context", general: GeneralSettings, changes: list) -> None:
    """``changes`` are the batch's SalesforceChange rows that were acted on (not skipped by
    disabled or bulk triggers); deleted records and Accounts included."""
    rules.apply_to_changes(ctx, general, changes)
    mappings.push_changes_to_cm(ctx, general, changes)


def on_subscriber_page(
    ctx: "Context", client: ConnectedClient, list_id: str, records: list[Subscriber]
) -> None:
    """Mapped custom field values of a stored page of subscribers onto Salesforce."""
    mappings.apply_page(ctx, client, list_id, records)
