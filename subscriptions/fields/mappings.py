"""Custom field mappings, both directions: Salesforce → Campaign Monitor (values from Contact
and Lead fields into a list's custom fields) and Campaign Monitor → Salesforce (the primary
sync's pages of subscribers onto their Contacts and Leads, ``apply_page``, at the end).

``sf_fields`` says which Salesforce fields to read for a list; ``to_cm_fields`` turns a
record's values into Campaign Monitor ``CustomFields`` pairs. The import wizard, the "add"
subscription rules and ``push_changes_to_cm`` (a Contact or Lead changed) all use them, so a
mapping applies the same way on every path. Value conversions are in ``fields.types``.

On a change, the subscribers to update are the ones the primary sync last saw on a list
(``sync.models.SubscriberState``, any state but Deleted): no Campaign Monitor call is spent
finding them, at the price that someone who joined a list since the last primary sync gets
the values at the first Salesforce change after it (the wizard and the rules send them when
they add someone). What cmsync last sent each subscriber is kept (``PushedFields``), so an
edit of an unmapped field, or cmsync's own write coming back, sends nothing.
"""

from collections import defaultdict
from typing import TYPE_CHECKING

from campaign_monitor import errors as cm_errors
from campaign_monitor.models import ConnectedClient
from campaign_monitor.records import NewSubscriber, Subscriber
from maintenance.models import Message
from salesforce.gateway import FieldInfo, RecordResult
from sync.models import SubscriberState

from ..models import FieldMapping, PushedFields
from . import types

if TYPE_CHECKING:
    from sync.context import Context  # sync imports this module

STEP = "field_mappings"
PEOPLE = ("Contact", "Lead")


def _sf_field(mapping: FieldMapping, sobject: str) -> str:
    return mapping.sf_field(sobject)


def to_cm_mappings(list_id: str) -> list[FieldMapping]:
    return list(
        FieldMapping.objects.filter(list_id=list_id, direction=FieldMapping.Direction.TO_CM)
    )


def sf_fields(list_id: str, sobject: str, mappings: list[FieldMapping] | None = None) -> list[str]:
    """The Salesforce fields of ``sobject`` the list's Salesforce → Campaign Monitor mappings
    read (to add to a SELECT)."""
    mappings = to_cm_mappings(list_id) if mappings is None else mappings
    return sorted({f for m in mappings if (f := _sf_field(m, sobject))})


def cm_value(cm_type: str, value: object) -> list[str]:
    """A Salesforce value as Campaign Monitor custom field values (several for a
    multi-select). Empty list: no value."""
    return types.to_cm_values(cm_type, value)


def _value_of(values: dict, field: str) -> object:
    """A record's value of ``field``; Salesforce spells field names in its own case."""
    if field in values:
        return values[field]
    lowered = field.lower()
    return next((v for k, v in values.items() if k.lower() == lowered), None)


def to_cm_fields(
    list_id: str,
    sobject: str,
    values: dict,
    *,
    new: bool,
    clear_blanks: bool = False,
    mappings: list[FieldMapping] | None = None,
) -> tuple[tuple[str, str], ...]:
    """The CustomFields pairs for one record: mapped values, defaults for blanks, create-only
    mappings only for a new subscriber. With ``clear_blanks`` a blank value with no default
    is sent as empty, which clears it in Campaign Monitor."""
    mappings = to_cm_mappings(list_id) if mappings is None else mappings
    pairs: list[tuple[str, str]] = []
    for mapping in mappings:
        field = _sf_field(mapping, sobject)
        if not field or (mapping.create_only and not new):
            continue
        found = cm_value(mapping.cm_type, _value_of(values, field))
        if not found and mapping.default_value:
            found = cm_value(mapping.cm_type, mapping.default_value)
        if found:
            pairs += [(mapping.key, v) for v in found]
        elif clear_blanks:
            pairs.append((mapping.key, ""))
    return tuple(pairs)


# -- what a run knows about Salesforce fields ------------------------------------------------


