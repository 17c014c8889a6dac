"""CSV exports of the messages and the audit log: the rows of the current filter and search,
all pages, streamed so a large log never sits in memory whole."""

import csv
import json
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse
from django.utils.text import capfirst

from .audit import AREAS, change_rows

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> object:
    """The value as a spreadsheet shows it without running it: text that would start a
    formula gets a leading quote. Numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class _Echo:
    """A file-like object for csv.writer that hands each line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def csv_response(filename: str, header: list[str], rows: Iterable[list]) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([safe_cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


MESSAGE_HEADER = [
    "When",
    "Severity",
    "Code",
    "Summary",
    "Client",
    "Run",
    "Upstream message",
    "Can be retried",
    "Record",
]


def message_rows(messages) -> Iterator[list]:
    for m in messages.iterator(chunk_size=500):
        yield [
            m.created_at.isoformat(),
            m.get_severity_display(),
            m.code,
            m.summary,
            m.client_id,
            m.run_id,
            m.upstream_message,
            "yes" if m.retryable else "no",
            json.dumps(m.record, sort_keys=True) if m.record else "",
        ]


AUDIT_HEADER = ["When", "Who", "From", "Area", "Change"]


def audit_change(entry) -> str:
    """The entry's change in one line, as the Maintenance tab shows it."""
    data = entry.additional_data or {}
    if data.get("action"):
        return data["action"]
    what = f"{capfirst(entry.get_action_display())} {entry.object_repr}"
    if entry.action != entry.Action.UPDATE:
        return what
    fields = [
        f"{capfirst(row['field'])}: {row['text']}"
        if "text" in row
        else f"{capfirst(row['field'])}: {row['old']} → {row['new']}"
        for row in change_rows(entry)
    ]
    return "; ".join([what, *fields])


def audit_rows(entries) -> Iterator[list]:
    for entry in entries.iterator(chunk_size=500):
        yield [
            entry.timestamp.isoformat(),
            entry.actor.get_username() if entry.actor else "system",
            entry.remote_addr or "",
            AREAS.get((entry.additional_data or {}).get("area") or "", ""),
            audit_change(entry),
        ]
