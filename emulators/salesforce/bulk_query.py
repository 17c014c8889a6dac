"""Bulk API 2.0 query jobs: /services/data/vXX.X/jobs/query, as simple-salesforce's bulk2
query drives them.

A job is created with its SOQL (POST jobs/query {"operation": "query" | "queryAll", "query",
"contentType"?: "CSV", "columnDelimiter"?, "lineEnding"?}) and starts UploadComplete; one
background thread per org runs the jobs in the order they were created: UploadComplete ->
InProgress -> JobComplete (or Failed, or Aborted by PATCH {"state": "Aborted"}). Callers
poll GET jobs/query/{id} (numberRecordsProcessed grows as the job runs) and then read the
rows with GET jobs/query/{id}/results?maxRecords=N[&locator=L]: CSV (every value quoted, a
null as an empty value, booleans true/false, datetimes ...T10:00:00.000Z, a parent's field
as "Account.Name"), with the headers Sforce-NumberOfRecords (rows in this page) and
Sforce-Locator (the next page's locator, "null" on the last page). DELETE removes a job and
its results; GET jobs/query lists them.

The query runs through the REST query's own engine (soql + query) as the user who created
the job, with the same object and field security: the SOQL is parsed and checked as that user
when the job is created, so an unknown or hidden object or field refuses the create with the
REST query's error (400 INVALID_TYPE / INVALID_FIELD "No such column ..."), and it is
planned again as that user when the job runs, so access taken away in between fails the job
(state Failed, errorMessage "INVALID_FIELD : No such column ..."). queryAll includes deleted
records, as /queryAll does. Bulk API 2.0 refuses, at create, what its query jobs do not
support: aggregate functions (COUNT()) and OFFSET (400 API_ERROR); LIMIT and ORDER BY work.

Sources: Salesforce's Bulk API 2.0 Developer Guide (Create a Query Job: operation, query,
contentType, columnDelimiter, lineEnding, state UploadComplete; Get Information About a
Query Job: jobType V2Query, numberRecordsProcessed, retries, totalProcessingTime; Abort,
Delete, Get Information About All Query Jobs; Get Results for a Query Job: locator,
maxRecords, Sforce-Locator "null" on the last set, Sforce-NumberOfRecords; Bulk API 2.0
query considerations: no GROUP BY, OFFSET, TYPEOF, aggregate functions or parent-to-child
subqueries; API version 47.0 and later), the limits (10,000 query jobs per 24 h as
DailyBulkV2QueryJobs, 1 TB of results as DailyBulkV2QueryFileStorageMB), simple-salesforce
1.12's bulk2.py (what it sends and reads) and the reference samples
(query_job_create_response.json, query_job_complete.json, query_results_page.txt).

Simplified (listed in the package docstring's deviations): one job runs at a time per org;
the rows are chosen when the job starts and written out as it runs (Salesforce's results are
also not one snapshot); no PK chunking (isPkChunkingSupported is not shown); results are
kept until the job is deleted (Salesforce: 7 days); a results call without maxRecords
answers at most DEFAULT_PAGE rows; the locator is the next row's offset in base64 (the form
Salesforce's locators take, e.g. "MTAwMDA"); the job limit refuses the create with 400
LIMIT_EXCEEDED "Max bulk v2 query jobs (10000) per 24 hrs has been reached (N)" and never
resets (no rolling 24 h); wordings of a wrong state, an unsupported query, a bad maxRecords
or locator, and of a job failed at processing are the emulator's.

Fault (control surface): "bulk_query_job_failed" fails the next N query jobs as a whole when
they start (state Failed), optionally pinned by path "/jobs/query/<id>". The org's pause and
chunk_delay (POST /_emulator/bulk) hold and slow query jobs as they do ingest jobs.
"""

import base64
import binascii
import csv
import io
import json
import time
from typing import TYPE_CHECKING, Any

from emulators.salesforce import ids
from emulators.salesforce.bulk import (
    DELIMITERS,
    LINE_ENDINGS,
    JobQueue,
    invalid_job,
    invalid_state,
)
from emulators.salesforce.errors import SfError, not_found
from emulators.salesforce.query import Plan
from emulators.salesforce.wire import Reply, Request

if TYPE_CHECKING:
    from emulators.salesforce.org import Org

