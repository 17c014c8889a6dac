"""Sync now, a run's live progress and the history, on the Sync tab."""

from datetime import timedelta

import pytest
from django.utils import timezone

from settings_app.models import SyncSettings
from sync import dispatch, runner
from sync.models import SyncRun

pytestmark = pytest.mark.django_db


def test_sync_tab_shows_no_run_yet_and_the_next_scheduled_run(alice_client, world):
    # Both sides connected (world): only then is a run scheduled (see test_sync_state.py).
    page = alice_client.get("/sync/").text
    assert "No sync has run yet." in page
    next_hour = (timezone.now() + timedelta(hours=1)).strftime("%H:00")
    assert f"{next_hour}</strong>" in page  # hourly by default, in the installation's zone

    SyncSettings.objects.update(frequency="never")
    assert "none (import frequency is Never)" in alice_client.get("/sync/").text


def test_sync_now_needs_a_connection(alice_client):
    response = alice_client.post("/sync/now/", follow=True)
    assert "Campaign Monitor is not connected." in response.text
    assert not SyncRun.objects.exists()


def test_sync_now_queues_a_run_and_shows_its_progress(alice_client, alice, world):
    response = alice_client.post("/sync/now/")
    run = SyncRun.objects.get()
    assert response.url == f"/sync/runs/{run.pk}/"
    assert (run.trigger, run.status, run.requested_by) == ("manual", "queued", alice)
    page = alice_client.get(response.url).text
    assert "Sync started." in page
    assert 'data-active="1"' in page

    again = alice_client.post("/sync/now/", follow=True)
    assert "A sync is already queued." in again.text
    assert SyncRun.objects.count() == 1

    runner.execute(run.pk)
    progress = alice_client.get(f"/sync/runs/{run.pk}/progress/").json()
    assert progress["status"] == "succeeded"
    assert progress["counts"]["subscribers"]["read"] == 0
    tab = alice_client.get("/sync/").text
    assert "Last run" in tab and "Succeeded" in tab


def test_history_lists_runs_with_counts_and_api_calls(alice_client, world):
    world.subscriber(world.list_a, "h@example.com", "Unsubscribed")
    world.contact("h@example.com")
    run = world.sync()
    page = alice_client.get("/sync/runs/").text
    assert f'href="/sync/runs/{run.pk}/"' in page
    assert f"{run.cm_calls} / {run.sf_calls}" in page
    assert run.cm_calls > 0 and run.sf_calls > 0


@pytest.mark.parametrize("url", ["/sync/runs/", "/sync/runs/1/", "/sync/runs/1/progress/"])
def test_run_pages_need_permission(client, mallory, url):
    assert client.get(url).url.startswith("/accounts/login/")
    client.force_login(mallory)
    assert client.get(url).status_code == 403


def test_read_only_users_cannot_press_sync_now(carol_client):
    assert carol_client.post("/sync/now/").status_code == 403
    assert 'action="/sync/now/"' not in carol_client.get("/sync/").text
    assert not SyncRun.objects.exists()


def test_sync_now_command_runs_in_process_and_prints_the_summary(world, capsys):
    from django.core.management import call_command

    world.subscriber(world.list_a, "cmd@example.com", "Unsubscribed")
    world.contact("cmd@example.com")
    call_command("sync_now", "--wait")
    out = capsys.readouterr().out
    assert "Succeeded" in out
    assert "opt_out: read 1, written 1" in out


def test_sync_now_command_fails_non_zero_when_the_run_fails(world):
    from django.core.management import CommandError, call_command

    from campaign_monitor.models import Connection

    Connection.objects.update(api_key="revoked")
    with pytest.raises(CommandError, match="failed"):
        call_command("sync_now", "--wait")


def test_full_daily_sync_makes_only_the_days_first_scheduled_run_full(world):
    from django.core.management import call_command

    from settings_app.models import GeneralSettings
    from sync.models import ScheduleState

    GeneralSettings.objects.update(full_daily_sync=True)
    due = timezone.now() - timedelta(minutes=1)
    ScheduleState.objects.update_or_create(pk=1, defaults={"next_run_at": due})
    call_command("dispatch_due")
    first = SyncRun.objects.get()
    assert first.trigger == "schedule" and first.full is True
    runner.execute(first.pk)

    ScheduleState.objects.update(next_run_at=due)
    dispatch.dispatch_due()
    second = SyncRun.objects.exclude(pk=first.pk).get()
    assert second.full is False


def test_disconnecting_stops_a_running_sync_at_its_next_checkpoint(world, monkeypatch):
    from campaign_monitor.connection import disconnect
    from sync import context

    real = context.Context.checkpoint
    seen = {"n": 0}

    def checkpoint(self):
        seen["n"] += 1
        if seen["n"] == 2:
            disconnect()  # an admin presses Disconnect while the run is going
        real(self)

    monkeypatch.setattr(context.Context, "checkpoint", checkpoint)
    run = world.sync()
    assert run.status == SyncRun.Status.CANCELLED
    assert "disconnected" in run.last_error
