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
(``Id`` for update and delete, the external id for an upsert). A job that processed every
record and failed none needs no result file for an update or a delete (each record
succeeded, its Id is its own) and no failedResults for any operation: those calls are
skipped.

Waiting (``Pacer``): each look at a job is one API call, so a job is looked at when it should
be done, not at a fixed beat. The first look comes after the time the gateway's latest large
job took per record (FIRST_POLL before any, or for a small job); then, from the records the
job has processed since it was first seen moving, after the time its remaining records
should take (at least FIRST_POLL, at most MAX_POLL); with no progress yet, pauses grow by
half; with every record processed but the job not ended, the next look is soon. Between
looks ``keep_waiting`` is called every KEEP_WAITING_EVERY seconds (the run's heartbeat and
Cancel; no API call), so a long pause never hides a cancelled run.

``QueryJob`` is a Bulk API 2.0 query job for a large read: created with its SOQL, waited for
the same way, its CSV result pages (QUERY_PAGE records each) streamed row by row, never held
whole.
"""

import codecs
import csv
import io
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import requests

from . import errors

if TYPE_CHECKING:
    from .gateway import RecordError, RecordResult, SalesforceGateway

log = logging.getLogger(__name__)

NULL = "#N/A"  # Bulk API's "set this field to null"; an empty cell leaves it unchanged
JOB_RECORDS = 100_000  # records per job: well under the 100 MB a job's CSV may hold
FIRST_POLL = 0.2  # the shortest pause between two looks at a job (seconds)
MAX_POLL = 30.0  # the longest
LEARN_FROM = 1000  # records a job must be seen processing before its pace guides the next
KEEP_WAITING_EVERY = 1.0  # seconds between keep_waiting calls (no API call) while a job runs
QUERY_PAGE = 200_000  # records per result page of a query job
CHUNK_BYTES = 64 * 1024  # read from a result page at a time
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


class Pacer:
    """When to look at a job next (see the module docstring)."""

    def __init__(self, size: int, seconds_per_record: float | None) -> None:
        self.size = size
        self.guess = seconds_per_record  # what earlier jobs took per record
        self.started = time.monotonic()
        self.anchor: tuple[float, int] | None = None  # (when, processed) first seen moving
        self.finishing = False  # seen with every record processed, not yet ended
        first = size * seconds_per_record if seconds_per_record else FIRST_POLL
        self.pause = _bounded(first)

    def next(self, processed: int) -> float:
        """The pause after a look that found the job still running with ``processed``."""
        now = time.monotonic()
        per_record = None
        if 0 < processed < self.size:
            if self.anchor is None:
                self.anchor = (now, processed)
                # No rate of its own yet: earlier jobs', else this one's since it was made.
                per_record = self.guess or (now - self.started) / processed
            elif processed > self.anchor[1]:
                since, done = self.anchor
                per_record = (now - since) / (processed - done)
        if per_record is not None:
            self.pause = _bounded((self.size - processed) * per_record)
        elif processed >= self.size > 0 and not self.finishing:
            # Every record done (or more than expected, a query's rows having grown since
            # they were counted) but not ended yet: look again soon, then less often.
            self.finishing = True
            self.pause = FIRST_POLL
        else:
            self.pause = _bounded(self.pause * 1.5)
        return self.pause

    def seconds_per_record(self) -> float | None:
        """What this job took per record from when it was seen moving to its end, as the
        next job's first guess; None when too few records were seen being processed to say
        (a small job's time is mostly the fixed cost of a job, not its records)."""
        if self.anchor is None or self.size - self.anchor[1] < LEARN_FROM:
            return None
        since, done = self.anchor
        return (time.monotonic() - since) / (self.size - done)


def _bounded(seconds: float) -> float:
    return min(max(seconds, FIRST_POLL), MAX_POLL)


class _Polled:
    """What ingest and query jobs share: their calls, the wait and the abort."""

    kind = ""  # "ingest" or "query"

    def __init__(self, gateway: "SalesforceGateway", size: int, what: str) -> None:
        self.gateway = gateway
        self.size = size  # records expected
        self.what = what  # for messages: "8 Contact records"
        self.id = ""
        self.done = False  # ended (complete, failed or aborted): nothing to abort
        self.info: dict[str, Any] = {}

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.gateway.raw(method, f"jobs/{self.kind}/{path}".rstrip("/"), **kwargs)

    def abort(self) -> None:
        """Stop the job if Salesforce still has work to do for it (best effort)."""
        if not self.id or self.done:
            return
        try:
            self._request("PATCH", self.id, json={"state": "Aborted"})
        except errors.SalesforceError as exc:
            # Already finished, or Salesforce unreachable: the rows stay pending either way,
            # and the error that made the run stop waiting is the one it reports.
            log.warning("Bulk API job %s could not be aborted: %s", self.id, exc)

    def failed(self, reason: str) -> errors.BulkJobError:
        return errors.BulkJobError(f"Salesforce did not process a Bulk API job of {reason}")

    def late(self, timeout: float) -> errors.BulkJobError:
        return errors.BulkJobError(
            f"A Bulk API job of {self.what} did not finish within {timeout / 60:.0f} minutes"
        )

    def wait(self, keep_waiting: Callable[[], None] | None, timeout: float) -> None:
        """Look at the job when it should be done (``Pacer``) until it ends, calling
        ``keep_waiting`` in between (it raises to stop: a cancelled run), under a deadline.
        A job that failed or was aborted as a whole raises BulkJobError; so does the
        deadline (the job is aborted first)."""
        deadline = time.monotonic() + timeout
        pacer = Pacer(self.size, self.gateway.bulk_pace.get(self.kind))
        pause = pacer.pause
        while True:
            _pause(pause, keep_waiting)
            self.info = info = self._request("GET", self.id).json()
            state = info.get("state")
            self.done = state in TERMINAL
            if state == "JobComplete":
                learned = pacer.seconds_per_record()
                if learned is not None:
                    self.gateway.bulk_pace[self.kind] = learned
                return
            if state in ("Failed", "Aborted"):
                raise self.failed(f"{self.what} ({info.get('errorMessage') or state.lower()})")
            if time.monotonic() > deadline:
                self.abort()
                raise self.late(timeout)
            pause = pacer.next(int(info.get("numberRecordsProcessed") or 0))


def _pause(seconds: float, keep_waiting: Callable[[], None] | None) -> None:
    """Sleep ``seconds``, calling ``keep_waiting`` at least every KEEP_WAITING_EVERY."""
    end = time.monotonic() + seconds
    while True:
        if keep_waiting is not None:
            keep_waiting()
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, KEEP_WAITING_EVERY))


