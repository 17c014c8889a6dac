"""Preview (dry run): the primary sync's reading and deciding, with nothing written.

A run of kind "preview" runs ``sync.primary.run``, the same steps as every primary sync; what
differs is chosen from the run's kind in the one place a run's Context is built
(``sync.runner._context``):

- **Salesforce and Campaign Monitor.** Both gateways get this module's ``Sink`` as their
  recorder: each write's records become ``PreviewChange`` rows (in batches, a table of their
  own keyed by run, so memory stays flat at any volume) and the recorder answers as a
  successful write would. The Salesforce session refuses any other request that is not a
  read, as a safety net.
- **cmsync's own tables** (cursors, subscriber states, suppressions, known people, campaign
  links, tracked event keys, inbox and echo rows, webhook rows, leases, maintenance messages,
  the settings): *shadowed*. Before the steps run, each gets a temporary table of the same
  name and shape on the run's database connection, filled with a copy of its rows. SQLite and
  PostgreSQL both look an unqualified table name up in the connection's temporary schema
  first, so the steps' own queries read and write the copy and see their own earlier writes
  exactly as a real run does (the opt-out step decides from the states the subscribers step
  just stored), while no other connection sees any of it. The copies are dropped when the
  run ends; a later real run reads the tables as they were.

Why not a transaction rolled back at the end: on SQLite it would hold the database's write
lock for the whole preview, and the console could not save anything meanwhile. Writes to
temporary tables take no lock on the main database (SQLite) and no row of it (PostgreSQL);
copying reads under a snapshot. The preview's own rows (its run row, its ``PreviewChange``
rows) are short writes, as a real run's checkpoints are.

Limits: the copies live on one database connection, so a preview runs in one process (a run
split into work items must keep a preview's items in the process that opened its copies; one
resumed elsewhere starts again from the beginning: ``begin`` clears what it recorded). A
connection lost mid-run loses the copies: the Context checks at each checkpoint that its
connection is the one that holds them and fails the run otherwise, before a step could write
to the real tables.

Proposed settings: a preview started from a settings confirmation carries the proposed values
(``SyncRun.proposed``); they are written into the shadowed settings, so every step reads them
as it would read saved ones.
"""

import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from django.apps import apps
from django.db import connection
from django.db.models import Count

from salesforce.gateway import RecordResult
from settings_app.models import TRACKING_TYPES, MemberStatusMapping

from .models import PreviewChange, SyncRun

SAMPLES = 50  # records shown per step and kind on the result page
FLUSH_EVERY = 500  # recorded changes kept in memory before they are stored

# The tables a primary sync writes, copied with their rows; "auditlog.LogEntry" gets an empty
# copy (saving a connected client or a setting writes audit entries nobody reads back).
SHADOWED = (
    "sync.Cursor",
    "sync.SubscriberState",
    "sync.KnownPerson",
    "sync.SuppressedEmail",
    "sync.ScheduleState",
    "sync.CampaignLink",
    "sync.TrackedEvent",
    "sync.SalesforceChange",
    "sync.WatchedRecord",
    "sync.ChangeWatch",
    "sync.CampaignMonitorEvent",
    "sync.ListWebhook",
    "sync.WebhookWatch",
    "sync.Lease",
    "maintenance.Message",
    "subscriptions.PushedFields",
    "campaign_monitor.ConnectedClient",
    "settings_app.SyncSettings",
    "settings_app.GeneralSettings",
    "settings_app.CampaignSettings",
    "settings_app.MemberStatusMapping",
    "billing.BillingAccount",
)
EMPTY = ("auditlog.LogEntry",)
SECTIONS = {
    "sync": "settings_app.SyncSettings",
    "general": "settings_app.GeneralSettings",
    "campaigns": "settings_app.CampaignSettings",
}