OPERATIONS = {"query": False, "queryAll": True}  # operation -> include deleted records
MIN_VERSION = 47.0  # Bulk API 2.0 query jobs came with API version 47.0
CHUNK = 2000  # rows fetched and written out at a time (and how numberRecordsProcessed grows)
DEFAULT_PAGE = 100_000  # rows of a results call without maxRecords
MAX_JOBS = 10_000  # DailyBulkV2QueryJobs
MAX_STORAGE_MB = 976_562  # DailyBulkV2QueryFileStorageMB: 1 TB
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS _bulk_query_job (seq INTEGER PRIMARY KEY, id TEXT UNIQUE, "
    "info TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS _bulk_query_result (job_id TEXT, first INTEGER, "
    "rows TEXT NOT NULL, PRIMARY KEY (job_id, first))",
)


def api_error(message: str) -> SfError:
    return SfError("API_ERROR", message)


def locator_of(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def offset_of(locator: str) -> int:
    try:
        text = base64.b64decode(locator + "=" * (-len(locator) % 4), validate=True).decode()
        offset = int(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        offset = -1
    if offset < 0:
        raise api_error(f"Invalid locator: {locator}")
    return offset


def csv_value(value: Any, field_type: str) -> str:
    """A query value as Bulk API 2.0 writes it in a result CSV."""
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if field_type == "datetime" and isinstance(value, str) and value.endswith("+0000"):
        return value.removesuffix("+0000") + "Z"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


class QueryJobs(JobQueue):
    """The org's query jobs and the thread that runs them."""

    thread_name = "salesforce-emulator-bulk-query"

    def __init__(self, org: "Org") -> None:
        super().__init__()
        self.org = org
        self.store = org.store
        for statement in SCHEMA:
            self.store.execute(statement)
        self.created = 0  # DailyBulkV2QueryJobs spent
        self.result_bytes = 0  # DailyBulkV2QueryFileStorageMB spent
        self.stats = {"jobs_processed": 0, "records": 0}
        for job in self.all_jobs():  # reopened data_dir: run what was waiting
            if job["state"] in ("UploadComplete", "InProgress"):
                job["state"] = "UploadComplete"
                self.save(job)
                self._enqueue(job["id"])

    # -- storage -----------------------------------------------------------------------------

    def job(self, job_id: str) -> dict[str, Any]:
        normal = ids.normalize(job_id) or job_id
        found = self.store.rows("SELECT info FROM _bulk_query_job WHERE id = ?", (normal,))
        if not found:
            raise not_found()
        return json.loads(found[0][0])

    def save(self, job: dict[str, Any]) -> None:
        job["systemModstamp"] = self.org.clock.stamp()
        self.store.execute(
            "UPDATE _bulk_query_job SET info = ? WHERE id = ?", (json.dumps(job), job["id"])
        )

    def all_jobs(self) -> list[dict[str, Any]]:
        return [json.loads(r[0]) for r in self.store.rows("SELECT info FROM _bulk_query_job")]

    # -- the API -----------------------------------------------------------------------------

    def plan(self, job: dict[str, Any], soql: str) -> Plan:
        """The job's query planned as its user: Salesforce's SOQL errors, or API_ERROR for
        what Bulk API 2.0 query jobs do not support."""
        access = self.org.security.access(job["createdById"])
        plan = self.org.queries.plan(
            self.org.registry,
            soql,
            self.org.clock.now(),
            OPERATIONS[job["operation"]],
            str(job["apiVersion"]),
            access,
        )
        if plan.count_only or plan.aggregates:
            raise api_error("Aggregate functions are not supported by Bulk API 2.0 query jobs")
        if plan.offset is not None:
            raise api_error("OFFSET is not supported by Bulk API 2.0 query jobs")
        return plan

    def create(self, request: Request, user_id: str) -> dict[str, Any]:
        body = request.json()
        if not isinstance(body, dict):
            raise SfError("JSON_PARSER_ERROR", "Expected a JSON object for the job")
        operation = body.get("operation")
        if operation not in OPERATIONS:
            raise invalid_job(f"Invalid operation for a query job: {operation}")
        soql = body.get("query")
        if not isinstance(soql, str) or not soql.strip():
            raise invalid_job("A query job needs a query")
        if body.get("contentType", "CSV") != "CSV":
            raise invalid_job(f"Invalid contentType: {body.get('contentType')}")
        delimiter = body.get("columnDelimiter", "COMMA")
        if delimiter not in DELIMITERS:
            raise invalid_job(f"Invalid columnDelimiter: {delimiter}")
        line_ending = body.get("lineEnding", "LF")
        if line_ending not in LINE_ENDINGS:
            raise invalid_job(f"Invalid lineEnding: {line_ending}")
        now = self.org.clock.stamp()
        job: dict[str, Any] = {
            "id": "",
            "operation": operation,
            "object": "",
            "createdById": user_id,
            "createdDate": now,
            "systemModstamp": now,
            "state": "UploadComplete",
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(request.version),
            "lineEnding": line_ending,
            "columnDelimiter": delimiter,
            "jobType": "V2Query",
            "numberRecordsProcessed": 0,
            "retries": 0,
            "totalProcessingTime": 0,
            "query": soql,  # kept to run it; never shown
        }
        job["object"] = self.plan(job, soql).obj.name
        with self._ready:
            if self.created >= MAX_JOBS:
                raise SfError(
                    "LIMIT_EXCEEDED",
                    f"Max bulk v2 query jobs ({MAX_JOBS}) per 24 hrs has been reached "
                    f"({self.created + 1})",
                )
            self.created += 1
        job["id"] = self.org.ids.new("750")
        self.store.execute(
            "INSERT INTO _bulk_query_job (id, info) VALUES (?, ?)", (job["id"], json.dumps(job))
        )
        self._enqueue(job["id"])
        return created(job)

    def abort(self, job_id: str, body: Any) -> dict[str, Any]:
        state = body.get("state") if isinstance(body, dict) else None
        with self.store.lock:
            job = self.job(job_id)
            if state != "Aborted":
                raise invalid_state(f"Invalid state: {state}")
            if job["state"] not in ("UploadComplete", "InProgress"):
                raise invalid_state(
                    f"Found invalid state transition from {job['state']} to Aborted"
                )
            job["state"] = "Aborted"
            self.save(job)
        return created(job)

    def delete(self, job_id: str) -> None:
        with self.store.lock:
            job = self.job(job_id)
            if job["state"] == "InProgress":
                raise invalid_state(f"Job {job['id']} can't be deleted in state InProgress")
            self.store.execute("DELETE FROM _bulk_query_result WHERE job_id = ?", (job["id"],))
            self.store.execute("DELETE FROM _bulk_query_job WHERE id = ?", (job["id"],))

    def results(self, job_id: str, locator: str, max_records: int) -> tuple[str, str, int]:
        """One page of the job's rows: the CSV, the next page's locator ("null" after the
        last) and the number of rows in it."""
        job = self.job(job_id)
        if job["state"] != "JobComplete":
            raise invalid_state(f"Job {job['id']} is not complete: its state is {job['state']}")
        total = job["numberRecordsProcessed"]
        start = offset_of(locator) if locator else 0
        if start > total or (locator and start == total and total):
            raise api_error(f"Invalid locator: {locator}")
        end = min(total, start + max_records)
        lines = []
        for first, rows in self.store.rows(
            "SELECT first, rows FROM _bulk_query_result WHERE job_id = ? AND first < ? "
            "AND first + ? > ? ORDER BY first",
            (job["id"], end, CHUNK, start),
        ):
            chunk = json.loads(rows)
            lines.extend(chunk[max(0, start - first) : max(0, end - first)])
        text = self._line(job, job["columns"]) + "".join(lines)
        return text, (locator_of(end) if end < total else "null"), len(lines)

    # -- the worker --------------------------------------------------------------------------

    @staticmethod
    def _writer(job: dict[str, Any], out: io.StringIO) -> Any:
        return csv.writer(
            out,
            delimiter=DELIMITERS[job["columnDelimiter"]],
            lineterminator=LINE_ENDINGS[job["lineEnding"]],
            quoting=csv.QUOTE_ALL,
        )

    def _line(self, job: dict[str, Any], cells: list[str]) -> str:
        out = io.StringIO()
        self._writer(job, out).writerow(cells)
        return out.getvalue()

    def _fail(self, job_id: str, message: str) -> None:
        with self.store.lock:
            try:
                job = self.job(job_id)
            except SfError:
                return  # deleted meanwhile
            if job["state"] in ("UploadComplete", "InProgress"):
                job.update(state="Failed", errorMessage=message)
                self.save(job)

    def _process(self, job_id: str) -> None:
        started = time.monotonic()
        with self.store.lock:
            try:
                job = self.job(job_id)
            except SfError:
                return  # deleted while queued
            if job["state"] != "UploadComplete":
                return  # aborted while queued
            job["state"] = "InProgress"
            self.save(job)
        if self.org.faults.take("bulk_query_job_failed", f"/jobs/query/{job_id}"):
            self._fail(job_id, "InternalServerError : Job failed (injected by the emulator)")
            return
        try:
            plan = self.plan(job, job["query"])
        except SfError as error:
            self._fail(job_id, f"{error.code} : {error.message}")
            return
        queries = self.org.queries
        header = [".".join((*c.path, c.key)) for c in plan.columns]
        with self.store.lock:
            job = self.job(job_id)
            job["columns"] = header  # kept for the results; never shown
            self.save(job)
        window = queries.window(plan)
        sql = f"SELECT t._rid {plan.source} {plan.where} {plan.order} {window}"
        rowids = self.store.column(sql, plan.params)
        for first in range(0, len(rowids), CHUNK):
            if not self._write_chunk(job_id, plan, first, rowids[first : first + CHUNK]):
                return
        with self.store.lock:
            job = self.job(job_id)
            if job["state"] == "InProgress":
                job.update(
                    state="JobComplete",
                    totalProcessingTime=int((time.monotonic() - started) * 1000),
                )
                self.save(job)
                self.stats["jobs_processed"] += 1

    def _write_chunk(self, job_id: str, plan: Plan, first: int, rowids: Any) -> bool:
        """Fetch and write out one chunk of the job's rows; False once it was aborted."""
        delay = self.org.bulk.chunk_delay
        if delay:
            time.sleep(delay)
        with self.store.lock:
            job = self.job(job_id)
            if job["state"] != "InProgress":
                return False
            out = io.StringIO()
            writer = self._writer(job, out)
            lines = []
            for row in self.org.queries.fetch_rows(plan, rowids):
                writer.writerow([csv_value(c.convert(row[c.index]), c.type) for c in plan.columns])
                lines.append(out.getvalue())
                out.seek(0)
                out.truncate()
            self.store.execute(
                "INSERT INTO _bulk_query_result (job_id, first, rows) VALUES (?, ?, ?)",
                (job_id, job["numberRecordsProcessed"], json.dumps(lines)),
            )
            job["numberRecordsProcessed"] += len(lines)
            self.save(job)
            self.stats["records"] += len(lines)
            self.result_bytes += sum(len(line) for line in lines)
        return True


def created(job: dict[str, Any]) -> dict[str, Any]:
    """The job as create and abort answer it (query_job_create_response.json): no counters."""
    keys = (
        "id operation object createdById createdDate systemModstamp state concurrencyMode "
        "contentType apiVersion lineEnding columnDelimiter"
    ).split()
    return {key: job[key] for key in keys}


def info(job: dict[str, Any]) -> dict[str, Any]:
    """GET jobs/query/{id} (query_job_complete.json, with the documented counters)."""
    return {key: value for key, value in job.items() if key not in ("columns", "query")}


# -- REST handlers (rest.ROUTES) ---------------------------------------------------------------


def _version(request: Request) -> None:
    if float(request.version) < MIN_VERSION:
        raise not_found()


def create_job(org: "Org", request: Request) -> Reply:
    _version(request)
    return Reply(200, org.bulk_query.create(request, request.user_id))


def list_jobs(org: "Org", request: Request) -> Reply:
    _version(request)
    records = [info(job) for job in org.bulk_query.all_jobs()]
    return Reply(200, {"done": True, "records": records, "nextRecordsUrl": None})


def job_info(org: "Org", request: Request) -> Reply:
    _version(request)
    return Reply(200, info(org.bulk_query.job(request.groups["job"])))


def patch_job(org: "Org", request: Request) -> Reply:
    _version(request)
    return Reply(200, org.bulk_query.abort(request.groups["job"], request.json()))


def delete_job(org: "Org", request: Request) -> Reply:
    _version(request)
    org.bulk_query.delete(request.groups["job"])
    return Reply(204)


def results(org: "Org", request: Request) -> Reply:
    _version(request)
    params = request.params
    raw = params.get("maxRecords", "")
    if raw == "":
        max_records = DEFAULT_PAGE
    elif raw.isdigit() and int(raw) > 0:
        max_records = int(raw)
    else:
        raise api_error(f"Invalid value for maxRecords: {raw}")
    locator = params.get("locator", "")
    if locator == "null":
        locator = ""
    text, next_locator, count = org.bulk_query.results(request.groups["job"], locator, max_records)
    return Reply(
        200,
        raw=text.encode(),
        content_type="text/csv",
        headers={"Sforce-Locator": next_locator, "Sforce-NumberOfRecords": str(count)},
    )
