"""Email tracking (DESIGN.md §4 step 5, §5 "Tracking import", "Campaign member status"):
Campaign Monitor's sends, opens, clicks, unsubscribes and bounces become CM_Email_Tracking__c
records upserted by a stable key, and campaign members get the mapped status."""

import hashlib
import logging
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Min

from billing.accounts import tracking_allowed
from salesforce.gateway import Person, Write
from settings_app.models import CampaignSettings, MemberStatusMapping

from .campaigns import window_start
from .context import Context
from .models import CampaignLink, Cursor, TrackedEvent
from .steps import OVERLAP, _advance

# Our activity names → Campaign Monitor's report endpoints and the tracking type label.
KINDS = {
    "opened": "opens",
    "clicked": "clicks",
    "unsubscribed": "unsubscribes",
    "bounced": "bounces",
}
LABELS = {
    "sent": "Sent",
    "opened": "Opened",
    "clicked": "Clicked",
    "unsubscribed": "Unsubscribed",
    "bounced": "Bounced",
}
# Of a member's activities on the same date (Campaign Monitor dates are to the minute), the
# later in this order is the latest: a click after its open, whatever order they arrive in.
RANK = {activity: rank for rank, activity in enumerate(LABELS)}
ACTIVITY = {label: activity for activity, label in LABELS.items()}
log = logging.getLogger(__name__)
WINDOW_STREAM = "tracking-window"
# Tracking records gathered across pages and campaigns before they are written: enough for
# one Bulk API job (SALESFORCE_BULK_THRESHOLD) rather than a collection call per 200, few
# enough to keep memory flat.
FLUSH_AT = 10_000
KNOWN_MEMBERS = 50_000  # campaign members remembered within a run


@dataclass(frozen=True, slots=True)
class Event:
    activity: str
    email: str
    list_id: str
    date: datetime
    url: str = ""
    bounce_type: str = ""
    reason: str = ""

    @property
    def key(self) -> str:
        """Stable across re-imports: campaign, email, type, date and URL (DESIGN.md §5)."""
        raw = "|".join([self.email.lower(), self.activity, self.date.isoformat(), self.url])
        return raw

    @property
    def recency(self) -> tuple:
        """Later is more recent: by date, then RANK, then key (the same for equal events)."""
        return (self.date, RANK[self.activity], self.key)


def event_key(campaign_id: str, event: Event) -> str:
    return hashlib.sha1(f"{campaign_id}|{event.key}".encode()).hexdigest()


def reset_window_if_widened(ctx: Context) -> None:
    """Raising "days to keep" allows a re-import: forget tracking cursors that start later."""
    start = window_start(ctx)
    window = Cursor.objects.filter(stream=WINDOW_STREAM).first()
    if window and start < window.position:
        Cursor.objects.filter(stream__startswith="tracking:").delete()
        CampaignLink.objects.update(recipients_imported=False)
    Cursor.objects.update_or_create(stream=WINDOW_STREAM, defaults={"position": start})


def _prune_keys() -> None:
    """Only events in some cursor's overlap are ever re-read: forget the keys before that."""
    oldest = Cursor.objects.filter(stream__startswith="tracking:").aggregate(Min("position"))
    if oldest["position__min"] is not None:
        cutoff = oldest["position__min"] - OVERLAP
        TrackedEvent.objects.filter(event_date__lt=cutoff).delete()


def import_tracking(ctx: Context) -> None:
    """Every campaign in the window × every enabled type, one campaign after another."""
    if prepare(ctx):
        for key in campaign_items(ctx):
            campaign_item(ctx, key)


def prepare(ctx: Context) -> bool:
    """Whether tracking is imported this run; if so the window's cursors are set for it."""
    if not tracking_allowed():
        # Not a maintenance message: the Sync and Billing tabs say why tracking is paused.
        log.info("Email tracking import skipped: the trial is over and there is no paid plan")
        return False
    ctx.begin("tracking")
    if not ctx.sync_settings.tracking_types:
        return False
    reset_window_if_widened(ctx)
    _prune_keys()
    return True