# What each kind of change is called on the result page, in the order shown.
KINDS = {
    "opted_out": "Email Opt Out ticked",
    "opted_in": "Email Opt Out cleared",
    "custom_fields": "Custom field values",
    "lists": "Subscriber lists",
    "memberships": "List memberships",
    "campaigns_created": "Campaigns created",
    "campaigns_updated": "Campaigns updated (statistics)",
    "statuses_created": "Member statuses created",
    "members_added": "Campaign members added",
    "member_status": "Member statuses changed",
    "tracking_created": "Tracking records created or updated",
    "tracking_deleted": "Tracking records deleted (days to keep)",
    "webhooks": "Campaign Monitor webhooks",
    "cm_write": "Other Campaign Monitor changes",
    "other": "Other Salesforce writes",
    "message": "Maintenance messages it would leave",
}


class ShadowLost(RuntimeError):
    """The database connection that held the preview's copies is gone."""


# -- the copies ------------------------------------------------------------------------------


def _tables() -> list[tuple[str, Any, bool]]:
    """(table, model, copy its rows) for every shadowed table."""
    found = [(label, True) for label in SHADOWED] + [(label, False) for label in EMPTY]
    return [
        (model._meta.db_table, model, rows)
        for label, rows in found
        if (model := apps.get_model(label)) is not None
    ]


def _create_sqlite(cursor, table: str, rows: bool) -> None:
    cursor.execute("SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = %s", [table])
    (sql,) = cursor.fetchone()
    sql = re.sub(r'^CREATE TABLE\s+"?([^"\s(]+)"?', r'CREATE TEMP TABLE "\1"', sql)
    # A temporary table's foreign keys would look for their tables in the temporary schema.
    sql = re.sub(
        r'\s+REFERENCES\s+"[^"]+"\s*\("[^"]+"\)(\s+DEFERRABLE INITIALLY DEFERRED)?', "", sql
    )
    cursor.execute(sql)
    cursor.execute(
        "SELECT sql FROM main.sqlite_master WHERE type = 'index' AND tbl_name = %s "
        "AND sql IS NOT NULL",
        [table],
    )
    for (index,) in cursor.fetchall():
        cursor.execute(
            re.sub(r'^CREATE (UNIQUE )?INDEX\s+"?([^"\s]+)"?', r'CREATE \1INDEX temp."\2"', index)
        )
    if rows:
        cursor.execute(f'INSERT INTO temp."{table}" SELECT * FROM main."{table}"')


def _create_postgres(cursor, table: str, model, rows: bool) -> None:
    cursor.execute("SELECT current_schema()")
    (schema,) = cursor.fetchone()
    cursor.execute(f'CREATE TEMP TABLE "{table}" (LIKE "{schema}"."{table}" INCLUDING ALL)')
    if not rows:
        return
    cursor.execute(f'INSERT INTO pg_temp."{table}" SELECT * FROM "{schema}"."{table}"')
    pk = model._meta.pk.column
    cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [f'pg_temp."{table}"', pk])
    (sequence,) = cursor.fetchone()
    if sequence:  # an identity column copied with its own sequence: continue after the rows
        cursor.execute(
            f'SELECT setval(%s, COALESCE(MAX("{pk}"), 0) + 1, false) FROM pg_temp."{table}"',
            [sequence],
        )


def _temp_schema() -> str:
    return "temp" if connection.vendor == "sqlite" else "pg_temp"


class Shadow:
    """The preview's copies of cmsync's tables on this database connection."""

    def __init__(self) -> None:
        self.tables: list[str] = []
        self.dbapi: Any = None

    def open(self) -> None:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            for table, model, rows in _tables():
                self.tables.append(table)
                if connection.vendor == "sqlite":
                    _create_sqlite(cursor, table, rows)
                else:
                    _create_postgres(cursor, table, model, rows)
        self.dbapi = connection.connection

    def intact(self) -> bool:
        """Still the connection that holds the copies (a reconnect would have none)."""
        return self.dbapi is not None and connection.connection is self.dbapi

    def close(self) -> None:
        if self.intact():
            with connection.cursor() as cursor:
                for table in reversed(self.tables):
                    cursor.execute(f'DROP TABLE IF EXISTS {_temp_schema()}."{table}"')
        self.tables, self.dbapi = [], None


