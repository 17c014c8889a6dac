"""Settings changes that change what the sync writes to Salesforce ask first, in the console,
on a confirmation page of their own: GET says in plain words what the change will do and saves
nothing; POST saves exactly what was submitted; "Preview the effect" runs a preview with the
proposed values (nothing saved) whose page leads back to save or cancel. The first Sync now on a
new connection asks too, with Preview beside it. The API keeps saving directly."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from settings_app.models import CampaignSettings, GeneralSettings, MemberStatusMapping, SyncSettings
from sync import preview, runner
from sync.models import SyncRun

from .forms import campaigns_post, general_post, sync_post

pytestmark = pytest.mark.django_db


def stored() -> dict:
    return {
        "days_to_keep": SyncSettings.get_solo().days_to_keep,
        "sync_email_opt_out": GeneralSettings.get_solo().sync_email_opt_out,
        "member_status_mode": CampaignSettings.get_solo().member_status_mode,
        "mapping": {m.activity: (m.label, m.responded) for m in MemberStatusMapping.load()},
    }


def ask(client, path: str, data: dict) -> tuple[str, str]:
    """Submit a change that needs a yes: (its confirmation page's URL, the page)."""
    response = client.post(path, data)
    assert response.status_code == 302, response
    assert response.url.startswith("/settings/confirm/")
    page = client.get(response.url)
    assert page.status_code == 200
    return response.url, page.text


CASES = {
    "opt-out sync on": (
        "/general/",
        lambda: general_post(sync_email_opt_out=True),
        "tick &#x27;Email Opt Out&#x27; on every Salesforce contact and lead whose email is "
        "unsubscribed from all of its Campaign Monitor lists",
        lambda s: s["sync_email_opt_out"] is True,
    ),
    "days to keep lowered": (
        "/sync/",
        lambda: sync_post(days_to_keep="30"),
        "Lowering days to keep from 365 to 30 deletes from Salesforce, at the next sync, every "
        "email tracking record older than 30 days.",
        lambda s: s["days_to_keep"] == 30,
    ),
    "days to keep raised": (
        "/sync/",
        lambda: sync_post(days_to_keep="400"),
        "Raising days to keep from 365 to 400 makes the next sync read Campaign Monitor&#x27;s "
        "email tracking again from 400 days back",
        lambda s: s["days_to_keep"] == 400,
    ),
    "member status mode": (
        "/campaigns/",
        lambda: campaigns_post(member_status_mode="always"),
        "Member status update “Always”: at every sync, each member of a linked Salesforce "
        "campaign gets the mapped status of its latest Campaign Monitor activity",
        lambda s: s["member_status_mode"] == "always",
    ),
    "status mapping": (
        "/campaigns/",
        lambda: campaigns_post(mapping={"clicked": ("Engaged", False)}),
        "New status mapping (Clicked → “Engaged” (was “Clicked”), no longer counts as "
        "responded): from the next sync, members whose newer activity maps to a changed status "
        "get the new one",
        lambda s: s["mapping"]["clicked"] == ("Engaged", False),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_change_to_what_the_sync_writes_asks_first(alice_client, case):
    CampaignSettings.objects.update(member_status_mode="once")  # the mapping is in use
    if case == "opt-out sync on":
        GeneralSettings.objects.update(sync_email_opt_out=False)
    if case == "member status mode":
        CampaignSettings.objects.update(member_status_mode="never")
    path, data, words, saved = CASES[case]
    before = stored()
    url, page = ask(alice_client, path, data())
    assert 'role="alertdialog"' in page and words in page, page
    assert "Nothing has been saved yet." in page
    assert "Yes, save these settings" in page and "Preview the effect" in page
    assert stored() == before  # asking saved nothing
    alice_client.get(url)  # asking twice neither
    assert stored() == before

    answer = alice_client.post(url)
    assert answer.status_code == 302 and not answer.url.startswith("/settings/confirm/")
    assert saved(stored())
    assert "settings saved." in alice_client.get(answer.url).text
    assert alice_client.post(url).url == "/sync/#sync-settings"  # a yes counts once
    assert "no longer waiting for confirmation" in alice_client.get("/sync/").text


def test_cancel_goes_back_and_saves_nothing(alice_client):
    url, page = ask(alice_client, "/sync/", sync_post(days_to_keep="30"))
    assert 'href="/sync/#sync-settings">Cancel</a>' in page
    assert SyncSettings.get_solo().days_to_keep == 365


def test_raising_days_to_keep_with_tracking_off_says_nothing_is_imported(alice_client):
    _, page = ask(alice_client, "/sync/", sync_post(import_tracking=False, days_to_keep="400"))
    assert "Email tracking import is off, so nothing older is imported" in page


def test_changes_that_write_nothing_new_save_at_once(alice_client):
    # The mapping with member status update Never, opt-out sync switched off, the schedule.
    response = alice_client.post("/campaigns/", campaigns_post(mapping={"sent": ("Mailed", False)}))
    assert response.url == "/campaigns/#settings-form"
    assert MemberStatusMapping.objects.get(activity="sent").label == "Mailed"
    response = alice_client.post("/general/", general_post(sync_email_opt_out=False))
    assert response.url == "/general/#settings-form"
    response = alice_client.post("/sync/", sync_post(change_poll_minutes="7"))
    assert response.url == "/sync/#sync-settings"


def test_a_change_made_on_settings_changed_since_is_refused(alice_client):
    url, _ = ask(alice_client, "/sync/", sync_post(days_to_keep="30"))
    SyncSettings.objects.update(change_poll_minutes=9)  # someone else saved meanwhile
    answer = alice_client.post(url)
    assert answer.url == "/sync/#sync-settings"
    assert "were changed after you pressed Save, so your change was not saved" in (
        alice_client.get("/sync/").text
    )
    assert SyncSettings.get_solo().days_to_keep == 365


def test_only_the_session_that_made_the_change_sees_it(alice_client, alice, bob, carol):
    url, _ = ask(alice_client, "/sync/", sync_post(days_to_keep="30"))
    for user in (bob, carol, alice):  # alice: her other browser
        other = Client()
        other.force_login(user)
        assert other.get(url).url == "/sync/#sync-settings"  # nothing waits in their session
        assert other.post(url).url == "/sync/#sync-settings"
    assert SyncSettings.get_solo().days_to_keep == 365


def test_a_change_needs_the_right_to_change_those_settings(alice_client, alice):
    url, _ = ask(alice_client, "/sync/", sync_post(days_to_keep="30"))
    alice.groups.clear()
    alice.user_permissions.clear()
    alice.is_superuser = False
    alice.save()
    assert alice_client.get(url).status_code == 403
    assert alice_client.post(url).status_code == 403
    assert SyncSettings.get_solo().days_to_keep == 365


def test_a_bad_value_is_refused_on_the_form_and_never_asks(alice_client):
    response = alice_client.post("/sync/", sync_post(days_to_keep="0"))
    assert response.status_code == 200
    assert "Keep tracking data for at least 1 day" in response.text


def test_the_api_keeps_saving_directly(alice):
    api = APIClient()
    api.force_login(alice)
    etag = api.get("/api/v1/settings/sync/")["ETag"]
    answer = api.patch(
        "/api/v1/settings/sync/", {"days_to_keep": 30}, format="json", HTTP_IF_MATCH=etag
    )
    assert answer.status_code == 200, answer.content
    assert SyncSettings.get_solo().days_to_keep == 30


# -- Preview the effect ------------------------------------------------------------------------


def test_preview_the_effect_of_a_lowered_days_to_keep_then_save_it(world, alice_client):
    """The preview counts the tracking records the real run then deletes."""
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

    url, _ = ask(alice_client, "/sync/", sync_post(days_to_keep="7"))
    started = alice_client.post(url, {"preview": "1"})
    run = SyncRun.objects.get(kind=SyncRun.Kind.PREVIEW)
    assert started.url == f"/sync/runs/{run.pk}/"
    assert run.proposed == {"sync": {"days_to_keep": "7"}}
    assert SyncSettings.get_solo().days_to_keep == 365  # nothing saved
    done = runner.execute(run.pk)
    assert done is not None and done.status == SyncRun.Status.SUCCEEDED, done.last_error
    deleted = preview.totals(run).get("tracking_deleted", 0)
    assert deleted > 0 and len(world.tracking()) == tracked

    page = alice_client.get(started.url).text
    assert "Days to keep in Salesforce: 7" in page
    assert f'action="{url}"' in page and "Yes, save these settings" in page
    assert 'href="/sync/#sync-settings">Cancel the change</a>' in page
    assert "Your last preview of this change" in alice_client.get(url).text

    saved = alice_client.post(url)  # the preview page's "Yes, save these settings"
    assert saved.url == "/sync/#sync-settings"
    assert SyncSettings.get_solo().days_to_keep == 7
    real = world.sync()
    assert real.counts["retention"]["written"] == deleted
    assert len(world.tracking()) == tracked - deleted


def test_preview_the_effect_of_a_status_mapping_counts_pairs_as_the_run_writes(world, alice_client):
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

    for email in emails[:2]:
        world.event(campaign, "click", email, minutes=-30, url="https://example.com/")
    before = statuses()

    url, _ = ask(
        alice_client, "/campaigns/", campaigns_post(mapping={"clicked": ("Engaged", True)})
    )
    alice_client.post(url, {"preview": "1"})
    run = SyncRun.objects.get(kind=SyncRun.Kind.PREVIEW)
    assert run.proposed == {"mapping": {"clicked": {"label": "Engaged", "responded": True}}}
    assert MemberStatusMapping.objects.get(activity="clicked").label == "Clicked"
    done = runner.execute(run.pk)
    assert done is not None and done.status == SyncRun.Status.SUCCEEDED, done.last_error
    entries = [e for e in preview.summary(run) if e["kind"] == "member_status"]
    pairs = {(p["before"], p["after"]): p["count"] for e in entries for p in e["pairs"]}
    assert pairs == {("Opened", "Engaged"): 2}
    assert statuses() == before
    page = alice_client.get(f"/sync/runs/{run.pk}/").text
    assert "Member status for Clicked: Engaged (counts as responded)" in page

    alice_client.post(url)
    assert MemberStatusMapping.objects.get(activity="clicked").label == "Engaged"
    real = world.sync()
    assert real.status == SyncRun.Status.SUCCEEDED, real.last_error
    after = statuses()
    seen: dict[tuple[str, str], int] = {}
    for email in emails:
        if before[email] != after[email]:
            seen[(before[email], after[email])] = seen.get((before[email], after[email]), 0) + 1
    assert seen == pairs


def test_preview_the_effect_needs_the_preview_permission_and_waits_for_another_preview(
    world, alice_client
):
    other, _ = runner.request_run(SyncRun.Trigger.MANUAL, kind=SyncRun.Kind.PREVIEW, send=False)
    SyncRun.objects.filter(pk=other.pk).update(enqueued_at=timezone.now())  # its task is sent
    url, _ = ask(alice_client, "/sync/", sync_post(days_to_keep="30"))
    answer = alice_client.post(url, {"preview": "1"})
    assert answer.url == url
    assert "Another preview is queued" in alice_client.get(url).text
    assert SyncRun.objects.filter(kind=SyncRun.Kind.PREVIEW).count() == 1
    assert SyncSettings.get_solo().days_to_keep == 365


# -- The first Sync now ------------------------------------------------------------------------


def test_the_first_sync_now_asks_with_preview_beside_it(world, alice_client):
    tab = alice_client.get("/sync/").text
    assert '<form method="get" action="/sync/now/">' in tab
    assert "No sync has finished yet: the first one writes to Salesforce" in tab

    page = alice_client.get("/sync/now/").text
    assert "Run the first sync now?" in page and 'role="alertdialog"' in page
    assert "Ticks &#x27;Email Opt Out&#x27;" in page
    assert "Imports the email tracking (sent, opened, clicked, unsubscribed, bounced)" in page
    assert 'formaction="/sync/preview/"' in page and "Preview the effect" in page
    assert not SyncRun.objects.exists()  # asking starts nothing

    previewed = alice_client.post("/sync/preview/")
    assert SyncRun.objects.get().kind == SyncRun.Kind.PREVIEW
    runner.execute(int(previewed.url.rstrip("/").split("/")[-1]))
    assert "Run the first sync now?" in alice_client.get("/sync/now/").text  # still first

    started = alice_client.post("/sync/now/")
    run = SyncRun.objects.get(kind=SyncRun.Kind.PRIMARY)
    assert started.url == f"/sync/runs/{run.pk}/"
    runner.execute(run.pk)
    assert alice_client.get("/sync/now/").url == "/sync/#primary-sync"  # no longer asks
    tab = alice_client.get("/sync/").text
    assert '<form method="post" action="/sync/now/">' in tab
    assert "No sync has finished yet" not in tab


def test_the_first_sync_now_without_a_connection_says_what_is_missing(alice_client):
    answer = alice_client.get("/sync/now/")
    assert answer.url == "/sync/#primary-sync"
    assert "Campaign Monitor is not connected." in alice_client.get("/sync/").text


def test_the_first_sync_now_question_is_for_those_who_may_sync(world, carol_client):
    assert carol_client.get("/sync/now/").status_code == 403
