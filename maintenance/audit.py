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
}


class InAuditArea:
    audit_area = ""

    def get_additional_data(self) -> dict:
        """Called by django-auditlog for every entry of this model."""
        return {"area": self.audit_area}
