"""The Salesforce gateway: everything cmsync reads from or writes to Salesforce goes through
here, and this is the only module that imports simple-salesforce.

One ``requests.Session`` with timeouts and transport retries (502/503/504, connection errors).
``UNABLE_TO_LOCK_ROW`` and ``REQUEST_LIMIT_EXCEEDED`` are not retried here: they are reported
to the caller, which knows whether to wait, regroup or stop. Writes go through sObject
Collections, 200 records a call, ``allOrNone=false``; per-record failures come back as data.
A write set of SALESFORCE_BULK_THRESHOLD records or more goes as Bulk API 2.0 ingest jobs
instead (``salesforce/bulk.py``), and comes back as the same per-record results.

Every write carries ``Sforce-Duplicate-Rule-Header: allowSave=true``: an *alert* duplicate
rule lets a person save after a warning, and cmsync, which cannot be warned, saves (it only
changes opt-outs and mapped fields of existing people, its own objects by their keys, and
imports people an admin chose). A *block* rule still refuses; its record fails with
DUPLICATES_DETECTED and ``RecordError.rule`` names the rule.
"""

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce
from simple_salesforce import exceptions as sf_exceptions
from simple_salesforce.format import format_soql
from urllib3.util.retry import Retry

from cmsync import endpoints
from cmsync.iterables import chunks
from cmsync.logs import log_calls

from . import bulk, errors

log = logging.getLogger(__name__)

API_VERSION = "62.0"  # SOAP login (the legacy password option) is gone from v65
COLLECTION_LIMIT = 200  # records per sObject Collections call
IN_CHUNK_CHARS = 12000  # encoded IN list: keeps a GET query URL under Salesforce's ~16k
IN_CHUNK_SIZE = 200
# UNABLE_TO_LOCK_ROW: Salesforce waits ~10 s for a lock; try again a few times, then report.
LOCK_RETRY_PAUSES = (1.0, 3.0, 9.0)
WRITE_HEADERS = {"Sforce-Duplicate-Rule-Header": "allowSave=true"}  # API 52.0 and later


@dataclass(frozen=True, slots=True)
class RecordError:
    status_code: str
    message: str
    fields: tuple[str, ...] = ()
    rule: str = ""  # DUPLICATES_DETECTED: the duplicate rule that refused the record


@dataclass(frozen=True, slots=True)
class RecordResult:
    """One record's outcome in a collection call; ``record`` is what was sent."""

    record: dict
    success: bool
    id: str | None = None
    created: bool | None = None
    errors: tuple[RecordError, ...] = ()
    # How it was written, so a failed write can be replayed: create, update, delete, or
    # upsert:<external id field>.
    operation: str = ""


@dataclass(frozen=True, slots=True)
class Person:
    """A Contact or Lead found by email."""

    sobject: str  # "Contact" or "Lead"
    id: str
    email: str
    last_modified: datetime
    has_opted_out: bool

    @classmethod
    def from_row(cls, sobject: str, row: dict) -> "Person":
        """A row of a query selecting PERSON_FIELDS."""
        return cls(
            sobject=sobject,
            id=row["Id"],
            email=row["Email"],
            last_modified=parse_datetime(row["LastModifiedDate"]),
            has_opted_out=bool(row["HasOptedOutOfEmail"]),
        )

    @classmethod
    def from_csv_row(cls, sobject: str, row: dict[str, str]) -> "Person":
        """A row of a Bulk API query job's CSV selecting PERSON_FIELDS."""
        return cls(
            sobject=sobject,
            id=row["Id"],
            email=row["Email"],
            last_modified=parse_datetime(row["LastModifiedDate"]),
            has_opted_out=row["HasOptedOutOfEmail"].lower() == "true",
        )


PERSON_FIELDS = "Id, Email, HasOptedOutOfEmail, LastModifiedDate"


def by_email(people: Iterable[Person]) -> dict[str, list[Person]]:
    """People by lower-case email, most recently modified first; of records modified in the
    same second (a data load), the lowest Id first, as the import wizard and subscription
    rules order them (``LastModifiedDate DESC, Id``)."""
    found: dict[str, list[Person]] = {}
    for person in people:
        found.setdefault(person.email.lower(), []).append(person)
    for group in found.values():
        group.sort(key=lambda p: p.id)  # ties keep this order in the stable sort below
        group.sort(key=lambda p: p.last_modified, reverse=True)
    return found


@dataclass(frozen=True, slots=True)
class FieldInfo:
    name: str
    type: str
    label: str = ""
    length: int = 0
    createable: bool = False
    updateable: bool = False
    nillable: bool = True
    external_id: bool = False
    restricted_picklist: bool = False
    picklist_values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    name: str
    label: str
    createable: bool
    updateable: bool
    fields: dict[str, FieldInfo] = field(default_factory=dict)  # by lower-case name

    def field(self, name: str) -> FieldInfo | None:
        return self.fields.get(name.lower())


