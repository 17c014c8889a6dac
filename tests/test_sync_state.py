"""The Sync tab and the run page tell the truth: nothing scheduled while a side is
disconnected, Queued until a worker has the run, a Cancel that says who, and an estimate of
the time left only when a previous run gives one."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sync import dispatch, progress, runner
from sync.models import ScheduleState, SyncRun
from sync.views import STEPS

pytestmark = pytest.mark.django_db
ORDER = [key for key, _ in STEPS]


def test_after_disconnecting_campaign_monitor_nothing_is_scheduled_and_sync_now_is_off(
    alice_client, world, django_capture_on_commit_callbacks
):
    page = alice_client.get("/sync/").text
    assert 'id="next-run">none' not in page
    dispatch.reschedule()
    assert ScheduleState.get_solo().next_run_at is not None

    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post("/campaign-monitor/disconnect/")

    assert ScheduleState.get_solo().next_run_at is None  # the scheduler claims nothing
    page = alice_client.get("/sync/").text
    assert '<strong id="next-run">none while the sync cannot run</strong>' in page
    assert "Connect Campaign Monitor first." in page
    assert '<button type="submit" class="primary" disabled aria-describedby="sync-blocked">' in page
    assert dispatch.dispatch_due(timezone.now() + timedelta(days=2)) is None
    assert not SyncRun.objects.exists()


def test_after_disconnecting_salesforce_sync_now_says_connect_salesforce_first(
    client, world, admin_user, django_capture_on_commit_callbacks
):
    client.force_login(admin_user)  # the world's sync user
    dispatch.reschedule()
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/salesforce/disconnect/")
    assert ScheduleState.get_solo().next_run_at is None
    page = client.get("/sync/").text
    assert "Connect Salesforce first." in page
    assert "none while the sync cannot run" in page
    assert 'disabled aria-describedby="sync-blocked">Sync now</button>' in page


def test_the_dispatcher_gives_the_next_run_back_once_connected(world):
    ScheduleState.objects.update_or_create(pk=1, defaults={"next_run_at": None})
    dispatch.dispatch_due()
    assert ScheduleState.get_solo().next_run_at is not None


def test_a_run_is_queued_until_a_worker_takes_it_then_running(alice_client, world):
    run, _ = runner.request_run(SyncRun.Trigger.MANUAL, send=False)
    data = alice_client.get(f"/sync/runs/{run.pk}/progress/").json()
    assert (data["status_display"], data["started_display"]) == ("Queued", "waiting for a worker")
    assert runner._claim(run.pk)
    data = alice_client.get(f"/sync/runs/{run.pk}/progress/").json()
    assert data["status_display"] == "Running"
    assert data["started_display"] != "waiting for a worker"


def finished(started_ago: int, minutes: int, counts: dict, full: bool = False) -> SyncRun:
    start = timezone.now() - timedelta(minutes=started_ago)
    return SyncRun.objects.create(
        trigger="schedule",
        status="succeeded",
        active=None,
        full=full,
        created_at=start,
        started_at=start,
        finished_at=start + timedelta(minutes=minutes),
        counts=counts,
    )


def running(step: str, counts: dict, full: bool = False) -> SyncRun:
    now = timezone.now()
    return SyncRun.objects.create(
        trigger="manual",
        status="running",
        full=full,
        created_at=now - timedelta(minutes=1),
        started_at=now - timedelta(minutes=1),
        step=step,
        counts=counts,
    )


def test_no_estimate_without_a_previous_finished_run():
    run = running("subscribers", {"subscribers": {"read": 10}})
    previous = progress.previous_run(run)
    assert previous is None
    assert progress.remaining(run, previous, ORDER) is None
    assert progress.describe(None, None) == ""


def test_the_estimate_weighs_steps_by_what_the_last_run_read():
    previous = finished(120, 10, {"subscribers": {"read": 50}, "tracking": {"read": 50}})
    run = running("tracking", {"subscribers": {"read": 50}, "tracking": {"read": 20}})
    assert progress.previous_run(run) == previous
    left = progress.remaining(run, previous, ORDER)
    assert left == timedelta(minutes=3)  # 70 of 100 done: 30% of ten minutes
    assert progress.describe(left, previous) == (
        f"About 3 minutes left, based on the last run (run {previous.pk})."
    )


def test_a_full_sync_is_judged_by_the_last_full_sync_only():
    finished(120, 10, {"subscribers": {"read": 100}})  # not full: no basis for a full one
    run = running("subscribers", {"subscribers": {"read": 10}}, full=True)
    assert progress.previous_run(run) is None
    full = finished(60, 40, {"subscribers": {"read": 100}}, full=True)
    left = progress.remaining(run, full, ORDER)
    assert left == timedelta(minutes=36)
    assert progress.describe(left, full).startswith("About 36 minutes left, based on the last full")


def test_the_run_page_shows_the_estimate_and_a_cancel_button(alice_client):
    finished(120, 10, {"subscribers": {"read": 100}})
    run = running("subscribers", {"subscribers": {"read": 50}})
    page = alice_client.get(f"/sync/runs/{run.pk}/").text
    assert "About 5 minutes left, based on the last run" in page
    assert f'href="/sync/runs/{run.pk}/cancel/">Cancel this run…</a>' in page


def test_cancel_asks_first_then_cancels_a_queued_run_and_says_who(alice_client, alice):
    run = SyncRun.objects.create(trigger="manual")
    page = alice_client.get(f"/sync/runs/{run.pk}/cancel/").text
    assert f"Cancel primary sync run {run.pk}?" in page
    assert "Yes, cancel the run" in page
    run.refresh_from_db()
    assert run.status == "queued"  # asking changes nothing

    response = alice_client.post(f"/sync/runs/{run.pk}/cancel/", follow=True)
    assert response.redirect_chain[-1][0] == f"/sync/runs/{run.pk}/#run"
    run.refresh_from_db()
    assert (run.status, run.cancelled_by) == ("cancelled", alice)
    assert "Cancelled by alice." in response.text
    assert "Cancel this run" not in response.text

    from auditlog.models import LogEntry

    assert LogEntry.objects.filter(additional_data__action=f"Sync run {run.pk} cancelled").exists()


def test_cancelling_a_running_run_asks_it_to_stop_and_says_who_asked(bob_client, bob):
    run = running("subscribers", {})
    response = bob_client.post(f"/sync/runs/{run.pk}/cancel/", follow=True)  # Standard may
    run.refresh_from_db()
    assert (run.status, run.cancel_requested, run.cancelled_by) == ("running", True, bob)
    assert "Cancel requested by bob: it stops at the next safe point." in response.text


def test_limited_users_are_not_offered_cancel_and_are_refused(carol_client):
    run = SyncRun.objects.create(trigger="manual")
    assert "Cancel this run" not in carol_client.get(f"/sync/runs/{run.pk}/").text
    assert carol_client.get(f"/sync/runs/{run.pk}/cancel/").status_code == 403
    assert carol_client.post(f"/sync/runs/{run.pk}/cancel/").status_code == 403
    run.refresh_from_db()
    assert run.status == "queued"


def test_without_a_sync_user_the_disabled_sync_now_says_what_to_do_and_links_there(
    alice_client, world
):
    from salesforce.models import SalesforceSettings

    settings = SalesforceSettings.get_solo()
    settings.sync_user = None
    settings.save()

    page = alice_client.get("/sync/").text
    notice = page[
        page.index('id="sync-blocked"') : page.index("</p>", page.index('id="sync-blocked"'))
    ]
    assert "<strong>Set the Salesforce sync user first.</strong>" in notice
    assert "The sync writes to Salesforce as that person." in notice
    assert '<a href="#sf-sync-user">Set it in the Salesforce card</a>.' in notice
    assert "No sync user is set" not in notice  # the run's wording, not the tab's
    assert 'id="sf-sync-user"' in page
    assert 'disabled aria-describedby="sync-blocked">Sync now</button>' in page
    # What a run says is unchanged.
    with pytest.raises(runner.SyncUnavailable, match="^No sync user is set: the sync cannot"):
        runner.ensure_ready()


def test_no_template_comment_leaks_into_a_page(alice_client, world):
    """Django's {# #} is one line only: a longer one would be shown to the user."""
    for url in ("/sync/", "/security/", "/accounts/", "/accounts/password/", "/maintenance/"):
        page = alice_client.get(url).text
        assert "{#" not in page and "#}" not in page and "{% comment" not in page, url
