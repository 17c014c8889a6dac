"""Conditions → SOQL: only described fields, quoted values, parsed logic; hostile input stays
a literal value and matches nothing it should not (checked against the Salesforce emulator)."""

import pytest

from subscriptions.criteria import InvalidCriteria, parse, parse_logic


def where(gateway, sobject: str, conditions: list[dict], logic: str = "") -> str:
    return parse(conditions, logic, gateway.describe, sobject).where()


def ids(gateway, sobject: str, clause: str) -> set[str]:
    return {row["Id"] for row in gateway.query(f"SELECT Id FROM {sobject} WHERE {clause}")}


@pytest.fixture
def people(sf_gateway):
    rows = [
        {"LastName": "Plain", "Email": "plain@example.com"},
        {"LastName": "O'Brien", "Email": "obrien@example.com"},
        {"LastName": "100% sure_thing", "Email": "pct@example.com"},
        {"LastName": "back\\slash", "Email": "slash@example.com"},
    ]
    results = sf_gateway.create("Contact", rows)
    assert all(r.success for r in results)
    return {row["LastName"]: r.id for row, r in zip(rows, results, strict=True)}


@pytest.mark.parametrize(
    "value",
    [
        "x' OR LastName != '",
        "' OR Id != null OR LastName = '",
        "\\' OR LastName != \\'",
        "%",
        "_",
        "Plain' AND Email LIKE '%",
    ],
)
def test_hostile_values_are_literals_and_match_nothing_extra(sf_gateway, people, value):
    clause = where(
        sf_gateway, "Contact", [{"field": "LastName", "operator": "equals", "value": value}]
    )
    assert ids(sf_gateway, "Contact", clause) == set()
    clause = where(
        sf_gateway, "Contact", [{"field": "LastName", "operator": "contains", "value": value}]
    )
    assert not ids(sf_gateway, "Contact", clause) & {people["Plain"]}


def test_quotes_percent_underscore_and_backslash_match_exactly(sf_gateway, people):
    def contains(value):
        clause = where(
            sf_gateway, "Contact", [{"field": "LastName", "operator": "contains", "value": value}]
        )
        return ids(sf_gateway, "Contact", clause) & set(people.values())

    assert contains("O'Bri") == {people["O'Brien"]}
    assert contains("100%") == {people["100% sure_thing"]}
    assert contains("e_t") == {people["100% sure_thing"]}
    assert contains("back\\s") == {people["back\\slash"]}


@pytest.mark.parametrize(
    "condition, error",
    [
        ({"field": "LastName = '' OR Id", "operator": "equals", "value": "x"}, "not a field name"),
        ({"field": "NoSuchField__c", "operator": "equals", "value": "x"}, "has no field"),
        ({"field": "LastName", "operator": "DROP", "value": "x"}, "unknown operator"),
        ({"field": "HasOptedOutOfEmail", "operator": "contains", "value": "x"}, "cannot be"),
        ({"field": "HasOptedOutOfEmail", "operator": "equals", "value": "maybe"}, "true or false"),
        ({"field": "CreatedDate", "operator": "greater", "value": "yesterday"}, "date and time"),
    ],
)
def test_bad_conditions_are_refused_with_a_reason(sf_gateway, condition, error):
    with pytest.raises(InvalidCriteria, match=error):
        parse([condition], "", sf_gateway.describe, "Contact")


def test_account_fields_only_for_contacts(sf_gateway):
    condition = {"field": "Account.Name", "operator": "equals", "value": "Acme"}
    assert parse([condition], "", sf_gateway.describe, "Contact").uses_account
    with pytest.raises(InvalidCriteria, match="only contacts"):
        parse([condition], "", sf_gateway.describe, "Lead")


def test_custom_logic_is_parsed_not_pasted(sf_gateway, people):
    conditions = [
        {"field": "LastName", "operator": "equals", "value": "Plain"},
        {"field": "LastName", "operator": "starts_with", "value": "O'"},
        {"field": "Email", "operator": "is_blank", "value": ""},
    ]
    clause = where(sf_gateway, "Contact", conditions, "(1 OR 2) AND NOT 3")
    assert ids(sf_gateway, "Contact", clause) == {people["Plain"], people["O'Brien"]}


@pytest.mark.parametrize(
    "logic, error",
    [
        ("1 AND 2 OR 3", "parentheses"),
        ("1 AND", "ends too early"),
        ("1 AND 4", "not there"),
        ("1 AND 2 AND 3; DELETE", "cannot read"),
        ("(1 AND 2 AND 3", "not closed"),
        ("1 AND 2", "does not use condition 3"),
        ("1 AND 2 AND 3 OR Id != null", "cannot read"),
    ],
)
def test_bad_logic_is_refused(logic, error):
    with pytest.raises(InvalidCriteria, match=error):
        parse_logic(logic, 3)


@pytest.mark.parametrize(
    "condition, message",
    [
        (
            {"field": "LastName = 1", "operator": "equals", "value": "x"},
            "Condition 1: “LastName = 1” is not a field name.",
        ),
        (
            {"field": "NoSuchField__c", "operator": "equals", "value": "x"},
            "Condition 1: Contact has no field “NoSuchField__c”.",
        ),
        (
            {"field": "LastName", "operator": "DROP", "value": "x"},
            "Condition 1: unknown operator “DROP”.",
        ),
        (
            {"field": "HasOptedOutOfEmail", "operator": "equals", "value": "maybe"},
            "Email Opt Out is true or false, not “maybe”.",
        ),
    ],
)
def test_refusals_quote_the_value_plainly(sf_gateway, condition, message):
    with pytest.raises(InvalidCriteria) as refused:
        parse([condition], "", sf_gateway.describe, "Contact")
    assert str(refused.value) == message
    assert "'" not in str(refused.value)


@pytest.mark.parametrize(
    "logic, message",
    [
        ("1 AND 2 AND 3; DELETE", "Custom logic: cannot read “; DELETE”."),
        ("1 AND 2 AND 3 ) 1", "Custom logic: unexpected “) 1”."),
        ("1 AND )", "Custom logic: unexpected “)”."),
    ],
)
def test_logic_refusals_quote_the_text_plainly(logic, message):
    with pytest.raises(InvalidCriteria) as refused:
        parse_logic(logic, 3)
    assert str(refused.value) == message
