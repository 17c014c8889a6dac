"""The import wizard's work: read Salesforce people for an ``ImportJob``, screen them, show a
preview, and push them into a Campaign Monitor list in batches of 1000.

SOQL comes only from ``criteria`` (conditions) and ``salesforce.gateway.soql`` (values); the
field names put in a SELECT are checked against Salesforce's describe first.

Re-subscribing: Campaign Monitor's ``Resubscribe: true`` brings back every inactive
subscriber in the call (unsubscribed and bounced too), so only addresses that are *Deleted*
in the list (read from the list's deleted subscribers before the first batch) are sent with
it, in a call of their own; everyone else goes in a call with ``Resubscribe: false``.

A run (``run``):
  1. claim the job (queued → running, or a running one whose worker was lost)
  2. connect to both sides; count the source in Salesforce
  3. read what Campaign Monitor needs to know first: the list's deleted addresses (when
     re-subscribing) and its members (when a mapping is "create only")
  4. stream the source, screen it chunk by chunk (skips are recorded with their reason)
  5. send batches of 1000 through the import endpoint; save counts, failures per email and
     progress after each batch, stop at a batch boundary when cancelled
  6. finish: succeeded, partly succeeded (Campaign Monitor refused some) or failed

Suppressed people: Campaign Monitor refuses to import an address on the client's suppression
list into a list set to unsubscribe people from all the client's lists (per email, Code 204
"In Suppression List", whatever Resubscribe says). They are reported as suppressed, not as
failures: the import did what Campaign Monitor allows, and only removing the address from
the suppression list (in Campaign Monitor) lets it in.
"""

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypedDict

from django.utils import timezone

from campaign_monitor import errors as cm_errors
from campaign_monitor.client import IMPORT_BATCH, CampaignMonitorClient
from campaign_monitor.models import ConnectedClient, Connection
from campaign_monitor.records import IN_SUPPRESSION_LIST, NewSubscriber
from cmsync import jobs
from cmsync.iterables import chunks
from maintenance.audit import record_action
from salesforce import errors as sf_errors
from salesforce import queries
from salesforce.connection import usable_connection
from salesforce.gateway import ObjectInfo, SalesforceGateway, memo_describe
from settings_app import gates
from settings_app.models import GeneralSettings

from .. import criteria
from ..adding import SKIP_REASONS, Candidate, screen
from ..fields.mappings import sf_fields, to_cm_fields, to_cm_mappings
from ..models import FieldMapping, ImportFailure, ImportJob

TASK = "subscriptions.run_import"  # subscriptions/tasks.py
BATCH = IMPORT_BATCH  # people per import call: Campaign Monitor's limit
SAMPLE = 10  # rows and skipped examples shown in the preview
STALE_AFTER = timedelta(minutes=15)  # a running job without a heartbeat for this long was lost
NAME_CHOICES = {
    "Name": "Full name (Name)",
    "FirstName LastName": "First name and last name (FirstName LastName)",
}
CONSENT_CHOICES = ("Unchanged", "Yes", "No")
PERSON_FIELDS = ("Id", "Email", "FirstName", "LastName", "Name", "HasOptedOutOfEmail")
RECORD_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")


class ImportUnavailable(jobs.Refused):
    """Why the import cannot run or be previewed, in words for the admin."""


# -- what the job says ---------------------------------------------------------------------


def options_in_force(job: ImportJob, general: GeneralSettings | None = None) -> dict:
    """The job's choices as the general options allow them now: re-subscribing and journeys
    happen only while their general option is on, whatever the job asked for."""
    general = general or GeneralSettings.get_solo()
    return {
        "resubscribe": job.refresh == ImportJob.Refresh.RESUBSCRIBE_DELETED
        and gates.resubscribe_allowed(general),
        "journeys": job.restart_journeys and gates.journeys_allowed(general),
        "clear_blanks": job.clear_blanks,
        "name": job.mapping.get("name", "Name"),
        "consent_to_track": job.mapping.get("consent_to_track", "Unchanged"),
    }


