"""What subscription rules and field mappings do when Salesforce records change: called by
the "Salesforce changes" run (``sync.reactions.process``) once per batch of handled changes."""

from typing import TYPE_CHECKING

from settings_app.models import GeneralSettings

if TYPE_CHECKING:
    from sync.context import Context  # sync imports this module


def after_batch(ctx: "Context", general: GeneralSettings, changes: list) -> None:
    """``changes`` are the batch's SalesforceChange rows that were acted on (not skipped by
    disabled or bulk triggers); deleted records and Accounts included."""
    from . import mappings, rules

    rules.apply_to_changes(ctx, general, changes)
    mappings.push_changes_to_cm(ctx, general, changes)
