"""Which Campaign Monitor custom field types go with which Salesforce field types, and how a
value crosses from one to the other.

Campaign Monitor keeps every custom field value as text: a number as "42", a date shown as
"YYYY-MM-DD" (written as "YYYY/MM/DD"), a multi-select as one value per option. Salesforce
types come from describe (``FieldInfo.type``). A pair is allowed when every value of the
source can be a value of the target; impossible pairs (a date into a number, a multi-select
into a checkbox) are refused when the mapping is saved, so the sync never has to guess.
"""

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from salesforce.gateway import FieldInfo

CM_TYPES = ("Text", "Number", "Date", "MultiSelectOne", "MultiSelectMany", "Country", "USState")
CM_TYPE_LABELS = {
    "Text": "text",
    "Number": "number",
    "Date": "date",
    "MultiSelectOne": "single choice",
    "MultiSelectMany": "multiple choice",
    "Country": "country",
    "USState": "US state",
}

TEXT = frozenset({"string", "textarea", "email", "phone", "url", "combobox", "picklist"})
NUMBER = frozenset({"int", "long", "double", "currency", "percent"})
INTEGER = frozenset({"int", "long"})
DATES = frozenset({"date", "datetime"})
CHOICE = frozenset({"picklist", "combobox", "string", "textarea"})

# Salesforce → Campaign Monitor: the Salesforce types each Campaign Monitor type can receive.
FROM_SF = {
    "Text": TEXT | NUMBER | DATES | {"multipicklist", "boolean", "id", "reference"},
    "Number": NUMBER,
    "Date": DATES,
    "MultiSelectOne": CHOICE | {"boolean"},
    "MultiSelectMany": CHOICE | {"multipicklist"},
    "Country": CHOICE,
    "USState": CHOICE,
}
# Campaign Monitor → Salesforce: the Salesforce types each Campaign Monitor type can fill.
TO_SF = {
    "Text": TEXT | {"multipicklist", "boolean"},
    "Number": NUMBER | {"string", "textarea"},
    "Date": DATES | {"string", "textarea"},
    "MultiSelectOne": CHOICE | {"multipicklist", "boolean"},
    "MultiSelectMany": frozenset({"multipicklist", "string", "textarea"}),
    "Country": CHOICE,
    "USState": CHOICE,
}
# Fields the sync manages itself (matching and opt-out): never written by a mapping.
MANAGED = frozenset({"id", "email", "hasoptedoutofemail"})

SF_TYPE_LABELS = {
    "string": "text",
    "textarea": "long text",
    "email": "email",
    "phone": "phone",
    "url": "URL",
    "combobox": "combo box",
    "picklist": "picklist",
    "multipicklist": "multi-select picklist",
    "int": "number",
    "long": "number",
    "double": "number",
    "currency": "currency",
    "percent": "percent",
    "date": "date",
    "datetime": "date/time",
    "boolean": "checkbox",
    "id": "record ID",
    "reference": "lookup",
}
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "on"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "off"})
CM_MAX_LENGTH = 250


class BadValue(ValueError):
    """A value that cannot be a value of the target field, in words for the admin."""


def sf_type_label(info: FieldInfo) -> str:
    return SF_TYPE_LABELS.get(info.type, info.type)


def pair_problem(cm_type: str, info: FieldInfo, direction: str, sobject: str) -> str:
    """Why this Campaign Monitor type and Salesforce field cannot be mapped in ``direction``
    ("to_cm" or "to_sf"); empty when they can."""
    name = f"{sobject} field {info.label or info.name}"
    if cm_type not in CM_TYPES:
        return f"Campaign Monitor fields of type {cm_type} cannot be mapped."
    allowed = FROM_SF[cm_type] if direction == "to_cm" else TO_SF[cm_type]
    if info.type not in allowed:
        arrow = "from" if direction == "to_cm" else "into"
        return (
            f"A Campaign Monitor {CM_TYPE_LABELS[cm_type]} field cannot be mapped {arrow} the "
            f"{name}, which is a {sf_type_label(info)} field."
        )
    if direction == "to_sf":
        if info.name.lower() in MANAGED:
            return f"The {name} is kept by cmsync itself and cannot receive a custom field."
        if not info.updateable:
            return f"The {name} cannot be changed by the sync user (it is read-only)."
    return ""