@dataclass(frozen=True, slots=True)
class ApiUsage:
    used: int
    total: int


# A preview's stand-in for writing: (sobject, operation, records) → one result per record.
Recorder = Callable[[str, str, list[dict]], list[RecordResult]]


def _plain(records: list[dict]) -> list[dict]:
    """Records as the caller gave them (without the ``attributes`` the API wants)."""
    return [{k: v for k, v in record.items() if k != "attributes"} for record in records]


class _Session(requests.Session):
    """Default timeout, transport retries, and https→http for a local emulator only."""

    def __init__(
        self, timeout: float | tuple, retries: int, plain_http_host: str = "", backoff: float = 0.5
    ) -> None:
        super().__init__()
        self.timeout = timeout
        self.plain_http_host = plain_http_host
        # A preview's session: any request that could change the org is refused.
        self.read_only = False
        retry = Retry(
            total=retries,
            connect=retries,
            read=2,
            status=retries,
            backoff_factor=backoff,  # pauses of 0, 2×, 4×… this many seconds
            backoff_max=30,
            status_forcelist=(502, 503, 504),
            # not POST: a create that reached Salesforce must not be repeated
            allowed_methods=frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self.mount("https://", adapter)
        self.mount("http://", adapter)
        self.hooks["response"].append(log_calls("salesforce"))

    def request(self, method: str, url: str | bytes, *args, **kwargs) -> requests.Response:
        # simple-salesforce builds every URL with https://; a local emulator speaks http.
        url = url.decode() if isinstance(url, bytes) else url
        if self.plain_http_host and url.startswith(f"https://{self.plain_http_host}"):
            url = "http://" + url.removeprefix("https://")
        if self.read_only and method.upper() not in ("GET", "HEAD") and not _reads(url):
            raise errors.RequestError(f"A preview does not write to Salesforce ({method})")
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


def _reads(url: str) -> bool:
    """A Bulk API 2.0 query job (create or abort): it reads, whatever its method."""
    return "/jobs/query" in urlsplit(url).path


def _error_details(exc: sf_exceptions.SalesforceError) -> tuple[str, str]:
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return first.get("errorCode", ""), first.get("message", "")
    return "", str(content)[:300]


def _translate(
    exc: sf_exceptions.SalesforceError | requests.RequestException,
) -> errors.SalesforceError:
    """simple-salesforce's and requests' exceptions as cmsync's few domain errors."""
    if isinstance(exc, requests.RequestException):
        log.warning("Salesforce request failed: %s", type(exc).__name__)
        return errors.NetworkError("Could not reach Salesforce")
    if isinstance(exc, sf_exceptions.SalesforceAuthenticationFailed):
        return errors.AuthenticationError(str(exc.message), code=str(exc.code), status=401)
    code, message = _error_details(exc)
    status = getattr(exc, "status", None)
    if isinstance(exc, sf_exceptions.SalesforceExpiredSession):
        return errors.AuthenticationError(message or "Session expired", code=code, status=401)
    if code == "REQUEST_LIMIT_EXCEEDED":
        return errors.LimitExceededError(message, code=code, status=status)
    if code == "UNABLE_TO_LOCK_ROW":
        return errors.RowLockError(message, code=code, status=status)
    if isinstance(exc, sf_exceptions.SalesforceResourceNotFound):
        return errors.NotFoundError(message or "Not found", code=code, status=404)
    if isinstance(exc, sf_exceptions.SalesforceRefusedRequest):
        return errors.AuthenticationError(message, code=code, status=status)
    if status is not None and status >= 500:
        return errors.ServerError(message or "Salesforce server error", code=code, status=status)
    return errors.RequestError(message, code=code, status=status)


def _in_chunks(values: list[str]) -> Iterator[list[str]]:
    """Chunks for a SOQL IN list: at most 200 values and a bounded query length."""
    chunk: list[str] = []
    length = 0
    for value in values:
        cost = len(quote(value, safe="")) + 9  # percent-encoded, quoted, comma
        if chunk and (len(chunk) >= IN_CHUNK_SIZE or length + cost > IN_CHUNK_CHARS):
            yield chunk
            chunk, length = [], 0
        chunk.append(value)
        length += cost
    if chunk:
        yield chunk


def _locked(result: RecordResult) -> bool:
    return any(e.status_code == "UNABLE_TO_LOCK_ROW" for e in result.errors)


def _sent(result: RecordResult | None) -> dict:
    assert result is not None
    return result.record


def _redo_in_collections(result: RecordResult) -> bool:
    """A Bulk API row refused for a lock, or by an alert duplicate rule (the Bulk API cannot
    be told to save past one), is written again through sObject Collections."""
    return any(
        e.status_code in ("UNABLE_TO_LOCK_ROW", "DUPLICATES_DETECTED") for e in result.errors
    )


def _duplicate_rule(error: dict) -> str:
    """The rule named by a DUPLICATES_DETECTED error's duplicate result, which Salesforce's
    REST responses spell "duplicateResut" (read "duplicateResult" too)."""
    result = error.get("duplicateResut") or error.get("duplicateResult")
    rule = result.get("duplicateRule") if isinstance(result, dict) else None
    return rule if isinstance(rule, str) else ""


def _result(record: dict, row: dict, operation: str = "") -> RecordResult:
    return RecordResult(
        operation=operation,
        record={k: v for k, v in record.items() if k != "attributes"},
        success=bool(row.get("success")),
        id=row.get("id"),
        created=row.get("created"),
        errors=tuple(
            RecordError(
                status_code=e.get("statusCode", ""),
                message=e.get("message", ""),
                fields=tuple(e.get("fields") or ()),
                rule=_duplicate_rule(e),
            )
            for e in row.get("errors") or ()
        ),
    )


def unconverted(sobject: str) -> str:
    """The condition that leaves converted Leads out of a query of people (`` AND ...``, to
    follow a WHERE): Salesforce keeps returning a converted Lead but refuses to update it,
    and its person lives on as the Contact it became."""
    return " AND IsConverted = false" if sobject == "Lead" else ""


def soql(template: str, **values: Any) -> str:
    """A SOQL statement with its values quoted and escaped (``{name}`` placeholders)."""
    return format_soql(template, **values)


def parse_datetime(value: str) -> datetime:
    """Salesforce's 2026-01-31T10:00:00.000+0000 (REST) or ...00.000Z (Bulk API CSV) as an
    aware datetime."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")


class Write:
    """A write under way: ``results()`` waits for it and gives each record's outcome in the
    records' order; ``abort()`` stops Salesforce's work on it (best effort)."""

    def __init__(
        self, finish: Callable[[], list[RecordResult]], abort: Callable[[], None] = lambda: None
    ) -> None:
        self._finish, self.abort = finish, abort
        self._results: list[RecordResult] | None = None

    def results(self) -> list[RecordResult]:
        if self._results is None:
            self._results = self._finish()
        return self._results


class SalesforceGateway:
    def __init__(
        self,
        instance_url: str,
        access_token: str,
        *,
        version: str = API_VERSION,
        refresh: Callable[[], str] | None = None,
        timeout: float | tuple = (5, 120),
        retries: int = 4,
        backoff: float | None = None,
    ) -> None:
        """``refresh`` returns a new access token when the session has expired. ``backoff``
        (default: the SALESFORCE_RETRY_BACKOFF_SECONDS setting) scales the pauses between
        transport retries; tests make it tiny rather than sleep through real back-off."""
        if backoff is None:
            backoff = settings.SALESFORCE_RETRY_BACKOFF_SECONDS
        try:
            instance_url = endpoints.check(instance_url, "Salesforce")
        except endpoints.EndpointRefused as exc:
            raise errors.RequestError(str(exc)) from exc
        parts = urlsplit(instance_url)
        plain_http_host = parts.netloc if parts.scheme == "http" else ""
        self.instance_url = instance_url.rstrip("/")
        self.version = version
        self.refresh = refresh
        self.session = _Session(timeout, retries, plain_http_host, backoff)
        self.calls = 0
        self.usage: ApiUsage | None = None
        # Called with write=True/False before each call: a run's heartbeat and its fence.
        self.guard: Callable[[bool], None] | None = None
        # Called between polls of a Bulk API job: raises to stop waiting (a cancelled run).
        self.keep_waiting: Callable[[], None] | None = None
        self.bulk_jobs = 0
        self.bulk_records = 0
        self.bulk_query_jobs = 0
        # Seconds per record the latest Bulk API job of each kind (ingest, query) took: when
        # to look at the next one first (bulk.Pacer).
        self.bulk_pace: dict[str, float] = {}
        # A preview's recorder (sync/preview.py): each write's records go to it instead of
        # Salesforce, and it answers with the results a successful write would give.
        self.recorder: Recorder | None = None
        self._connect(access_token)

    def record_only(self, recorder: "Recorder") -> None:
        """From now on nothing is written: writes go to ``recorder``, and the session
        refuses any other request that is not a read (the preview's safety net)."""
        self.recorder = recorder
        self.session.read_only = True

    def _connect(self, access_token: str) -> None:
        self.sf = Salesforce(
            instance_url=self.instance_url,
            session_id=access_token,
            session=self.session,
            version=self.version,
        )

    def _call(self, name: str, *args, **kwargs) -> Any:
        """Call a simple-salesforce method; refresh an expired session once."""
        for attempt in (1, 2):
            if self.guard is not None:
                self.guard(False)
            self.calls += 1
            try:
                result = getattr(self.sf, name)(*args, **kwargs)
            except (sf_exceptions.SalesforceError, requests.RequestException) as exc:
                error = _translate(exc)
                # userinfo answers an expired token with 403 Bad_OAuth_Token, not 401.
                expired = isinstance(exc, sf_exceptions.SalesforceExpiredSession) or (
                    name == "oauth2" and "Bad_OAuth_Token" in str(getattr(exc, "content", ""))
                )
                if expired and attempt == 1 and self.refresh is not None:
                    self._connect(self.refresh())
                    continue
                raise error from exc
            usage = self.sf.api_usage.get("api-usage")
            if usage is not None:
                self.usage = ApiUsage(used=usage.used, total=usage.total)
            return result
        raise AssertionError("unreachable")

    def rest(self, path: str, method: str = "GET", **kwargs) -> Any:
        return self._call("restful", path, method=method, **kwargs)

    def raw(self, method: str, path: str, **kwargs) -> requests.Response:
        """A call whose answer is not JSON (a Bulk API CSV upload or result file)."""
        url = self.sf.base_url + path
        return self._call("_call_salesforce", method, url, path, **kwargs)

    # -- reads ------------------------------------------------------------------------------

    def query(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict]:
        """Every record of a query, following ``nextRecordsUrl`` one page at a time."""
        page = self._call("query", soql, include_deleted=include_deleted)
        while True:
            for record in page["records"]:
                record.pop("attributes", None)
                yield record
            if page.get("done", True):
                return
            page = self._call("query_more", page["nextRecordsUrl"], identifier_is_url=True)

    def count(self, soql: str) -> int:
        return int(self._call("query", soql)["totalSize"])

    def find_people(self, emails: Iterable[str]) -> dict[str, list[Person]]:
        """Contacts and Leads by email, case-insensitively, most recently modified first.

        Of records modified in the same second (a data load), the lowest Id comes first, as
        the import wizard and subscription rules order them (``LastModifiedDate DESC, Id``):
        Salesforce returns rows in no promised order, and the sync must not depend on one.
        Converted Leads are left out: Salesforce refuses to update them, and their person
        lives on as the Contact they became.
        """
        wanted = sorted({e.strip().lower() for e in emails if e and e.strip()})
        return by_email(self._people_with_emails(wanted))

    def _people_with_emails(self, wanted: list[str]) -> Iterator[Person]:
        for sobject in ("Contact", "Lead"):
            for chunk in _in_chunks(wanted):
                soql = format_soql(
                    f"SELECT {PERSON_FIELDS} FROM {sobject} "
                    f"WHERE Email IN {{emails}}{unconverted(sobject)}",
                    emails=chunk,
                )
                for row in self.query(soql):
                    yield Person.from_row(sobject, row)

    def count_people(self, sobject: str) -> int:
        """How many Contacts (or unconverted Leads) have an email."""
        return self.count(
            f"SELECT COUNT() FROM {sobject} WHERE Email != null{unconverted(sobject)}"
        )

    def all_people(self, sobject: str, expected: int = 0) -> Iterator[Person]:
        """Every Contact (or unconverted Lead) with an email: for a run that would otherwise
        look up most of them 200 emails at a time. ``expected`` of them (count_people) or
        more than SALESFORCE_BULK_QUERY_THRESHOLD are read through a Bulk API 2.0 query job
        (a few calls, and pages of bulk.QUERY_PAGE records); fewer, 2,000 a query call. A
        query job Salesforce fails raises BulkJobError, possibly after some people came."""
        soql = f"SELECT {PERSON_FIELDS} FROM {sobject} WHERE Email != null{unconverted(sobject)}"
        if expected >= settings.SALESFORCE_BULK_QUERY_THRESHOLD:
            for row in self.bulk_query(soql, expected, f"{expected:,} {sobject} records"):
                yield Person.from_csv_row(sobject, row)
            return
        for row in self.query(soql):
            yield Person.from_row(sobject, row)

    def bulk_query(self, soql: str, expected: int, what: str) -> Iterator[dict[str, str]]:
        """The rows of a query through a Bulk API 2.0 query job, streamed page by page: each
        a dict of CSV cells ("" for null, "true"/"false", datetimes ending in Z). Waits as
        ingest jobs do (``keep_waiting``, SALESFORCE_BULK_TIMEOUT_SECONDS); a job that
        fails raises BulkJobError; stopping (an exception from ``keep_waiting``, or the
        caller dropping the iterator) aborts a job still running."""
        job = bulk.QueryJob(self, soql, expected, what)
        job.start()
        self.bulk_query_jobs += 1
        try:
            job.wait(self.keep_waiting, settings.SALESFORCE_BULK_TIMEOUT_SECONDS)
        except BaseException:
            job.abort()
            raise
        yield from job.rows()

    def converted_leads(self, ids: Iterable[str]) -> set[str]:
        """Which of these Lead ids (15 or 18 characters) are converted Leads, deleted or not."""
        found: set[str] = set()
        for chunk in _in_chunks(sorted(set(ids))):
            soql = format_soql(
                "SELECT Id FROM Lead WHERE Id IN {ids} AND IsConverted = true", ids=chunk
            )
            found.update(row["Id"] for row in self.query(soql, include_deleted=True))
        return found

    def opt_out_state(self, sobject: str, record_id: str) -> tuple[bool, datetime] | None:
        """A Contact's or Lead's HasOptedOutOfEmail and SystemModstamp now (None if gone)."""
        soql = format_soql(
            f"SELECT HasOptedOutOfEmail, SystemModstamp FROM {sobject} WHERE Id = {{id}}",
            id=record_id,
        )
        for row in self.query(soql):
            return bool(row["HasOptedOutOfEmail"]), parse_datetime(row["SystemModstamp"])
        return None

    # -- records the sync reads: every SOQL statement cmsync sends is written in this module --

    def latest_modstamp(self, sobject: str) -> datetime | None:
        """The newest SystemModstamp of an object, deleted records included: where a poll of
        its changes starts, by Salesforce's clock rather than ours."""
        soql = f"SELECT SystemModstamp FROM {sobject} ORDER BY SystemModstamp DESC LIMIT 1"
        for row in self.query(soql, include_deleted=True):
            return parse_datetime(row["SystemModstamp"])
        return None

    def opted_out_people(self, sobject: str) -> Iterator[dict]:
        """Id and Email of every Contact or Lead opted out of email now (converted Leads left
        out): the baseline a change poll compares later opt-outs with."""
        soql = (
            f"SELECT Id, Email FROM {sobject} WHERE HasOptedOutOfEmail = true{unconverted(sobject)}"
        )
        return self.query(soql)

    def changed_since(self, sobject: str, fields: Iterable[str], since: datetime) -> Iterator[dict]:
        """Records stamped at or after ``since`` (to the second), deleted ones included,
        oldest first, converted Leads left out."""
        stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        soql = (
            f"SELECT {', '.join(fields)} FROM {sobject} WHERE SystemModstamp >= {stamp}"
            f"{unconverted(sobject)} ORDER BY SystemModstamp, Id"
        )
        return self.query(soql, include_deleted=True)

    def people_by_id(self, sobject: str, ids: Iterable[str], fields: Iterable[str]) -> dict:
        """Id → row with ``Id`` and ``fields`` (names from describe, never user text) for the
        records among ``ids`` that still exist; converted Leads left out."""
        select = ", ".join(["Id", *sorted({f for f in fields if f.lower() != "id"})])
        rows: dict[str, dict] = {}
        for chunk in _in_chunks(sorted(set(ids))):
            soql = format_soql(
                f"SELECT {select} FROM {sobject} WHERE Id IN {{ids}}{unconverted(sobject)}",
                ids=chunk,
            )
            for row in self.query(soql):
                rows[row["Id"]] = row
        return rows

    def matching_by_id(
        self, sobject: str, ids: Iterable[str], fields: Iterable[str], where: str
    ) -> list[dict]:
        """The records among ``ids`` that a condition (a subscription rule's, already
        checked and quoted by ``subscriptions.criteria``) matches; converted Leads never do.
        The id list and the condition are formatted apart: a quoted value may hold braces."""
        head = f"SELECT {', '.join(fields)} FROM {sobject} WHERE "
        tail = f"{unconverted(sobject)} AND ({where})"
        rows: list[dict] = []
        for chunk in _in_chunks(list(ids)):
            rows += self.query(head + format_soql("Id IN {ids}", ids=chunk) + tail)
        return rows

    def matching_by_email(self, sobject: str, emails: Iterable[str], where: str) -> Iterator[dict]:
        """Id and Email of the records with these emails that a checked condition matches
        (converted Leads never do)."""
        for chunk in _in_chunks(list(emails)):
            soql = (
                f"SELECT Id, Email FROM {sobject} WHERE "
                + format_soql("Email IN {emails}", emails=chunk)
                + f"{unconverted(sobject)} AND ({where})"
            )
            yield from self.query(soql)

    def matching_newest_first(
        self, sobject: str, fields: Iterable[str], where: str
    ) -> Iterator[dict]:
        """Every record a checked condition matches, most recently modified first (of two
        records with one email, that one wins), converted Leads left out."""
        soql = (
            f"SELECT {', '.join(fields)} FROM {sobject} WHERE ({where})"
            f"{unconverted(sobject)} ORDER BY LastModifiedDate DESC, Id"
        )
        return self.query(soql)

    def contacts_of_accounts(self, account_ids: Iterable[str]) -> dict[str, str]:
        """Contact id → account id for the contacts of these accounts."""
        found: dict[str, str] = {}
        for chunk in _in_chunks(list(account_ids)):
            soql = format_soql("SELECT Id, AccountId FROM Contact WHERE AccountId IN {a}", a=chunk)
            for row in self.query(soql):
                found[row["Id"]] = row["AccountId"]
        return found

    def campaign_names(self, limit: int = 2000) -> list[dict]:
        """Id and Name of the org's campaigns by name, for an admin to choose from."""
        return list(self.query(f"SELECT Id, Name FROM Campaign ORDER BY Name LIMIT {int(limit)}"))

    def campaigns_by_cm_id(self, cm_campaign_ids: Iterable[str]) -> dict[str, str]:
        """Campaign Monitor campaign id → the Salesforce Campaign linked to it by
        CM_Campaign_Id__c."""
        found: dict[str, str] = {}
        for chunk in _in_chunks(sorted(set(cm_campaign_ids))):
            soql = format_soql(
                "SELECT Id, CM_Campaign_Id__c FROM Campaign WHERE CM_Campaign_Id__c IN {ids}",
                ids=chunk,
            )
            for row in self.query(soql):
                found.setdefault(row["CM_Campaign_Id__c"], row["Id"])
        return found

    def subscriber_lists(self, list_ids: Iterable[str], fields: Iterable[str]) -> dict[str, dict]:
        """What Salesforce holds for these Campaign Monitor lists, by list id."""
        found: dict[str, dict] = {}
        for chunk in _in_chunks(list(list_ids)):
            soql = format_soql(
                f"SELECT Id, {', '.join(fields)} FROM CM_Subscriber_List__c "
                "WHERE CM_List_Id__c IN {ids}",
                ids=chunk,
            )
            for row in self.query(soql):
                found[row["CM_List_Id__c"]] = row
        return found

    def tracked_members(
        self, campaign_id: str, sobject: str, person_ids: Iterable[str]
    ) -> Iterator[dict]:
        """A campaign's members among these Contacts or Leads, with the activity cmsync
        recorded on them."""
        for chunk in _in_chunks(list(person_ids)):
            soql = format_soql(
                f"SELECT Id, {sobject}Id, Status, CM_Last_Activity__c, CM_Last_Activity_Date__c, "
                "CM_Status_Set__c "
                f"FROM CampaignMember WHERE CampaignId = {{campaign}} AND {sobject}Id IN {{ids}}",
                campaign=campaign_id,
                ids=chunk,
            )
            yield from self.query(soql)

    def tracking_record_ids(self, before: datetime | None = None) -> Iterator[str]:
        """Ids of cmsync's email tracking records, all or those of events before a date."""
        soql = "SELECT Id FROM CM_Email_Tracking__c"
        if before is not None:
            soql += format_soql(" WHERE CM_Event_Date__c < {cutoff}", cutoff=before)
        for row in self.query(soql):
            yield row["Id"]

    def describe(self, sobject: str) -> ObjectInfo:
        data = self.rest(f"sobjects/{sobject}/describe")
        fields = {
            f["name"].lower(): FieldInfo(
                name=f["name"],
                type=f.get("type", ""),
                label=f.get("label", ""),
                length=int(f.get("length") or 0),
                createable=bool(f.get("createable")),
                updateable=bool(f.get("updateable")),
                nillable=bool(f.get("nillable")),
                external_id=bool(f.get("externalId")),
                restricted_picklist=bool(f.get("restrictedPicklist")),
                picklist_values=tuple(
                    p["value"] for p in f.get("picklistValues") or () if p.get("active", True)
                ),
            )
            for f in data["fields"]
        }
        return ObjectInfo(
            name=data["name"],
            label=data.get("label", ""),
            createable=bool(data.get("createable")),
            updateable=bool(data.get("updateable")),
            fields=fields,
        )

    def limits(self) -> dict:
        return self._call("limits")

    def identity(self) -> dict:
        """Who this session is: user_id, organization_id, preferred_username, name, email."""
        return self._call("oauth2", "userinfo")

    # -- writes: sObject Collections, 200 a call, or Bulk API 2.0 jobs; per-record results --

    def _collection(
        self, method: str, path: str, records: list[dict], operation: str
    ) -> list[RecordResult]:
        if self.recorder is not None:
            if not records:
                return []
            return self.recorder(records[0]["attributes"]["type"], operation, _plain(records))
        if len(records) >= settings.SALESFORCE_BULK_THRESHOLD:
            return self._bulk(records[0]["attributes"]["type"], operation, records)
        return self._collections(method, path, records, operation)

    def _collections(
        self, method: str, path: str, records: list[dict], operation: str
    ) -> list[RecordResult]:
        results: list[RecordResult] = []
        for chunk in chunks(records, COLLECTION_LIMIT):
            results += self._write_chunk(method, path, chunk, operation)
        return results

    def _write_chunk(
        self, method: str, path: str, chunk: list[dict], operation: str
    ) -> list[RecordResult]:
        """One collection call; records that met a row lock are sent again after a pause."""
        self._before_write()
        body = {"allOrNone": False, "records": chunk}
        rows = self.rest(path, method=method, json=body, headers=WRITE_HEADERS)
        results = [_result(record, row, operation) for record, row in zip(chunk, rows, strict=True)]
        for pause in LOCK_RETRY_PAUSES:
            locked = [i for i, r in enumerate(results) if _locked(r)]
            if not locked:
                break
            time.sleep(pause)
            self._before_write()
            retry = [chunk[i] for i in locked]
            body = {"allOrNone": False, "records": retry}
            rows = self.rest(path, method=method, json=body, headers=WRITE_HEADERS)
            for i, record, row in zip(locked, retry, rows, strict=True):
                results[i] = _result(record, row, operation)
        return results

    def _bulk(self, sobject: str, operation: str, records: list[dict]) -> list[RecordResult]:
        return self._bulk_start(sobject, operation, records).results()

    def _bulk_start(self, sobject: str, operation: str, records: list[dict]) -> "Write":
        """Records written as Bulk API 2.0 jobs: started now, their results (in the records'
        order) when asked for, so the caller works while Salesforce does.

        Every job is started before any is waited for; CampaignMember jobs one at a time
        (one campaign's members never in two jobs at once). Rows refused with
        UNABLE_TO_LOCK_ROW, and alert duplicate rules' refusals (Bulk API takes no
        duplicate-rule header), are written again through sObject Collections, which retry
        locks and save past alert rules as every other write does."""
        if self.recorder is not None:
            done = self.recorder(sobject, operation, _plain(records))
            return Write(lambda: done)
        results: list[RecordResult | None] = [None] * len(records)
        serial = sobject == "CampaignMember"
        started: list[bulk.Job] = []
        waiting: list[tuple[bulk.Job, list[int]]] = []

        def abort() -> None:
            for job in started:
                if not job.done:
                    job.abort()

        try:
            for indices in bulk.jobs_of(records, sobject):
                job = bulk.Job(self, sobject, operation, [records[i] for i in indices])
                started.append(job)
                job.start()
                self.bulk_jobs += 1
                self.bulk_records += len(indices)
                if serial:
                    self._collect(job, indices, results)
                else:
                    waiting.append((job, indices))
        except BaseException:
            abort()
            raise

        def finish() -> list[RecordResult]:
            try:
                for job, indices in waiting:
                    self._collect(job, indices, results)
            except BaseException:
                abort()
                raise
            self._redo_in_collections(sobject, operation, results)
            return [r for r in results if r is not None]

        return Write(finish, abort)

    def _redo_in_collections(
        self, sobject: str, operation: str, results: list[RecordResult | None]
    ) -> None:
        again = [i for i, r in enumerate(results) if r is not None and _redo_in_collections(r)]
        if not again:
            return
        path = "composite/sobjects"
        if operation.startswith("upsert:"):
            path += f"/{sobject}/{operation.removeprefix('upsert:')}"
        retry = [{"attributes": {"type": sobject}, **_sent(results[i])} for i in again]
        if operation == "delete":
            redone = self.delete([r["Id"] for r in retry])
        else:
            method = "POST" if operation == "create" else "PATCH"
            redone = self._collections(method, path, retry, operation)
        for i, result in zip(again, redone, strict=True):
            results[i] = result

    def _collect(self, job: bulk.Job, indices: list[int], results: list) -> None:
        job.wait(self.keep_waiting, settings.SALESFORCE_BULK_TIMEOUT_SECONDS)
        for i, result in zip(indices, job.results(), strict=True):
            results[i] = result

    def before_write(self) -> None:
        """The guard's fence before a write: a run that is no longer this worker's stops."""
        self._before_write()

    def _before_write(self) -> None:
        if self.guard is not None:
            self.guard(True)

    @staticmethod
    def _typed(sobject: str, records: Iterable[dict]) -> list[dict]:
        return [{"attributes": {"type": sobject}, **record} for record in records]

    def create(self, sobject: str, records: Iterable[dict]) -> list[RecordResult]:
        records = self._typed(sobject, records)
        return self._collection("POST", "composite/sobjects", records, "create")

    def update(self, sobject: str, records: Iterable[dict]) -> list[RecordResult]:
        """Each record carries its ``Id``."""
        records = self._typed(sobject, records)
        return self._collection("PATCH", "composite/sobjects", records, "update")

    def write(self, sobject: str, operation: str, records: list[dict]) -> list[RecordResult]:
        """Repeat a write by its recorded ``operation`` (maintenance message retries)."""
        if operation == "delete":
            return self.delete((r["Id"] for r in records), sobject)
        if operation.startswith("upsert:"):
            return self.upsert(sobject, operation.removeprefix("upsert:"), records)
        return {"create": self.create, "update": self.update}[operation](sobject, records)

    def start_upsert(self, sobject: str, external_id_field: str, records: list[dict]) -> "Write":
        """``upsert``, but a Bulk API job is left running: ``results()`` waits for it."""
        if len(records) >= settings.SALESFORCE_BULK_THRESHOLD:
            operation = f"upsert:{external_id_field}"
            return self._bulk_start(sobject, operation, self._typed(sobject, records))
        done = self.upsert(sobject, external_id_field, records)
        return Write(lambda: done)

    def upsert(
        self, sobject: str, external_id_field: str, records: Iterable[dict]
    ) -> list[RecordResult]:
        path = f"composite/sobjects/{sobject}/{external_id_field}"
        records = self._typed(sobject, records)
        return self._collection("PATCH", path, records, f"upsert:{external_id_field}")

    def delete(self, ids: Iterable[str], sobject: str = "") -> list[RecordResult]:
        """Delete by Id; with the ``sobject`` named, a large set goes as a Bulk API job."""
        ids = list(ids)
        if self.recorder is not None:
            return self.recorder(sobject, "delete", [{"Id": i} for i in ids]) if ids else []
        if sobject and len(ids) >= settings.SALESFORCE_BULK_THRESHOLD:
            return self._bulk(sobject, "delete", [{"Id": i} for i in ids])
        results: list[RecordResult] = []
        for chunk in chunks(ids, COLLECTION_LIMIT):
            params = {"ids": ",".join(chunk), "allOrNone": "false"}
            self._before_write()
            rows = self.rest("composite/sobjects", method="DELETE", params=params)
            results += [
                _result({"Id": i}, row, "delete") for i, row in zip(chunk, rows, strict=True)
            ]
        return results

    # -- campaigns --------------------------------------------------------------------------

    def member_statuses(self, campaign_ids: Iterable[str]) -> dict[str, list[dict]]:
        """Each campaign's CampaignMemberStatus rows, by campaign id."""
        statuses: dict[str, list[dict]] = {}
        for chunk in _in_chunks(sorted(set(campaign_ids))):
            soql = format_soql(
                "SELECT Id, CampaignId, Label, IsDefault, HasResponded, SortOrder "
                "FROM CampaignMemberStatus WHERE CampaignId IN {ids} ORDER BY SortOrder",
                ids=chunk,
            )
            for row in self.query(soql):
                statuses.setdefault(row["CampaignId"], []).append(row)
        return statuses

    def add_member_statuses(
        self, campaign_id: str, existing: list[dict], wanted: Iterable[tuple[str, bool]]
    ) -> list[RecordResult]:
        """Create the (label, responded) statuses a campaign lacks, after its last SortOrder."""
        have = {row["Label"].lower() for row in existing}
        order = max((int(row["SortOrder"]) for row in existing), default=0)
        records = []
        for label, responded in wanted:
            if label.lower() in have:
                continue
            have.add(label.lower())
            order += 1
            records.append(
                {
                    "CampaignId": campaign_id,
                    "Label": label,
                    "HasResponded": responded,
                    "SortOrder": order,
                }
            )
        return self.create("CampaignMemberStatus", records) if records else []

    def campaign_members(self, campaign_id: str, fields: Iterable[str] = ()) -> Iterator[dict]:
        columns = ", ".join(["Id", "ContactId", "LeadId", "Status", "HasResponded", *fields])
        soql = format_soql(
            f"SELECT {columns} FROM CampaignMember WHERE CampaignId = {{campaign_id}}",
            campaign_id=campaign_id,
        )
        return self.query(soql)

    # -- tooling: cmsync's schema ----------------------------------------------------------

    def tooling_query(self, soql: str) -> list[dict]:
        rows = self._call("toolingexecute", "query/", params={"q": soql})
        if not isinstance(rows, dict) or "records" not in rows:
            raise errors.RequestError(f"Unexpected Tooling API answer: {str(rows)[:200]}")
        return rows["records"]

    def tooling_create(self, metadata_type: str, body: dict) -> dict:
        return self._call("toolingexecute", f"sobjects/{metadata_type}/", "POST", body)

    def tooling_delete(self, metadata_type: str, record_id: str) -> None:
        self._call("toolingexecute", f"sobjects/{metadata_type}/{record_id}", "DELETE")

    def tooling_get(self, metadata_type: str, record_id: str) -> dict:
        """One Tooling API record with every field, Metadata included."""
        record = self._call("toolingexecute", f"sobjects/{metadata_type}/{record_id}")
        if not isinstance(record, dict):
            raise errors.RequestError(f"Unexpected Tooling API answer: {str(record)[:200]}")
        record.pop("attributes", None)
        return record

    def tooling_update(self, metadata_type: str, record_id: str, body: dict) -> None:
        """PATCH a Tooling API record, e.g. ``{"Metadata": {...}}`` for a Layout."""
        self._call("toolingexecute", f"sobjects/{metadata_type}/{record_id}", "PATCH", body)


def memo_describe(gateway: "SalesforceGateway") -> Callable[[str], ObjectInfo]:
    """``gateway.describe``, each object asked for once: the one describe cache (a run's
    context, the import wizard and subscription rules all use it)."""
    seen: dict[str, ObjectInfo] = {}

    def describe(sobject: str) -> ObjectInfo:
        if sobject not in seen:
            seen[sobject] = gateway.describe(sobject)
        return seen[sobject]

    return describe
