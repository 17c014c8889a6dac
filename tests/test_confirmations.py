"""Destructive and bulk actions ask on a page of their own (templates/confirm.html): GET
asks and changes nothing, POST does it, and roles without the permission are refused both."""

import pytest

from subscriptions.models import FieldMapping, SubscriptionRule

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