def _number(text: str) -> Decimal:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise BadValue(f"“{text}” is not a number.") from None
    if not number.is_finite():
        raise BadValue(f"“{text}” is not a number.")
    return number


def parse_cm_date(text: str) -> date:
    """Campaign Monitor shows YYYY-MM-DD and takes YYYY/MM/DD; both are read."""
    try:
        return date.fromisoformat(text.strip()[:10].replace("/", "-"))
    except ValueError:
        raise BadValue(f"“{text}” is not a date (YYYY-MM-DD).") from None


def _boolean(text: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise BadValue(f"“{text}” is not yes or no.")


def check_cm_value(cm_type: str, text: str, options: tuple[str, ...] = ()) -> None:
    """A value (such as a default) must be one Campaign Monitor can hold in the field."""
    if len(text) > CM_MAX_LENGTH:
        raise BadValue(f"Campaign Monitor keeps at most {CM_MAX_LENGTH} characters.")
    if cm_type == "Number":
        _number(text)
    elif cm_type == "Date":
        parse_cm_date(text)
    elif cm_type in ("MultiSelectOne", "MultiSelectMany") and options:
        chosen = split_many(text) if cm_type == "MultiSelectMany" else [text]
        unknown = [value for value in chosen if value not in options]
        if unknown:
            raise BadValue(f"“{unknown[0]}” is not one of the field's options.")


def split_many(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]


# -- Campaign Monitor → Salesforce ----------------------------------------------------------


def to_sf_value(info: FieldInfo, values: list[str]) -> object:
    """Campaign Monitor values of one field (several for a multi-select) as the JSON value
    of the Salesforce field; raises BadValue when they cannot be one."""
    kind = info.type
    if kind == "multipicklist":
        return ";".join(values)
    text = ";".join(values)
    if kind in NUMBER:
        number = _number(text)
        if kind in INTEGER:
            if number != number.to_integral_value():
                raise BadValue(f"“{text}” is not a whole number.")
            return int(number)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "date":
        return parse_cm_date(text).isoformat()
    if kind == "datetime":  # midnight UTC of the day
        return parse_cm_date(text).isoformat() + "T00:00:00.000+0000"
    if kind == "boolean":
        return _boolean(text)
    # A value a restricted picklist does not have is sent anyway: Salesforce refuses it
    # with the record, which becomes a maintenance message (SF_RESTRICTED_PICKLIST).
    return text


def blank(value: object) -> bool:
    return value is None or value == ""


def same(info: FieldInfo, current: object, new: object) -> bool:
    """Whether Salesforce's current value already equals the value about to be written."""
    if blank(current) or blank(new):
        return blank(current) and blank(new)
    kind = info.type
    if kind == "multipicklist":
        return set(str(current).split(";")) == set(str(new).split(";"))
    if kind in NUMBER:
        try:
            return Decimal(str(current)) == Decimal(str(new))
        except InvalidOperation:
            return False
    if kind == "date":
        return str(current)[:10] == str(new)[:10]
    if kind == "datetime":
        return _utc_day(str(current)) == str(new)[:10]
    if kind == "boolean":
        return bool(current) == bool(new)
    return str(current) == str(new)


def _utc_day(value: str) -> str:
    try:
        moment = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return value[:10]
    return moment.astimezone(UTC).date().isoformat()


# -- Salesforce → Campaign Monitor ----------------------------------------------------------


def _number_text(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


def to_cm_values(cm_type: str, value: object) -> list[str]:
    """A Salesforce value as Campaign Monitor custom field values (several for a
    multi-select). Empty list: no value."""
    if value is None or value == "":
        return []
    if cm_type == "Date":
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, date):
            return [value.strftime("%Y/%m/%d")]
        text = str(value)
        if "T" in text:  # a datetime: the day in UTC, as Salesforce keeps it
            text = _utc_day(text)
        return [text[:10].replace("-", "/")]
    if cm_type == "Number":
        return [_number_text(value)]
    if cm_type == "MultiSelectMany":
        return split_many(str(value))
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, float):
        return [_number_text(value)]
    return [str(value)]
