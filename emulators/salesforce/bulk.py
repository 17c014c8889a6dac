"""Bulk API 2.0 ingest jobs: /services/data/vXX.X/jobs/ingest, as simple-salesforce's bulk2
drives them (query jobs: bulk_query.py).

A job is created Open (POST jobs/ingest), takes CSV uploads (PUT jobs/ingest/{id}/batches,
201), is closed (PATCH {"state": "UploadComplete"}) or aborted (PATCH {"state": "Aborted"}),
and is then processed asynchronously by one background thread per org, jobs in the order
they were closed: UploadComplete -> InProgress -> JobComplete (or Failed, or Aborted when
aborted while processing). Callers poll GET jobs/ingest/{id} and read successfulResults
("sf__Id","sf__Created",<columns>), failedResults ("sf__Id","sf__Error",<columns>) and
unprocessedrecords (<columns>); DELETE removes a job; GET jobs/ingest lists them.

Rows are written through exactly the collections' per-record path (sobject_collections.run
over the same operations), 200 rows per transaction, as the user who created the job: object
and field security, required fields, types and lengths, validation rules, duplicate rules,
converted leads and upserts by external id fail a row with the code and message a collection
record gets, written "CODE:message:fields --" in sf__Error (the realistic sample). What Bulk
API 2.0 does differently, and the emulator with it:
- a CSV column the user cannot see or that does not exist fails the whole job
  ("InvalidBatch : Field name not found : X", nothing processed, every row unprocessed),
  where a collection call answers 400;
- an empty cell leaves the field unchanged and "#N/A" sets it to null (Prepare CSV Files);
- a value of the wrong type fails its row with INVALID_TYPE_ON_FIELD_IN_RECORD, where a
  collection call fails whole with JSON_PARSER_ERROR;
- there is no Sforce-Duplicate-Rule-Header: the header is documented for the REST API's
  create, update and upsert, not for Bulk API 2.0 jobs, so an alert duplicate rule refuses a
  Bulk row with DUPLICATES_DETECTED just as a REST write without allowSave=true;
- a value of the upsert's external id twice in one job fails both rows with
  DUPLICATE_EXTERNAL_ID, over the whole job (collections: over the call).

Sources: Salesforce's Bulk API 2.0 and Bulk API Developer Guide (Create a Job; Upload Job
Data: "Returns a status code of 201 (Created)", "CSV data that does not in total exceed 150
MB of base64 encoded content"; Upload Complete; Get Information About an Ingest Job; Get All
Jobs: done, records, nextRecordsUrl, jobType V2Ingest; Get Job Successful/Failed/Unprocessed
Record Results: sf__Id, sf__Created, sf__Error, "Fields from the original CSV request data";
Job States: Open, UploadComplete, InProgress, JobComplete, Failed, Aborted; Delete a Job),
the Limits pages (150,000,000 records per 24 h, 15,000 batches per 24 h shared with Bulk API
1.0, counted as DailyBulkApiBatches in /limits, only ingest jobs consume batches; Salesforce
splits a job's data into 10,000-record batches) and the job and result samples in the
reference (ingest_job_info_complete_full.json, ingest_job_failed.json, failedResults_*.csv).

Simplified (see the package docstring's deviations): no multipart job creation, no
assignmentRuleId, no relationship columns ("Account.External__c"), no job list paging
(every job in one page), hardDelete deletes to the recycle bin like delete, jobs are never
cleaned up after 7 days, results of a job being processed show the rows processed so far,
and the error wordings for a wrong state, a bad job definition, a malformed CSV and an
oversized upload are the emulator's.

Faults, for cmsync's retry path (control surface, default off): "bulk_unable_to_lock_row"
fails the next N rows processed with UNABLE_TO_LOCK_ROW, "bulk_job_failed" fails the next
N jobs as a whole when their processing starts (state Failed, every row unprocessed); both
may be pinned to a job by path "/jobs/ingest/<id>". Jobs, uploads and results live in the
org's SQLite store (tables _bulk_job, _bulk_upload, _bulk_result), so whatever clears the
store clears them.
"""

