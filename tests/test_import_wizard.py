"""The import wizard against both emulators: Salesforce people into a Campaign Monitor list."""

import html
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaign_monitor.models import Connection
from salesforce.gateway import memo_describe
from settings_app.models import GeneralSettings
from subscriptions import criteria
from subscriptions.imports import work as imports
from subscriptions.models import FieldMapping, ImportFailure, ImportJob
from subscriptions.tasks import dispatch_imports, run_import

pytestmark = pytest.mark.django_db

IMPORT_ROUTE = "POST /subscribers/{id}/import.json"


# -- helpers ---------------------------------------------------------------------------------


def people(world, *emails, sobject="Contact", **fields) -> list[str]:
    """Contacts (or Leads) with these emails, in one call; returns their ids."""
    records = []
    for n, email in enumerate(emails):
        record = {"FirstName": "Pat", "LastName": f"Person{n}", **fields}
        if email is not None:
            record["Email"] = email
        if sobject == "Lead":
            record["Company"] = "Test Co"
        records.append(record)
    results = world.gateway.create(sobject, records)
    assert all(r.success for r in results), [r.errors for r in results if not r.success]
    return [r.id for r in results]


def legacy_email(world, sobject: str, record_id: str, email: str) -> None:
    """An address Salesforce holds but Campaign Monitor would refuse: written straight into
    the emulator's store, as an old record from before today's email checks would be."""
    world.sf.org.store.execute(
        f'UPDATE "{sobject}" SET "Email" = ? WHERE "Id" = ?', (email, record_id)
    )


def job_for(world, user=None, **fields) -> ImportJob:
    defaults = {
        "list_id": world.list_a,
        "client_id": world.client["ClientID"],
        "created_by": user,
        "source": ImportJob.Source.CONTACTS,
        "mapping": {"name": "Name", "consent_to_track": "Unchanged"},
        "status": ImportJob.Status.QUEUED,
    }
    return ImportJob.objects.create(**(defaults | fields))


def general(**options) -> GeneralSettings:
    settings = GeneralSettings.get_solo()
    for name, value in options.items():
        setattr(settings, name, value)
    settings.save()
    return settings


def cm_state(list_id: str, email: str) -> str:
    api = Connection.current().api()
    return api.get(f"subscribers/{list_id}.json", {"email": email})["State"]


def cm_fields(list_id: str, email: str) -> dict:
    api = Connection.current().api()
    record = api.get(f"subscribers/{list_id}.json", {"email": email})
    return {f["Key"]: f["Value"] for f in record["CustomFields"]}


def import_bodies(world) -> list[dict]:
    return world.cm.request_bodies(IMPORT_ROUTE)


def url(name: str, world, job=None) -> str:
    args = [world.list_a] + ([job.pk] if job else [])
    return reverse(name, args=args)


