"""Typed records for what cmsync reads from Campaign Monitor.

Campaign Monitor writes dates as "YYYY-MM-DD HH:MM:SS" in the account's time zone with no
offset; every record here carries aware datetimes made with that zone (daylight saving and
all, see ``CampaignMonitorClient.tz``).

A local time the fall-back hour repeats names two instants and nothing in the API tells them
apart: it is read as the first (daylight) one, the same way every time, so re-reading a date
gives the same instant. Going the other way, a cursor turned into a ``date`` filter steps back
out of a repeated hour (``format_date``), so whichever instant the API reads it as, nothing
after the cursor is left out.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

SUBSCRIBER_STATES = ("active", "unconfirmed", "unsubscribed", "bounced", "deleted")
# The states in which a subscriber still receives email.
LIVE_STATES = ("active", "unconfirmed")
EVENT_KINDS = ("opens", "clicks", "unsubscribes", "bounces", "spam")
# The per-email code of an add or import refused because the address is on the client's
# suppression list ("In Suppression List").
IN_SUPPRESSION_LIST = 204

DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")


def parse_date(value: str | None, tz: tzinfo) -> datetime | None:
    """An account-local Campaign Monitor date string as an aware datetime."""
    if not value:
        return None
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=tz)
        except ValueError:
            continue
    raise ValueError(f"Unrecognised Campaign Monitor date: “{value}”")


def required_date(value: str | None, tz: tzinfo, name: str = "Date") -> datetime:
    """A date every record of its kind has (a subscriber's state date, a campaign's sent
    date): ValueError when it is missing, so the row is set aside with the reason rather than
    read with no date, which the sync cannot order or store."""
    parsed = parse_date(value, tz)
    if parsed is None:
        raise ValueError(f"The record has no {name}")
    return parsed


def format_date(value: datetime, tz: tzinfo) -> str:
    """An aware datetime as the account-local string the API's ``date`` filters take, never
    later than ``value`` however the API reads it: truncated to the minute, and moved back
    before a repeated (fall-back) hour when the local time falls in one."""
    local = value.astimezone(tz).replace(second=0, microsecond=0, tzinfo=None)
    while _latest_reading(local, tz) > value:
        local -= timedelta(minutes=15)
    return local.strftime("%Y-%m-%d %H:%M")


def latest_reading(value: datetime) -> datetime:
    """The latest instant a date read from Campaign Monitor can stand for, in UTC: an hour
    after ``value`` when its local time is one the fall-back hour repeats, else ``value``."""
    return value.replace(fold=1).astimezone(UTC)


def _latest_reading(local: datetime, tz: tzinfo) -> datetime:
    """The latest instant a naive local time can stand for (two in a repeated hour)."""
    return max(local.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1))


def offset_from_system_date(system_date: str, utc_now: datetime) -> timezone:
    """The account's UTC offset, from its current local time (``systemdate``) and UTC now.

    Rounded to a quarter of an hour: every real time zone offset is a multiple of 15 minutes.
    """
    local = datetime.strptime(system_date, "%Y-%m-%d %H:%M:%S")
    difference = local - utc_now.replace(tzinfo=None)
    quarters = round(difference / timedelta(minutes=15))
    return timezone(timedelta(minutes=15 * quarters))


Parser = Callable[[dict[str, Any], tzinfo], Any]


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    name: str

    @classmethod
    def from_api(cls, row: dict, tz: tzinfo | None = None) -> "Client":
        return cls(client_id=row["ClientID"], name=row["Name"])


@dataclass(frozen=True, slots=True)
class ClientDetails:
    client_id: str
    company_name: str
    contact_name: str
    email: str
    country: str
    time_zone: str

    @classmethod
    def from_api(cls, row: dict, tz: tzinfo | None = None) -> "ClientDetails":
        basics = row["BasicDetails"]
        return cls(
            client_id=basics["ClientID"],
            company_name=basics.get("CompanyName", ""),
            contact_name=basics.get("ContactName", ""),
            email=basics.get("EmailAddress", ""),
            country=basics.get("Country", ""),
            time_zone=basics.get("TimeZone", ""),
        )


@dataclass(frozen=True, slots=True)
class MailingList:
    list_id: str
    name: str

    @classmethod
    def from_api(cls, row: dict, tz: tzinfo | None = None) -> "MailingList":
        return cls(list_id=row["ListID"], name=row.get("Name") or row.get("Title", ""))


@dataclass(frozen=True, slots=True)
class ListMembership:
    """One list of a client an address is on, with its state there (``listsforemail``)."""

    list_id: str
    list_name: str
    state: str  # lower case, as SUBSCRIBER_STATES
    joined: datetime | None

    @classmethod
    def from_api(cls, row: dict, tz: tzinfo) -> "ListMembership":
        return cls(
            list_id=row["ListID"],
            list_name=row.get("ListName", ""),
            state=str(row.get("SubscriberState", "")).lower(),
            joined=parse_date(row.get("DateSubscriberAdded"), tz),
        )


@dataclass(frozen=True, slots=True)
class CustomField:
    """One of a list's custom fields (``lists/{id}/customfields.json``)."""

    name: str
    key: str  # with brackets, "[website]"; subscriber records show it without them
    data_type: str  # Text, Number, Date, MultiSelectOne, MultiSelectMany, Country, USState
    options: tuple[str, ...] = ()
    visible_in_preference_center: bool = False

    @property
    def bare_key(self) -> str:
        return self.key.strip("[]")

    @classmethod
    def from_api(cls, row: dict, tz: tzinfo | None = None) -> "CustomField":
        return cls(
            name=row.get("FieldName", ""),
            key=row["Key"],
            data_type=row.get("DataType", ""),
            options=tuple(row.get("FieldOptions") or ()),
            visible_in_preference_center=bool(row.get("VisibleInPreferenceCenter")),
        )