def list_of(list_id: str, clients: Iterable[ConnectedClient]) -> tuple[ConnectedClient, dict]:
    """The connected client holding the list and the list ({"ListID", "Name"}), or
    ImportUnavailable."""
    for client in clients:
        for found in client.lists:
            if found.get("ListID") == list_id:
                return client, found
    raise ImportUnavailable("This list is not a list of a connected Campaign Monitor client.")


def describe_source(job: ImportJob) -> str:
    """The source in words, e.g. "Contacts where LeadSource equals 'Web'"."""
    if job.source == ImportJob.Source.CAMPAIGN:
        statuses = ", ".join(job.member_statuses) or "any status"
        name = job.campaign_name or job.campaign_id
        return f"Members of the Salesforce campaign {name} (member status: {statuses})"
    people = "Contacts" if job.source == ImportJob.Source.CONTACTS else "Leads"
    if not job.conditions:
        return f"All {people.lower()} with their email address"
    parts = []
    for number, c in enumerate(job.conditions, start=1):
        label = criteria.OPERATORS.get(c.get("operator"), (c.get("operator"),))[0]
        value = "" if c.get("operator") in criteria.NO_VALUE else f" '{c.get('value', '')}'"
        parts.append(f"({number}) {c.get('field')} {label}{value}")
    joined = " AND ".join(parts) if not job.logic else f"{'; '.join(parts)}; logic {job.logic}"
    return f"{people} where {joined}"


# -- reading Salesforce --------------------------------------------------------------------


def job_sobjects(job: ImportJob) -> tuple[str, ...]:
    """The objects whose fields the job reads: a campaign's members are contacts or leads."""
    return ("Contact", "Lead") if job.source == ImportJob.Source.CAMPAIGN else (job.sobject,)


def mappings_for(job: ImportJob) -> list[FieldMapping]:
    """The list's Salesforce → Campaign Monitor mappings with the Salesforce fields chosen on
    the job's mapping step (unsaved copies: the list's own mappings stay as they are)."""
    chosen = job.mapping.get("fields") or {}
    mappings = []
    for mapping in to_cm_mappings(job.list_id):
        fields = chosen.get(mapping.cm_key) or {}
        if "Contact" in fields:
            mapping.contact_field = fields["Contact"]
        if "Lead" in fields:
            mapping.lead_field = fields["Lead"]
        mappings.append(mapping)
    return mappings


def mapped_fields(
    list_id: str,
    sobject: str,
    describe: Callable[[str], ObjectInfo],
    mappings: list[FieldMapping],
) -> tuple[list[str], list[str]]:
    """The mapped fields Salesforce has (safe to SELECT) and a sentence for each it has not."""
    found, problems = [], []
    for name in sf_fields(list_id, sobject, mappings):
        if not criteria.FIELD_PATH.match(name) or _field(describe, sobject, name) is None:
            problems.append(
                f"A field mapping reads {sobject} field “{name}”, which Salesforce does not "
                "have: that custom field is left out."
            )
        else:
            found.append(name)
    return found, problems


def _field(describe, sobject: str, path: str):
    if path.startswith("Account."):
        return describe("Account").field(path.split(".", 1)[1]) if sobject == "Contact" else None
    return describe(sobject).field(path)


@dataclass
class Source:
    """The SOQL that reads a job's people and counts them, and what was left out of it."""

    query: str
    count_query: str
    problems: list[str] = field(default_factory=list)


