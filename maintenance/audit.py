"""Audit log helpers: areas of the console that entries are filed under.

django-auditlog records every change to a registered model (who, when, field, old and new
value, IP). A model says which console area it belongs to with ``audit_area``; the area is
stored with each entry so the Maintenance tab can filter by it.
"""

AREAS = {
    "sync": "Sync",
    "general": "General",
    "campaigns": "Campaigns",
    "maintenance": "Maintenance",
    "security": "User security",
    "billing": "Billing",
}


class InAuditArea:
    audit_area = ""

    def get_additional_data(self) -> dict:
        """Called by django-auditlog for every entry of this model."""
        return {"area": self.audit_area}


def record_action(instance, area: str, action: str) -> None:
    """An audit entry for an action (Sync now, reset, install...) rather than a field change.

    The user and address come from the request, as for every other entry.
    """
    from auditlog.models import LogEntry

    LogEntry.objects.log_create(
        instance,
        force_log=True,
        action=LogEntry.Action.UPDATE,
        changes={},
        additional_data={"area": area, "action": action},
    )


# A many-to-many change is stored as {"type": "m2m", "operation": …, "objects": […]}, not as
# an old and a new value (auditlog's display dict would show its keys as if they were).
M2M_VERBS = {"add": "added", "delete": "removed", "clear": "cleared"}


def change_rows(entry) -> list[dict]:
    """An update's changes for display: {"field", "old", "new"} per field, or {"field",
    "text"} ("added admin") for a many-to-many change."""
    rows = []
    display = entry.changes_display_dict
    for raw, (field, values) in zip(entry.changes_dict.values(), display.items(), strict=True):
        if isinstance(raw, dict) and raw.get("type") == "m2m":
            operation = str(raw.get("operation") or "changed")
            verb = M2M_VERBS.get(operation, operation)
            objects = ", ".join(str(o) for o in raw.get("objects") or [])
            rows.append({"field": field, "text": f"{verb} {objects}".strip()})
        else:
            rows.append({"field": field, "old": values[0], "new": values[1]})
    return rows