@dataclass(frozen=True, slots=True)
class ListDetails:
    list_id: str
    title: str
    confirmed_opt_in: bool
    unsubscribe_setting: str

    @classmethod
    def from_api(cls, row: dict, tz: tzinfo | None = None) -> "ListDetails":
        return cls(
            list_id=row["ListID"],
            title=row.get("Title", ""),
            confirmed_opt_in=bool(row.get("ConfirmedOptIn")),
            unsubscribe_setting=row.get("UnsubscribeSetting", ""),
        )


@dataclass(frozen=True, slots=True)
class Subscriber:
    email: str
    name: str
    state: str  # lower case: active, unconfirmed, unsubscribed, bounced, deleted
    date: datetime  # when the state last changed
    list_joined: datetime | None
    # (key, value) pairs in API order: multi-select fields repeat their key.
    custom_fields: tuple[tuple[str, str], ...] = ()
    reads_email_with: str = ""
    consent_to_track: str | None = None  # only when asked for

    @classmethod
    def from_api(cls, row: dict, tz: tzinfo) -> "Subscriber":
        return cls(
            email=row["EmailAddress"],
            name=row.get("Name") or "",
            state=row["State"].lower(),
            date=required_date(row["Date"], tz),
            list_joined=parse_date(row.get("ListJoinedDate"), tz),
            custom_fields=tuple((f["Key"], f["Value"]) for f in row.get("CustomFields") or ()),
            reads_email_with=row.get("ReadsEmailWith") or "",
            consent_to_track=row.get("ConsentToTrack"),
        )


# The events of a list webhook (Campaign Monitor's webhooks page) and the state each implies.
WEBHOOK_EVENTS = ("Subscribe", "Update", "Deactivate")
DEACTIVATED_STATES = ("unsubscribed", "bounced", "deleted")


def event_date(value: str, tz: tzinfo) -> datetime:
    """A webhook event's ``Date`` (account-local, like every Campaign Monitor date) as an
    aware datetime. The one place events' dates are read, so it follows whatever the client
    uses for the account's time zone."""
    parsed = parse_date(value, tz)
    if parsed is None:
        raise ValueError("The event has no Date")
    return parsed


@dataclass(frozen=True, slots=True)
class Webhook:
    """One of a list's webhooks (``lists/{id}/webhooks.json``)."""

    webhook_id: str
    url: str
    events: tuple[str, ...]
    status: str  # "Active"; a deactivated one is not "Active"
    payload_format: str

    @property
    def active(self) -> bool:
        return self.status.lower() == "active"

    @classmethod
    def from_api(cls, row: dict, tz: timezone | None = None) -> "Webhook":
        return cls(
            webhook_id=row["WebhookID"],
            url=row.get("Url") or "",
            events=tuple(row.get("Events") or ()),
            status=row.get("Status") or "",
            payload_format=row.get("PayloadFormat") or "",
        )