class Job(_Polled):
    """One ingest job of the gateway: create, upload, close; then ``wait`` and ``results``."""

    kind = "ingest"

    def __init__(
        self,
        gateway: "SalesforceGateway",
        sobject: str,
        operation: str,
        records: list[dict],
    ) -> None:
        super().__init__(gateway, len(records), f"{len(records):,} {sobject} records")
        self.sobject = sobject
        self.operation = operation  # create, update, delete, upsert:<field>
        self.records = records
        self.key = operation.removeprefix("upsert:") if operation.startswith("upsert:") else "Id"
        self.header, self.rows, self.data = to_csv(records)

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
        self.data = ""  # sent: the rows and records are what the results are matched with
        self._request("PATCH", self.id, json={"state": "UploadComplete"})

    def failed(self, reason: str) -> errors.BulkJobError:
        return errors.BulkJobError(
            f"Salesforce did not process a Bulk API job of {reason}; they are written at the "
            "next run"
        )

    def late(self, timeout: float) -> errors.BulkJobError:
        return errors.BulkJobError(
            f"A Bulk API job of {self.what} did not finish within {timeout / 60:.0f} minutes; "
            "they are written at the next run"
        )

    def _all_succeeded(self) -> bool:
        """The job processed every record and failed none (its own count says so)."""
        processed = int(self.info.get("numberRecordsProcessed") or 0)
        return processed == len(self.records) and not self.info.get("numberRecordsFailed")

    def results(self) -> "list[RecordResult]":
        """Every record's outcome, in the order the records were sent."""
        from .gateway import RecordResult

        clean = self._all_succeeded()
        if clean and self.operation in ("update", "delete"):
            return [
                RecordResult(
                    record=self._record(i),
                    success=True,
                    id=self.records[i].get("Id"),
                    operation=self.operation,
                )
                for i in range(len(self.records))
            ]
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
        for row in [] if clean else self._rows("failedResults"):
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


class QueryJob(_Polled):
    """A Bulk API 2.0 query job: ``start``, ``wait``, then ``rows`` (each a dict of the CSV's
    cells by column, "" for a null), page by page."""

    kind = "query"

    def __init__(
        self,
        gateway: "SalesforceGateway",
        soql: str,
        expected: int,
        what: str,
        include_deleted: bool = False,
    ) -> None:
        super().__init__(gateway, expected, what)
        self.soql = soql
        self.operation = "queryAll" if include_deleted else "query"

    def start(self) -> None:
        body = {
            "operation": self.operation,
            "query": self.soql,
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        }
        self.id = self._request("POST", "", json=body).json()["id"]

    def rows(self) -> Iterator[dict[str, str]]:
        locator = ""
        while True:
            params: dict[str, Any] = {"maxRecords": QUERY_PAGE}
            if locator:
                params["locator"] = locator
            answer = self._request(
                "GET",
                f"{self.id}/results",
                params=params,
                headers={"Accept": "text/csv"},
                stream=True,
            )
            with answer:
                yield from _csv_rows(answer)
                locator = answer.headers.get("Sforce-Locator", "")
            if not locator or locator == "null":
                return


def _csv_rows(answer: requests.Response) -> Iterator[dict[str, str]]:
    """A streamed CSV answer's rows, read as they arrive."""
    try:
        yield from csv.DictReader(_lines(answer.iter_content(CHUNK_BYTES)))
    except (requests.RequestException, OSError, csv.Error) as exc:  # dropped, or torn
        raise errors.NetworkError("Could not read a Bulk API query job's results") from exc


def _lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Text lines, line endings kept (a quoted value may hold one), from bytes as they come."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    rest = ""
    for chunk in chunks:
        rest += decoder.decode(chunk)
        lines = rest.splitlines(keepends=True)
        rest = lines.pop() if lines and not lines[-1].endswith(("\n", "\r")) else ""
        yield from lines
    rest += decoder.decode(b"", final=True)
    if rest:
        yield rest


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
