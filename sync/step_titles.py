"""What each step of a run is called where a user reads it (the run page, messages)."""

from .models import SyncRun

CHANGE_STEPS = [
    ("changes", "Salesforce changes"),
    ("unsubscribe", "Unsubscribed in Campaign Monitor"),
    ("delete", "Set to Deleted in Campaign Monitor"),
    ("rules", "Subscription rules"),
    ("field_mappings", "Custom fields to Campaign Monitor"),
]
CM_EVENT_STEPS = [
    ("cm_events", "Campaign Monitor events"),
    ("subscribers", "Subscriber states"),
    ("field_mappings", "Custom fields to Salesforce"),
    ("opt_out", "Email opt-out"),
    ("lists", "Subscriber lists"),
    ("memberships", "List memberships"),
]
STEPS = [
    ("retry", "Retried records"),
    ("discover", "Lists"),
    ("webhooks", "Webhooks"),
    ("subscribers", "Subscribers"),
    ("field_mappings", "Custom fields to Salesforce"),
    ("suppressions", "Suppression lists"),
    ("opt_out", "Email opt-out"),
    ("lists", "Subscriber lists"),
    ("memberships", "List memberships"),
    ("campaigns", "Campaigns"),
    ("tracking", "Email tracking"),
    ("retention", "Retention"),
]


def step_title(step: str, kind: str = "") -> str:
    """A step's name as the run page shows it ("opt_out" is "Email opt-out"), for anything a
    user reads; the run's kind decides between steps of the same key."""
    first: dict[str, list[tuple[str, str]]] = {
        SyncRun.Kind.CHANGES: CHANGE_STEPS,
        SyncRun.Kind.CM_EVENTS: CM_EVENT_STEPS,
    }
    for key, title in [*first.get(kind, []), *STEPS, *CM_EVENT_STEPS, *CHANGE_STEPS]:
        if key == step:
            return title
    return step.replace("_", " ").capitalize()
