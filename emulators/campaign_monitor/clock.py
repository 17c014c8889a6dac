"""The emulator's clock and the date formats the API speaks.

Every date the API shows is account-local. The emulated accounts live at a fixed UTC+10:00,
labelled "(GMT+10:00) Canberra, Melbourne, Sydney"; the emulator has no daylight saving, so
Sydney's summer offset (UTC+11:00) is never used.
"""

import threading
from datetime import UTC, datetime, timedelta

ACCOUNT_UTC_OFFSET = timedelta(hours=10)
TIMEZONE_LABEL = "(GMT+10:00) Canberra, Melbourne, Sydney"
API_FORMAT = "%Y-%m-%d %H:%M:%S"


class Clock:
    """Account-local now = real UTC now + 10 h + a shift that tests move forward or set."""

    def __init__(self) -> None:
        self._shift = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Account-local now, naive (the API never shows an offset), to the microsecond."""
        with self._lock:
            shift = self._shift
        return datetime.now(UTC).replace(tzinfo=None) + ACCOUNT_UTC_OFFSET + shift

    def stamp(self) -> str:
        """Now as the API shows it: minute precision, seconds always :00."""
        return minute_stamp(self.now())

    def timestamp(self) -> float:
        """Emulated seconds since the epoch, for expiries that must follow the shifted clock."""
        return (self.now() - datetime(1970, 1, 1)).total_seconds()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._shift += timedelta(seconds=seconds)

    def set(self, local: datetime) -> None:
        """Make now equal `local`; the clock keeps ticking from there."""
        with self._lock:
            self._shift = timedelta(0)
        delta = local - self.now()
        with self._lock:
            self._shift = delta


def minute_stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:00")


def parse_stamp(text: str) -> datetime:
    """Parse "YYYY-MM-DD HH:MM:SS" (control input); raise ValueError otherwise."""
    return datetime.strptime(text.strip(), API_FORMAT)


def parse_filter_date(text: str) -> str | None:
    """A `date`/`sentfromdate` query value as a comparable stamp; None when empty.

    The API takes "YYYY-MM-DD", "YYYY-MM-DD HH:MM" or "YYYY-MM-DD HH:MM:SS"; anything else
    raises ValueError (the API's Code 5, Invalid Date).
    """
    text = text.strip()
    if not text:
        return None
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M", API_FORMAT):
        try:
            return datetime.strptime(text, fmt).strftime(API_FORMAT)
        except ValueError:
            continue
    raise ValueError(text)