def _event_text(row: dict, name: str) -> str:
    value = row.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"The event's {name} is not text")
    return value.strip()


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One event of a list webhook's POST: a subscriber joined (Subscribe), was edited
    (Update, with OldEmailAddress when the address changed) or left (Deactivate)."""

    kind: str  # one of WEBHOOK_EVENTS
    email: str
    name: str
    state: str  # lower case, as SUBSCRIBER_STATES
    date: datetime
    old_email: str = ""
    custom_fields: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_api(cls, row: dict, tz: tzinfo) -> "WebhookEvent":
        """The event, or ValueError with a sentence saying what is wrong with it: the
        sentence reaches the console's messages, so it names the event's fields, not ours."""
        if not isinstance(row, dict):
            raise ValueError("The event is not a set of named values")
        kind = row.get("Type")
        if kind not in WEBHOOK_EVENTS:
            raise ValueError(f"Unknown event type “{kind or ''}”")
        # Subscribe carries no State: the subscriber is now Active.
        state = str(row.get("State") or ("Active" if kind == "Subscribe" else "")).lower()
        if state not in SUBSCRIBER_STATES:
            raise ValueError(f"Unknown subscriber state “{row.get('State') or ''}”")
        if kind == "Deactivate" and state not in DEACTIVATED_STATES:
            raise ValueError(f"A Deactivate event cannot leave the state “{row.get('State')}”")
        email = _event_text(row, "EmailAddress")
        if not email:
            raise ValueError("The event has no EmailAddress")
        old_email = _event_text(row, "OldEmailAddress")
        fields = row.get("CustomFields") or ()
        if not isinstance(fields, list | tuple) or not all(
            isinstance(f, dict) and "Key" in f and "Value" in f for f in fields
        ):
            raise ValueError("The event's CustomFields are not a list of Key and Value pairs")
        return cls(
            kind=kind,
            email=email,
            name=row.get("Name") or "",
            state=state,
            date=event_date(_event_text(row, "Date"), tz),
            old_email="" if old_email.lower() == email.lower() else old_email,
            custom_fields=tuple((f["Key"], f["Value"]) for f in fields),
        )

    def subscriber(self) -> Subscriber:
        """The subscriber as the event shows it, as the subscribers step would read it."""
        return Subscriber(
            email=self.email,
            name=self.name,
            state=self.state,
            date=self.date,
            list_joined=None,
            custom_fields=self.custom_fields,
        )


@dataclass(frozen=True, slots=True)
class SuppressedAddress:
    """One address on a client's suppression list: no AllClientLists list of the client
    takes it, and an unsubscribe from such a list puts it there."""

    email: str
    reason: str  # "Unsubscribed" in Campaign Monitor's sample
    date: datetime | None

    @classmethod
    def from_api(cls, row: dict, tz: tzinfo) -> "SuppressedAddress":
        return cls(
            email=row["EmailAddress"],
            reason=row.get("SuppressionReason") or "",
            date=parse_date(row.get("Date"), tz),
        )


@dataclass(frozen=True, slots=True)
class Campaign:
    """A sent campaign."""

    campaign_id: str
    name: str
    subject: str
    from_name: str
    from_email: str
    sent_date: datetime
    total_recipients: int
    web_version_url: str = ""
    tags: tuple[str, ...] = ()

    @classmethod
    def from_api(cls, row: dict, tz: tzinfo) -> "Campaign":
        return cls(
            campaign_id=row["CampaignID"],
            name=row.get("Name", ""),
            subject=row.get("Subject", ""),
            from_name=row.get("FromName", ""),
            from_email=row.get("FromEmail", ""),
            sent_date=required_date(row["SentDate"], tz, "SentDate"),
            total_recipients=int(row.get("TotalRecipients") or 0),
            web_version_url=row.get("WebVersionURL", ""),
            tags=tuple(row.get("Tags") or ()),  # missing on some records
        )


@dataclass(frozen=True, slots=True)
class PlannedCampaign:
    """A scheduled or draft campaign."""

    campaign_id: str
    name: str
    subject: str
    date_created: datetime | None
    date_scheduled: datetime | None = None
    tags: tuple[str, ...] = ()

    @classmethod
    def from_api(cls, row: dict, tz: tzinfo) -> "PlannedCampaign":
        return cls(
            campaign_id=row["CampaignID"],
            name=row.get("Name", ""),
            subject=row.get("Subject", ""),
            date_created=parse_date(row.get("DateCreated"), tz),
            date_scheduled=parse_date(row.get("DateScheduled"), tz),
            tags=tuple(row.get("Tags") or ()),
        )


@dataclass(frozen=True, slots=True)
class CampaignSummary:
    name: str
    recipients: int
    total_opened: int
    unique_opened: int
    clicks: int
    unsubscribed: int
    bounced: int
    spam_complaints: int
    web_version_url: str = ""
    worldview_url: str = ""

    @classmethod
    def from_api(cls, row: dict, tz: tzinfo | None = None) -> "CampaignSummary":
        return cls(
            name=row.get("Name", ""),
            recipients=int(row.get("Recipients") or 0),
            total_opened=int(row.get("TotalOpened") or 0),
            unique_opened=int(row.get("UniqueOpened") or 0),
            clicks=int(row.get("Clicks") or 0),
            unsubscribed=int(row.get("Unsubscribed") or 0),
            bounced=int(row.get("Bounced") or 0),
            spam_complaints=int(row.get("SpamComplaints") or 0),
            web_version_url=row.get("WebVersionURL", ""),
            worldview_url=row.get("WorldviewURL", ""),
        )


@dataclass(frozen=True, slots=True)
class Segment:
    list_id: str
    segment_id: str
    title: str


@dataclass(frozen=True, slots=True)
class ListsAndSegments:
    lists: tuple[MailingList, ...]
    segments: tuple[Segment, ...]

    @classmethod
    def from_api(cls, row: dict, tz: tzinfo | None = None) -> "ListsAndSegments":
        return cls(
            lists=tuple(MailingList.from_api(r) for r in row.get("Lists") or ()),
            segments=tuple(
                Segment(list_id=r["ListID"], segment_id=r["SegmentID"], title=r.get("Title", ""))
                for r in row.get("Segments") or ()
            ),
        )


@dataclass(frozen=True, slots=True)
class Recipient:
    email: str
    list_id: str

    @classmethod
    def from_api(cls, row: dict, tz: tzinfo | None = None) -> "Recipient":
        return cls(email=row["EmailAddress"], list_id=row.get("ListID", ""))


@dataclass(frozen=True, slots=True)
class TrackingEvent:
    """One open, click, unsubscribe, bounce or spam complaint of a campaign."""

    kind: str  # one of EVENT_KINDS
    email: str
    list_id: str
    date: datetime
    url: str = ""
    ip_address: str = ""
    bounce_type: str = ""
    reason: str = ""
    city: str = ""
    country_code: str = ""

    @classmethod
    def parser(cls, kind: str) -> Parser:
        def parse(row: dict, tz: tzinfo) -> "TrackingEvent":
            return cls(
                kind=kind,
                email=row["EmailAddress"],
                list_id=row.get("ListID", ""),
                date=required_date(row["Date"], tz),
                url=row.get("URL") or "",
                ip_address=row.get("IPAddress") or "",
                bounce_type=row.get("BounceType") or "",
                reason=(row.get("Reason") or "").strip(),
                city=row.get("City") or "",
                country_code=row.get("CountryCode") or "",
            )

        return parse


@dataclass(frozen=True, slots=True)
class Person:
    email: str
    name: str
    status: str
    access_level: int

    @classmethod
    def from_api(cls, row: dict, tz: tzinfo | None = None) -> "Person":
        return cls(
            email=row["EmailAddress"],
            name=row.get("Name", ""),
            status=row.get("Status", ""),
            access_level=int(row.get("AccessLevel") or 0),
        )


@dataclass(frozen=True, slots=True)
class NewSubscriber:
    """A subscriber to add or import."""

    email: str
    name: str | None = ""  # None: not sent, so an update leaves the name as it is
    custom_fields: tuple[tuple[str, str], ...] = ()
    consent_to_track: str = "Unchanged"  # Yes, No or Unchanged; required by the API

    def to_api(self) -> dict:
        return {
            "EmailAddress": self.email,
            **({"Name": self.name} if self.name is not None else {}),
            # An empty value is sent with "Clear": Campaign Monitor otherwise leaves the
            # field as it is (for a multi-select, an empty value clears every option).
            "CustomFields": [
                {"Key": k, "Value": v, **({"Clear": True} if v == "" else {})}
                for k, v in self.custom_fields
            ],
            "ConsentToTrack": self.consent_to_track,
        }


@dataclass(frozen=True, slots=True)
class ImportFailure:
    email: str
    code: int
    message: str


@dataclass(slots=True)
class ImportResult:
    """What an import did. A partly failed import is a result, not an error."""

    submitted: int = 0
    existing: int = 0
    new: int = 0
    duplicates: list[str] = field(default_factory=list)
    failures: list[ImportFailure] = field(default_factory=list)

    def add(self, data: dict) -> None:
        self.submitted += int(data.get("TotalUniqueEmailsSubmitted") or 0)
        self.existing += int(data.get("TotalExistingSubscribers") or 0)
        self.new += int(data.get("TotalNewSubscribers") or 0)
        self.duplicates += list(data.get("DuplicateEmailsInSubmission") or ())
        self.failures += [
            ImportFailure(email=f["EmailAddress"], code=int(f["Code"]), message=f["Message"])
            for f in data.get("FailureDetails") or ()
        ]


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a paged endpoint, with the envelope's counts."""

    records: list
    number: int
    pages: int
    total: int
    ordered_by: str  # lower case: the API's casing changes between endpoints
    direction: str  # lower case
    # Rows that could not be read (raw row, reason): reported, never fatal to the page.
    rejected: list = field(default_factory=list)

    @property
    def is_last(self) -> bool:
        return self.number >= self.pages


@dataclass(frozen=True, slots=True)
class OAuthTokens:
    access_token: str
    refresh_token: str
    expires_at: datetime | None = None
