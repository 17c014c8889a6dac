"""The emulator's clock and Salesforce's date formats.

Datetimes are stored exactly as the API shows them ("2026-01-31T10:00:00.000+0000", always
UTC), which sorts correctly as text; dates as "YYYY-MM-DD". Salesforce keeps datetimes to
the whole second (the milliseconds are always .000), so every stamp of one second is equal:
many records written within a second share their SystemModstamp.
"""

import re
import threading
from datetime import UTC, date, datetime, timedelta

_DATETIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(Z|[+-]\d{2}:?\d{2})?)?$"
)


class Clock:
    """Real UTC now plus a shift that tests and demos may move forward."""

    def __init__(self) -> None:
        self._shift = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            shift = self._shift
        return datetime.now(UTC) + shift

    def today(self) -> date:
        return self.now().date()

    def stamp(self) -> str:
        return format_datetime(self.now())

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._shift += timedelta(seconds=seconds)


def format_datetime(moment: datetime) -> str:
    """A stored datetime: Salesforce's format, to the whole second (milliseconds dropped)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def format_literal(moment: datetime) -> str:
    """A SOQL datetime literal for comparing with stored datetimes, keeping its milliseconds
    (10:00:00.500 is after a stamp of 10:00:00)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def parse_datetime(text: str) -> datetime | None:
    """An ISO 8601 datetime (or a bare date, meaning midnight UTC) as an aware datetime."""
    match = _DATETIME_RE.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment


def parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def day_start(day: date) -> str:
    return format_datetime(datetime(day.year, day.month, day.day, tzinfo=UTC))