def usable_fields(
    ctx, sobject: str, mappings: list[FieldMapping], direction: str
) -> dict[int, FieldInfo]:
    """mapping id → the Salesforce field it uses on ``sobject``, for the mappings whose field
    still exists (and, into Salesforce, may be written). The others are reported once a run
    (FIELD_MAPPING_BROKEN) and skipped, so one deleted field never stops a run."""
    described = ctx.describe(sobject)
    usable = {}
    for mapping in mappings:
        name = mapping.sf_field(sobject)
        if not name:
            continue
        info = described.field(name)
        problem = ""
        if info is None:
            problem = f"{sobject} has no field {name} any more"
        elif direction == FieldMapping.Direction.TO_SF and not info.updateable:
            problem = f"the sync user cannot write {sobject}.{info.name}"
        if not problem:
            usable[mapping.pk] = info
        elif (mapping.pk, sobject) not in ctx.reported:
            ctx.reported.add((mapping.pk, sobject))
            ctx.message(
                "FIELD_MAPPING_BROKEN",
                f"Custom field {mapping.cm_key} of list {mapping.list_id} was not mapped: "
                f"{problem}",
                record={"list_id": mapping.list_id, "cm_key": mapping.cm_key, "field": name},
                severity=Message.Severity.WARNING,
                step=STEP,
            )
    return usable


def read_records(ctx: "Context", sobject: str, ids: list[str], fields: list[str]) -> dict:
    """Id → row of ``fields`` (names from describe, never user text); converted Leads are
    left out."""
    return ctx.sf.people_by_id(sobject, ids, fields)


# -- Salesforce changes → Campaign Monitor --------------------------------------------------


def push_changes_to_cm(ctx: "Context", general, changes: list) -> None:
    """Send the mapped fields of changed, live Contacts and Leads to the lists where their
    email is a subscriber, where the values differ from what cmsync last sent there.

    Create-only mappings are not applied on a change. A value blanked in Salesforce clears
    the custom field only if cmsync had sent it (a default takes its place when there is
    one). Updates never resubscribe anyone and leave the name and consent as they are.
    """
    connected = {m["ListID"]: c.client_id for c in ctx.clients for m in c.lists}
    by_list = defaultdict(list)
    for mapping in FieldMapping.objects.filter(
        list_id__in=connected, direction=FieldMapping.Direction.TO_CM
    ):
        by_list[mapping.list_id].append(mapping)
    changed = {(c.sobject, c.record_id) for c in changes if c.sobject in PEOPLE and not c.deleted}
    if not by_list or not changed:
        return
    ctx.count(STEP)
    for sobject in PEOPLE:
        ids = [record_id for kind, record_id in changed if kind == sobject]
        mappings = [m for ms in by_list.values() for m in ms if m.sf_field(sobject)]
        if not ids or not mappings:
            continue
        usable = usable_fields(ctx, sobject, mappings, FieldMapping.Direction.TO_CM)
        if not usable:
            continue
        fields = sorted({"Email", *(i.name for i in usable.values())})
        rows = read_records(ctx, sobject, ids, fields)
        ctx.count(STEP, read=len(rows))
        emails = {(row.get("Email") or "").lower() for row in rows.values()} - {""}
        members = defaultdict(list)
        for member in SubscriberState.objects.filter(
            list_id__in=by_list, email_lc__in=emails
        ).exclude(state="deleted"):
            members[member.email_lc].append(member)
        pushed = {
            (p.list_id, p.email_lc): p
            for p in PushedFields.objects.filter(list_id__in=by_list, email_lc__in=members)
        }
        for row in rows.values():
            for member in members.get((row.get("Email") or "").lower(), ()):
                mapped = [m for m in by_list[member.list_id] if m.pk in usable]
                pairs = to_cm_fields(member.list_id, sobject, row, new=False, mappings=mapped)
                last = pushed.get((member.list_id, member.email_lc))
                sent = _push(ctx, connected[member.list_id], member, row["Id"], pairs, mapped, last)
                if sent is not None:
                    pushed[(member.list_id, member.email_lc)] = sent


