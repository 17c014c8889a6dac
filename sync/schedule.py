"""When the primary sync runs next: computed from the sync settings in the installation's
time zone, correct across daylight-saving changes."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings as django_settings

from settings_app.models import WEEKDAY_CODES, SyncSettings


def installation_tz() -> ZoneInfo:
    return ZoneInfo(django_settings.TIME_ZONE)


def _days(settings: SyncSettings) -> set[int]:
    """The weekdays (Monday = 0) a Daily, Weekly or Custom schedule runs on."""
    if settings.frequency == SyncSettings.Frequency.DAILY:
        return set(range(7))
    if settings.frequency == SyncSettings.Frequency.WEEKLY:
        return {WEEKDAY_CODES.index(settings.weekday)}
    return {WEEKDAY_CODES.index(code) for code in settings.custom_day_list}


def next_run(
    settings: SyncSettings, after: datetime, tz: ZoneInfo | None = None
) -> datetime | None:
    """The first scheduled moment strictly after ``after``, in UTC; None for Never."""
    tz = tz or installation_tz()
    frequency = settings.frequency
    if frequency == SyncSettings.Frequency.NEVER:
        return None
    local = after.astimezone(tz)
    if frequency == SyncSettings.Frequency.HOURLY:
        # The next full hour on the local clock, stepped in UTC so DST cannot skip or repeat it.
        start = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        return start + timedelta(hours=1)
    days = _days(settings)
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        if day.weekday() not in days:
            continue
        # A wall-clock hour that DST skips (02:30 in spring) runs at the first moment after
        # the gap; one that happens twice (autumn) runs the first time (fold=0).
        candidate = datetime.combine(day, time(settings.hour), tzinfo=tz).astimezone(UTC)
        if candidate > after:
            return candidate
    return None  # Custom with no day: the form refuses it