import csv
import io
import json
import math
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from emulators.salesforce import ids
from emulators.salesforce import sobject_collections as collections
from emulators.salesforce.dml import Actor
from emulators.salesforce.errors import SfError, not_found
from emulators.salesforce.schema import SObject
from emulators.salesforce.wire import Reply, Request

if TYPE_CHECKING:
    from emulators.salesforce.org import Org

OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
DELIMITERS = {
    "BACKQUOTE": "`",
    "CARET": "^",
    "COMMA": ",",
    "PIPE": "|",
    "SEMICOLON": ";",
    "TAB": "\t",
}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
MAX_UPLOAD_BASE64 = 150 * 1024 * 1024  # "150 MB of base64 encoded content"
CHUNK = 200  # rows per transaction: triggers and validation run per 200 records
BATCH = 10_000  # rows per internal batch, each counted against DailyBulkApiBatches
TERMINAL = ("JobComplete", "Failed", "Aborted")
NULL = "#N/A"
RESULT_KINDS = {
    "successfulresults": "successful",
    "failedresults": "failed",
    "unprocessedrecords": "unprocessed",
}
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS _bulk_job (seq INTEGER PRIMARY KEY, id TEXT UNIQUE, "
    "info TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS _bulk_upload (seq INTEGER PRIMARY KEY, job_id TEXT, "
    "data TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_bulk_upload_job ON _bulk_upload(job_id)",
    "CREATE TABLE IF NOT EXISTS _bulk_result (job_id TEXT, row INTEGER, ok INTEGER, "
    "sf_id TEXT, created INTEGER, error TEXT, cells TEXT, PRIMARY KEY (job_id, row))",
)


class JobFailed(Exception):
    """The job cannot be processed at all: it ends Failed with this errorMessage."""


def invalid_state(message: str) -> SfError:
    return SfError("INVALIDJOBSTATE", message)


def invalid_job(message: str) -> SfError:
    return SfError("INVALIDJOB", f"InvalidJob : {message}")


class JobQueue:
    """One background thread running an org's jobs of one kind, in the order queued: what
    ingest jobs (``BulkJobs``) and query jobs (``bulk_query.QueryJobs``) share. A subclass
    names its thread and does one job in ``_process``; a job that raises fails (``_fail``)
    rather than the thread."""

    thread_name = "salesforce-emulator-bulk"

    def __init__(self) -> None:
        self._queue: deque[str] = deque()
        self._ready = threading.Condition()
        self._busy = False
        self._closing = False
        self._thread: threading.Thread | None = None
        self.paused = False

    def _process(self, job_id: str) -> None:
        raise NotImplementedError

    def _fail(self, job_id: str, message: str) -> None:
        raise NotImplementedError

    def _enqueue(self, job_id: str) -> None:
        with self._ready:
            self._queue.append(job_id)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name=self.thread_name, daemon=True
                )
                self._thread.start()
            self._ready.notify_all()

    def set_paused(self, paused: bool) -> None:
        with self._ready:
            self.paused = paused
            self._ready.notify_all()

    def idle(self) -> bool:
        with self._ready:
            return not self._queue and not self._busy

    def wait(self, timeout: float) -> bool:
        """Wait until no job is queued or being processed (False on timeout or pause)."""
        deadline = time.monotonic() + timeout
        with self._ready:
            while self._queue or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.paused and not self._busy):
                    return False
                self._ready.wait(min(remaining, 0.05))
            return True

    def close(self) -> None:
        with self._ready:
            self._closing = True
            self._ready.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._closing and (self.paused or not self._queue):
                    self._ready.wait()
                if self._closing:
                    return
                job_id = self._queue.popleft()
                self._busy = True
            try:
                self._process(job_id)
            except Exception:  # an emulator bug: the job fails rather than the thread
                traceback.print_exc(file=sys.stderr)
                self._fail(job_id, "InternalServerError : The Salesforce emulator failed")
            finally:
                with self._ready:
                    self._busy = False
                    self._ready.notify_all()


