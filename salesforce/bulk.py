"""Bulk API 2.0 ingest jobs for the gateway's large write sets.

Why a thin helper rather than simple-salesforce's ``bulk2``: bulk2 polls in a loop of its own
(no heartbeat, no way to stop it when a run is cancelled), returns the result CSVs without
relating them to the records sent, and turns ``None`` into an empty cell, which Bulk API
reads as "leave the field unchanged". Here each job is created, uploaded and closed through
the gateway's own calls (its session, refresh and guard), polled with growing pauses under a
deadline, aborted when the run stops waiting, and its result rows are mapped back to the
records sent, in their order, as the same ``RecordResult``s sObject Collections give.

Result CSVs are not promised in input order (successful and failed rows come in separate
files), so each row is matched by the cells it echoes: Salesforce returns the uploaded
columns as they were sent. A row whose cells match no record sent is matched by its key
(``Id`` for update and delete, the external id for an upsert).
"""

import csv
import io
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from . import errors

if TYPE_CHECKING:
    from .gateway import RecordError, RecordResult, SalesforceGateway

log = logging.getLogger(__name__)

NULL = "#N/A"  # Bulk API's "set this field to null"; an empty cell leaves it unchanged
JOB_RECORDS = 100_000  # records per job: well under the 100 MB a job's CSV may hold
FIRST_POLL = 0.2  # seconds before the first look at a job; pauses then grow to MAX_POLL
MAX_POLL = 10.0
TERMINAL = ("JobComplete", "Failed", "Aborted")


def cell(value: Any) -> str:
    """A record's value as Bulk API reads a CSV cell."""
    if value is None or value == "":
        return NULL  # a collection call nulls the field for both
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def to_csv(records: list[dict]) -> tuple[list[str], list[tuple[str, ...]], str]:
    """The columns (every key of any record, first seen first), each record's cells, and the
    CSV text. A key a record lacks is an empty cell: left unchanged, as a collection call
    leaves a field it is not given."""
    columns: dict[str, None] = {}
    for record in records:
        columns.update(dict.fromkeys(k for k in record if k != "attributes"))
    header = list(columns)
    rows = [tuple(cell(r[c]) if c in r else "" for c in header) for r in records]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return header, rows, out.getvalue()


def parse_error(text: str) -> "list[RecordError]":
    """sf__Error, "CODE:message:fields --" (one or more, each ending " --"), as errors."""
    from .gateway import RecordError

    found = []
    for part in text.split(" --"):
        part = part.strip().lstrip(";").strip()
        if not part:
            continue
        code, _, rest = part.partition(":")
        message, _, fields = rest.rpartition(":")
        if not message:  # no fields part at all
            message, fields = rest, ""
        found.append(
            RecordError(
                status_code=code.strip(),
                message=message.strip(),
                fields=tuple(f for f in fields.split(",") if f),
            )
        )
    return found or [RecordError(status_code="UNKNOWN_EXCEPTION", message=text)]