_open: list[Shadow] = []  # the shadow this process has open (one run at a time per process)


def close() -> None:
    """Drop the copies, if any are open here (the runner calls it whatever happened)."""
    while _open:
        _open.pop().close()


# -- proposed settings ------------------------------------------------------------------------


# The settings whose change changes what a primary sync writes: only these are previewed,
# with the member status mapping table (its changed rows, as ``{"mapping": {activity:
# {"label", "responded"}}}``). The schedule, the reactions to Salesforce changes and the
# import options are not the primary sync's.
PREVIEWABLE = {
    "import_tracking",
    "track_sent",
    "track_opened",
    "track_clicked",
    "track_unsubscribed",
    "track_bounced",
    "days_to_keep",
    "cm_webhooks",
    "sync_email_opt_out",
    "update_statistics",
    "auto_create_campaigns",
    "member_status_mode",
    "auto_create_statuses",
}


def proposed_from(form, formset=None) -> dict:
    """A valid settings form's changed values that a preview can show the effect of, as a
    preview stores them: ``{section: {field: value_to_string}}``, and the changed rows of a
    valid status mapping ``formset`` under "mapping"; {} when there are none."""
    proposed = {}
    model = form._meta.model
    section = next((n for n, label in SECTIONS.items() if label == model._meta.label), None)
    if section is not None:
        names = {f.name for f in model._meta.concrete_fields} & PREVIEWABLE
        values = {
            name: model._meta.get_field(name).value_to_string(form.instance)
            for name in form.changed_data
            if name in names
        }
        if values:
            proposed[section] = values
    mapping = {
        row.instance.activity: {
            "label": row.cleaned_data["label"],
            "responded": bool(row.cleaned_data["responded"]),
        }
        for row in (formset.forms if formset is not None else [])
        if (row.cleaned_data["label"], row.cleaned_data["responded"])
        != (row.initial.get("label"), row.initial.get("responded"))
    }
    if mapping:
        proposed["mapping"] = mapping
    return proposed


def _apply(proposed: dict) -> None:
    """Write the proposed values into the shadowed settings (no signals: no audit)."""
    for section, values in proposed.items():
        if section == "mapping":
            MemberStatusMapping.load()  # every activity has its row
            for activity, row in values.items():
                MemberStatusMapping.objects.filter(activity=activity).update(
                    label=str(row["label"]), responded=bool(row["responded"])
                )
            continue
        model = apps.get_model(SECTIONS[section])
        fields = {name: model._meta.get_field(name).to_python(v) for name, v in values.items()}
        model.get_solo()  # the row exists
        model.objects.update(**fields)


def describe_proposed(proposed: dict) -> list[str]:
    """The proposed values in words, for the result page: "Days to keep: 30"."""
    lines = []
    for section, values in proposed.items():
        if section == "mapping":
            lines.extend(_describe_mapping(values))
            continue
        model = apps.get_model(SECTIONS[section])
        for name, value in values.items():
            field = model._meta.get_field(name)
            shown = (
                dict(field.flatchoices).get(field.to_python(value), value)
                if field.choices
                else value
            )
            if field.get_internal_type() == "BooleanField":
                shown = "on" if field.to_python(value) else "off"
            name = str(field.verbose_name)
            lines.append(f"{name[:1].upper()}{name[1:]}: {shown}")
    return lines


def _describe_mapping(values: dict) -> list[str]:
    """ "Member status for Clicked: Engaged (counts as responded)", in activity order."""
    names = dict(TRACKING_TYPES)
    return [
        f"Member status for {names.get(activity, activity)}: {values[activity]['label']}"
        + (" (counts as responded)" if values[activity]["responded"] else "")
        for activity in sorted(values, key=lambda a: list(names).index(a) if a in names else 99)
    ]


