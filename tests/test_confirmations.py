"""Destructive and bulk actions ask on a page of their own (templates/confirm.html): GET
asks and changes nothing, POST does it, and roles without the permission are refused both."""

import pytest

from subscriptions.models import FieldMapping, ImportJob, SubscriptionRule

from .test_subscription_rules import rule, when

pytestmark = pytest.mark.django_db


def test_deleting_a_rule_asks_first(world, alice_client):
    rule(world.list_a, "add_contact", when("LeadSource", "Web"))
    url = f"/lists/{world.list_a}/rules/add_contact/delete/"
    page = alice_client.get(url).text
    assert 'role="alertdialog"' in page and "Yes, delete the rule" in page
    assert SubscriptionRule.objects.count() == 1
    alice_client.post(url)
    assert not SubscriptionRule.objects.exists()


def test_apply_to_all_existing_records_asks_first(world, alice_client):
    rule(world.list_a, "add_contact", when("LeadSource", "Web"))
    url = f"/lists/{world.list_a}/rules/add_contact/retrospective/"
    page = alice_client.get(url).text
    assert "Apply “Add contact” to every existing contact?" in page
    assert "Yes, apply to all existing contacts" in page
    assert SubscriptionRule.objects.get().retro_status == ""  # asking starts nothing
    rules_page = alice_client.get(f"/lists/{world.list_a}/rules/").text
    assert f'href="{url}">Apply to all existing contacts…</a>' in rules_page


@pytest.mark.parametrize("who", ["bob_client", "carol_client"])
def test_others_are_not_even_asked(world, request, who):
    web = request.getfixturevalue(who)
    rule(world.list_a, "add_contact", when("LeadSource", "Web"))
    for action in ("delete", "retrospective"):
        url = f"/lists/{world.list_a}/rules/add_contact/{action}/"
        assert web.get(url).status_code == 403
    mapping = FieldMapping.objects.create(
        list_id=world.list_a, cm_key="City", cm_type="Text", direction="to_sf"
    )
    assert web.get(f"/lists/{world.list_a}/fields/{mapping.pk}/delete/").status_code == 403
    assert web.post(f"/lists/{world.list_a}/fields/{mapping.pk}/delete/").status_code == 403
    assert FieldMapping.objects.count() == 1


def test_deleting_a_field_mapping_asks_first(world, alice_client):
    mapping = FieldMapping.objects.create(
        list_id=world.list_a, cm_key="City", cm_type="Text", direction="to_sf"
    )
    url = f"/lists/{world.list_a}/fields/{mapping.pk}/delete/"
    page = alice_client.get(url).text
    assert "Delete the mapping of City?" in page and "Yes, delete the mapping" in page
    assert FieldMapping.objects.count() == 1
    alice_client.post(url)
    assert not FieldMapping.objects.exists()


def test_disconnecting_campaign_monitor_asks_first(world, alice_client):
    from campaign_monitor.models import Connection

    page = alice_client.get("/campaign-monitor/disconnect/").text
    assert 'role="alertdialog"' in page and "Disconnect from Campaign Monitor?" in page
    assert Connection.current() is not None


# -- Discard a draft import --------------------------------------------------------------------


def draft(world, user) -> ImportJob:
    from .test_import_wizard import job_for

    return job_for(world, user, status=ImportJob.Status.DRAFT)


def test_discarding_a_draft_import_asks_first(world, alice, alice_client):
    job = draft(world, alice)
    url = f"/lists/{world.list_a}/import/{job.pk}/discard/"
    page = alice_client.get(url).text
    assert 'role="alertdialog"' in page and "Discard this draft import into" in page
    assert "Yes, discard the draft" in page
    assert (
        f'href="/lists/{world.list_a}/import/{job.pk}/source/#import-step">Keep the draft' in page
    )
    assert ImportJob.objects.filter(pk=job.pk).exists()  # asking deletes nothing
    source = alice_client.get(f"/lists/{world.list_a}/import/{job.pk}/source/").text
    assert f'href="{url}">Discard this draft…</a>' in source

    response = alice_client.post(url)
    assert response.url == f"/lists/{world.list_a}/import/#import-step"
    assert not ImportJob.objects.filter(pk=job.pk).exists()
    assert "Draft import discarded." in alice_client.get(response.url).text


def test_a_started_import_is_not_discarded(world, alice, alice_client):
    job = draft(world, alice)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
    url = f"/lists/{world.list_a}/import/{job.pk}/discard/"
    assert alice_client.post(url).url == f"/lists/{world.list_a}/import/{job.pk}/"
    assert ImportJob.objects.filter(pk=job.pk).exists()


@pytest.mark.parametrize("who", ["carol_client", "mallory_client"])
def test_others_cannot_discard_a_draft(world, alice, request, who):
    web = request.getfixturevalue(who)
    job = draft(world, alice)
    url = f"/lists/{world.list_a}/import/{job.pk}/discard/"
    assert web.get(url).status_code == 403
    assert web.post(url).status_code == 403
    assert ImportJob.objects.filter(pk=job.pk).exists()


# -- Replace the Outbound Message endpoint -----------------------------------------------------


def test_replacing_the_outbound_endpoint_asks_first(alice_client):
    from salesforce.models import SalesforceSettings

    url = "/sync/changes/endpoint/"
    assert alice_client.get(url).url == "/sync/#changes"  # nothing to replace: nothing to ask
    first = alice_client.post(url)
    assert first.url == "/sync/#changes"
    secret = SalesforceSettings.get_solo().outbound_secret
    assert secret
    tab = alice_client.get("/sync/").text
    assert f'href="{url}">Generate a new endpoint URL…</a>' in tab

    page = alice_client.get(url).text
    assert 'role="alertdialog"' in page and "Replace the Outbound Message endpoint URL?" in page
    assert f"The current URL (secret …{secret[-4:]}) stops working at once" in page
    assert 'href="/sync/#changes">Keep the current URL</a>' in page
    assert SalesforceSettings.get_solo().outbound_secret == secret  # asking changes nothing

    answer = alice_client.post(url)
    assert answer.url == "/sync/#changes"
    assert SalesforceSettings.get_solo().outbound_secret not in ("", secret)


@pytest.mark.parametrize("who", ["bob_client", "carol_client"])
def test_others_cannot_replace_the_outbound_endpoint(alice_client, request, who):
    from salesforce.models import SalesforceSettings

    alice_client.post("/sync/changes/endpoint/")
    secret = SalesforceSettings.get_solo().outbound_secret
    web = request.getfixturevalue(who)
    assert web.get("/sync/changes/endpoint/").status_code == 403
    assert web.post("/sync/changes/endpoint/").status_code == 403
    assert SalesforceSettings.get_solo().outbound_secret == secret
