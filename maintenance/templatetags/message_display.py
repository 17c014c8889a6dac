"""A maintenance message as a user reads it: its step by the run page's name, its record
as a small table of fields and values (no Python reprs)."""

import json

from django import template

from sync.step_titles import step_title as title

register = template.Library()


@register.filter
def step_title(message) -> str:
    """ "Email opt-out" for the step "opt_out" of the message's run."""
    return title(message.step, message.run.kind if message.run_id else "")


def _plain(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


@register.filter
def record_rows(record) -> list[tuple[str, str]]:
    """(field, value) rows; a nested record (a Salesforce record's fields) is one level
    flattened ("fields · Email"), Salesforce's own "attributes" left out."""
    if not isinstance(record, dict):
        return [("Value", _plain(record))]
    rows = []
    for name, value in record.items():
        if name == "attributes":
            continue
        if isinstance(value, dict):
            rows += [
                (f"{name} · {sub}", _plain(v)) for sub, v in value.items() if sub != "attributes"
            ]
        else:
            rows.append((name, _plain(value)))
    return rows
