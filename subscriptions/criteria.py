"""Conditions on Salesforce records, as data, checked and turned into SOQL safely.

A condition is ``{"field": "LeadSource", "operator": "equals", "value": "Web"}``. The field
must be one Salesforce's describe lists for the object (``Account.<field>`` reaches a
Contact's account), the operator one its type allows, the value one the type can hold;
values are quoted by the gateway's ``soql``. Custom logic ("1 AND (2 OR 3)") is parsed
into a tree of condition numbers, so only numbers, AND, OR, NOT and parentheses reach SOQL.
Nothing a user typed is ever pasted into a query.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from salesforce.gateway import FieldInfo, ObjectInfo, soql

TEXT = {"string", "email", "phone", "url", "picklist", "textarea", "id", "reference", "combobox"}
NUMBER = {"int", "double", "currency", "percent", "long"}
TEMPORAL = {"date", "datetime"}
BOOLEAN = {"boolean"}

# operator → (label, SOQL template with {v} for the value, types it applies to)
OPERATORS: dict[str, tuple[str, str, set[str] | None]] = {
    "equals": ("equals", "{f} = {v}", None),
    "not_equals": ("does not equal", "{f} != {v}", None),
    "contains": ("contains", "{f} LIKE '%{v:like}%'", TEXT),
    "not_contains": ("does not contain", "(NOT {f} LIKE '%{v:like}%')", TEXT),
    "starts_with": ("starts with", "{f} LIKE '{v:like}%'", TEXT),
    "greater": ("greater than", "{f} > {v}", NUMBER | TEMPORAL),
    "greater_or_equal": ("greater or equal", "{f} >= {v}", NUMBER | TEMPORAL),
    "less": ("less than", "{f} < {v}", NUMBER | TEMPORAL),
    "less_or_equal": ("less or equal", "{f} <= {v}", NUMBER | TEMPORAL),
    "is_blank": ("is blank", "{f} = null", None),
    "is_not_blank": ("is not blank", "{f} != null", None),
}
NO_VALUE = {"is_blank", "is_not_blank"}
MAX_CONDITIONS = 10
FIELD_PATH = re.compile(r"^(?:Account\.)?[A-Za-z][A-Za-z0-9_]{0,79}$")


class InvalidCriteria(ValueError):
    """What is wrong with the conditions, in words for the admin (no SOQL)."""


@dataclass(frozen=True, slots=True)
class Condition:
    field: str  # as Salesforce spells it, e.g. "LeadSource" or "Account.Industry"
    operator: str
    value: object  # typed: str, Decimal, date, datetime, bool or None
    info: FieldInfo

    def soql(self) -> str:
        template = OPERATORS[self.operator][1].replace("{f}", self.field)
        if isinstance(self.value, Decimal):
            # format_soql cannot take a Decimal, and a float would come out as 1e-07, which
            # SOQL cannot read; a finite Decimal in plain notation is only digits, - and .
            return template.replace("{v}", format(self.value, "f"))
        return soql(template, v=self.value)


@dataclass(frozen=True, slots=True)
class Criteria:
    conditions: tuple[Condition, ...]
    logic: "Node | None"  # None: AND of all

    def where(self) -> str:
        """The SOQL condition (without WHERE); empty when there are no conditions."""
        if not self.conditions:
            return ""
        if self.logic is None:
            return " AND ".join(c.soql() for c in self.conditions)
        return self.logic.render(lambda n: self.conditions[n - 1].soql())

    @property
    def uses_account(self) -> bool:
        return any(c.field.startswith("Account.") for c in self.conditions)


def _typed(info: FieldInfo, operator: str, raw: object) -> object:
    if operator in NO_VALUE:
        return None
    text = "" if raw is None else str(raw).strip()
    kind = info.type
    if kind in BOOLEAN:
        if text.lower() not in ("true", "false"):
            raise InvalidCriteria(f"{info.label or info.name} is true or false, not “{text}”.")
        return text.lower() == "true"
    if kind in NUMBER:
        try:
            number = Decimal(text)
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            raise InvalidCriteria(f"{info.label or info.name} needs a number, not “{text}”.")
        return number
    if kind == "date":
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise InvalidCriteria(f"{info.label or info.name} needs a date (YYYY-MM-DD).") from None
    if kind == "datetime":
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidCriteria(
                f"{info.label or info.name} needs a date and time (YYYY-MM-DDTHH:MM±HH:MM)."
            ) from None
        if moment.tzinfo is None:
            raise InvalidCriteria(f"{info.label or info.name} needs a time zone offset.")
        return moment
    if len(text) > 255:
        raise InvalidCriteria(f"The value for {info.label or info.name} is too long.")
    if info.picklist_values and operator in ("equals", "not_equals"):
        if text not in info.picklist_values:
            raise InvalidCriteria(
                f"“{text}” is not a value of {info.label or info.name}; "
                f"choose one of {', '.join(info.picklist_values)}."
            )
    return text


def parse(
    conditions: list[dict],
    logic: str,
    describe: Callable[[str], ObjectInfo],
    sobject: str,
    *,
    allow_account: bool = True,
) -> Criteria:
    """Check stored or submitted conditions against Salesforce's describe of ``sobject``."""
    if not isinstance(conditions, list) or len(conditions) > MAX_CONDITIONS:
        raise InvalidCriteria(f"Use at most {MAX_CONDITIONS} conditions.")
    found = []
    for number, raw in enumerate(conditions, start=1):
        if not isinstance(raw, dict):
            raise InvalidCriteria(f"Condition {number} is not a condition.")
        path = str(raw.get("field") or "").strip()
        operator = str(raw.get("operator") or "")
        if not FIELD_PATH.match(path):
            raise InvalidCriteria(f"Condition {number}: “{path}” is not a field name.")
        if operator not in OPERATORS:
            raise InvalidCriteria(f"Condition {number}: unknown operator “{operator}”.")
        if path.startswith("Account."):
            if sobject != "Contact" or not allow_account:
                raise InvalidCriteria(f"Condition {number}: only contacts have account fields.")
            info = describe("Account").field(path.split(".", 1)[1])
        else:
            info = describe(sobject).field(path)
        if info is None:
            raise InvalidCriteria(f"Condition {number}: {sobject} has no field “{path}”.")
        allowed = OPERATORS[operator][2]
        if allowed is not None and info.type not in allowed:
            label = OPERATORS[operator][0]
            raise InvalidCriteria(f"Condition {number}: {info.label} cannot be “{label}”.")
        if info.type in {"textarea"} and operator in ("equals", "not_equals"):
            raise InvalidCriteria(f"Condition {number}: long text can only be searched.")
        name = info.name if "." not in path else f"Account.{info.name}"
        found.append(
            Condition(
                field=name,
                operator=operator,
                value=_typed(info, operator, raw.get("value")),
                info=info,
            )
        )
    tree = parse_logic(logic, len(found)) if logic.strip() else None
    return Criteria(conditions=tuple(found), logic=tree)