def _push(
    ctx: "Context", client_id, member, record_id, pairs, mappings, last
) -> PushedFields | None:
    """Update one subscriber's custom fields if they differ from what was sent last; returns
    what is now known to be sent (None: nothing new)."""
    wanted = sorted([list(p) for p in pairs])
    if last is not None and last.values == wanted:
        ctx.count(STEP, unchanged=1)
        return None
    # Keys cmsync sent before and now has no value for: cleared, if still mapped here.
    still_mapped = {m.key for m in mappings if not m.create_only}
    sent_before = {key for key, _ in (last.values if last else ())}
    clear = sorted((sent_before & still_mapped) - {key for key, _ in wanted})
    if not wanted and not clear:
        ctx.count(STEP, unchanged=1)
        return None
    subscriber = NewSubscriber(
        email=member.email,
        name=None,  # the name is not a custom field: left as it is
        custom_fields=tuple((k, v) for k, v in wanted) + tuple((k, "") for k in clear),
        consent_to_track="Unchanged",
    )
    try:
        # Resubscribe false: an unsubscribed or bounced subscriber keeps that state.
        ctx.cm.update_subscriber(member.list_id, member.email, subscriber, resubscribe=False)
    except (cm_errors.ValidationError, cm_errors.NotFoundError) as exc:
        ctx.message(
            "CM_FIELD_UPDATE_FAILED",
            f"Custom fields of {member.email} on list {member.list_id} not updated",
            upstream=str(exc),
            record={
                "email": member.email,
                "list_id": member.list_id,
                "record_id": record_id,
                "custom_fields": wanted,
            },
            client_id=client_id,
            step=STEP,
        )
        ctx.count(STEP, failed=1)
        return None
    sent, _ = PushedFields.objects.update_or_create(
        list_id=member.list_id, email_lc=member.email_lc, defaults={"values": wanted}
    )
    ctx.count(STEP, written=1)
    return sent


# -- Campaign Monitor → Salesforce, in the primary sync --------------------------------------
# Custom field mappings, Campaign Monitor → Salesforce, in the primary sync.
#
# Called by the subscribers step for every page it stores: for a list with Campaign Monitor →
# Salesforce mappings, each subscriber's custom field values go onto the Contact and the Lead
# that stand for the subscriber: the most recently modified Contact and the most recently
# modified Lead with the email, the lowest Id of those modified in the same second (DESIGN.md
# §5, record linking; find_people orders them; converted Leads are left alone).
# Only fields whose value differs are written (current values are read first, one query per
# object per page), create-only mappings only fill empty fields, a mapping's default stands in
# for a blank value, and a blank value without a default leaves the field as it is. Deleted
# subscribers are skipped.
#
# A value Salesforce refuses (a restricted picklist's unknown country) becomes a maintenance
# message with the record, and the record's other fields are written without it.
#
# These writes come back to cmsync as Salesforce changes; the mappings there run the other way
# and compare before sending, and nothing here touches opt-out or subscription states.


def apply_page(
    ctx: "Context", client: ConnectedClient, list_id: str, records: list[Subscriber]
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


def _apply(ctx: "Context", client, sobject, mappings, usable, subscribers, linked) -> None:
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


def _wanted(ctx: "Context", client, mapping, info, subscriber, row) -> object | None:
    """The value to write into ``info`` for this subscriber; None: leave the field alone."""
    values = _values(subscriber, mapping.key)
    if not values and mapping.default_value:
        default = mapping.default_value
        values = types.split_many(default) if mapping.cm_type == "MultiSelectMany" else [default]
    current = row.get(info.name)
    if not values or (mapping.create_only and not types.blank(current)):
        return None
    try:
        value = types.to_sf_value(info, values)
    except types.BadValue as exc:
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
    return None if types.same(info, current, value) else value


def _write(ctx: "Context", sobject: str, updates: list[dict], client_id: str) -> None:
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