def build_source(
    job: ImportJob, describe: Callable[[str], ObjectInfo], mappings: list[FieldMapping]
) -> Source:
    """The job's SOQL. Raises criteria.InvalidCriteria for conditions Salesforce cannot take."""
    if job.source == ImportJob.Source.CAMPAIGN:
        return _campaign_source(job, describe, mappings)
    sobject = "Contact" if job.source == ImportJob.Source.CONTACTS else "Lead"
    where = criteria.parse(job.conditions, job.logic, describe, sobject).where()
    extra, problems = mapped_fields(job.list_id, sobject, describe, mappings)
    # Most recently modified first: of two records with one email, that one wins.
    query, count_query = queries.people(sobject, dict.fromkeys([*PERSON_FIELDS, *extra]), where)
    return Source(query=query, count_query=count_query, problems=problems)


def _campaign_source(
    job: ImportJob, describe: Callable[[str], ObjectInfo], mappings: list[FieldMapping]
) -> Source:
    if not RECORD_ID.match(job.campaign_id or ""):
        raise criteria.InvalidCriteria("Choose a Salesforce campaign.")
    columns, problems = ["Id", "ContactId", "LeadId", "Status"], []
    for sobject in ("Contact", "Lead"):
        extra, missing = mapped_fields(job.list_id, sobject, describe, mappings)
        problems += missing
        columns += [f"{sobject}.{name}" for name in dict.fromkeys([*PERSON_FIELDS, *extra])]
    query, count_query = queries.campaign_members(job.campaign_id, job.member_statuses, columns)
    return Source(query=query, count_query=count_query, problems=problems)


def _flatten(record: dict | None, prefix: str = "") -> dict:
    """Nested relationship records as dotted keys: {"Account": {"Industry": x}} →
    {"Account.Industry": x}."""
    flat = {}
    for key, value in (record or {}).items():
        if key == "attributes":
            continue
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _name(values: dict, mode: str) -> str:
    if mode == "FirstName LastName":
        return " ".join(p for p in (values.get("FirstName"), values.get("LastName")) if p)
    return values.get("Name") or ""


def candidate(sobject: str, values: dict, name_mode: str) -> Candidate:
    return Candidate(
        sobject=sobject,
        id=values.get("Id") or "",
        email=(values.get("Email") or "").strip(),
        name=_name(values, name_mode),
        opted_out=bool(values.get("HasOptedOutOfEmail")),
        values=values,
    )


def read_people(job: ImportJob, gateway: SalesforceGateway, source: Source) -> Iterator[Candidate]:
    """Every person of the source, one Salesforce page at a time."""
    name_mode = job.mapping.get("name", "Name")
    for row in gateway.query(source.query):
        flat = _flatten(row)
        if job.source != ImportJob.Source.CAMPAIGN:
            yield candidate(job.sobject, flat, name_mode)
            continue
        # A converted lead's member has both ids: the contact is the person now.
        sobject = "Contact" if flat.get("ContactId") else "Lead"
        person = {k.split(".", 1)[1]: v for k, v in flat.items() if k.startswith(f"{sobject}.")}
        person.setdefault("Id", flat.get(f"{sobject}Id"))
        yield candidate(sobject, person, name_mode)


def screened(
    people: Iterable[Candidate], general: GeneralSettings
) -> Iterator[tuple[Candidate, str | None]]:
    """Each person with None (to import) or its skip reason, screened chunk by chunk so that
    memory holds one chunk and the set of emails seen."""
    seen: set[str] = set()
    for chunk in chunks(people, BATCH):
        allowed, skipped = screen(chunk, general, seen=seen)
        reasons = {id(c): reason for c, reason in skipped}
        allowed_ids = {id(c) for c in allowed}
        for person in chunk:
            if id(person) in allowed_ids:
                yield person, None
            else:
                yield person, reasons[id(person)]


# -- Campaign Monitor ------------------------------------------------------------------------


def emails_in_states(api: CampaignMonitorClient, list_id: str, states: Iterable[str]) -> set[str]:
    """Lower-case addresses of the list's subscribers in these states (emails only: a flat
    set, however large the list)."""
    found: set[str] = set()
    for state in states:
        for page in api.subscriber_pages(list_id, state):
            found.update(s.email.lower() for s in page.records)
    return found