# -- custom logic ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Node:
    op: str  # "ref", "and", "or", "not"
    ref: int = 0
    children: tuple["Node", ...] = ()

    def render(self, clause: Callable[[int], str]) -> str:
        if self.op == "ref":
            return f"({clause(self.ref)})"
        if self.op == "not":
            return f"(NOT {self.children[0].render(clause)})"
        joiner = " AND " if self.op == "and" else " OR "
        return "(" + joiner.join(child.render(clause) for child in self.children) + ")"

    def refs(self) -> set[int]:
        if self.op == "ref":
            return {self.ref}
        return set().union(*(child.refs() for child in self.children))


TOKEN = re.compile(r"\s*(?:(\d+)|(AND|OR|NOT)\b|(\()|(\)))", re.IGNORECASE)


def parse_logic(logic: str, count: int) -> Node:
    """ "1 AND (2 OR NOT 3)" as a tree; every condition used, nothing else accepted.

    Mixing AND and OR at one level needs parentheses, as in Salesforce's own filter logic.
    """
    tokens, position, text = [], 0, logic.strip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if not match or match.end() == position:
            raise InvalidCriteria(f"Custom logic: cannot read “{text[position:][:20]}”.")
        number, word, opening, closing = match.groups()
        tokens.append(number or (word.upper() if word else None) or opening or closing)
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    tree, rest = _expression(tokens, count)
    if rest:
        raise InvalidCriteria(f"Custom logic: unexpected “{' '.join(rest[:3])}”.")
    unused = set(range(1, count + 1)) - tree.refs()
    if unused:
        raise InvalidCriteria(f"Custom logic does not use condition {min(unused)}.")
    return tree


def _expression(tokens: list[str], count: int) -> tuple[Node, list[str]]:
    first, tokens = _unary(tokens, count)
    operands, joiner = [first], None
    while tokens and tokens[0] in ("AND", "OR"):
        if joiner and tokens[0] != joiner:
            raise InvalidCriteria("Custom logic: use parentheses when mixing AND and OR.")
        joiner = tokens[0]
        operand, tokens = _unary(tokens[1:], count)
        operands.append(operand)
    if joiner is None:
        return first, tokens
    return Node(joiner.lower(), children=tuple(operands)), tokens


def _unary(tokens: list[str], count: int) -> tuple[Node, list[str]]:
    if not tokens:
        raise InvalidCriteria("Custom logic ends too early.")
    head, rest = tokens[0], tokens[1:]
    if head == "NOT":
        child, rest = _unary(rest, count)
        return Node("not", children=(child,)), rest
    if head == "(":
        inner, rest = _expression(rest, count)
        if not rest or rest[0] != ")":
            raise InvalidCriteria("Custom logic: a parenthesis is not closed.")
        return inner, rest[1:]
    if head.isdigit():
        number = int(head)
        if not 1 <= number <= count:
            raise InvalidCriteria(f"Custom logic refers to condition {number}, which is not there.")
        return Node("ref", ref=number), rest
    raise InvalidCriteria(f"Custom logic: unexpected “{head}”.")