class BulkJobs(JobQueue):
    """The org's ingest jobs and the thread that processes them."""

    def __init__(self, org: "Org") -> None:
        super().__init__()
        self.org = org
        self.store = org.store
        for statement in SCHEMA:
            self.store.execute(statement)
        self.chunk_delay = 0.0  # seconds between chunks, to watch a job InProgress
        self.stats = {"jobs_processed": 0, "records_processed": 0, "records_failed": 0}
        for job in self.all_jobs():  # reopened data_dir: finish what was queued
            if job["state"] in ("UploadComplete", "InProgress"):
                self._enqueue(job["id"])

    # -- storage -----------------------------------------------------------------------------

    def job(self, job_id: str) -> dict[str, Any]:
        normal = ids.normalize(job_id) or job_id
        found = self.store.rows("SELECT info FROM _bulk_job WHERE id = ?", (normal,))
        if not found:
            raise not_found()
        return json.loads(found[0][0])

    def save(self, job: dict[str, Any]) -> None:
        job["systemModstamp"] = self.org.clock.stamp()
        self.store.execute(
            "UPDATE _bulk_job SET info = ? WHERE id = ?", (json.dumps(job), job["id"])
        )

    def all_jobs(self) -> list[dict[str, Any]]:
        return [json.loads(row[0]) for row in self.store.rows("SELECT info FROM _bulk_job")]

    # -- the API -----------------------------------------------------------------------------

    def create(self, request: Request, user_id: str, access: Any) -> dict[str, Any]:
        body = request.json()
        if not isinstance(body, dict):
            raise SfError("JSON_PARSER_ERROR", "Expected a JSON object for the job")
        operation = body.get("operation")
        if operation not in OPERATIONS:
            raise invalid_job(f"Invalid operation: {operation}")
        name = body.get("object")
        obj = self.org.registry.get(name) if isinstance(name, str) else None
        if obj is None or not access.can(obj, "read"):
            raise invalid_job(f"Unable to find object: {name}")
        if body.get("contentType", "CSV") != "CSV":
            raise invalid_job(f"Invalid contentType: {body.get('contentType')}")
        delimiter = body.get("columnDelimiter", "COMMA")
        if delimiter not in DELIMITERS:
            raise invalid_job(f"Invalid columnDelimiter: {delimiter}")
        line_ending = body.get("lineEnding", "LF")
        if line_ending not in LINE_ENDINGS:
            raise invalid_job(f"Invalid lineEnding: {line_ending}")
        external = body.get("externalIdFieldName")
        if operation == "upsert":
            if not external:
                raise invalid_job("External ID was blank for upsert: externalIdFieldName")
            actor = Actor(user_id, access=access)
            external = collections.external_field(obj, str(external), actor).name
        job_id = self.org.ids.new("750")
        now = self.org.clock.stamp()
        job: dict[str, Any] = {
            "id": job_id,
            "operation": operation,
            "object": obj.name,
            "createdById": user_id,
            "createdDate": now,
            "systemModstamp": now,
            "state": "Open",
            **({"externalIdFieldName": external} if operation == "upsert" else {}),
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(request.version),
            "contentUrl": f"services/data/v{request.version}/jobs/ingest/{job_id}/batches",
            "lineEnding": line_ending,
            "columnDelimiter": delimiter,
            "jobType": "V2Ingest",
            "numberRecordsProcessed": 0,
            "numberRecordsFailed": 0,
            "retries": 0,
            "totalProcessingTime": 0,
            "apiActiveProcessingTime": 0,
            "apexProcessingTime": 0,
        }
        self.store.execute(
            "INSERT INTO _bulk_job (id, info) VALUES (?, ?)", (job_id, json.dumps(job))
        )
        return opened(job)

    def upload(self, job_id: str, body: bytes) -> None:
        job = self.job(job_id)
        if job["state"] != "Open":
            raise invalid_state(f"Job {job['id']} is not Open: its state is {job['state']}")
        if math.ceil(len(body) / 3) * 4 > MAX_UPLOAD_BASE64:
            raise SfError(
                "ClientInputError",
                f"Failed to read request. Exceeded max size limit of {MAX_UPLOAD_BASE64}",
                status=400,
            )
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise SfError("ClientInputError", "The CSV data is not valid UTF-8") from error
        self.store.execute(
            "INSERT INTO _bulk_upload (job_id, data) VALUES (?, ?)", (job["id"], text)
        )

    def set_state(self, job_id: str, body: Any) -> dict[str, Any]:
        state = body.get("state") if isinstance(body, dict) else None
        with self.store.lock:
            job = self.job(job_id)
            current = job["state"]
            allowed = {
                "UploadComplete": ("Open",),
                "Aborted": ("Open", "UploadComplete", "InProgress"),
            }
            if state not in allowed:
                raise invalid_state(f"Invalid state: {state}")
            if current not in allowed[state]:
                raise invalid_state(f"Found invalid state transition from {current} to {state}")
            job["state"] = state
            self.save(job)
        if state == "UploadComplete":
            self._enqueue(job["id"])
        return opened(job)

    def delete(self, job_id: str) -> None:
        with self.store.lock:
            job = self.job(job_id)
            if job["state"] in ("Open", "InProgress"):
                raise invalid_state(f"Job {job['id']} can't be deleted in state {job['state']}")
            for table in ("_bulk_result", "_bulk_upload"):
                self.store.execute(f"DELETE FROM {table} WHERE job_id = ?", (job["id"],))
            self.store.execute("DELETE FROM _bulk_job WHERE id = ?", (job["id"],))

    def results(self, job_id: str, kind: str) -> str:
        job = self.job(job_id)
        if job["state"] in ("Open", "UploadComplete"):
            raise invalid_state(f"Job {job['id']} has not been processed: {job['state']}")
        header = self._header(job)
        out = io.StringIO()
        writer = csv.writer(
            out,
            delimiter=DELIMITERS[job["columnDelimiter"]],
            lineterminator=LINE_ENDINGS[job["lineEnding"]],
            quoting=csv.QUOTE_ALL,
        )
        if kind == "unprocessed":
            writer.writerow(header)
            done = {
                row[0]
                for row in self.store.rows(
                    "SELECT row FROM _bulk_result WHERE job_id = ?", (job["id"],)
                )
            }
            for index, cells in enumerate(self._rows(job)):
                if index not in done:
                    writer.writerow(cells)
            return out.getvalue()
        ok = kind == "successful"
        writer.writerow(["sf__Id", "sf__Created" if ok else "sf__Error", *header])
        for sf_id, created, error, cells in self.store.rows(
            "SELECT sf_id, created, error, cells FROM _bulk_result WHERE job_id = ? AND ok = ? "
            "ORDER BY row",
            (job["id"], int(ok)),
        ):
            second = ("true" if created else "false") if ok else error
            writer.writerow([sf_id or "", second, *json.loads(cells)])
        return out.getvalue()

    def _fail(self, job_id: str, message: str) -> None:
        with self.store.lock:
            job = self.job(job_id)
            job.update(state="Failed", errorMessage=message)
            self.save(job)

    def _process(self, job_id: str) -> None:
        started = time.monotonic()
        with self.store.lock:
            job = self.job(job_id)
            if job["state"] != "UploadComplete":
                return  # aborted while queued
            job["state"] = "InProgress"
            self.save(job)
        path = f"/jobs/ingest/{job_id}"
        if self.org.faults.take("bulk_job_failed", path):
            self._fail(job_id, "InternalServerError : Job failed (injected by the emulator)")
            return
        try:
            header, rows = self._check(job)
        except JobFailed as error:
            self._fail(job_id, str(error))
            return
        with self.store.lock:
            job = self.job(job_id)
            job["columns"] = header  # kept for the results; never shown
            self.save(job)
        self.org.limits.spend_bulk_batches(math.ceil(rows / BATCH))
        obj = self.org.registry.get(job["object"])
        if obj is None:
            self._fail(job_id, f"InvalidJob : Unable to find object: {job['object']}")
            return
        actor = Actor(job["createdById"], access=self.org.security.access(job["createdById"]))
        seen = self._external_counts(job, obj, actor)
        chunk: list[tuple[int, list[str]]] = []
        for index, cells in enumerate(self._rows(job)):
            chunk.append((index, cells))
            if len(chunk) == CHUNK:
                if not self._run_chunk(job, obj, actor, seen, chunk, path):
                    return
                chunk = []
        if chunk and not self._run_chunk(job, obj, actor, seen, chunk, path):
            return
        with self.store.lock:
            job = self.job(job_id)
            if job["state"] == "InProgress":
                elapsed = int((time.monotonic() - started) * 1000)
                job.update(
                    state="JobComplete",
                    totalProcessingTime=elapsed,
                    apiActiveProcessingTime=elapsed,
                )
                self.save(job)
                self.stats["jobs_processed"] += 1

    def _run_chunk(
        self,
        job: dict[str, Any],
        obj: SObject,
        actor: Actor,
        seen: dict[str, int] | None,
        chunk: list[tuple[int, list[str]]],
        path: str,
    ) -> bool:
        """Write one chunk of rows; False once the job was aborted (the rest stay
        unprocessed)."""
        if self.chunk_delay:
            time.sleep(self.chunk_delay)
        with self.store.lock:
            current = self.job(job["id"])
            header = self._header(current)
            if current["state"] != "InProgress":
                return False
            records, refused = [], {}
            for position, (_, cells) in enumerate(chunk):
                try:
                    records.append(self._record(obj, header, cells, job["operation"], actor))
                except SfError as error:
                    refused[position] = error
                    records.append({"attributes": {"type": obj.name}})
            operations = self._operations(job, obj, records, actor, seen)
            operations = [
                (known, _refuse(refused[n])) if n in refused else (known, op)
                for n, (known, op) in enumerate(operations)
            ]
            locked = frozenset(
                n
                for n in range(len(chunk))
                if self.org.faults.take("bulk_unable_to_lock_row", path)
            )
            results = collections.run(
                self.store, operations, all_or_none=False, locked_rows=locked, contained=True
            )
            rows = [
                _result_row(job, index, cells, result)
                for (index, cells), result in zip(chunk, results, strict=True)
            ]
            self.store.execute_many(
                "INSERT OR REPLACE INTO _bulk_result "
                "(job_id, row, ok, sf_id, created, error, cells) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            failed = sum(1 for row in rows if not row[2])
            current["numberRecordsProcessed"] += len(rows)
            current["numberRecordsFailed"] += failed
            self.save(current)
            self.stats["records_processed"] += len(rows)
            self.stats["records_failed"] += failed
        return True

    def _operations(
        self,
        job: dict[str, Any],
        obj: SObject,
        records: list[dict[str, Any]],
        actor: Actor,
        seen: dict[str, int] | None,
    ) -> list[collections.Operation]:
        engine, operation = self.org.engine, job["operation"]
        if operation == "insert":
            return collections.create_ops(engine, records, actor)
        if operation == "update":
            return collections.update_ops(engine, records, actor)
        if operation == "upsert":
            field_name = job["externalIdFieldName"]
            return collections.upsert_ops(engine, obj, field_name, records, actor, seen)
        record_ids = [str(r.get("Id") or "") for r in records]
        return collections.delete_ops(engine, record_ids, actor)

    def _external_counts(
        self, job: dict[str, Any], obj: SObject, actor: Actor
    ) -> dict[str, int] | None:
        """The external id values of an upsert job, counted over all its rows."""
        if job["operation"] != "upsert":
            return None
        f = collections.external_field(obj, job["externalIdFieldName"], actor)
        header = [name.lower() for name in self._header(job)]
        column = header.index(f.name.lower()) if f.name.lower() in header else None
        seen: dict[str, int] = {}
        if column is None:
            return seen
        values = (cells[column] for cells in self._rows(job))
        return collections.count_keys(f, [v for v in values if v not in ("", NULL)], seen)

    # -- CSV ---------------------------------------------------------------------------------

    def _uploads(self, job: dict[str, Any]) -> Iterator[str]:
        for (seq,) in self.store.rows(
            "SELECT seq FROM _bulk_upload WHERE job_id = ? ORDER BY seq", (job["id"],)
        ):
            yield self.store.rows("SELECT data FROM _bulk_upload WHERE seq = ?", (seq,))[0][0]

    def _reader(self, job: dict[str, Any], text: str) -> Iterator[list[str]]:
        return csv.reader(
            io.StringIO(text, newline=""),
            delimiter=DELIMITERS[job["columnDelimiter"]],
            strict=True,
        )

    def _header(self, job: dict[str, Any]) -> list[str]:
        if "columns" in job:
            return job["columns"]
        for text in self._uploads(job):
            return next(iter(self._reader(job, text)), [])
        return []

    def _rows(self, job: dict[str, Any]) -> Iterator[list[str]]:
        for text in self._uploads(job):
            reader = iter(self._reader(job, text))
            next(reader, None)
            yield from (cells for cells in reader if cells)

    def _check(self, job: dict[str, Any]) -> tuple[list[str], int]:
        """Read the whole job's data once: its line endings, header and row lengths. The
        header and the number of rows, or JobFailed."""
        header: list[str] | None = None
        rows = 0
        for text in self._uploads(job):
            crlf = text.count("\r\n")
            if (job["lineEnding"] == "LF" and crlf) or (
                job["lineEnding"] == "CRLF" and text.count("\n") != crlf
            ):
                raise JobFailed(
                    "ClientInputError : LineEnding is invalid on user data. Current LineEnding "
                    f"setting is {job['lineEnding']}"
                )
            reader = iter(self._reader(job, text))
            try:
                first = next(reader, [])
                if header is None:
                    header = first
                    self._check_header(job, header)
                elif [h.lower() for h in first] != [h.lower() for h in header]:
                    raise JobFailed("InvalidBatch : The uploads of a job must have one header")
                for number, cells in enumerate(reader, start=2):
                    if cells and len(cells) != len(header):
                        raise JobFailed(
                            f"InvalidBatch : Wrong number of columns in row {number}: "
                            f"{len(cells)} instead of {len(header)}"
                        )
                    rows += bool(cells)
            except csv.Error as error:
                raise JobFailed(f"InvalidBatch : Failed to parse the CSV data: {error}") from error
        if header is None:
            raise JobFailed("InvalidBatch : No data was uploaded for this job")
        return header, rows

    def _check_header(self, job: dict[str, Any], header: list[str]) -> None:
        obj = self.org.registry.get(job["object"])
        access = self.org.security.access(job["createdById"])
        if obj is None:
            raise JobFailed(f"InvalidJob : Unable to find object: {job['object']}")
        if job["operation"] in ("delete", "hardDelete") and [h.lower() for h in header] != ["id"]:
            raise JobFailed(
                f"InvalidBatch : The '{job['operation']}' batch must contain only the Id column"
            )
        for name in header:
            f = obj.field(name.strip())
            if f is None or not access.sees(obj, f):
                raise JobFailed(f"InvalidBatch : Field name not found : {name}")

    def _record(
        self, obj: SObject, header: list[str], cells: list[str], operation: str, actor: Actor
    ) -> dict[str, Any]:
        """A row as the record a collection call would carry; a value of the wrong type
        refuses the row."""
        record: dict[str, Any] = {"attributes": {"type": obj.name}}
        for name, raw in zip(header, cells, strict=True):
            f = obj.field(name.strip())
            if f is None or raw == "":
                continue  # an empty cell leaves the field as it is
            if raw == NULL:
                record[f.name] = None
                continue
            if f.name != "Id" and operation not in ("delete", "hardDelete"):
                try:
                    self.org.engine.coerce(f, raw)
                except SfError as error:
                    if error.code != "JSON_PARSER_ERROR":
                        raise
                    raise SfError(
                        "INVALID_TYPE_ON_FIELD_IN_RECORD",
                        f"{f.label}: value not of required type: {raw}",
                        [f.name],
                    ) from error
            record[f.name] = raw
        return record


def opened(job: dict[str, Any]) -> dict[str, Any]:
    """The job as create and PATCH answer it (the samples' shape): no counters; contentUrl
    only while the job takes uploads."""
    keys = (
        "id operation object createdById createdDate systemModstamp state "
        "externalIdFieldName concurrencyMode contentType apiVersion contentUrl lineEnding "
        "columnDelimiter"
    ).split()
    shown = {key: job[key] for key in keys if key in job}
    if job["state"] != "Open":
        shown.pop("contentUrl", None)
    return shown


def info(job: dict[str, Any]) -> dict[str, Any]:
    """GET jobs/ingest/{id}: every field (ingest_job_info_complete_full.json)."""
    shown = {key: value for key, value in job.items() if key != "columns"}
    if job["state"] != "Open":
        shown.pop("contentUrl", None)
    return shown


def listed(job: dict[str, Any]) -> dict[str, Any]:
    """A job in GET jobs/ingest's records."""
    keys = (
        "id operation object createdById createdDate systemModstamp state "
        "externalIdFieldName concurrencyMode contentType apiVersion jobType contentUrl "
        "lineEnding columnDelimiter"
    ).split()
    shown = {key: job[key] for key in keys if key in job}
    if job["state"] != "Open":
        shown.pop("contentUrl", None)
    return shown


def sf_error(error: dict[str, Any]) -> str:
    """A collection error as Bulk API writes it in sf__Error: "CODE:message:fields --"."""
    fields = ",".join(error.get("fields") or [])
    return f"{error['statusCode']}:{error['message']}:{fields} --"


def _refuse(error: SfError) -> Any:
    def refuse() -> dict[str, Any]:
        raise error

    return refuse


def _result_row(
    job: dict[str, Any], index: int, cells: list[str], result: dict[str, Any]
) -> tuple[Any, ...]:
    """A row of _bulk_result: created is the upsert's answer, true for an insert."""
    row = (job["id"], index)
    if result["success"]:
        created = result.get("created", job["operation"] == "insert")
        return (*row, 1, result["id"], int(created), None, json.dumps(cells))
    error = sf_error(result["errors"][0])
    return (*row, 0, result.get("id"), 0, error, json.dumps(cells))


# -- REST handlers (rest.ROUTES) ---------------------------------------------------------------


def _version(request: Request) -> None:
    if float(request.version) < 41.0:
        raise not_found()


def create_job(org: "Org", request: Request) -> Reply:
    _version(request)
    user_access = org.security.access(request.user_id)
    return Reply(200, org.bulk.create(request, request.user_id, user_access))


def list_jobs(org: "Org", request: Request) -> Reply:
    _version(request)
    job_type = request.params.get("jobType")
    records = [listed(job) for job in org.bulk.all_jobs() if job_type in (None, "", job["jobType"])]
    return Reply(200, {"done": True, "records": records, "nextRecordsUrl": None})


def job_info(org: "Org", request: Request) -> Reply:
    _version(request)
    return Reply(200, info(org.bulk.job(request.groups["job"])))


def patch_job(org: "Org", request: Request) -> Reply:
    _version(request)
    return Reply(200, org.bulk.set_state(request.groups["job"], request.json()))


def delete_job(org: "Org", request: Request) -> Reply:
    _version(request)
    org.bulk.delete(request.groups["job"])
    return Reply(204)


def upload(org: "Org", request: Request) -> Reply:
    _version(request)
    org.bulk.upload(request.groups["job"], request.body)
    return Reply(201)


def results(org: "Org", request: Request) -> Reply:
    _version(request)
    kind = RESULT_KINDS.get(request.groups["kind"].lower())
    if kind is None:
        raise not_found()
    text = org.bulk.results(request.groups["job"], kind)
    return Reply(200, raw=text.encode(), content_type="text/csv")