class Job:
    """One ingest job of the gateway: create, upload, close; then ``wait`` and ``results``."""

    def __init__(
        self,
        gateway: "SalesforceGateway",
        sobject: str,
        operation: str,
        records: list[dict],
    ) -> None:
        self.gateway = gateway
        self.sobject = sobject
        self.operation = operation  # create, update, delete, upsert:<field>
        self.records = records
        self.key = operation.removeprefix("upsert:") if operation.startswith("upsert:") else "Id"
        self.header, self.rows, self.data = to_csv(records)
        self.id = ""
        self.done = False  # ended (complete, failed or aborted): nothing to abort

    # -- the calls --------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.gateway.raw(method, f"jobs/ingest/{path}".rstrip("/"), **kwargs)

    def start(self) -> None:
        body = {"object": self.sobject, "contentType": "CSV", "lineEnding": "LF"}
        body["operation"] = "insert" if self.operation == "create" else self.operation
        if self.operation.startswith("upsert:"):
            body.update(operation="upsert", externalIdFieldName=self.key)
        self.gateway.before_write()
        self.id = self._request("POST", "", json=body).json()["id"]
        self._request(
            "PUT",
            f"{self.id}/batches",
            data=self.data.encode(),
            headers={"Content-Type": "text/csv"},
        )
        self._request("PATCH", self.id, json={"state": "UploadComplete"})

    def abort(self) -> None:
        """Stop the job if Salesforce still has work to do for it (best effort)."""
        if not self.id:
            return
        try:
            self._request("PATCH", self.id, json={"state": "Aborted"})
        except errors.SalesforceError as exc:
            # Already finished, or Salesforce unreachable: the rows stay pending either way,
            # and the error that made the run stop waiting is the one it reports.
            log.warning("Bulk API job %s could not be aborted: %s", self.id, exc)

    def wait(self, keep_waiting: Callable[[], None] | None, timeout: float) -> None:
        """Poll until the job ends: growing pauses, ``keep_waiting`` between polls (it raises
        to stop: a cancelled run), and a deadline. A job that failed or was aborted as a whole
        raises BulkJobError; so does the deadline (the job is aborted first)."""
        deadline = time.monotonic() + timeout
        pause = FIRST_POLL
        while True:
            time.sleep(pause)
            if keep_waiting is not None:
                keep_waiting()
            info = self._request("GET", self.id).json()
            state = info.get("state")
            self.done = state in TERMINAL
            if state == "JobComplete":
                return
            if state in ("Failed", "Aborted"):
                reason = info.get("errorMessage") or state.lower()
                raise errors.BulkJobError(
                    f"Salesforce did not process a Bulk API job of {len(self.records):,} "
                    f"{self.sobject} records ({reason}); they are written at the next run"
                )
            if time.monotonic() > deadline:
                self.abort()
                raise errors.BulkJobError(
                    f"A Bulk API job of {len(self.records):,} {self.sobject} records did not "
                    f"finish within {timeout / 60:.0f} minutes; they are written at the next run"
                )
            pause = min(pause * 1.5, MAX_POLL)

    def results(self) -> "list[RecordResult]":
        """Every record's outcome, in the order the records were sent."""
        from .gateway import RecordResult

        by_cells: dict[tuple[str, ...], deque[int]] = defaultdict(deque)
        by_key: dict[str, deque[int]] = defaultdict(deque)
        position = self.header.index(self.key) if self.key in self.header else None
        for index, cells in enumerate(self.rows):
            by_cells[cells].append(index)
            if position is not None:
                by_key[cells[position]].append(index)
        answered: list[RecordResult | None] = [None] * len(self.records)

        def place(cells: tuple[str, ...]) -> int | None:
            """The record a result row answers: by its echoed cells, else by its key."""
            for queue in (by_cells.get(cells), by_key.get(_at(cells, position))):
                while queue:
                    index = queue.popleft()
                    if answered[index] is None:
                        return index
            return None

        upsert = self.operation.startswith("upsert:")
        for row in self._rows("successfulResults"):
            at = place(tuple(row[2:]))
            if at is not None:
                answered[at] = RecordResult(
                    record=self._record(at),
                    success=True,
                    id=row[0] or None,
                    created=(row[1] == "true") if upsert else None,
                    operation=self.operation,
                )
        for row in self._rows("failedResults"):
            at = place(tuple(row[2:]))
            if at is not None:
                answered[at] = RecordResult(
                    record=self._record(at),
                    success=False,
                    id=row[0] or None,
                    errors=tuple(parse_error(row[1])),
                    operation=self.operation,
                )
        return [
            result if result is not None else _unanswered(self._record(i), self.operation)
            for i, result in enumerate(answered)
        ]

    def _record(self, index: int) -> dict:
        return {k: v for k, v in self.records[index].items() if k != "attributes"}

    def _rows(self, kind: str) -> Iterable[list[str]]:
        text = self._request("GET", f"{self.id}/{kind}").text
        reader = csv.reader(io.StringIO(text))
        next(reader, None)  # the header
        return reader


def _at(cells: tuple[str, ...], position: int | None) -> str:
    if position is None or position >= len(cells):
        return ""
    return cells[position]


def _unanswered(record: dict, operation: str) -> "RecordResult":
    """A record the job's results do not mention: a failure, so it is reported and can be
    retried rather than taken for written."""
    from .gateway import RecordError, RecordResult

    return RecordResult(
        record=record,
        success=False,
        operation=operation,
        errors=(
            RecordError(
                status_code="UNKNOWN_EXCEPTION",
                message="Salesforce's Bulk API job results did not mention this record",
            ),
        ),
    )


def jobs_of(records: list[dict], sobject: str) -> Iterable[list[int]]:
    """The records' indices split into jobs. CampaignMember rows are grouped by campaign
    (gotcha 11: members of one campaign written in parallel meet UNABLE_TO_LOCK_ROW), so
    Salesforce's 10,000-row internal batches each touch few campaigns."""
    order = list(range(len(records)))
    if sobject == "CampaignMember":
        order.sort(key=lambda i: str(records[i].get("CampaignId") or ""))
    for start in range(0, len(order), JOB_RECORDS):
        yield order[start : start + JOB_RECORDS]