def text(response) -> str:
    """The page's text without tags, spaces folded."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


# -- preview ---------------------------------------------------------------------------------


def test_preview_shows_counts_samples_who_is_skipped_and_why_and_the_options(
    world, alice, alice_client
):
    people(world, "ann@example.com", "carl@example.com")
    people(world, "olive@example.com", HasOptedOutOfEmail=True)
    people(world, None)  # no email
    (legacy,) = people(world, "placeholder@example.com")
    legacy_email(world, "Contact", legacy, "broken@localhost")
    people(world, "ANN@example.com")  # the same address again
    job = job_for(world, alice, status=ImportJob.Status.DRAFT)

    response = alice_client.get(url("subscriptions-import-preview", world, job))

    assert response.status_code == 200
    preview = response.context["preview"]
    assert (preview.found, preview.allowed, preview.skipped_total) == (6, 2, 4)
    assert dict(preview.skipped) == {
        "opted_out": 1,
        "no_email": 1,
        "invalid_email": 1,
        "duplicate_email": 1,
    }
    assert {s.email.lower() for s in preview.sample} == {"ann@example.com", "carl@example.com"}
    page = text(response)
    assert "Email Opt Out is ticked and adding opted-out people is prevented: 1" in page
    assert "The email address is not valid: 1" in page
    assert "No email address: 1" in page
    assert "Another record in this import has the same email: 1" in page
    assert "broken@localhost" in page
    assert "olive@example.com" in page
    assert "Add and update (nobody inactive is re-subscribed)" in page
    assert "Journeys Not triggered" in page
    assert "Start import" in page
    assert import_bodies(world) == []  # a preview writes nothing


def test_preview_counts_deleted_subscribers_that_will_come_back(world, alice, alice_client):
    general(resubscribe_deleted_via_import=True)
    world.subscriber(world.list_a, "gone@example.com", "Deleted")
    world.subscriber(world.list_a, "left@example.com", "Unsubscribed")
    people(world, "gone@example.com", "left@example.com", "new@example.com")
    job = job_for(
        world,
        alice,
        status=ImportJob.Status.DRAFT,
        refresh=ImportJob.Refresh.RESUBSCRIBE_DELETED,
    )

    response = alice_client.get(url("subscriptions-import-preview", world, job))

    assert response.context["preview"].resubscribed == 1
    assert "Add, update and re-subscribe deleted subscribers" in text(response)


# -- the whole wizard through the views ------------------------------------------------------


def test_bob_goes_through_every_step_and_the_import_runs(
    world, bob, bob_client, django_capture_on_commit_callbacks
):
    people(world, "web1@example.com", "web2@example.com", LeadSource="Web")
    people(world, "phone@example.com", LeadSource="Phone Inquiry")

    response = bob_client.post(url("subscriptions-import", world), {"source": "contacts"})
    job = ImportJob.objects.get()
    assert (job.status, job.created_by) == (ImportJob.Status.DRAFT, bob)
    assert response.url == url("subscriptions-import-people", world, job)

    suggested = bob_client.get(response.url).content.decode()
    assert '<option value="LeadSource">' in suggested
    assert '<option value="Account.Industry">' in suggested
    response = bob_client.post(
        response.url,
        {"field_1": "leadsource", "operator_1": "equals", "value_1": "Web", "logic": ""},
    )
    assert response.url == url("subscriptions-import-mapping", world, job)
    job.refresh_from_db()
    assert job.conditions == [{"field": "LeadSource", "operator": "equals", "value": "Web"}]

    response = bob_client.post(
        response.url, {"name": "FirstName LastName", "consent_to_track": "Yes"}
    )
    assert response.url == url("subscriptions-import-options", world, job)
    response = bob_client.post(
        response.url, {"refresh": "add_update", "clear_blanks": "", "when": "now"}
    )
    assert response.url == url("subscriptions-import-preview", world, job)
    assert bob_client.get(response.url).context["preview"].allowed == 2

    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = bob_client.post(response.url)
    assert response.url == url("subscriptions-import-result", world, job)
    assert len(queued) == 1  # run_import.delay, once committed
    job.refresh_from_db()
    assert job.status == ImportJob.Status.QUEUED

    run_import(job.pk)  # what the worker does

    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.last_error
    assert (job.totals["new"], job.totals["batches"]) == (2, 1)
    assert cm_state(world.list_a, "web1@example.com") == "Active"
    (body,) = import_bodies(world)
    assert {s["Name"] for s in body["Subscribers"]} == {"Pat Person0", "Pat Person1"}
    assert {s["ConsentToTrack"] for s in body["Subscribers"]} == {"Yes"}
    page = text(bob_client.get(url("subscriptions-import-result", world, job)))
    assert "Succeeded" in page and "New subscribers 2" in page
    history = text(bob_client.get(url("subscriptions-import-history", world)))
    assert "Contacts matching conditions Succeeded 2 0 0" in history
    # Once started the steps are closed: they lead to the result.
    assert bob_client.get(url("subscriptions-import-options", world, job)).url == url(
        "subscriptions-import-result", world, job
    )


def test_a_campaign_source_imports_members_with_the_chosen_statuses(world, alice, alice_client):
    (campaign,) = [
        c["Id"]
        for c in world.gateway.query("SELECT Id FROM Campaign WHERE Name = 'Partner Roadshow'")
    ]
    contacts = people(world, "sent@example.com", "came@example.com")
    (lead,) = people(world, "lead@example.com", sobject="Lead")
    members = [
        {"CampaignId": campaign, "ContactId": contacts[0], "Status": "Sent"},
        {"CampaignId": campaign, "ContactId": contacts[1], "Status": "Responded"},
        {"CampaignId": campaign, "LeadId": lead, "Status": "Responded"},
    ]
    assert all(r.success for r in world.gateway.create("CampaignMember", members))
    (other,) = [
        c["Id"]
        for c in world.gateway.query("SELECT Id FROM Campaign WHERE Name = 'Customer Survey Q1'")
    ]
    existing = world.gateway.member_statuses([other])[other]
    (added,) = world.gateway.add_member_statuses(other, existing, [("Attended", True)])
    assert added.success
    job = job_for(world, alice, source=ImportJob.Source.CAMPAIGN, status=ImportJob.Status.DRAFT)

    response = alice_client.post(
        url("subscriptions-import-people", world, job),
        {"campaign": campaign, "member_statuses": ["Responded"]},
    )
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.campaign_name, job.member_statuses) == ("Partner Roadshow", ["Responded"])
    response = alice_client.post(
        url("subscriptions-import-people", world, job),
        {"campaign": campaign, "member_statuses": ["Attended"]},
    )
    assert "Partner Roadshow has no member status Attended" in text(response)

    job.status = ImportJob.Status.QUEUED
    job.save()
    job = imports.run(job.pk)

    assert job.status == ImportJob.Status.SUCCEEDED, job.last_error
    (body,) = import_bodies(world)
    assert sorted(s["EmailAddress"] for s in body["Subscribers"]) == [
        "came@example.com",
        "lead@example.com",
    ]


# -- SOQL from hostile input -----------------------------------------------------------------


@pytest.mark.parametrize(
    "conditions, logic, complaint",
    [
        ([{"field": "Name) OR (Id != null", "operator": "equals", "value": "x"}], "", "field name"),
        ([{"field": "Email FROM User --", "operator": "equals", "value": "x"}], "", "field name"),
        ([{"field": "Password__c", "operator": "equals", "value": "x"}], "", "no field"),
        ([{"field": "Email", "operator": "= 'x' OR Id !=", "value": "x"}], "", "operator"),
        ([{"field": "Email", "operator": "equals", "value": "x"}], "1 OR Id != null", "logic"),
        ([{"field": "Email", "operator": "equals", "value": "x"}], "1) OR (1", "logic"),
    ],
)
def test_hostile_fields_operators_and_logic_are_refused_with_a_form_error(
    world, bob, bob_client, conditions, logic, complaint
):
    job = job_for(world, bob, status=ImportJob.Status.DRAFT)
    data = {"logic": logic}
    for n, c in enumerate(conditions, start=1):
        data |= {f"field_{n}": c["field"], f"operator_{n}": c["operator"], f"value_{n}": c["value"]}

    response = bob_client.post(url("subscriptions-import-people", world, job), data)

    assert response.status_code == 200
    assert response.context["form"].errors
    job.refresh_from_db()
    assert job.conditions == [] and job.logic == ""
    with pytest.raises(criteria.InvalidCriteria):
        criteria.parse(conditions, logic, memo_describe(world.gateway), "Contact")


@pytest.mark.parametrize(
    "operator, value, matches",
    [
        ("equals", "x' OR Name != '", []),
        ("equals", "x\\' OR Name != \\'", []),
        ("not_equals", "' OR Email = '", "everyone"),
        ("contains", "%", ["pct"]),
        ("contains", "_", ["under"]),
        ("contains", "\\", ["back"]),
        ("starts_with", "%", []),
        ("contains", "' OR LastName LIKE '", []),
        ("equals", "O'Brien", ["quote"]),
    ],
)
def test_hostile_values_are_quoted_and_match_nothing_extra(world, operator, value, matches):
    names = {
        "quote": "O'Brien",
        "pct": "Sure 100% Ltd",
        "under": "Under_Score",
        "back": "Back\\Slash",
        "plain": "Plain",
    }
    ids = dict(
        zip(
            names,
            [people(world, f"{k}@example.com", LastName=v)[0] for k, v in names.items()],
            strict=True,
        )
    )
    job = job_for(world, conditions=[{"field": "LastName", "operator": operator, "value": value}])

    source = imports.build_source(job, memo_describe(world.gateway), [])
    found = {row["Id"] for row in world.gateway.query(source.query)}

    expected = set(ids.values()) if matches == "everyone" else {ids[k] for k in matches}
    assert found == expected
    assert world.gateway.count(source.count_query) == len(expected)


# -- options: re-subscribing, journeys, opt-outs ------------------------------------------------


def test_resubscribe_brings_back_deleted_but_never_unsubscribed_or_bounced(world, alice):
    general(resubscribe_deleted_via_import=True)
    states = {
        "gone@example.com": "Deleted",
        "left@example.com": "Unsubscribed",
        "bounced@example.com": "Bounced",
        "here@example.com": "Active",
    }
    for email, state in states.items():
        world.subscriber(world.list_a, email, state)
    people(world, *states, "new@example.com")
    job = job_for(world, alice, refresh=ImportJob.Refresh.RESUBSCRIBE_DELETED)

    job = imports.run(job.pk)

    assert job.status == ImportJob.Status.SUCCEEDED, job.last_error
    assert cm_state(world.list_a, "gone@example.com") == "Active"
    assert cm_state(world.list_a, "left@example.com") == "Unsubscribed"
    assert cm_state(world.list_a, "bounced@example.com") == "Bounced"
    assert cm_state(world.list_a, "here@example.com") == "Active"
    assert cm_state(world.list_a, "new@example.com") == "Active"
    by_flag = {
        b["Resubscribe"]: [s["EmailAddress"] for s in b["Subscribers"]]
        for b in import_bodies(world)
    }
    assert by_flag[True] == ["gone@example.com"]
    assert "left@example.com" in by_flag[False] and "bounced@example.com" in by_flag[False]
    assert job.totals["resubscribed"] == 1
    assert job.totals["options"]["resubscribe"] is True
    # Unsubscribed from an AllClientLists list, "left" is on the suppression list too.
    assert job.totals["suppressed"] == 1
    assert [f.email for f in job.failures.all()] == ["left@example.com"]


def test_resubscribe_follows_the_general_option(world, alice, alice_client):
    general(resubscribe_deleted_via_import=False)
    world.subscriber(world.list_a, "gone@example.com", "Deleted")
    people(world, "gone@example.com")
    job = job_for(world, alice, status=ImportJob.Status.DRAFT)

    page = alice_client.get(url("subscriptions-import-options", world, job))
    assert "resubscribe_deleted" not in page.content.decode()  # not offered
    refused = alice_client.post(
        url("subscriptions-import-options", world, job),
        {"refresh": "resubscribe_deleted", "when": "now"},
    )
    assert refused.status_code == 200 and refused.context["form"].errors

    # Chosen while the option was on, switched off before the start: refused then too.
    job.refresh = ImportJob.Refresh.RESUBSCRIBE_DELETED
    job.save()
    response = alice_client.post(url("subscriptions-import-preview", world, job))
    assert response.url == url("subscriptions-import-options", world, job)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DRAFT

    # ... and a job already queued runs without it.
    job.status = ImportJob.Status.QUEUED
    job.save()
    job = imports.run(job.pk)
    assert cm_state(world.list_a, "gone@example.com") == "Deleted"
    assert {b["Resubscribe"] for b in import_bodies(world)} == {False}
    assert job.totals["options"]["resubscribe"] is False


def test_the_journeys_flag_is_sent_only_while_the_option_is_on(world, alice, alice_client):
    people(world, "journey@example.com")
    general(trigger_list_journeys=False)
    imports.run(job_for(world, alice, restart_journeys=True).pk)
    general(trigger_list_journeys=True)
    imports.run(job_for(world, alice, restart_journeys=False).pk)
    imports.run(job_for(world, alice, restart_journeys=True).pk)

    flags = [b["RestartSubscriptionBasedAutoresponders"] for b in import_bodies(world)]
    assert flags == [False, False, True]
    queued = [b["QueueSubscriptionBasedAutoresponders"] for b in import_bodies(world)]
    assert queued == [False, False, True]


def test_the_journeys_option_shows_the_seeds_warning_and_is_refused_when_off(
    world, alice, alice_client
):
    job = job_for(world, alice, status=ImportJob.Status.DRAFT)
    general(trigger_list_journeys=True)
    page = text(alice_client.get(url("subscriptions-import-options", world, job)))
    assert "Trigger 'joins a list' journeys" in page
    assert "a bulk import may email everyone in it" in page

    general(trigger_list_journeys=False)
    page = text(alice_client.get(url("subscriptions-import-options", world, job)))
    assert "Journeys are not triggered" in page
    response = alice_client.post(
        url("subscriptions-import-options", world, job),
        {"refresh": "add_update", "restart_journeys": "on", "when": "now"},
    )
    assert "Triggering journeys is switched off" in text(response)


def test_opted_out_people_are_refused_while_prevention_is_on(world, alice):
    people(world, "keen@example.com")
    (opted,) = people(world, "quiet@example.com", HasOptedOutOfEmail=True)

    job = imports.run(job_for(world, alice).pk)

    assert job.totals["skipped"]["opted_out"] == 1
    (skip,) = job.failures.filter(kind=ImportFailure.Kind.SKIPPED)
    assert (skip.email, skip.record_id, skip.code) == ("quiet@example.com", opted, "opted_out")
    (body,) = import_bodies(world)
    assert [s["EmailAddress"] for s in body["Subscribers"]] == ["keen@example.com"]

    general(prevent_opted_out_in_lists=False)
    job = imports.run(job_for(world, alice).pk)
    assert job.totals["skipped"]["opted_out"] == 0
    assert cm_state(world.list_a, "quiet@example.com") == "Active"


def test_clear_blank_values_clears_mapped_fields_left_empty_in_salesforce(world, alice):
    FieldMapping.objects.create(
        list_id=world.list_a,
        cm_key="[website]",
        cm_type="Text",
        contact_field="Description",
        direction=FieldMapping.Direction.TO_CM,
    )
    (contact,) = people(world, "site@example.com", Description="https://example.com")
    imports.run(job_for(world, alice).pk)
    assert cm_fields(world.list_a, "site@example.com") == {"website": "https://example.com"}

    world.gateway.update("Contact", [{"Id": contact, "Description": None}])
    imports.run(job_for(world, alice).pk)
    assert cm_fields(world.list_a, "site@example.com") == {"website": "https://example.com"}

    imports.run(job_for(world, alice, clear_blanks=True).pk)
    assert cm_fields(world.list_a, "site@example.com") == {}


# -- batches and failures ----------------------------------------------------------------------


def test_2500_people_go_in_3_batches_and_refusals_are_reported_per_email(world, alice):
    emails = [f"person{n:04d}@example.com" for n in range(2500)]
    for start in range(0, 2500, 500):
        records = [
            {"LastName": f"Person {n}", "Email": emails[n]} for n in range(start, start + 500)
        ]
        assert all(r.get("success") for r in world.sf.insert("Contact", records))
    suppressed = ["person0007@example.com", "person1500@example.com", "person2499@example.com"]
    world.cm.suppress(world.client["ClientID"], suppressed)
    world.cm.reset_request_counts()

    job = run_import(job_for(world, alice).pk)  # the task, called as a plain function

    job = ImportJob.objects.get()
    # Suppressed people are reported as such: Campaign Monitor did all it allows.
    assert job.status == ImportJob.Status.SUCCEEDED
    assert world.cm.request_counts()[IMPORT_ROUTE] == 3
    assert [len(b["Subscribers"]) for b in import_bodies(world)] == [1000, 1000, 500]
    totals = job.totals
    assert (totals["found"], totals["allowed"], totals["batches"]) == (2500, 2500, 3)
    assert (totals["new"], totals["existing"], totals["failed"]) == (2497, 0, 0)
    assert totals["suppressed"] == 3
    held = job.failures.filter(kind=ImportFailure.Kind.SUPPRESSED)
    assert sorted(f.email for f in held) == suppressed
    assert {(f.code, f.message) for f in held} == {("204", "In Suppression List")}
    assert not job.failures.filter(kind=ImportFailure.Kind.REFUSED).exists()
    assert cm_state(world.list_a, "person0008@example.com") == "Active"


def test_the_result_page_shows_suppressed_people_apart_from_failures(world, alice, alice_client):
    people(world, "fine@example.com", "blocked@example.com")
    world.cm.suppress(world.client["ClientID"], ["blocked@example.com"])
    job = imports.run(job_for(world, alice).pk)

    page = text(alice_client.get(url("subscriptions-import-result", world, job)))

    assert "Succeeded" in page
    assert "New subscribers 1" in page and "Refused by Campaign Monitor 0" in page
    assert "Suppressed (on the client's suppression list, not added) 1" in page
    assert "blocked@example.com In Suppression List 204" in page
    only = url("subscriptions-import-result", world, job)
    assert "blocked@example.com" in text(alice_client.get(only + "?kind=suppressed"))
    assert "blocked@example.com" not in text(alice_client.get(only + "?kind=refused"))


def test_a_run_is_claimed_once_and_a_lost_one_resumes_after_the_sent_batches(world, alice):
    people(world, "again@example.com")
    job = imports.run(job_for(world, alice).pk)
    assert imports.run(job.pk).finished_at == job.finished_at  # the second call does nothing
    assert len(import_bodies(world)) == 1

    # A worker died after batch 1 of 1: the redelivered task finishes without resending.
    lost = job_for(
        world,
        alice,
        status=ImportJob.Status.RUNNING,
        heartbeat_at=timezone.now() - timedelta(hours=1),
        totals={"batches": 1, "new": 1, "submitted": 1},
    )
    lost = imports.run(lost.pk)
    assert lost.status == ImportJob.Status.SUCCEEDED
    assert (lost.totals["new"], lost.totals["batches"]) == (1, 1)
    assert len(import_bodies(world)) == 1


def test_a_failure_to_reach_salesforce_fails_the_job_with_a_message(world, alice):
    job = job_for(
        world, alice, conditions=[{"field": "Gone__c", "operator": "equals", "value": "x"}]
    )
    job = imports.run(job.pk)
    assert job.status == ImportJob.Status.FAILED
    assert "Contact has no field “Gone__c”" in job.last_error


# -- scheduling and cancelling ---------------------------------------------------------------


def test_scheduling_cancelling_and_dispatching(world, alice, alice_client):
    people(world, "later@example.com")
    job = job_for(world, alice, status=ImportJob.Status.DRAFT)
    moment = timezone.localtime() + timedelta(hours=2)
    response = alice_client.post(
        url("subscriptions-import-options", world, job),
        {
            "refresh": "add_update",
            "when": "later",
            "scheduled_for": moment.strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 302
    assert "Schedule import" in text(alice_client.get(response.url))
    alice_client.post(response.url)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SCHEDULED

    assert dispatch_imports() == []  # not yet
    page = text(alice_client.get(url("subscriptions-import-result", world, job)))
    assert "Cancel import" in page
    alice_client.post(url("subscriptions-import-cancel", world, job))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.CANCELLED
    ImportJob.objects.filter(pk=job.pk).update(scheduled_for=timezone.now() - timedelta(minutes=1))
    assert imports.dispatch_due() == []  # cancelled: never runs

    due = job_for(
        world,
        alice,
        status=ImportJob.Status.SCHEDULED,
        scheduled_for=timezone.now() - timedelta(minutes=1),
    )
    assert imports.dispatch_due() == [due.pk]
    assert imports.dispatch_due() == []
    due.refresh_from_db()
    assert due.status == ImportJob.Status.QUEUED

    from auditlog.models import LogEntry

    actions = [
        e.additional_data["action"]
        for e in LogEntry.objects.order_by("pk")
        if e.additional_data and "action" in e.additional_data
    ]
    assert any("scheduled for" in a for a in actions)
    assert f"Import {job.pk} into list {world.list_a} cancelled" in actions


def test_a_scheduled_time_in_the_past_is_refused(world, alice, alice_client):
    job = job_for(world, alice, status=ImportJob.Status.DRAFT)
    past = (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = alice_client.post(
        url("subscriptions-import-options", world, job),
        {"refresh": "add_update", "when": "later", "scheduled_for": past},
    )
    assert "Choose a time in the future" in text(response)


# -- who may do what -------------------------------------------------------------------------


def test_carol_sees_past_imports_but_cannot_import(world, alice, carol_client):
    job = imports.run(job_for(world, alice).pk)

    start = carol_client.get(url("subscriptions-import", world))
    assert start.status_code == 200
    assert "Importing needs the Standard or Full access role" in text(start)
    assert (
        carol_client.post(url("subscriptions-import", world), {"source": "contacts"}).status_code
        == 403
    )
    assert carol_client.get(url("subscriptions-import-result", world, job)).status_code == 200
    assert carol_client.get(url("subscriptions-import-history", world)).status_code == 200
    assert carol_client.post(url("subscriptions-import-cancel", world, job)).status_code == 403
    draft = job_for(world, alice, status=ImportJob.Status.DRAFT)
    assert carol_client.get(url("subscriptions-import-options", world, draft)).status_code == 403
    assert ImportJob.objects.count() == 2


def test_mallory_gets_nothing(world, mallory_client):
    assert mallory_client.get(url("subscriptions-import", world)).status_code == 403


def test_lists_of_clients_bob_may_not_see_are_not_found(world, bob, bob_client):
    from security.models import ClientOwnership

    other = reverse("subscriptions-import", args=[world.other_list])
    assert bob_client.get(other).status_code == 404  # a list of a client not connected
    assert bob_client.get(url("subscriptions-import", world)).status_code == 200
    ClientOwnership.objects.create(user=bob, client_id=world.other_client["ClientID"])
    assert bob_client.get(url("subscriptions-import", world)).status_code == 404


# -- for real: beat, broker, worker ------------------------------------------------------------


@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_beat_runs_a_due_scheduled_import_on_a_worker(
    world, alice, celery_processes, sync_worker, tmp_path
):
    from .test_sync_celery import wait_for

    people(world, "scheduled@example.com", "timely@example.com")
    job = job_for(
        world,
        alice,
        status=ImportJob.Status.SCHEDULED,
        scheduled_for=timezone.now() + timedelta(seconds=3),
    )
    start, _ = celery_processes
    start("beat", "--schedule", str(tmp_path / "beat-schedule"), "--loglevel", "INFO")

    wait_for(lambda: ImportJob.objects.filter(pk=job.pk, status__in=ImportJob.FINISHED).exists())

    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.last_error
    assert job.started_at >= job.scheduled_for
    assert job.totals["new"] == 2
    assert cm_state(world.list_a, "scheduled@example.com") == "Active"


def test_the_emulator_suppression_list_and_request_bodies_over_http(world):
    from campaign_monitor.records import NewSubscriber

    from .conftest import control

    added = control(
        world.cm,
        "POST",
        "suppressions",
        json={"ClientID": world.client["ClientID"], "EmailAddresses": ["No@Example.com"]},
    )
    assert added == {"added": 1}
    api = Connection.current().api()
    result = api.import_subscribers(
        world.list_a,
        [NewSubscriber("no@example.com"), NewSubscriber("yes@example.com")],
        restart_autoresponders=True,
    )
    assert [(f.email, f.code, f.message) for f in result.failures] == [
        ("no@example.com", 204, "In Suppression List")
    ]
    assert result.new == 1
    (body,) = control(world.cm, "POST", "request_bodies", json={"route": IMPORT_ROUTE})
    assert body["RestartSubscriptionBasedAutoresponders"] is True
    # Another client of the account does not share the suppression list.
    other = api.import_subscribers(world.other_list, [NewSubscriber("no@example.com")])
    assert other.failures == [] and other.new == 1
    control(world.cm, "DELETE", "requests")
    assert control(world.cm, "POST", "request_bodies", json={"route": IMPORT_ROUTE}) == []


def test_run_import_command_runs_a_queued_job(world, alice):
    from django.core.management import call_command

    people(world, "command@example.com")
    job = job_for(world, alice)
    call_command("run_import", str(job.pk))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED


def test_create_only_mappings_fill_new_subscribers_only(world, alice):
    FieldMapping.objects.create(
        list_id=world.list_a,
        cm_key="[website]",
        cm_type="Text",
        contact_field="Description",
        direction=FieldMapping.Direction.TO_CM,
        create_only=True,
    )
    world.subscriber(world.list_a, "known@example.com", "Active")
    people(world, "known@example.com", "fresh@example.com", Description="https://example.org")

    job = imports.run(job_for(world, alice).pk)

    assert job.status == ImportJob.Status.SUCCEEDED, job.last_error
    assert cm_fields(world.list_a, "fresh@example.com") == {"website": "https://example.org"}
    assert cm_fields(world.list_a, "known@example.com") == {}


# -- mapping step: Salesforce fields from describe --------------------------------------------


def to_cm(world, cm_key: str, cm_type: str, contact_field: str) -> FieldMapping:
    return FieldMapping.objects.create(
        list_id=world.list_a,
        cm_key=cm_key,
        cm_type=cm_type,
        contact_field=contact_field,
        direction=FieldMapping.Direction.TO_CM,
    )


def test_the_mapping_step_offers_the_salesforce_fields_that_fit_by_label(
    world, alice, alice_client
):
    website = to_cm(world, "[website]", "Text", "Description")
    bounced = to_cm(world, "[bounced]", "Date", "EmailBouncedDate")
    job = job_for(world, alice, status=ImportJob.Status.DRAFT)

    response = alice_client.get(url("subscriptions-import-mapping", world, job))

    form = response.context["form"]
    text_choices = dict(form.fields[f"contact_{website.pk}"].choices)
    date_choices = dict(form.fields[f"contact_{bounced.pk}"].choices)
    assert text_choices["Title"].startswith("Title (Title, ")
    assert text_choices["MailingCity"].startswith("Mailing City (MailingCity, ")
    assert "EmailBouncedDate" in date_choices and "Title" not in date_choices
    assert f"lead_{website.pk}" not in form.fields  # a contacts import reads contacts only
    page = response.content.decode()
    assert '<option value="Description" selected>' in page  # the list's mapping to start
    assert '<option value="EmailBouncedDate" selected>' in page


def test_a_campaign_import_chooses_a_contact_and_a_lead_field(world, alice, alice_client):
    website = to_cm(world, "[website]", "Text", "Description")
    job = job_for(world, alice, status=ImportJob.Status.DRAFT, source=ImportJob.Source.CAMPAIGN)
    form = alice_client.get(url("subscriptions-import-mapping", world, job)).context["form"]
    assert {f"contact_{website.pk}", f"lead_{website.pk}"} <= set(form.fields)
    assert "Company" in dict(form.fields[f"lead_{website.pk}"].choices)


@pytest.mark.parametrize(
    "chosen, error",
    [
        ("Password__c", "“Password__c” is not a Contact field that can fill [bounced]."),
        ("Title", "“Title” is not a Contact field that can fill [bounced]."),
    ],
)
def test_a_field_that_does_not_fit_is_refused_plainly(world, alice, alice_client, chosen, error):
    bounced = to_cm(world, "[bounced]", "Date", "EmailBouncedDate")
    job = job_for(world, alice, status=ImportJob.Status.DRAFT)

    response = alice_client.post(
        url("subscriptions-import-mapping", world, job),
        {"name": "Name", "consent_to_track": "Unchanged", f"contact_{bounced.pk}": chosen},
    )

    assert response.status_code == 200
    assert error in text(response)
    job.refresh_from_db()
    assert "fields" not in job.mapping


def test_a_field_chosen_on_the_mapping_step_fills_the_custom_field_of_this_import_only(
    world, alice, alice_client
):
    website = to_cm(world, "[website]", "Text", "Description")
    job = job_for(world, alice, status=ImportJob.Status.DRAFT)

    response = alice_client.post(
        url("subscriptions-import-mapping", world, job),
        {"name": "Name", "consent_to_track": "Unchanged", f"contact_{website.pk}": "Title"},
    )

    assert response.url == url("subscriptions-import-options", world, job)
    job.refresh_from_db()
    assert job.mapping["fields"] == {"[website]": {"Contact": "Title"}}
    website.refresh_from_db()
    assert website.contact_field == "Description"  # the list's mapping is unchanged
    people(world, "chosen@example.com", Title="CEO", Description="https://example.org")
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)

    job = imports.run(job.pk)

    assert job.status == ImportJob.Status.SUCCEEDED, job.last_error
    assert cm_fields(world.list_a, "chosen@example.com") == {"website": "CEO"}