@dataclass
class Known:
    """What Campaign Monitor says before the import: who is Deleted in the list, and (for
    "create only" mappings) who is already in it."""

    deleted: set[str]
    members: set[str] | None  # None: not read, no mapping needs it

    def is_new(self, email: str) -> bool:
        return self.members is not None and email.lower() not in self.members


def read_known(
    api: CampaignMonitorClient, list_id: str, resubscribe: bool, mappings: list[FieldMapping]
) -> Known:
    deleted = emails_in_states(api, list_id, ["deleted"]) if resubscribe else set()
    members = None
    if any(m.create_only for m in mappings):
        others = ["active", "unconfirmed", "unsubscribed", "bounced"]
        members = emails_in_states(api, list_id, others if resubscribe else [*others, "deleted"])
        members |= deleted
    return Known(deleted=deleted, members=members)


def new_subscriber(
    job: ImportJob, person: Candidate, options: dict, known: Known, mappings: list[FieldMapping]
) -> NewSubscriber:
    return NewSubscriber(
        email=person.email,
        name=person.name,
        custom_fields=to_cm_fields(
            job.list_id,
            person.sobject,
            person.values,
            new=known.is_new(person.email),
            clear_blanks=options["clear_blanks"],
            mappings=mappings,
        ),
        consent_to_track=options["consent_to_track"],
    )


# -- connections -----------------------------------------------------------------------------


def salesforce_for(user) -> SalesforceGateway:
    connection = usable_connection(user)
    if connection is None:
        raise ImportUnavailable(
            "Salesforce is not connected: set the Salesforce sync user on the Sync tab."
        )
    return connection.gateway()


def campaign_monitor_for(job: ImportJob) -> CampaignMonitorClient:
    connection = Connection.current()
    if connection is None:
        raise ImportUnavailable("Campaign Monitor is not connected.")
    list_of(job.list_id, connection.connected_clients().filter(client_id=job.client_id))
    return connection.api()


# -- preview ---------------------------------------------------------------------------------


@dataclass
class Preview:
    found: int = 0
    allowed: int = 0
    skipped: Counter = field(default_factory=Counter)
    examples: dict[str, list[Candidate]] = field(default_factory=dict)
    sample: list[NewSubscriber] = field(default_factory=list)
    resubscribed: int = 0  # allowed people Deleted in the list (when re-subscribing)
    options: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def skip_rows(self) -> list[dict]:
        return [
            {
                "reason": reason,
                "words": SKIP_REASONS[reason],
                "count": self.skipped[reason],
                "examples": self.examples.get(reason, []),
            }
            for reason in SKIP_REASONS
            if self.skipped[reason]
        ]


def preview(job: ImportJob, gateway: SalesforceGateway, api: CampaignMonitorClient) -> Preview:
    """What running the job now would do, without writing anything."""
    general = GeneralSettings.get_solo()
    mappings = mappings_for(job)
    source = build_source(job, memo_describe(gateway), mappings)
    options = options_in_force(job, general)
    known = read_known(api, job.list_id, options["resubscribe"], mappings)
    result = Preview(options=options, problems=source.problems)
    for person, reason in screened(read_people(job, gateway, source), general):
        result.found += 1
        if reason:
            result.skipped[reason] += 1
            examples = result.examples.setdefault(reason, [])
            if len(examples) < SAMPLE:
                examples.append(person)
            continue
        result.allowed += 1
        result.resubscribed += person.email.lower() in known.deleted
        if len(result.sample) < SAMPLE:
            result.sample.append(new_subscriber(job, person, options, known, mappings))
    return result


# -- starting, scheduling, cancelling ----------------------------------------------------------


