"""Campaign rules Salesforce enforces itself (no validation rule needed to trip them).

- A new Campaign gets two member statuses: "Sent" (default) and "Responded" (responded).
- CampaignMember.Status must be one of its campaign's status labels (defaulting to the
  campaign's default status); HasResponded follows the status and FirstRespondedDate is set
  the first time it does; one member per (campaign, contact) and per (campaign, lead).
- CampaignMemberStatus labels and sort orders are unique per campaign; a campaign keeps
  exactly one default and at least one responded status; a default status, a status in use
  or the last responded status can't be deleted.
"""

from typing import Any

from emulators.salesforce.dml import Actor, Engine
from emulators.salesforce.errors import SfError

DEFAULT_STATUSES = (
    {"Label": "Sent", "IsDefault": True, "HasResponded": False, "SortOrder": 1},
    {"Label": "Responded", "IsDefault": False, "HasResponded": True, "SortOrder": 2},
)


class CampaignRules:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store
        engine.hooks["Campaign"] = {"after_save": self.campaign_saved}
        engine.hooks["CampaignMember"] = {"before_save": self.member_saving}
        engine.hooks["CampaignMemberStatus"] = {
            "before_save": self.status_saving,
            "after_save": self.status_saved,
            "before_delete": self.status_deleting,
        }

    def statuses(self, campaign_id: str, exclude: str = "") -> list[dict[str, Any]]:
        rows = self.store.rows(
            'SELECT "Id", "Label", "SortOrder", "IsDefault", "HasResponded" '
            'FROM "CampaignMemberStatus" WHERE "CampaignId" = ? AND "IsDeleted" = 0 '
            'AND "Id" != ? ORDER BY "SortOrder"',
            (campaign_id, exclude),
        )
        keys = ("Id", "Label", "SortOrder", "IsDefault", "HasResponded")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    # -- Campaign --------------------------------------------------------------------------

    def campaign_saved(
        self, record: dict[str, Any], current: dict[str, Any] | None, actor: Actor
    ) -> None:
        if current is not None:
            return
        statuses = self.engine.sobject("CampaignMemberStatus")
        for status in DEFAULT_STATUSES:
            self.engine.create(statuses, {**status, "CampaignId": record["Id"]}, actor)

    # -- CampaignMember --------------------------------------------------------------------

    def member_saving(
        self,
        record: dict[str, Any],
        current: dict[str, Any] | None,
        actor: Actor,
        changed: set[str],
    ) -> None:
        if current is None:
            self.member_person(record)
        statuses = {s["Label"]: s for s in self.statuses(record["CampaignId"])}
        label = record.get("Status")
        if current is None and label is None:
            label = next((s["Label"] for s in statuses.values() if s["IsDefault"]), None)
        elif "Status" in changed and label not in statuses:
            raise SfError(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"bad value for restricted picklist field: {label}",
                ["Status"],
            )
        record["Status"] = label
        responded = bool(label in statuses and statuses[label]["HasResponded"])
        record["HasResponded"] = int(responded)
        if responded and not record.get("FirstRespondedDate"):
            record["FirstRespondedDate"] = self.engine.clock.today().isoformat()

    def member_person(self, record: dict[str, Any]) -> None:
        if record.get("ContactId") is None and record.get("LeadId") is None:
            raise SfError(
                "REQUIRED_FIELD_MISSING",
                "Required fields are missing: [ContactId, LeadId]",
                ["ContactId", "LeadId"],
            )
        if record.get("ContactId"):
            record["LeadId"] = None  # given both, Salesforce keeps the contact
        column = "ContactId" if record.get("ContactId") else "LeadId"
        existing = self.store.rows(
            f'SELECT 1 FROM "CampaignMember" WHERE "CampaignId" = ? AND "{column}" = ? '
            'AND "IsDeleted" = 0',
            (record["CampaignId"], record[column]),
        )
        if existing:
            raise SfError("DUPLICATE_VALUE", "Already a campaign member.", [])

    # -- CampaignMemberStatus --------------------------------------------------------------

    def status_saving(
        self,
        record: dict[str, Any],
        current: dict[str, Any] | None,
        actor: Actor,
        changed: set[str],
    ) -> None:
        others = self.statuses(record["CampaignId"], record.get("Id") or "")
        self.status_unique(record, others, changed)
        if current is None:
            return
        if current["IsDefault"] and not record["IsDefault"]:
            raise SfError(
                "FIELD_INTEGRITY_EXCEPTION",
                "A campaign must have exactly one default member status. Make another status "
                "the default instead.",
                ["IsDefault"],
            )
        if current["HasResponded"] and not record["HasResponded"]:
            if not any(other["HasResponded"] for other in others):
                raise SfError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    "A campaign must have at least one member status marked Responded.",
                    ["HasResponded"],
                )

    @staticmethod
    def status_unique(
        record: dict[str, Any], others: list[dict[str, Any]], changed: set[str]
    ) -> None:
        for name in ("Label", "SortOrder"):
            value = record.get(name)
            if name not in changed or value is None:
                continue
            for other in others:
                same = other[name] is not None and (
                    other[name].lower() == value.lower()
                    if name == "Label"
                    else other[name] == value
                )
                if same:
                    raise SfError(
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {name} duplicates value on record with id: "
                        f"{other['Id'][:15]}",
                        [],
                    )

    def status_saved(
        self, record: dict[str, Any], current: dict[str, Any] | None, actor: Actor
    ) -> None:
        campaign_id = record["CampaignId"]
        if record["IsDefault"]:
            self.store.execute(
                'UPDATE "CampaignMemberStatus" SET "IsDefault" = 0 '
                'WHERE "CampaignId" = ? AND "Id" != ?',
                (campaign_id, record["Id"]),
            )
        if current is None:
            return
        old_label, label = current["Label"], record["Label"]
        if old_label != label:
            self.store.execute(
                'UPDATE "CampaignMember" SET "Status" = ? WHERE "CampaignId" = ? '
                'AND "Status" = ? COLLATE BINARY',
                (label, campaign_id, old_label),
            )
        if old_label != label or current["HasResponded"] != record["HasResponded"]:
            self.store.execute(
                'UPDATE "CampaignMember" SET "HasResponded" = ?, "FirstRespondedDate" = '
                'CASE WHEN ? = 1 THEN COALESCE("FirstRespondedDate", ?) '
                'ELSE "FirstRespondedDate" END '
                'WHERE "CampaignId" = ? AND "Status" = ? COLLATE BINARY',
                (
                    record["HasResponded"],
                    record["HasResponded"],
                    self.engine.clock.today().isoformat(),
                    campaign_id,
                    label,
                ),
            )

    def status_deleting(self, record: dict[str, Any], actor: Actor) -> None:
        if record["IsDefault"]:
            raise SfError("DELETE_FAILED", "You can't delete the default member status.", [])
        in_use = self.store.rows(
            'SELECT 1 FROM "CampaignMember" WHERE "CampaignId" = ? AND "IsDeleted" = 0 '
            'AND "Status" = ? COLLATE BINARY LIMIT 1',
            (record["CampaignId"], record["Label"]),
        )
        if in_use:
            raise SfError("DELETE_FAILED", "This member status is in use by campaign members.", [])
        others = self.statuses(record["CampaignId"], record["Id"])
        if record["HasResponded"] and not any(other["HasResponded"] for other in others):
            raise SfError(
                "DELETE_FAILED",
                "A campaign must have at least one member status marked Responded.",
                [],
            )