# -- the sink -------------------------------------------------------------------------------


def _kind(step: str, sobject: str, operation: str, record: dict) -> str:
    if operation == "delete":
        return "tracking_deleted" if step == "retention" else "other"
    if sobject in ("Contact", "Lead"):
        if "HasOptedOutOfEmail" in record:
            return "opted_out" if record["HasOptedOutOfEmail"] else "opted_in"
        return "custom_fields"
    if sobject == "Campaign":
        return "campaigns_updated" if operation == "update" else "campaigns_created"
    if sobject == "CampaignMember":
        return "member_status" if operation == "update" else "members_added"
    return {
        "CampaignMemberStatus": "statuses_created",
        "CM_Email_Tracking__c": "tracking_created",
        "CM_Subscriber_List__c": "lists",
        "CM_List_Membership__c": "memberships",
    }.get(sobject, "other")


def _key(record: dict) -> str:
    for name in (
        "Id",
        "CM_Event_Key__c",
        "CM_Membership_Key__c",
        "CM_List_Id__c",
        "CM_Campaign_Id__c",
    ):
        if record.get(name):
            return str(record[name])
    return ""


def _label(record: dict) -> str:
    for name in ("CM_Email__c", "Email", "Name", "Label"):
        if record.get(name):
            return str(record[name])
    return ""


class Sink:
    """Records the writes of a preview run instead of making them."""

    def __init__(self, run: SyncRun) -> None:
        self.run = run
        self.pending: list[PreviewChange] = []
        self.explained: dict[str, tuple[str, str, str]] = {}  # id → (label, before, reason)
        self.made = 0  # records "created": each gets an id of its own
        self.shadow = Shadow()

    # The run's Context sets this: the step running now.
    def step(self) -> str:
        return self.run.step

    def begin(self) -> None:
        """Start (or start again) the preview: nothing recorded yet, copies opened, the
        proposed settings applied to them."""
        PreviewChange.objects.filter(run=self.run).delete()
        close()
        self.shadow.open()
        _open.append(self.shadow)
        _apply(self.run.proposed or {})

    def check(self) -> None:
        if not self.shadow.intact():
            raise ShadowLost(
                "The preview lost its database connection and stopped before writing anything; "
                "start it again."
            )

    def explain(
        self, record_id: str, *, label: str = "", before: str = "", reason: str = ""
    ) -> None:
        """What the step knows about a record it is about to write (shown beside it)."""
        self.explained[record_id] = (label, before, reason)

    def salesforce(self, sobject: str, operation: str, records: list[dict]) -> list[RecordResult]:
        step = self.step()
        results = []
        for record in records:
            kind = _kind(step, sobject, operation, record)
            record_id = record.get("Id") or ""
            label, before, reason = (
                self.explained.pop(record_id, ("", "", "")) if record_id else ("", "", "")
            )
            after = ""
            if kind in ("opted_out", "opted_in"):
                before, after = (
                    str(not record["HasOptedOutOfEmail"]).lower(),
                    str(record["HasOptedOutOfEmail"]).lower(),
                )
            elif sobject == "CampaignMember":
                after = str(record.get("Status") or "")
            elif sobject == "CM_List_Membership__c":
                after = str(record.get("CM_State__c") or "")
            self._add(
                step=step,
                kind=kind,
                sobject=sobject,
                record_id=_key(record),
                label=label or _label(record),
                before=before,
                after=after,
                reason=reason,
                fields={k: v for k, v in record.items() if k != "Id"},
            )
            new_id = record_id
            if not new_id:
                self.made += 1
                new_id = f"preview-{self.made}"
            results.append(
                RecordResult(
                    record=record,
                    success=True,
                    id=new_id,
                    created=operation == "create" or None,
                    operation=operation,
                )
            )
        self.flush()
        return results

    def campaign_monitor(self, method: str, path: str, body: Any) -> Any:
        kind = "webhooks" if "/webhooks" in path else "cm_write"
        self._add(
            step=self.step(),
            kind=kind,
            sobject="Campaign Monitor",
            record_id=path,
            after=method,
            fields=body if isinstance(body, dict) else {"body": body},
        )
        self.flush()
        self.made += 1
        return f"preview-{self.made}" if method == "POST" else None

    def message(self, code: str, summary: str, severity: str, record: dict | None) -> None:
        self._add(
            step=self.step(),
            kind="message",
            record_id=code,
            after=severity,
            reason=summary,
            fields=record or {},
        )

    def _add(self, **values: Any) -> None:
        values["reason"] = values.get("reason", "")[:300]
        values["label"] = values.get("label", "")[:254]
        for name in ("before", "after", "record_id"):
            values[name] = str(values.get(name, ""))[:120]
        self.pending.append(PreviewChange(run=self.run, **values))
        if len(self.pending) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            PreviewChange.objects.bulk_create(self.pending, batch_size=FLUSH_EVERY)
            self.pending = []

    def end(self) -> None:
        self.flush()
        close()


