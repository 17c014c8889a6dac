"""Preview (dry run) of the primary sync against both emulators, over HTTP.

A preview runs the primary sync's own steps with every write recorded instead of sent, over
copies of cmsync's tables: what it says it would change is what the real run then changes,
and it changes nothing itself — in Salesforce, in Campaign Monitor or in what a later run
reads.
"""

from datetime import timedelta

import pytest
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone

from settings_app.models import CampaignSettings, GeneralSettings, MemberStatusMapping, SyncSettings
from sync import preview, runner
from sync.models import PreviewChange, SyncRun

pytestmark = pytest.mark.django_db


def run_preview(proposed: dict | None = None) -> SyncRun:
    run, created = runner.request_run(
        SyncRun.Trigger.MANUAL, kind=SyncRun.Kind.PREVIEW, send=False, proposed=proposed
    )
    assert created
    done = runner.execute(run.pk)
    assert done is not None
    assert done.status == SyncRun.Status.SUCCEEDED, done.last_error
    return done


def local_state() -> dict:
    """Every row of every table a primary sync writes (what a later run reads)."""
    state = {}
    for label in (*preview.SHADOWED, *preview.EMPTY):
        model = apps.get_model(label)
        state[label] = sorted(map(repr, model.objects.values_list()))
    return state


def writes(emulator) -> dict[str, int]:
    """The emulator's requests that are not reads (sign-ins excluded)."""
    return {
        key: n
        for key, n in emulator.request_counts().items()
        if not key.startswith(("GET", "HEAD")) and "oauth2" not in key
    }


def previewed(world, **kwargs) -> SyncRun:
    """A preview, checked to have written nothing anywhere."""
    before = local_state()
    world.cm.reset_request_counts()
    world.sf.reset_request_counts()
    run = run_preview(**kwargs)
    assert writes(world.cm) == {}
    assert writes(world.sf) == {}
    assert local_state() == before
    return run


@pytest.mark.parametrize(
    "states, before, after",
    [
        ({"a": "Active", "b": "Unsubscribed"}, True, False),
        ({"a": "Unsubscribed", "b": "Unsubscribed"}, False, True),
        ({"a": "Unsubscribed", "b": "Deleted"}, False, True),
        ({"a": "Deleted"}, True, True),
        ({"a": "Bounced", "b": "Unsubscribed"}, False, False),
        ({"a": "Unconfirmed", "b": "Unsubscribed"}, True, True),
    ],
)
def test_preview_of_the_opt_out_truth_table_is_what_the_run_then_writes(
    world, states, before, after
):
    world.cm.set_unsubscribe_setting(world.list_b, "OnlyThisList")
    lists = {"a": world.list_a, "b": world.list_b}
    for key, state in states.items():
        world.subscriber(lists[key], "pat@example.com", state)
    contact = world.contact("pat@example.com", opted_out=before)
    lead = world.contact("PAT@example.com", opted_out=before, sobject="Lead")

    run = previewed(world)
    assert world.opted_out(contact) is before  # nothing written
    totals = preview.totals(run)
    expected_kind = "opted_out" if after else "opted_in"
    expected = 2 if before != after else 0
    assert totals.get(expected_kind, 0) == expected
    assert totals.get("opted_in" if after else "opted_out", 0) == 0
    if expected:
        change = PreviewChange.objects.filter(run=run, kind=expected_kind, sobject="Contact").get()
        assert change.record_id == contact and change.label == "pat@example.com"
        assert change.reason  # e.g. "unsubscribed on all 2 lists"

    real = world.sync()
    assert real.status == SyncRun.Status.SUCCEEDED, real.last_error
    assert world.opted_out(contact) is after and world.opted_out(lead, "Lead") is after
    assert real.counts["opt_out"]["written"] == expected


def test_reason_says_unsubscribed_on_every_list(world):
    world.cm.set_unsubscribe_setting(world.list_b, "OnlyThisList")
    world.subscriber(world.list_a, "sam@example.com", "Unsubscribed")
    world.subscriber(world.list_b, "sam@example.com", "Unsubscribed")
    world.contact("sam@example.com")
    run = previewed(world)
    change = PreviewChange.objects.get(run=run, kind="opted_out")
    assert change.reason == "unsubscribed on all 2 lists, and on the suppression list"


