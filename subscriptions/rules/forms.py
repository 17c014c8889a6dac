"""The subscription rule form: up to ten conditions (field, operator, value), custom logic and
active. Fields are offered from Salesforce's describe, and everything is checked by
``criteria.parse``, so what is saved can always be turned into SOQL safely."""

from collections.abc import Callable

from django import forms

from salesforce.gateway import ObjectInfo

from ..criteria import (
    BOOLEAN,
    MAX_CONDITIONS,
    NO_VALUE,
    NUMBER,
    OPERATORS,
    TEMPORAL,
    TEXT,
    InvalidCriteria,
    parse,
    parse_logic,
)
from ..models import SubscriptionRule

FILTERABLE = TEXT | NUMBER | TEMPORAL | BOOLEAN
OPERATOR_CHOICES = [(key, label) for key, (label, _, _) in OPERATORS.items()]
NUMBERS = range(1, MAX_CONDITIONS + 1)


def _choices(info: ObjectInfo, prefix: str = "") -> list[tuple[str, str]]:
    fields = [f for f in info.fields.values() if f.type in FILTERABLE]
    return [
        (prefix + f.name, f"{f.label or f.name} ({f.name})")
        for f in sorted(fields, key=lambda f: ((f.label or f.name).lower(), f.name))
    ]


def field_choices(describe: Callable[[str], ObjectInfo], sobject: str) -> list:
    """The fields a condition may test, grouped: the object's own, and for contacts the
    account's (``Account.<field>``)."""
    choices = [("", "Choose a field"), (f"{sobject} fields", _choices(describe(sobject)))]
    if sobject == "Contact":
        choices.append(("Account fields", _choices(describe("Account"), "Account.")))
    return choices


def initial_for(rule: SubscriptionRule | None) -> dict:
    if rule is None:
        return {"active": True}
    initial = {"active": rule.active, "logic": rule.logic}
    for number, condition in enumerate(rule.conditions, start=1):
        initial[f"field_{number}"] = condition.get("field", "")
        initial[f"operator_{number}"] = condition.get("operator", "equals")
        initial[f"value_{number}"] = condition.get("value", "")
    return initial


class RuleForm(forms.Form):
    active = forms.BooleanField(
        required=False,
        label="Active",
        help_text="An inactive rule is kept but does nothing, on change or retrospectively.",
    )
    logic = forms.CharField(
        required=False,
        max_length=200,
        label="Custom logic",
        help_text="Leave empty to require every condition (AND). Otherwise combine condition "
        "numbers with AND, OR, NOT and parentheses, e.g. 1 AND (2 OR 3).",
    )

    def __init__(self, *args, describe: Callable[[str], ObjectInfo], sobject: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.describe, self.sobject = describe, sobject
        choices = field_choices(describe, sobject)
        for n in NUMBERS:
            self.fields[f"field_{n}"] = forms.ChoiceField(
                choices=choices, required=False, label=f"Condition {n}: field"
            )
            self.fields[f"operator_{n}"] = forms.ChoiceField(
                choices=OPERATOR_CHOICES, required=False, label=f"Condition {n}: operator"
            )
            self.fields[f"value_{n}"] = forms.CharField(
                required=False, max_length=255, label=f"Condition {n}: value"
            )
        self.conditions: list[dict] = []

    def rows(self) -> list[dict]:
        """The condition rows for the template; rows after the last filled one start hidden."""
        filled = [n for n in NUMBERS if self[f"field_{n}"].value()]
        shown = max(filled, default=0) + 1
        return [
            {
                "number": n,
                "field": self[f"field_{n}"],
                "operator": self[f"operator_{n}"],
                "value": self[f"value_{n}"],
                "hidden": n > shown,
            }
            for n in NUMBERS
        ]

    def clean_logic(self) -> str:
        return " ".join(self.cleaned_data["logic"].split())

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data  # what Form.clean returns, typed
        rows: list[tuple[int, dict | None]] = []  # None: the row's error is already said
        for n in NUMBERS:
            if any(f"{part}_{n}" in self.errors for part in ("field", "operator", "value")):
                rows.append((n, None))  # not offered, or too long: already said
                continue
            name, operator = data.get(f"field_{n}"), data.get(f"operator_{n}") or "equals"
            value = "" if operator in NO_VALUE else data.get(f"value_{n}", "")
            if not name:
                if value.strip():
                    self.add_error(f"field_{n}", "Choose a field for this value.")
                continue
            condition = {"field": name, "operator": operator, "value": value}
            try:  # alone first, so an error lands beside its row
                parse([condition], "", self.describe, self.sobject)
            except InvalidCriteria as exc:
                self.add_error(f"field_{n}", str(exc).removeprefix("Condition 1: "))
            rows.append((n, condition))
        logic = data.get("logic", "")
        if logic:  # checked even when a row is wrong, so every error shows at once
            try:
                parse_logic(logic, len(rows))
            except InvalidCriteria as exc:
                self.add_error("logic", str(exc))
            if [n for n, _ in rows] != list(range(1, len(rows) + 1)):
                self.add_error(
                    "logic",
                    "Custom logic numbers the conditions from the top: fill the rows in "
                    "order, without empty rows between them.",
                )
        if self.errors:
            return data
        if not rows:
            raise forms.ValidationError("Add at least one condition.")
        self.conditions = [condition for _, condition in rows if condition is not None]
        try:  # together, as the rule will be evaluated
            parse(self.conditions, logic, self.describe, self.sobject)
        except InvalidCriteria as exc:
            self.conditions = []
            self.add_error("logic" if logic else None, str(exc))
        return data
