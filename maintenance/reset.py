"""Reset stored data: forget cmsync's own sync state so the next run is a full sync.

Nothing in Campaign Monitor is touched. The email tracking records cmsync created in
Salesforce are deleted only when the admin asks for it.
"""

from django.db import transaction

from salesforce import errors as sf_errors
from salesforce.connection import sync_user_status
from subscriptions.models import PushedFields
from sync.models import CampaignLink, Cursor, SubscriberState, SyncRun, TrackedEvent

from .audit import record_action
from .models import AlertSettings, Message

CLEARED = {
    "cursors": (Cursor, "read positions (cursors)"),
    "subscribers": (SubscriberState, "stored subscriber states"),
    "pushed_fields": (PushedFields, "custom field values last sent to Campaign Monitor"),
    "campaigns": (CampaignLink, "campaign links"),
    "tracking": (TrackedEvent, "tracking import bookkeeping"),
    "messages": (Message, "maintenance messages"),
}


class ResetRefused(Exception):
    pass


def counts() -> dict[str, tuple[str, int]]:
    return {key: (label, model._default_manager.count()) for key, (model, label) in CLEARED.items()}


def describe(cleared: dict[str, int]) -> str:
    return ", ".join(f"{n} {CLEARED[key][1]}" for key, n in cleared.items() if key in CLEARED)


def reset_stored_data(user, *, delete_tracking: bool = False) -> dict[str, int]:
    if SyncRun.objects.filter(active=True).exists():
        raise ResetRefused("A sync is queued or running: reset when it has finished.")
    cleared = {}
    if delete_tracking:
        cleared["salesforce_tracking"] = _delete_tracking_records()
    with transaction.atomic():
        for key, (model, _) in CLEARED.items():
            cleared[key] = model._default_manager.all().delete()[0]
        record_action(
            AlertSettings.get_solo(),
            "maintenance",
            "Reset stored data: " + describe(cleared)
            + (f"; {cleared['salesforce_tracking']} email tracking records deleted in Salesforce"
               if delete_tracking else ""),
        )  # fmt: skip
    return cleared


def _delete_tracking_records() -> int:
    status = sync_user_status()
    if status.problem:
        raise ResetRefused(f"Cannot delete the tracking records in Salesforce: {status.problem}")
    assert status.connection is not None  # no problem: the sync user's usable connection
    gateway = status.connection.gateway()
    deleted = 0
    try:
        batch = []
        for record_id in gateway.tracking_record_ids():
            batch.append(record_id)
            if len(batch) == 2000:
                deleted += sum(r.success for r in gateway.delete(batch))
                batch = []
        deleted += sum(r.success for r in gateway.delete(batch)) if batch else 0
    except sf_errors.SalesforceError as exc:
        raise ResetRefused(f"Salesforce refused to delete the tracking records: {exc}") from exc
    return deleted
