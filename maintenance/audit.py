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
