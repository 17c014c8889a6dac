"""The schedule's every-minute dispatcher: lost runs sent again, due runs started, the next
scheduled time stored (DESIGN.md §4; the schedule itself is ``sync.schedule``)."""

from datetime import datetime

from django.utils import timezone

from settings_app.models import GeneralSettings, SyncSettings

from . import cm_events
from .models import ScheduleState, SyncRun
from .runner import BrokerUnavailable, not_ready_reason, recover, request_run
from .schedule import installation_tz, next_run


def reschedule(now: datetime | None = None) -> ScheduleState:
    """Store the next scheduled run from the current settings (after any change); none while
    a sync cannot start (a side disconnected), so nothing claims a run that will not come."""
    now = now or timezone.now()
    state = ScheduleState.get_solo()
    ready = not not_ready_reason()
    state.next_run_at = next_run(SyncSettings.get_solo(), now) if ready else None
    state.save(update_fields=["next_run_at"])
    return state


def follow_readiness() -> None:
    """After a connection changes: clear the next run while a sync cannot start, and bring it
    back once it can; a time already stored stays (a due run is not skipped)."""
    state = ScheduleState.get_solo()
    if not_ready_reason():
        if state.next_run_at is not None:
            state.next_run_at = None
            state.save(update_fields=["next_run_at"])
    elif state.next_run_at is None:
        reschedule()


def dispatch_due(now: datetime | None = None) -> SyncRun | None:
    """Beat calls this every minute: send again the runs whose task is lost, then start the
    scheduled run if one is due."""
    now = now or timezone.now()
    recover(now)
    cm_events.retry_due(now)
    state = ScheduleState.get_solo()
    if state.next_run_at is None or not_ready_reason():
        reschedule(now)  # none while a side is disconnected; the time again once it is back
        return None
    if now < state.next_run_at:
        return None
    today = now.astimezone(installation_tz()).date()
    full = GeneralSettings.get_solo().full_daily_sync and state.last_full_day != today
    try:
        run, created = request_run(SyncRun.Trigger.SCHEDULE, full=full)
    except BrokerUnavailable as exc:  # queued: sent by a later dispatch
        run, created = exc.run, True
    if created and full:
        state.last_full_day = today
        state.save(update_fields=["last_full_day"])
    reschedule(now)
    return run