def campaign_items(ctx: Context) -> list[str]:
    """The tracking phase's items: each campaign in the window, by Campaign Monitor id. A
    campaign's events and members are one item, so no two workers write one campaign's
    members at once (Salesforce locks the Campaign for each member write)."""
    links = CampaignLink.objects.filter(
        client_id__in=[c.client_id for c in ctx.clients], sent_date__gte=window_start(ctx)
    ).order_by("sent_date", "cm_campaign_id")  # campaigns sent in the same minute, too
    return list(links.values_list("cm_campaign_id", flat=True))


def campaign_item(ctx: Context, cm_campaign_id: str) -> None:
    """One campaign × every enabled type: its tracking records and its members."""
    ctx.begin("tracking")
    link = CampaignLink.objects.filter(cm_campaign_id=cm_campaign_id).first()
    if link is None:
        return
    types = ctx.sync_settings.tracking_types
    start = window_start(ctx)
    pending = Pending(ctx, MemberStatuses(ctx))
    try:
        if "sent" in types and not link.recipients_imported:
            _import_recipients(ctx, link, pending)
        for activity in types:
            if activity != "sent":
                _import_events(ctx, link, activity, start, pending)
        pending.close()
    except BaseException:
        pending.abort()  # a job still running is stopped; its events are read again
        raise


class Batch:
    """Tracking records read but not yet written, gathered across pages and campaigns, with
    what is done once they are: their keys stored, their campaign members written and the
    cursors that covered them moved (a run that stops before reads them again)."""

    def __init__(self) -> None:
        self.records: dict[str, dict] = {}  # event key → the record to upsert
        self.owner: dict[str, str] = {}  # event key → client id
        self.dates: dict[str, tuple[datetime, str]] = {}  # event key → date, stream
        self.matched: dict[str, tuple[CampaignLink, list]] = {}  # by Campaign Monitor id
        self.handled: list[tuple[str, datetime, str]] = []  # key, date, stream: done
        self.cursors: dict[str, datetime] = {}
        self.imported: list[CampaignLink] = []  # recipients read in full

    def read_again(self, date: datetime, stream: str) -> bool:
        """Whether a later run may read this event again, so its key is worth storing: only
        events within OVERLAP of their stream's cursor are (recipients never are; the cursor
        read here is at most the one stored, so no key needed is left out)."""
        return bool(stream) and date >= self.cursors.get(stream, date) - OVERLAP