def start(job: ImportJob, when=None) -> bool:
    """Queue the draft now, or schedule it for ``when``; audited. False when it was no
    longer a draft (started twice)."""
    scheduled = when is not None and when > timezone.now()
    status = ImportJob.Status.SCHEDULED if scheduled else ImportJob.Status.QUEUED
    changed = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.DRAFT).update(
        status=status, scheduled_for=when if scheduled else None
    )
    if not changed:
        return False
    job.refresh_from_db()
    if scheduled:
        local = timezone.localtime(when).strftime("%Y-%m-%d %H:%M")
        record_action(job, "sync", f"Import {job.pk} into list {job.list_id} scheduled for {local}")
    else:
        record_action(job, "sync", f"Import {job.pk} into list {job.list_id} started")
        _enqueue(job.pk)
    return True


def _enqueue(job_id: int) -> None:
    jobs.enqueue(TASK, job_id)


def cancel(job: ImportJob) -> bool:
    """Cancel a scheduled, queued or running import (a running one stops after its current
    batch); False when it had already finished."""
    changed = ImportJob.objects.filter(pk=job.pk, status__in=ImportJob.ACTIVE).update(
        status=ImportJob.Status.CANCELLED, finished_at=timezone.now()
    )
    if changed:
        record_action(job, "sync", f"Import {job.pk} into list {job.list_id} cancelled")
    return bool(changed)


def dispatch_due(now=None) -> list[int]:
    """Queue every scheduled import whose time has come (beat calls this every minute)."""
    now = now or timezone.now()
    queued = []
    due = ImportJob.objects.filter(status=ImportJob.Status.SCHEDULED, scheduled_for__lte=now)
    for job_id in due.values_list("pk", flat=True):
        claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.SCHEDULED).update(
            status=ImportJob.Status.QUEUED
        )
        if claimed:
            _enqueue(job_id)
            queued.append(job_id)
    return queued


# -- the run ---------------------------------------------------------------------------------


class Totals(TypedDict, total=False):
    """What a run has done so far, saved as the job's ``totals`` after every batch (the
    result page and the API read it back)."""

    found: int
    allowed: int
    skipped: dict[str, int]  # SKIP_REASONS key → how many
    submitted: int
    new: int
    existing: int
    failed: int
    suppressed: int
    resubscribed: int
    batches: int
    options: dict
    problems: list[str]