def test_a_preview_leaves_cursors_and_states_for_the_real_run(world):
    world.subscriber(world.list_a, "kim@example.com", "Unsubscribed")
    contact = world.contact("kim@example.com")
    previewed(world)
    previewed(world)  # a second preview sees the same as the first
    assert PreviewChange.objects.filter(kind="opted_out").count() == 2
    real = world.sync()
    assert world.opted_out(contact) is True
    assert real.counts["opt_out"]["written"] == 1


def test_retention_after_lowering_days_to_keep(world):
    campaign = world.campaign(
        "Spring", ["old@example.com", "new@example.com"], minutes=-60 * 24 * 20
    )
    world.contact("old@example.com")
    world.contact("new@example.com")
    world.event(campaign, "open", "old@example.com", minutes=-60 * 24 * 15)
    world.event(campaign, "open", "new@example.com", minutes=-60 * 24 * 2)
    first = world.sync()
    assert first.status == SyncRun.Status.SUCCEEDED, first.last_error
    tracked = len(world.tracking())
    assert tracked >= 2

    run = previewed(world, proposed={"sync": {"days_to_keep": "7"}})
    deleted = preview.totals(run).get("tracking_deleted", 0)
    assert deleted > 0
    assert len(world.tracking()) == tracked  # nothing deleted yet
    assert SyncSettings.get_solo().days_to_keep != 7  # the proposal was not saved

    SyncSettings.objects.update(days_to_keep=7)
    real = world.sync()
    assert real.counts["retention"]["written"] == deleted
    assert len(world.tracking()) == tracked - deleted


def test_status_mapping_change_counts_member_statuses_by_pair(world):
    CampaignSettings.objects.update(
        member_status_mode=CampaignSettings.MemberStatusMode.ALWAYS,
        auto_create_campaigns=True,
        auto_create_since=timezone.now() - timedelta(days=3),
        auto_create_statuses=True,
    )
    emails = ["lee@example.com", "max@example.com", "ray@example.com"]
    campaign = world.campaign("Summer", emails, minutes=-120)
    contacts = {email: world.contact(email) for email in emails}
    for email in emails:
        world.event(campaign, "open", email, minutes=-90)
    first = world.sync()
    assert first.status == SyncRun.Status.SUCCEEDED, first.last_error
    sf_campaign = world.sf_campaign(campaign)["Id"]

    def statuses() -> dict[str, str]:
        return {e: world.member(sf_campaign, c)["Status"] for e, c in contacts.items()}

    # Clicks now map to "Engaged"; two of the three click.
    MemberStatusMapping.objects.filter(activity="clicked").update(label="Engaged")
    for email in emails[:2]:
        world.event(campaign, "click", email, minutes=-30, url="https://example.com/")
    before = statuses()
    run = previewed(world)
    assert statuses() == before
    entries = [e for e in preview.summary(run) if e["kind"] == "member_status"]
    pairs = {(p["before"], p["after"]): p["count"] for e in entries for p in e["pairs"]}
    assert pairs == {("Opened", "Engaged"): 2}
    assert preview.totals(run).get("statuses_created") == 1  # "Engaged" on the campaign

    real = world.sync()
    assert real.status == SyncRun.Status.SUCCEEDED, real.last_error
    after = statuses()
    seen: dict[tuple[str, str], int] = {}
    for email in emails:
        if before[email] != after[email]:
            seen[(before[email], after[email])] = seen.get((before[email], after[email]), 0) + 1
    assert seen == pairs


def test_proposed_opt_out_sync_switched_on(world):
    GeneralSettings.objects.update(sync_email_opt_out=False)
    world.subscriber(world.list_a, "ann@example.com", "Unsubscribed")
    contact = world.contact("ann@example.com")
    run = previewed(world, proposed={"general": {"sync_email_opt_out": "True"}})
    assert preview.totals(run).get("opted_out") == 1
    assert GeneralSettings.get_solo().sync_email_opt_out is False
    assert world.opted_out(contact) is False


def test_csv_lists_every_intended_change(world):
    world.subscriber(world.list_a, "c1@example.com", "Unsubscribed")
    world.subscriber(world.list_a, "c2@example.com", "Unsubscribed")
    world.contact("c1@example.com")
    world.contact("c2@example.com")
    run = previewed(world)
    rows = list(preview.csv_rows(run))
    opted = [r for r in rows if r[1] == "opted_out"]
    assert sorted(r[4] for r in opted) == ["c1@example.com", "c2@example.com"]
    assert len(rows) == PreviewChange.objects.filter(run=run).count()