# -- the result -------------------------------------------------------------------------------


def summary(run: SyncRun) -> list[dict]:
    """Per step (in run order), per kind: how many, by object, the before → after pairs of
    member statuses, and the first SAMPLES records."""
    from .step_titles import STEPS

    changes = PreviewChange.objects.filter(run=run)
    counts: dict[tuple[str, str], dict] = {}
    for row in changes.values("step", "kind", "sobject").annotate(n=Count("id")):
        entry = counts.setdefault(
            (row["step"], row["kind"]),
            {"step": row["step"], "kind": row["kind"], "count": 0, "by_object": {}, "pairs": []},
        )
        entry["count"] += row["n"]
        if row["sobject"]:
            entry["by_object"][row["sobject"]] = row["n"]
    pairs = changes.filter(kind__in=["member_status", "members_added"])
    for row in (
        pairs.values("step", "kind", "before", "after").annotate(n=Count("id")).order_by("-n")
    ):
        counts[(row["step"], row["kind"])]["pairs"].append(
            {"before": row["before"], "after": row["after"], "count": row["n"]}
        )
    order = {key: i for i, (key, _title) in enumerate(STEPS)}
    kinds = list(KINDS)
    entries = sorted(
        counts.values(),
        key=lambda e: (
            order.get(e["step"], len(order)),
            kinds.index(e["kind"]) if e["kind"] in kinds else 99,
        ),
    )
    titles = dict(STEPS)
    for entry in entries:
        entry["step_title"] = titles.get(entry["step"], entry["step"])
        entry["title"] = KINDS.get(entry["kind"], entry["kind"])
        entry["samples"] = list(changes.filter(step=entry["step"], kind=entry["kind"])[:SAMPLES])
    return entries


def totals(run: SyncRun) -> dict[str, int]:
    """How many changes of each kind, over every step (the API and the command show it)."""
    found: dict[str, int] = defaultdict(int)
    for row in PreviewChange.objects.filter(run=run).values("kind").annotate(n=Count("id")):
        found[row["kind"]] += row["n"]
    return dict(found)


CSV_HEADER = ["step", "kind", "object", "record", "label", "before", "after", "reason", "fields"]


def csv_rows(run: SyncRun) -> Iterator[list]:
    """Every recorded change, in the order the run meant to make them (streamed)."""
    import json

    changes = PreviewChange.objects.filter(run=run).order_by("id")
    for change in changes.iterator(chunk_size=2000):
        yield [
            change.step,
            change.kind,
            change.sobject,
            change.record_id,
            change.label,
            change.before,
            change.after,
            change.reason,
            json.dumps(change.fields, sort_keys=True, default=str),
        ]