class Runner:
    """One run of one job; progress is saved after every batch, so a resumed run skips the
    batches already sent (the source is read in a fixed order)."""

    def __init__(self, job: ImportJob, gateway: SalesforceGateway, api: CampaignMonitorClient):
        self.job, self.gateway, self.api = job, gateway, api
        self.general = GeneralSettings.get_solo()
        self.mappings = mappings_for(job)
        self.options = options_in_force(job, self.general)
        totals = job.totals or {}
        self.done = int(totals.get("batches", 0))  # batches already sent by an earlier try
        self.totals: Totals = {
            "found": 0,
            "allowed": 0,
            "skipped": dict.fromkeys(SKIP_REASONS, 0),
            "submitted": int(totals.get("submitted", 0)),
            "new": int(totals.get("new", 0)),
            "existing": int(totals.get("existing", 0)),
            "failed": int(totals.get("failed", 0)),
            "suppressed": int(totals.get("suppressed", 0)),
            "resubscribed": int(totals.get("resubscribed", 0)),
            "batches": self.done,
            "options": self.options,
        }

    def run(self) -> None:
        source = build_source(self.job, memo_describe(self.gateway), self.mappings)
        self.totals["found"] = self.gateway.count(source.count_query)
        self.totals["problems"] = source.problems
        known = read_known(self.api, self.job.list_id, self.options["resubscribe"], self.mappings)
        # Skips are counted again on every try; what Campaign Monitor said is kept.
        self.job.failures.filter(kind=ImportFailure.Kind.SKIPPED).delete()
        self._save()
        batch, skips, number = [], [], 0
        for person, reason in screened(read_people(self.job, self.gateway, source), self.general):
            if reason:
                self.totals["skipped"][reason] += 1
                skips.append(_skip(self.job, person, reason))
                continue
            self.totals["allowed"] += 1
            batch.append(person)
            if len(batch) == BATCH:
                number += 1
                self._batch(number, batch, known, skips)
                batch, skips = [], []
        if batch:
            number += 1
        self._batch(number, batch, known, skips)

    def _batch(self, number: int, people: list, known: Known, skips: list) -> None:
        ImportFailure.objects.bulk_create(skips)
        if people and number > self.done:
            self._send(people, known)
            self.totals["batches"] = number
        self._save()

    def _send(self, people: list[Candidate], known: Known) -> None:
        """One batch: the Deleted ones with Resubscribe (when allowed), the rest without."""
        deleted: list[NewSubscriber] = []
        others: list[NewSubscriber] = []
        for person in people:
            subscriber = new_subscriber(self.job, person, self.options, known, self.mappings)
            (deleted if person.email.lower() in known.deleted else others).append(subscriber)
        for group, resubscribe in ((deleted, True), (others, False)):
            if not group:
                continue
            result = self.api.import_subscribers(
                self.job.list_id,
                group,
                resubscribe=resubscribe,
                queue_autoresponders=self.options["journeys"],
                restart_autoresponders=self.options["journeys"],
            )
            failed = {f.email.lower() for f in result.failures}
            suppressed = sum(f.code == IN_SUPPRESSION_LIST for f in result.failures)
            self.totals["submitted"] += result.submitted
            self.totals["new"] += result.new
            self.totals["existing"] += result.existing
            self.totals["failed"] += len(result.failures) - suppressed
            self.totals["suppressed"] += suppressed
            if resubscribe:
                self.totals["resubscribed"] += sum(s.email.lower() not in failed for s in group)
            ImportFailure.objects.bulk_create(
                ImportFailure(
                    job=self.job,
                    kind=ImportFailure.Kind.SUPPRESSED
                    if f.code == IN_SUPPRESSION_LIST
                    else ImportFailure.Kind.REFUSED,
                    email=f.email[:254],
                    code=str(f.code),
                    message=f.message[:500],
                )
                for f in result.failures
            )

    def _save(self) -> None:
        """Progress and heartbeat; jobs.Cancelled when the job was cancelled meanwhile."""
        jobs.beat(ImportJob, self.job.pk, totals=self.totals)


def _skip(job: ImportJob, person: Candidate, reason: str) -> ImportFailure:
    return ImportFailure(
        job=job,
        kind=ImportFailure.Kind.SKIPPED,
        record_id=person.id[:18],
        email=person.email[:254],
        code=reason,
        message=SKIP_REASONS[reason],
    )


# How an import's ending exception becomes its status and sentence (first match wins).
LADDER: list[jobs.Rule] = [
    ((jobs.Refused, criteria.InvalidCriteria), jobs.Status.FAILED, jobs.said),
    (cm_errors.CampaignMonitorError, jobs.Status.FAILED, lambda e: f"Campaign Monitor: {e}"),
    (sf_errors.SalesforceError, jobs.Status.FAILED, lambda e: f"Salesforce: {e}"),
]


def run(job_id: int) -> ImportJob:
    """Run (or resume) one import. Safe to call twice: the second call does nothing."""
    if jobs.claim(ImportJob, job_id, STALE_AFTER) is None:
        return ImportJob.objects.get(pk=job_id)
    job = ImportJob.objects.get(pk=job_id)
    status: str
    error = ""
    try:
        runner = Runner(job, salesforce_for(job.created_by), campaign_monitor_for(job))
        runner.run()
        failed = runner.totals["failed"]
        status = ImportJob.Status.PARTIAL if failed else ImportJob.Status.SUCCEEDED
    except jobs.Cancelled:
        return ImportJob.objects.get(pk=job_id)
    except Exception as exc:  # every ending, even a bug: the job must not stay "running"
        status, error = jobs.outcome(exc, LADDER, f"Import {job_id}")
    jobs.finish(ImportJob, job_id, status, error)
    return ImportJob.objects.get(pk=job_id)