def test_sync_now_dry_run_command(world, capsys):
    world.subscriber(world.list_a, "cmd@example.com", "Unsubscribed")
    contact = world.contact("cmd@example.com")
    call_command("sync_now", "--dry-run", "--wait")
    out = capsys.readouterr().out
    assert "Preview" in out and "Email Opt Out ticked: 1" in out
    assert world.opted_out(contact) is False


# -- the console, the API and who may do what -------------------------------------------------


def test_standard_starts_a_preview_and_limited_reads_its_page_and_csv(
    world, bob_client, carol, client
):
    world.subscriber(world.list_a, "web@example.com", "Unsubscribed")
    contact = world.contact("web@example.com")
    response = bob_client.post("/sync/preview/")
    run = SyncRun.objects.get(kind=SyncRun.Kind.PREVIEW)
    assert response.status_code == 302 and response["Location"] == f"/sync/runs/{run.pk}/"
    runner.execute(run.pk)
    assert world.opted_out(contact) is False

    client.force_login(carol)
    assert client.post("/sync/preview/").status_code == 403  # Limited: look, not start
    page = client.get(f"/sync/runs/{run.pk}/").text
    assert "What a sync would change" in page and "Email Opt Out ticked" in page
    assert "web@example.com" in page
    download = client.get(f"/sync/runs/{run.pk}/changes.csv")
    assert download["Content-Type"].startswith("text/csv")
    lines = b"".join(download.streaming_content).decode().splitlines()
    assert lines[0] == ",".join(preview.CSV_HEADER)
    assert any(line.startswith("opt_out,opted_out,Contact,") for line in lines[1:])


def test_one_preview_at_a_time_and_it_can_be_cancelled(world, bob_client):
    bob_client.post("/sync/preview/")
    again = bob_client.post("/sync/preview/", follow=True)
    assert "A preview is already queued" in again.text
    run = SyncRun.objects.get(kind=SyncRun.Kind.PREVIEW)
    bob_client.post(f"/sync/runs/{run.pk}/cancel/")
    run.refresh_from_db()
    assert run.status == SyncRun.Status.CANCELLED


def test_api_dry_run_starts_a_preview_and_reports_its_totals(world, bob):
    from rest_framework.test import APIClient

    world.subscriber(world.list_a, "api@example.com", "Unsubscribed")
    contact = world.contact("api@example.com")
    api = APIClient()
    api.force_login(bob)
    answer = api.post("/api/v1/runs/", {"dry_run": True}, format="json")
    assert answer.status_code == 201, answer.content
    assert answer.json()["kind"] == "preview"
    runner.execute(answer.json()["id"])
    done = api.get(f"/api/v1/runs/{answer.json()['id']}/").json()
    assert done["status"] == "succeeded" and done["preview"]["opted_out"] == 1
    assert world.opted_out(contact) is False
    bad = api.post("/api/v1/runs/", {"dry_run": "yes"}, format="json")
    assert bad.status_code == 400


def test_a_confirmation_offers_preview_of_the_proposed_settings(world, alice_client):
    GeneralSettings.objects.update(sync_email_opt_out=False)
    world.subscriber(world.list_a, "conf@example.com", "Unsubscribed")
    world.contact("conf@example.com")
    form = alice_client.get("/general/").context["form"]
    data = {name: value for name, value in form.initial.items() if value not in (False, None)}
    data.update(sync_email_opt_out="on", trigger_list_journeys="on")  # the latter is risky
    asked = alice_client.post("/general/", data)
    page = alice_client.get(asked.url).text
    assert "Save these general options?" in page and "Preview the effect" in page
    started = alice_client.post(asked.url, {"preview": "1"})
    run = SyncRun.objects.get(kind=SyncRun.Kind.PREVIEW)
    assert started["Location"] == f"/sync/runs/{run.pk}/"
    assert run.proposed == {"general": {"sync_email_opt_out": "True"}}
    assert GeneralSettings.get_solo().sync_email_opt_out is False  # nothing saved
    runner.execute(run.pk)
    assert preview.totals(run).get("opted_out") == 1
    page = alice_client.get(f"/sync/runs/{run.pk}/").text
    assert "proposed settings, which are not saved" in page
    assert "Sync Salesforce &#x27;Email Opt Out&#x27; with Campaign Monitor: on" in page