class Pending:
    """The batch being gathered, and the one before it being written: cmsync reads
    Campaign Monitor and looks people up while Salesforce works on a Bulk API job."""

    def __init__(self, ctx: Context, members: "MemberStatuses") -> None:
        self.ctx, self.members = ctx, members
        self.batch = Batch()
        self.in_flight: tuple[Batch, Write] | None = None

    def __contains__(self, key: str) -> bool:
        return key in self.batch.records or (
            self.in_flight is not None and key in self.in_flight[0].records
        )

    @property
    def handled(self) -> list[tuple[str, datetime, str]]:
        return self.batch.handled

    @property
    def imported(self) -> list[CampaignLink]:
        return self.batch.imported

    def add(
        self, link: CampaignLink, stream: str, record: dict, event: Event, contact, lead
    ) -> None:
        batch, key = self.batch, record["CM_Event_Key__c"]
        batch.records[key], batch.owner[key] = record, link.client_id
        batch.dates[key] = (event.date, stream)
        batch.matched.setdefault(link.cm_campaign_id, (link, []))[1].append((event, contact, lead))

    def advance(self, stream: str, position: datetime) -> None:
        cursors = self.batch.cursors
        cursors[stream] = max(position, cursors.get(stream, position))

    def page_done(self) -> None:
        if len(self.batch.records) >= FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        """Finish the write in flight, then start this batch's."""
        self._finish()
        batch, self.batch = self.batch, Batch()
        records = list(batch.records.values())
        self.in_flight = (
            batch,
            self.ctx.sf.start_upsert("CM_Email_Tracking__c", "CM_Event_Key__c", records),
        )

    def close(self) -> None:
        """Write everything gathered; wait for it."""
        self.flush()
        self._finish()

    def abort(self) -> None:
        if self.in_flight is not None:
            self.in_flight[1].abort()

    def _finish(self) -> None:
        if self.in_flight is None:
            return
        (batch, write), ctx = self.in_flight, self.ctx
        results = write.results()
        self.in_flight = None
        ctx.record_failures(
            "tracking",
            "CM_Email_Tracking__c",
            results,
            lambda r: batch.owner.get(r.record["CM_Event_Key__c"], ""),
        )
        batch.handled += [
            (key, *batch.dates[key])
            for r in results
            if r.success
            for key in (r.record["CM_Event_Key__c"],)
        ]
        TrackedEvent.objects.bulk_create(
            [
                TrackedEvent(key=key, event_date=date)
                for key, date, stream in batch.handled
                if batch.read_again(date, stream)
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )
        for link, matched in batch.matched.values():
            if link.sf_campaign_id:
                self.members.apply(link, matched)
        for stream, position in batch.cursors.items():
            _advance(stream, position)
        for link in batch.imported:
            link.recipients_imported = True
            link.save(update_fields=["recipients_imported"])
        ctx.checkpoint()


def _import_recipients(ctx: Context, link: CampaignLink, pending: Pending) -> None:
    for page in ctx.cm.recipient_pages(link.cm_campaign_id):
        events = [Event("sent", r.email, r.list_id, link.sent_date) for r in page.records]
        _write(ctx, link, events, pending, stream="")
        pending.page_done()
    pending.imported.append(link)


def _import_events(ctx: Context, link, activity: str, start, pending: Pending) -> None:
    stream = f"tracking:{link.cm_campaign_id}:{activity}"
    cursor = None if ctx.run.full else Cursor.objects.filter(stream=stream).first()
    since = max(cursor.position - OVERLAP, start) if cursor else start
    seen_until = cursor.position if cursor else None
    for page in ctx.cm.event_pages(link.cm_campaign_id, KINDS[activity], since):
        events = [
            Event(activity, e.email, e.list_id, e.date, e.url, e.bounce_type, e.reason)
            for e in page.records
            if e.date >= start  # the API filters by minute; keep the window exact
        ]
        _write(ctx, link, events, pending, stream, seen_until)
        if page.records:
            pending.advance(stream, max(e.date for e in page.records))
        pending.page_done()


def linked_person(people: dict[str, list[Person]], email: str, sobject: str) -> Person | None:
    """The most recently modified Contact (or Lead) with this email; of several modified in
    the same second, the lowest Id (``people`` is ordered so by find_people)."""
    return next((p for p in people.get(email.lower(), ()) if p.sobject == sobject), None)


def _already_imported(link: CampaignLink, events: list[Event]) -> set[str]:
    """Keys of these events already written (so re-reading the overlap writes nothing)."""
    keys = [event_key(link.cm_campaign_id, e) for e in events]
    return set(TrackedEvent.objects.filter(key__in=keys).values_list("key", flat=True))


def _event_fields(event: Event) -> tuple:
    return (event.key, event.email, event.list_id, event.bounce_type, event.reason)


def _write(
    ctx: Context,
    link: CampaignLink,
    events: list[Event],
    pending: Pending,
    stream: str,
    seen_until=None,
) -> None:
    """Add one page of events to those pending; those in the cursor's overlap are checked
    first."""
    if seen_until is not None:
        overlap = [e for e in events if e.date <= seen_until]
        if overlap:
            known = _already_imported(link, overlap)
            fresh = [e for e in events if event_key(link.cm_campaign_id, e) not in known]
            ctx.count("tracking", read=len(events) - len(fresh), unchanged=len(events) - len(fresh))
            events = fresh
    # Campaign Monitor dates are to the minute: two opens in one minute share a key. One
    # record stands for both (Salesforce refuses a key twice in one upsert call): the same
    # one whatever order the page lists them in.
    # A page walked while it shifted may repeat an event already pending (Bulk API fails a
    # key sent twice in one job, both rows).
    by_key: dict[str, Event] = {}
    for event in sorted(events, key=_event_fields):
        key = event_key(link.cm_campaign_id, event)
        if key not in pending:
            by_key.setdefault(key, event)
    unique = list(by_key.values())
    ctx.count("tracking", read=len(events) - len(unique), unchanged=len(events) - len(unique))
    events = unique
    if not events:
        return
    people = ctx.people(e.email for e in events)
    for event in events:
        contact = linked_person(people, event.email, "Contact")
        lead = linked_person(people, event.email, "Lead")
        if contact is None and lead is None:
            # Nobody in Salesforce to attach it to: done, all the same.
            ctx.count("tracking", read=1, unchanged=1)
            pending.handled.append((event_key(link.cm_campaign_id, event), event.date, stream))
            continue
        ctx.count("tracking", read=1)
        record = {
            "CM_Event_Key__c": event_key(link.cm_campaign_id, event),
            "CM_Email__c": event.email,
            "CM_Type__c": LABELS[event.activity],
            "CM_Event_Date__c": event.date.isoformat(),
            "CM_Contact__c": contact.id if contact else None,
            "CM_Lead__c": lead.id if lead else None,
            "CM_Campaign__c": link.sf_campaign_id or None,
            "CM_Campaign_Id__c": link.cm_campaign_id,
            "CM_List_Id__c": event.list_id,
            "CM_URL__c": event.url or None,
            "CM_Bounce_Type__c": event.bounce_type or None,
            "CM_Bounce_Reason__c": event.reason[:255] or None,
        }
        pending.add(link, stream, record, event, contact, lead)


class MemberStatuses:
    """Campaign member statuses by mode, mapping and activity date (DESIGN.md §5)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.mode = ctx.campaigns.member_status_mode
        self.mapping = {m.activity: m for m in MemberStatusMapping.load()}
        self.statuses: dict[str, set[str]] = {}  # campaign → labels it has
        # (campaign, person id) → the member as last read or written, None when it has none:
        # a person's sends, opens and clicks come in different batches, and each batch
        # would otherwise ask Salesforce about its members again (bounded, least recent out).
        self.known: OrderedDict[tuple[str, str], dict | None] = OrderedDict()

    def apply(self, link: CampaignLink, matched: list) -> None:
        if self.mode == CampaignSettings.MemberStatusMode.NEVER:
            return
        if not matched:
            return
        # Matched events come from many pages and activities: each member gets its latest
        # activity whose status the campaign has (a missing one is reported, once).
        self._ensure_labels(link, {event.activity for event, _, _ in matched})
        usable = self.statuses[link.sf_campaign_id]
        latest: dict[tuple[str, str], Event] = {}
        for event, contact, lead in matched:
            if self.mapping[event.activity].label.lower() not in usable:
                continue
            person = contact or lead
            key = (person.sobject, person.id)
            if key not in latest or event.recency > latest[key].recency:
                latest[key] = event
        if latest:
            self._write_members(link, latest)

    def _ensure_labels(self, link: CampaignLink, activities: set[str]) -> bool:
        campaign = link.sf_campaign_id
        if campaign not in self.statuses:
            rows = self.ctx.sf.member_statuses([campaign]).get(campaign, [])
            self.statuses[campaign] = {row["Label"].lower() for row in rows}
        wanted = [
            (self.mapping[a].label, self.mapping[a].responded)
            for a in sorted(activities, key=lambda activity: RANK[activity])  # SortOrder order
        ]
        missing = [
            (label, r) for label, r in wanted if label.lower() not in self.statuses[campaign]
        ]
        if not missing:
            return True
        if self.ctx.campaigns.auto_create_statuses:
            rows = self.ctx.sf.member_statuses([campaign]).get(campaign, [])
            results = self.ctx.sf.add_member_statuses(campaign, rows, missing)
            self.ctx.record_failures("tracking", "CampaignMemberStatus", results, link.client_id)
            self.statuses[campaign] |= {r.record["Label"].lower() for r in results if r.success}
            return True
        for label, _ in missing:
            self.ctx.message(
                "SF_MISSING_STATUS",
                f"Campaign “{link.name}” has no member status “{label}”; members were skipped",
                record={"CampaignId": campaign, "Label": label},
                client_id=link.client_id,
            )
        return True  # members whose label exists are still written

    def _write_members(self, link: CampaignLink, latest: dict) -> None:
        campaign = link.sf_campaign_id
        existing = self._members(campaign, latest)
        creates, updates = [], []
        for (sobject, person_id), event in latest.items():
            label = self.mapping[event.activity].label
            if label.lower() not in self.statuses[campaign]:
                continue  # reported by _ensure_labels
            fields = {
                "Status": label,
                "CM_Last_Activity__c": LABELS[event.activity],
                "CM_Last_Activity_Date__c": event.date.isoformat(),
                # Once Only keeps the first interaction; being sent is not one.
                "CM_Status_Set__c": event.activity != "sent",
            }
            member = existing.get(person_id)
            if member is None:
                creates.append({"CampaignId": campaign, f"{sobject}Id": person_id, **fields})
            elif self._may_update(member, event):
                updates.append({"Id": member["Id"], **fields})
        if creates:
            results = self.ctx.sf.create("CampaignMember", creates)
            self.ctx.record_failures("tracking", "CampaignMember", results, link.client_id)
            for r in results:
                person_id = r.record.get("ContactId") or r.record["LeadId"]  # one of them was sent
                self._remember(campaign, person_id, {**r.record, "Id": r.id} if r.success else None)
                if not r.success:
                    self.known.pop((campaign, person_id), None)  # ask again next time
        if updates:
            by_id = {m["Id"]: person_id for person_id, m in existing.items()}
            results = self.ctx.sf.update("CampaignMember", updates)
            self.ctx.record_failures("tracking", "CampaignMember", results, link.client_id)
            for r in results:
                person_id = by_id[r.record["Id"]]
                if r.success:
                    self._remember(campaign, person_id, {**existing[person_id], **r.record})
                else:
                    self.known.pop((campaign, person_id), None)

    def _remember(self, campaign: str, person_id: str, member: dict | None) -> None:
        self.known[(campaign, person_id)] = member
        self.known.move_to_end((campaign, person_id))
        while len(self.known) > KNOWN_MEMBERS:
            self.known.popitem(last=False)

    def _may_update(self, member: dict, event: Event) -> bool:
        """Once Only never touches a status it set; a status only moves forward in time, and
        on the same date only to a later activity (RANK), so arrival order does not matter."""
        if self.mode == CampaignSettings.MemberStatusMode.ONCE and member["CM_Status_Set__c"]:
            return False
        stored = member.get("CM_Last_Activity_Date__c")
        if not stored:
            return True
        stored_date = datetime.fromisoformat(stored.replace("+0000", "+00:00"))
        if stored_date != event.date:
            return stored_date < event.date
        stored_rank = RANK.get(ACTIVITY.get(member.get("CM_Last_Activity__c") or "", ""), -1)
        return RANK[event.activity] > stored_rank

    def _members(self, campaign: str, latest: dict) -> dict[str, dict]:
        """The campaign's members among these people, asked of Salesforce only for those
        not known from an earlier batch of the run."""
        by_type = defaultdict(list)
        for sobject, person_id in latest:
            if (campaign, person_id) not in self.known:
                by_type[sobject].append(person_id)
        for sobject, ids in by_type.items():
            found = {
                row[f"{sobject}Id"]: row
                for row in self.ctx.sf.tracked_members(campaign, sobject, ids)
            }
            for person_id in ids:
                self._remember(campaign, person_id, found.get(person_id))
        members = {}
        for _, person_id in latest:
            member = self.known.get((campaign, person_id))
            if member is not None:
                members[person_id] = member
        return members


def retention(ctx: Context) -> None:
    """Delete tracking records older than "days to keep" (DESIGN.md §4 step 6)."""
    ctx.begin("retention")
    cutoff = window_start(ctx)
    batch = []
    for record_id in ctx.sf.tracking_record_ids(before=cutoff):
        batch.append(record_id)
        if len(batch) == 2000:
            ctx.record_failures("retention", "CM_Email_Tracking__c", ctx.sf.delete(batch))
            batch = []
    if batch:
        ctx.record_failures("retention", "CM_Email_Tracking__c", ctx.sf.delete(batch))
    ctx.checkpoint()
