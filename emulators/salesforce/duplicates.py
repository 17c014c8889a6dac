"""Duplicate rules on Contact and Lead, after Salesforce's standard ones.

An org may have one active rule per object, standing for Salesforce's standard duplicate
rules: "Standard_Contact_Duplicate_Rule" compares a Contact with the other Contacts
(matching rule "Standard_Contact_Match_Rule_v1_1"); "Standard_Lead_Duplicate_Rule" compares
a Lead with the other unconverted Leads ("Standard_Lead_Match_Rule_v1_0") and with the
Contacts ("Standard_Contact_Match_Rule_v1_1"). Two records match when their Email is the
same and so are FirstName and LastName (trimmed, case-insensitive; a blank value never
matches, as the standard rules' "MatchBlank = FALSE").

A rule runs on every create and every edit, whichever fields change. Its action:
- alert ("Allow" with Alert): the save is refused with DUPLICATES_DETECTED unless the
  request carries ``Sforce-Duplicate-Rule-Header: allowSave=true`` (API 52.0 and later);
- block: the save is always refused.

The error carries Salesforce's duplicate result (under the key "duplicateResut", spelled as
Salesforce spells it in REST responses), naming the rule and the records it matched.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from emulators.salesforce.dml import Actor, Engine
from emulators.salesforce.errors import SfError
from emulators.salesforce.schema import SObject

if TYPE_CHECKING:
    from emulators.salesforce.wire import Request

ACTIONS = ("alert", "block")
ALERT_TEXT = "Use one of these records?"
CONTACT_MATCH = "Standard_Contact_Match_Rule_v1_1"
LEAD_MATCH = "Standard_Lead_Match_Rule_v1_0"
# object -> (the standard rule's name, [(compared object, matching rule), ...])
STANDARD = {
    "Contact": ("Standard_Contact_Duplicate_Rule", [("Contact", CONTACT_MATCH)]),
    "Lead": ("Standard_Lead_Duplicate_Rule", [("Lead", LEAD_MATCH), ("Contact", CONTACT_MATCH)]),
}
RECORD_URL_VERSION = "62.0"


@dataclass
class DuplicateRule:
    id: str
    name: str
    object: str
    action: str
    message: str = ALERT_TEXT

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "object": self.object,
            "action": self.action,
            "message": self.message,
        }


class DuplicatesDetected(SfError):
    """DUPLICATES_DETECTED with its duplicate result, in both error shapes."""

    def __init__(self, rule: DuplicateRule, matches: list[tuple[str, str, list[str]]]) -> None:
        super().__init__("DUPLICATES_DETECTED", rule.message, [])
        self.result = {
            "allowSave": rule.action == "alert",
            "duplicateRule": rule.name,
            "duplicateRuleEntityType": rule.object,
            "errorMessage": rule.message,
            "matchResults": [
                {
                    "entityType": sobject,
                    "errors": [],
                    "matchEngine": "FuzzyMatchEngine",
                    "matchRecords": [_match_record(sobject, i) for i in record_ids],
                    "rule": matching_rule,
                    "size": len(record_ids),
                    "success": True,
                }
                for sobject, matching_rule, record_ids in matches
            ],
        }

    def rest_body(self) -> list[dict[str, Any]]:
        return [{"duplicateResut": self.result, **super().rest_body()[0]}]

    def item(self) -> dict[str, Any]:
        return {"duplicateResut": self.result, **super().item()}


def _match_record(sobject: str, record_id: str) -> dict[str, Any]:
    url = f"/services/data/v{RECORD_URL_VERSION}/sobjects/{sobject}/{record_id}"
    return {
        "additionalInformation": [],
        "fieldDiffs": [],
        "matchConfidence": 100.0,
        "record": {"attributes": {"type": sobject, "url": url}, "Id": record_id},
    }


def allow_save(request: "Request") -> bool:
    """Whether the request's Sforce-Duplicate-Rule-Header says allowSave=true."""
    header = request.headers.get("sforce-duplicate-rule-header", "")
    for part in header.split(";"):
        name, _, value = part.partition("=")
        if name.strip().lower() == "allowsave":
            return value.strip().lower() == "true"
    return False


class DuplicateRules:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.rules: list[DuplicateRule] = []
        engine.after_rules.append(self.check)

    def add(self, object: str, action: str, rule_id: str) -> DuplicateRule:
        target = self.engine.registry.get(object)
        if target is None or target.name not in STANDARD:
            raise ValueError(f"Duplicate rules are emulated on Contact and Lead, not {object!r}")
        if action not in ACTIONS:
            raise ValueError(f"Unknown action {action!r}; use one of {', '.join(ACTIONS)}")
        self.rules = [r for r in self.rules if r.object != target.name]  # one per object
        rule = DuplicateRule(rule_id, STANDARD[target.name][0], target.name, action)
        self.rules.append(rule)
        return rule

    def check(self, obj: SObject, record: dict[str, Any], actor: Actor) -> None:
        if actor.skip_duplicates:
            return
        for rule in self.rules:
            if rule.object != obj.name:
                continue
            if rule.action == "alert" and actor.allow_save:
                continue
            matches = self.matches(obj.name, record)
            if matches:
                raise DuplicatesDetected(rule, matches)

    def matches(self, sobject: str, record: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
        """(compared object, matching rule, matching ids) for each matching rule that found
        a duplicate of the record."""
        key = _key(record)
        if key is None:
            return []
        found = []
        for other, matching_rule in STANDARD[sobject][1]:
            converted = ' AND "IsConverted" = 0' if other == "Lead" else ""
            rows = self.engine.store.rows(
                f'SELECT "Id", "FirstName", "LastName" FROM "{other}" WHERE "Email" = ? '
                f'AND "IsDeleted" = 0 AND "Id" != ?{converted} ORDER BY _rid',
                (key[0], record.get("Id") or ""),
            )
            same = [row[0] for row in rows if _key({"Email": key[0], **_names(row)}) == key]
            if same:
                found.append((other, matching_rule, same))
        return found


def _names(row: tuple) -> dict[str, Any]:
    return {"FirstName": row[1], "LastName": row[2]}


def _key(record: dict[str, Any]) -> tuple[str, str, str] | None:
    values = [
        (record.get(name) or "").strip().lower() for name in ("Email", "FirstName", "LastName")
    ]
    return None if not all(values) else (values[0], values[1], values[2])
