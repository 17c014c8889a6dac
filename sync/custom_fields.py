"""Custom field mappings, Campaign Monitor → Salesforce, in the primary sync.

Called by the subscribers step for every page it stores: for a list with Campaign Monitor →
Salesforce mappings, each subscriber's custom field values go onto the Contact and the Lead
that stand for the subscriber: the most recently modified Contact and the most recently
modified Lead with the email, the lowest Id of those modified in the same second (DESIGN.md
§5, record linking; find_people orders them; converted Leads are left alone).
Only fields whose value differs are written (current values are read first, one query per
object per page), create-only mappings only fill empty fields, a mapping's default stands in
for a blank value, and a blank value without a default leaves the field as it is. Deleted
subscribers are skipped.

A value Salesforce refuses (a restricted picklist's unknown country) becomes a maintenance
message with the record, and the record's other fields are written without it.

These writes come back to cmsync as Salesforce changes; the mappings there run the other way
and compare before sending, and nothing here touches opt-out or subscription states.
"""

from campaign_monitor.models import ConnectedClient
from campaign_monitor.records import Subscriber
from maintenance.models import Message
from salesforce.gateway import RecordResult
from subscriptions import field_types
from subscriptions.mappings import PEOPLE, STEP, read_records, usable_fields
from subscriptions.models import FieldMapping

from .context import Context


def apply_page(
    ctx: Context, client: ConnectedClient, list_id: str, records: list[Subscriber]
) -> None:
    mappings = list(
        FieldMapping.objects.filter(list_id=list_id, direction=FieldMapping.Direction.TO_SF)
    )
    subscribers = {r.email.lower(): r for r in records if r.state != "deleted"}
    if not mappings or not subscribers:
        return
    ctx.count(STEP)
    people = ctx.people(subscribers)
    for sobject in PEOPLE:
        mapped = [m for m in mappings if m.sf_field(sobject)]
        linked = {
            email: person
            for email, persons in people.items()
            if (person := next((p for p in persons if p.sobject == sobject), None))
        }
        if not mapped or not linked:
            continue
        usable = usable_fields(ctx, sobject, mapped, FieldMapping.Direction.TO_SF)
        if usable:
            _apply(ctx, client, sobject, mapped, usable, subscribers, linked)


def _apply(ctx: Context, client, sobject, mappings, usable, subscribers, linked) -> None:
    fields = sorted({info.name for info in usable.values()})
    ids = [p.id for p in linked.values()]
    current = read_records(ctx, sobject, ids, fields)
    updates, unchanged = [], 0
    for email, person in linked.items():
        row = current.get(person.id)
        if row is None:  # converted (or deleted since it was found)
            continue
        record = {"Id": person.id}
        for mapping in mappings:
            if mapping.pk not in usable:
                continue
            value = _wanted(ctx, client, mapping, usable[mapping.pk], subscribers[email], row)
            if value is not None:
                record[usable[mapping.pk].name] = value
        if len(record) > 1:
            updates.append(record)
        else:
            unchanged += 1
    ctx.count(STEP, read=len(current), unchanged=unchanged)
    if updates:
        _write(ctx, sobject, updates, client.client_id)


def _values(subscriber: Subscriber, key: str) -> list[str]:
    """A subscriber's values of one custom field (a multi-select repeats its key)."""
    key = key.lower()
    return [v for k, v in subscriber.custom_fields if k.strip("[]").lower() == key and v != ""]


def _wanted(ctx: Context, client, mapping, info, subscriber, row) -> object | None:
    """The value to write into ``info`` for this subscriber; None: leave the field alone."""
    values = _values(subscriber, mapping.key)
    if not values and mapping.default_value:
        default = mapping.default_value
        values = (
            field_types.split_many(default) if mapping.cm_type == "MultiSelectMany" else [default]
        )
    current = row.get(info.name)
    if not values or (mapping.create_only and not field_types.blank(current)):
        return None
    try:
        value = field_types.to_sf_value(info, values)
    except field_types.BadValue as exc:
        ctx.message(
            "CM_FIELD_VALUE_INVALID",
            f"{mapping.key} of {subscriber.email} does not fit {row['Id']}'s {info.label}",
            upstream=str(exc),
            record={
                "email": subscriber.email,
                "list_id": mapping.list_id,
                "cm_key": mapping.cm_key,
                "values": values,
                "record_id": row["Id"],
                "field": info.name,
            },
            client_id=client.client_id,
            severity=Message.Severity.WARNING,
            step=STEP,
        )
        ctx.count(STEP, failed=1)
        return None
    return None if field_types.same(info, current, value) else value


def _write(ctx: Context, sobject: str, updates: list[dict], client_id: str) -> None:
    """Update; a record refused for some of its fields is written again without them, and
    the refused part is what its maintenance message keeps (and what a retry sends)."""
    results = ctx.sf.update(sobject, updates)
    final, again, refused = [], [], []
    for result in results:
        bad = {f.lower() for error in result.errors for f in error.fields}
        rest = {k: v for k, v in result.record.items() if k.lower() not in bad}
        if result.success or not bad or len(rest) == len(result.record) or len(rest) < 2:
            final.append(result)
            continue
        again.append(rest)
        part = {"Id": result.record["Id"]}
        part.update({k: v for k, v in result.record.items() if k.lower() in bad})
        refused.append(
            RecordResult(record=part, success=False, errors=result.errors, operation="update")
        )
    if again:
        final += ctx.sf.update(sobject, again)
    # A record written without its refused fields counts once written and once failed.
    ctx.record_failures(STEP, sobject, final, client_id)
    if refused:
        ctx.record_failures(STEP, sobject, refused, client_id)
