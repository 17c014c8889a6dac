"""The emulator's clock, the account's time zone, and the date formats the API speaks.

Every date the API shows or takes is local to the account's time zone, with no offset. The
zone is a real one with daylight saving: the emulated account is "(GMT+10:00) Canberra,
Melbourne, Sydney", i.e. Australia/Sydney (UTC+10:00, UTC+11:00 from the first Sunday of
October to the first Sunday of April).

Dates are stored in UTC and converted at the edges, so they order and compare as instants
whatever the zone does. A local time read from a request is converted the way .NET's
TimeZoneInfo.ConvertTimeToUtc does (Campaign Monitor runs on .NET): a time the fall-back
hour repeats is read as standard time (the second, later occurrence), and a time the
spring-forward hour skips is invalid (the API answers Code 5, Invalid Date).
"""

import threading
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

TIMEZONE_LABEL = "(GMT+10:00) Canberra, Melbourne, Sydney"
ZONE = ZoneInfo("Australia/Sydney")
API_FORMAT = "%Y-%m-%d %H:%M:%S"


class InvalidLocalTime(ValueError):
    """A local time the zone skips (the spring-forward hour)."""


class Clock:
    """UTC now = real UTC now + a shift that tests move forward or set."""

    def __init__(self) -> None:
        self.zone = ZONE
        self._shift = timedelta(0)
        self._lock = threading.Lock()

    def utc_now(self) -> datetime:
        """Emulated UTC now, naive, to the microsecond."""
        with self._lock:
            shift = self._shift
        return datetime.now(UTC).replace(tzinfo=None) + shift

    def now(self) -> datetime:
        """Account-local now, naive (the API never shows an offset), to the microsecond."""
        return to_local(self.utc_now(), self.zone)

    def stamp(self) -> str:
        """UTC now as stored: minute precision, seconds always :00 (like the API's dates)."""
        return minute_stamp(self.utc_now())

    def precise_stamp(self) -> str:
        """UTC now as stored, to the second (the suppression list shows seconds)."""
        return self.utc_now().strftime(API_FORMAT)

    def timestamp(self) -> float:
        """Emulated seconds since the epoch, for expiries that must follow the shifted clock."""
        return (self.utc_now() - datetime(1970, 1, 1)).total_seconds()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._shift += timedelta(seconds=seconds)

    def set_utc(self, moment: datetime) -> None:
        """Make UTC now equal `moment` (naive UTC); the clock keeps ticking from there."""
        with self._lock:
            self._shift = timedelta(0)
        delta = moment - self.utc_now()
        with self._lock:
            self._shift = delta

    # -- conversions at the API's edges ---------------------------------------------------------

    def show(self, stored: str | None) -> str | None:
        """A stored UTC stamp as the API shows it: account-local, same precision."""
        return show(stored, self.zone)

    def take(self, local: datetime) -> datetime:
        """A naive account-local time as naive UTC; raises InvalidLocalTime in a gap."""
        return to_utc(local, self.zone)


def to_local(moment: datetime, zone: ZoneInfo) -> datetime:
    """Naive UTC → naive local."""
    return moment.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)


def to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """Naive local → naive UTC. A repeated time is read as standard time (fold=1, the later
    instant); a skipped time raises InvalidLocalTime."""
    later = local.replace(tzinfo=zone, fold=1)
    instant = later.astimezone(UTC)
    if to_local(instant.replace(tzinfo=None), zone) != local:
        raise InvalidLocalTime(local.strftime(API_FORMAT))
    return instant.replace(tzinfo=None)


def show(stored: str | None, zone: ZoneInfo) -> str | None:
    if not stored:
        return stored
    # Offsets are whole minutes, so the seconds never change: convert per minute, cached.
    return _local_minute(stored[:16], zone) + stored[16:]


@lru_cache(maxsize=200_000)
def _local_minute(utc_minute: str, zone: ZoneInfo) -> str:
    moment = datetime.strptime(utc_minute, "%Y-%m-%d %H:%M")
    return to_local(moment, zone).strftime("%Y-%m-%d %H:%M")


def minute_stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:00")


def parse_stamp(text: str, zone: ZoneInfo = ZONE) -> datetime:
    """Control input as naive UTC: "YYYY-MM-DD HH:MM:SS" account-local, or the same with an
    offset ("+11:00", "Z") to name one instant of a repeated hour. Raises ValueError."""
    text = text.strip()
    try:
        local = datetime.strptime(text, API_FORMAT)
    except ValueError:
        aware = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if aware.tzinfo is None:
            raise
        return aware.astimezone(UTC).replace(tzinfo=None)
    return to_utc(local, zone)


def parse_filter_date(text: str, zone: ZoneInfo = ZONE) -> str | None:
    """A `date`/`sentfromdate` query value (account-local) as a stored UTC stamp; None when
    empty.

    The API takes "YYYY-MM-DD", "YYYY-MM-DD HH:MM" or "YYYY-MM-DD HH:MM:SS"; anything else,
    or a time the zone skips, raises ValueError (the API's Code 5, Invalid Date).
    """
    local = parse_local(text)
    return None if local is None else to_utc(local, zone).strftime(API_FORMAT)


def parse_local(text: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M", API_FORMAT):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError(text)
