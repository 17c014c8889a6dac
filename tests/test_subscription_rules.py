"""Subscription rules (automatic subscriptions): on Salesforce changes and retrospectively,
against both emulators over HTTP; the rules pages, their checks and who may change them."""

import time

import pytest
from auditlog.models import LogEntry

from campaign_monitor import errors as cm_errors
from campaign_monitor.models import ConnectedClient
from maintenance.models import Message
from salesforce.gateway import FieldInfo, ObjectInfo
from security.models import ClientOwnership
from settings_app.models import GeneralSettings
from subscriptions.criteria import InvalidCriteria, parse
from subscriptions.models import SubscriptionRule
from subscriptions.rules import work as rules
from sync import change_poll
from sync.models import SalesforceChange

from .test_sync_changes import cm_state, react, set_fields

pytestmark = pytest.mark.django_db

IMPORT_ROUTE = "POST /subscribers/{id}/import.json"


# -- helpers ------------------------------------------------------------------------------------


def state(world, list_id: str, email: str) -> str | None:
    """The subscriber's state on the list, None when the address was never on it."""
    try:
        return cm_state(world, list_id, email)
    except (cm_errors.NotFoundError, cm_errors.ValidationError):
        return None


def person(world, email: str, sobject: str = "Contact", **fields) -> str:
    record = {"LastName": "Test", "Email": email, **fields}
    if sobject == "Lead":
        record.setdefault("Company", "Test Co")
    (result,) = world.gateway.create(sobject, [record])
    assert result.success, result.errors
    return result.id


def when(field: str, value: str = "", operator: str = "equals") -> dict:
    return {"field": field, "operator": operator, "value": value}


def rule(list_id: str, action: str, *conditions: dict, logic: str = "", active: bool = True):
    return SubscriptionRule.objects.create(
        list_id=list_id, action=action, conditions=list(conditions), logic=logic, active=active
    )


def list_name(world, list_id: str) -> str:
    client = ConnectedClient.objects.get(client_id=world.client["ClientID"])
    return next(m["Name"] for m in client.lists if m["ListID"] == list_id)


def retrospectively(rule_: SubscriptionRule) -> SubscriptionRule:
    """Queue the run as the console does, then run it as the worker would."""
    rules.request_retrospective(rule_)
    rules.run_retrospective(rule_.pk)
    rule_.refresh_from_db()
    return rule_


def imports(world) -> list[dict]:
    return world.cm.request_bodies(IMPORT_ROUTE)


@pytest.fixture
def watching(world):
    """Change detection started (baseline taken) and its first re-read drained."""
    change_poll.poll()
    react(world)
    return world


ADD = {"Contact": "add_contact", "Lead": "add_lead"}
REMOVE = {"Contact": "remove_contact", "Lead": "remove_lead"}


# -- on change ----------------------------------------------------------------------------------


@pytest.mark.parametrize("sobject", ["Contact", "Lead"])
def test_an_add_rule_adds_a_changed_record_that_matches(watching, sobject):
    world = watching
    rule(world.list_a, ADD[sobject], when("LeadSource", "Web"))
    web = person(world, "web@example.com", sobject, LeadSource="Web")
    person(world, "phone@example.com", sobject, LeadSource="Phone Inquiry")

    run = react(world)

    assert state(world, world.list_a, "web@example.com") == "Active"
    assert state(world, world.list_a, "phone@example.com") is None
    assert state(world, world.list_b, "web@example.com") is None
    assert run.counts["rules"]["read"] == 1 and run.counts["rules"]["written"] == 1
    change = SalesforceChange.objects.get(record_id=web, run=run)
    assert change.outcome.endswith(f"rules: added to {list_name(world, world.list_a)}")
    # Consent first: never re-subscribed; journeys only when the General option says so.
    (body,) = imports(world)
    assert body["Resubscribe"] is False
    assert body["RestartSubscriptionBasedAutoresponders"] is False
    assert body["QueueSubscriptionBasedAutoresponders"] is False


def test_a_later_edit_that_makes_a_record_match_adds_it(watching):
    world = watching
    rule(world.list_a, "add_contact", when("Title", "CEO"))
    ann = person(world, "ann@example.com", Title="Intern")
    react(world)
    assert state(world, world.list_a, "ann@example.com") is None

    set_fields(world, ann, Title="CEO")
    react(world)

    assert state(world, world.list_a, "ann@example.com") == "Active"


@pytest.mark.parametrize("sobject", ["Contact", "Lead"])
def test_a_remove_rule_sets_a_live_subscriber_to_deleted(watching, sobject):
    world = watching
    world.subscriber(world.list_a, "gone@example.com", "Active")
    world.subscriber(world.list_a, "unsub@example.com", "Unsubscribed")
    world.subscriber(world.list_b, "gone@example.com", "Active")  # no rule on list B
    rule(world.list_a, REMOVE[sobject], when("Title", "Left"))
    gone = person(world, "gone@example.com", sobject, Title="Left")
    person(world, "unsub@example.com", sobject, Title="Left")
    person(world, "stays@example.com", sobject, Title="Here")

    run = react(world)

    assert state(world, world.list_a, "gone@example.com") == "Deleted"
    assert state(world, world.list_b, "gone@example.com") == "Active"
    # Unsubscribed is stronger than Deleted: it stays.
    assert state(world, world.list_a, "unsub@example.com") == "Unsubscribed"
    assert run.counts["rules"]["written"] == 1 and run.counts["rules"]["unchanged"] == 1
    change = SalesforceChange.objects.get(record_id=gone, run=run)
    assert f"set to Deleted on {list_name(world, world.list_a)}" in change.outcome


def test_trigger_list_journeys_starts_journeys_for_rule_adds(watching):
    world = watching
    GeneralSettings.objects.update(trigger_list_journeys=True)
    rule(world.list_a, "add_contact", when("Title", "CEO"))
    person(world, "jo@example.com", Title="CEO")
    react(world)
    (body,) = imports(world)
    assert body["QueueSubscriptionBasedAutoresponders"] is True
    assert body["RestartSubscriptionBasedAutoresponders"] is True


def test_an_add_rule_never_resubscribes(watching):
    world = watching
    world.subscriber(world.list_a, "left@example.com", "Unsubscribed")
    world.subscriber(world.list_a, "bounce@example.com", "Bounced")
    world.sync()  # the sync has read their states
    rule(world.list_a, "add_contact", when("Title", "CEO"))
    left = person(world, "left@example.com", Title="CEO")
    person(world, "bounce@example.com", Title="CEO")

    run = react(world)

    assert state(world, world.list_a, "left@example.com") == "Unsubscribed"
    assert state(world, world.list_a, "bounce@example.com") == "Bounced"
    assert run.counts["rules"]["unchanged"] == 2 and run.counts["rules"]["written"] == 0
    outcome = SalesforceChange.objects.get(record_id=left, run=run).outcome
    assert "stays unsubscribed" in outcome and "never re-subscribe" in outcome


def test_remove_wins_when_the_add_and_the_remove_rule_both_match(watching):
    world = watching
    rule(world.list_a, "add_contact", when("LeadSource", "Web"))
    rule(world.list_a, "remove_contact", when("Title", "Left"))
    both = person(world, "both@example.com", LeadSource="Web", Title="Left")
    person(world, "add@example.com", LeadSource="Web", Title="Here")

    run = react(world)

    assert state(world, world.list_a, "both@example.com") is None
    assert state(world, world.list_a, "add@example.com") == "Active"
    assert "remove rule matches too" in SalesforceChange.objects.get(record_id=both).outcome
    assert run.counts["rules"]["skipped"] == 1


def test_an_inactive_rule_does_nothing(watching):
    world = watching
    rule(world.list_a, "add_contact", when("LeadSource", "Web"), active=False)
    world.subscriber(world.list_a, "keep@example.com", "Active")
    rule(world.list_a, "remove_contact", when("Title", "Left"), active=False)
    person(world, "web@example.com", LeadSource="Web")
    person(world, "keep@example.com", Title="Left")

    run = react(world)

    assert state(world, world.list_a, "web@example.com") is None
    assert state(world, world.list_a, "keep@example.com") == "Active"
    assert run.counts["rules"]["read"] == 0
    assert not [path for path in world.cm.request_counts() if "import" in path]


def test_rules_on_lists_of_clients_not_connected_do_nothing(watching):
    world = watching
    rule(world.other_list, "add_contact", when("LeadSource", "Web"))
    person(world, "web@example.com", LeadSource="Web")
    react(world)
    assert state(world, world.other_list, "web@example.com") is None


def test_disabled_triggers_stop_rules(watching):
    world = watching
    rule(world.list_a, "add_contact", when("LeadSource", "Web"))
    GeneralSettings.objects.update(disable_triggers=True)
    person(world, "web@example.com", LeadSource="Web")

    assert react(world) is None

    assert state(world, world.list_a, "web@example.com") is None
    assert not imports(world)


def test_disabled_bulk_triggers_let_rules_see_only_the_first_record_of_a_batch(watching):
    world = watching
    GeneralSettings.objects.update(disable_bulk_triggers=True)
    rule(world.list_a, "add_contact", when("Title", "CEO"))
    emails = ["b1@example.com", "b2@example.com", "b3@example.com"]
    ids = [person(world, email) for email in emails]
    react(world)  # the creations (one at a time: each its own batch, none matches)

    time.sleep(1.05 - time.time() % 1)  # one Salesforce transaction: one second's stamp
    results = world.gateway.update("Contact", [{"Id": i, "Title": "CEO"} for i in ids])
    assert all(r.success for r in results)
    react(world)

    assert [state(world, world.list_a, email) for email in emails] == ["Active", None, None]


def test_opted_out_people_are_refused_while_prevention_is_on(watching):
    world = watching
    assert GeneralSettings.get_solo().prevent_opted_out_in_lists  # the default
    GeneralSettings.objects.update(unsubscribe_on_opt_out=False)
    rule(world.list_a, "add_lead", when("LeadSource", "Web"))
    out = person(world, "out@example.com", "Lead", LeadSource="Web", HasOptedOutOfEmail=True)

    run = react(world)

    assert state(world, world.list_a, "out@example.com") is None
    assert run.counts["rules"]["skipped"] == 1
    outcome = SalesforceChange.objects.get(record_id=out, run=run).outcome
    assert "not added" in outcome and "Email Opt Out is ticked" in outcome
    message = Message.objects.get(code="RULE_NOT_ADDED")
    assert message.severity == Message.Severity.INFO and message.run == run
    assert "out@example.com" in message.summary


def test_opted_out_people_are_added_while_prevention_is_off(watching):
    world = watching
    GeneralSettings.objects.update(prevent_opted_out_in_lists=False, unsubscribe_on_opt_out=False)
    rule(world.list_a, "add_lead", when("LeadSource", "Web"))
    person(world, "out@example.com", "Lead", LeadSource="Web", HasOptedOutOfEmail=True)
    react(world)
    assert state(world, world.list_a, "out@example.com") == "Active"


def test_custom_logic(watching):
    world = watching
    rule(
        world.list_a,
        "add_contact",
        when("LeadSource", "Web"),
        when("Title", "CEO"),
        when("Title", "CTO"),
        logic="1 AND (2 OR 3)",
    )
    for email, source, title in [
        ("ceo@example.com", "Web", "CEO"),
        ("cto@example.com", "Web", "CTO"),
        ("intern@example.com", "Web", "Intern"),
        ("phone@example.com", "Phone Inquiry", "CEO"),
    ]:
        person(world, email, LeadSource=source, Title=title)

    react(world)

    found = {
        email: state(world, world.list_a, f"{email}@example.com")
        for email in ("ceo", "cto", "intern", "phone")
    }
    assert found == {"ceo": "Active", "cto": "Active", "intern": None, "phone": None}


def test_hostile_values_in_a_rule_match_nothing_extra_on_change(watching):
    world = watching
    rule(world.list_a, "add_contact", when("LastName", "x' OR Name != '"))
    rule(world.list_b, "add_contact", when("LastName", "{ids}", "contains"))
    person(world, "plain@example.com", LastName="Plain")
    run = react(world)
    assert state(world, world.list_a, "plain@example.com") is None
    assert state(world, world.list_b, "plain@example.com") is None
    assert run.counts["rules"]["read"] == 0 and run.status == "succeeded"


def test_mapped_custom_fields_go_with_an_added_subscriber(watching):
    from subscriptions.models import FieldMapping

    world = watching
    FieldMapping.objects.create(
        list_id=world.list_a,
        cm_key="[City]",
        cm_type="Text",
        contact_field="MailingCity",
        direction=FieldMapping.Direction.TO_CM,
    )
    rule(world.list_a, "add_contact", when("Title", "CEO"))
    person(world, "city@example.com", Title="CEO", MailingCity="Hobart")
    react(world)
    (body,) = imports(world)
    (subscriber,) = body["Subscribers"]
    assert {"Key": "City", "Value": "Hobart"} in subscriber["CustomFields"]


def test_a_rule_whose_field_went_away_is_skipped_with_a_warning(watching):
    world = watching
    rule(world.list_a, "add_contact", when("Gone__c", "x"))
    person(world, "any@example.com")
    run = react(world)
    message = Message.objects.get(code="RULE_INVALID")
    assert message.run == run and "Gone__c" in message.summary
    assert run.status == "partial"


# -- the account trigger ------------------------------------------------------------------------


def test_an_account_field_rule_fires_on_an_account_change_only_with_the_trigger_on(watching):
    world = watching
    (account,) = world.gateway.create("Account", [{"Name": "Bank Co", "Industry": "Retail"}])
    rule(world.list_a, "add_contact", when("Account.Industry", "Banking"))
    ann = person(world, "ann@example.com", AccountId=account.id)
    react(world)  # Ann's creation: her account is Retail
    assert state(world, world.list_a, "ann@example.com") is None

    world.gateway.update("Account", [{"Id": account.id, "Industry": "Banking"}])
    react(world)
    assert state(world, world.list_a, "ann@example.com") is None  # the trigger is off

    GeneralSettings.objects.update(enable_account_trigger=True)
    react(world)  # the account cursor starts here
    world.gateway.update("Account", [{"Id": account.id, "Name": "Bank Co Ltd"}])
    run = react(world)

    assert state(world, world.list_a, "ann@example.com") == "Active"
    change = SalesforceChange.objects.get(sobject="Account", record_id=account.id, run=run)
    assert (
        change.outcome
        == "account changed: rules checked 1 contact(s): 1 change(s) in Campaign Monitor"
    )
    # Ann did not change: at most her creation, read within its second, was read again.
    creation = SalesforceChange.objects.filter(record_id=ann).earliest("id")
    again = SalesforceChange.objects.filter(record_id=ann, run=run)
    assert all(c.modstamp == creation.modstamp for c in again)


def test_an_account_change_can_remove_its_contacts(watching):
    world = watching
    GeneralSettings.objects.update(enable_account_trigger=True)
    react(world)
    (account,) = world.gateway.create("Account", [{"Name": "Shop", "Industry": "Retail"}])
    world.subscriber(world.list_a, "bo@example.com", "Active")
    person(world, "bo@example.com", AccountId=account.id)
    rule(world.list_a, "remove_contact", when("Account.Industry", "Agriculture"))
    react(world)
    assert state(world, world.list_a, "bo@example.com") == "Active"

    world.gateway.update("Account", [{"Id": account.id, "Industry": "Agriculture"}])
    react(world)

    assert state(world, world.list_a, "bo@example.com") == "Deleted"


def test_an_account_change_with_no_rule_reading_account_fields_says_so(watching):
    world = watching
    GeneralSettings.objects.update(enable_account_trigger=True)
    react(world)
    rule(world.list_a, "add_contact", when("Title", "CEO"))
    (account,) = world.gateway.create("Account", [{"Name": "Plain Co"}])
    person(world, "ceo@example.com", Title="CEO", AccountId=account.id)
    react(world)
    world.gateway.update("Account", [{"Id": account.id, "Name": "Plain Co Ltd"}])
    run = react(world)
    # The update, and the creation if read again (it shares the update's second).
    outcomes = {c.outcome for c in SalesforceChange.objects.filter(sobject="Account", run=run)}
    assert outcomes == {"account changed: no active subscription rule reads account fields"}


def test_account_field_rules_run_only_with_the_account_trigger_on(watching):
    """Off, a rule reading account fields does not fire even when the contact changes, and
    is not run retrospectively; on, a contact's own change reads its account."""
    world = watching
    (account,) = world.gateway.create("Account", [{"Name": "Bank", "Industry": "Banking"}])
    banking = rule(world.list_a, "add_contact", when("Account.Industry", "Banking"))
    person(world, "cy@example.com", AccountId=account.id)
    react(world)
    assert state(world, world.list_a, "cy@example.com") is None
    with pytest.raises(rules.RetroRefused, match="account trigger is off"):
        rules.request_retrospective(banking, send=False)

    GeneralSettings.objects.update(enable_account_trigger=True)
    person(world, "di@example.com", AccountId=account.id)
    react(world)
    assert state(world, world.list_a, "di@example.com") == "Active"


# -- retrospectively ----------------------------------------------------------------------------


@pytest.mark.parametrize("sobject", ["Contact", "Lead"])
def test_an_add_rule_applied_retrospectively_adds_every_existing_match(world, sobject):
    person(world, "web1@example.com", sobject, LeadSource="Web")
    person(world, "web2@example.com", sobject, LeadSource="Web")
    person(world, "other@example.com", sobject, LeadSource="Other")
    person(world, "out@example.com", sobject, LeadSource="Web", HasOptedOutOfEmail=True)
    person(world, "", sobject, LeadSource="Web")
    done = retrospectively(rule(world.list_a, ADD[sobject], when("LeadSource", "Web")))

    assert done.retro_status == SubscriptionRule.RetroStatus.SUCCEEDED
    assert state(world, world.list_a, "web1@example.com") == "Active"
    assert state(world, world.list_a, "web2@example.com") == "Active"
    assert state(world, world.list_a, "other@example.com") is None
    assert state(world, world.list_a, "out@example.com") is None
    result = done.retro_result
    assert result["matched"] == 4 and result["written"] == 2 and result["failed"] == 0
    assert result["skipped"] == {"opted_out": 1, "no_email": 1}
    assert done.retro_finished_at is not None


@pytest.mark.parametrize("sobject", ["Contact", "Lead"])
def test_a_remove_rule_applied_retrospectively_deletes_every_existing_match(world, sobject):
    for email, subscriber_state in [
        ("a@example.com", "Active"),
        ("b@example.com", "Active"),
        ("u@example.com", "Unsubscribed"),
        ("keep@example.com", "Active"),
    ]:
        world.subscriber(world.list_a, email, subscriber_state)
    person(world, "A@example.com", sobject, Title="Left")
    person(world, "b@example.com", sobject, Title="Left")
    person(world, "u@example.com", sobject, Title="Left")
    person(world, "keep@example.com", sobject, Title="Here")
    done = retrospectively(rule(world.list_a, REMOVE[sobject], when("Title", "Left")))

    assert done.retro_status == SubscriptionRule.RetroStatus.SUCCEEDED
    assert state(world, world.list_a, "a@example.com") == "Deleted"
    assert state(world, world.list_a, "b@example.com") == "Deleted"
    assert state(world, world.list_a, "u@example.com") == "Unsubscribed"
    assert state(world, world.list_a, "keep@example.com") == "Active"
    assert done.retro_result["matched"] == 2 and done.retro_result["written"] == 2


def test_a_retrospective_add_imports_in_batches_of_a_thousand(world):
    records = [
        {"LastName": f"P{n}", "Email": f"p{n}@example.com", "Title": "CEO"} for n in range(1201)
    ]
    results = world.gateway.create("Contact", records)
    assert all(r.success for r in results)
    done = retrospectively(rule(world.list_a, "add_contact", when("Title", "CEO")))
    assert done.retro_result["written"] == 1201
    sizes = sorted(len(body["Subscribers"]) for body in imports(world))
    assert sizes == [201, 1000]


def test_a_retrospective_add_leaves_out_what_the_remove_rule_matches(world):
    person(world, "both@example.com", LeadSource="Web", Title="Left")
    person(world, "add@example.com", LeadSource="Web")
    rule(world.list_a, "remove_contact", when("Title", "Left"))
    done = retrospectively(rule(world.list_a, "add_contact", when("LeadSource", "Web")))
    assert state(world, world.list_a, "both@example.com") is None
    assert state(world, world.list_a, "add@example.com") == "Active"
    assert done.retro_result["skipped"] == {"remove_rule": 1}


def test_retrospective_runs_are_refused_while_triggers_are_disabled(world, alice_client):
    person(world, "web@example.com", LeadSource="Web")
    added = rule(world.list_a, "add_contact", when("LeadSource", "Web"))
    GeneralSettings.objects.update(disable_triggers=True)

    url = f"/lists/{world.list_a}/rules/add_contact/retrospective/"
    page = alice_client.post(url, follow=True).text

    assert "Triggers are disabled" in page
    added.refresh_from_db()
    assert added.retro_status == ""
    with pytest.raises(rules.RetroRefused):
        rules.request_retrospective(added)

    # Queued before triggers were disabled: the run refuses when it starts.
    GeneralSettings.objects.update(disable_triggers=False)
    rules.request_retrospective(added)
    GeneralSettings.objects.update(disable_triggers=True)
    assert rules.run_retrospective(added.pk) == SubscriptionRule.RetroStatus.FAILED
    added.refresh_from_db()
    assert "Triggers are disabled" in added.retro_result["error"]
    assert state(world, world.list_a, "web@example.com") is None


def test_an_inactive_rule_is_not_run_retrospectively(world):
    inactive = rule(world.list_a, "add_contact", when("LeadSource", "Web"), active=False)
    with pytest.raises(rules.RetroRefused, match="inactive"):
        rules.request_retrospective(inactive)


def test_one_retrospective_run_per_rule_at_a_time(world):
    added = rule(world.list_a, "add_contact", when("LeadSource", "Web"))
    rules.request_retrospective(added)
    with pytest.raises(rules.RetroRefused, match="already"):
        rules.request_retrospective(added)
    rules.run_retrospective(added.pk)
    assert rules.run_retrospective(added.pk) == SubscriptionRule.RetroStatus.SUCCEEDED  # no-op
    rules.request_retrospective(added)  # finished: may run again


@pytest.mark.parametrize(
    "value, matches",
    [
        ("x' OR Name != '", set()),
        ("' OR Id != null OR LastName = '", set()),
        ("%", {"pct"}),
        ("_", {"under"}),
        ("\\", {"slash"}),
        ("{ids}", set()),
    ],
)
def test_hostile_values_match_nothing_extra_retrospectively(world, value, matches):
    for key, last_name in [
        ("plain", "Plain"),
        ("pct", "100% sure"),
        ("under", "under_score"),
        ("slash", "back\\slash"),
    ]:
        person(world, f"{key}@example.com", LastName=last_name)
    retrospectively(rule(world.list_a, "add_contact", when("LastName", value, "contains")))
    added = {
        key
        for key in ("plain", "pct", "under", "slash")
        if state(world, world.list_a, f"{key}@example.com")
    }
    assert added == matches


def test_the_retrospective_result_is_shown_and_the_request_audited(world, alice_client, alice):
    person(world, "web@example.com", LeadSource="Web")
    person(world, "out@example.com", LeadSource="Web", HasOptedOutOfEmail=True)
    rule(world.list_a, "add_contact", when("LeadSource", "Web"))
    url = f"/lists/{world.list_a}/rules/"

    response = alice_client.post(f"{url}add_contact/retrospective/")
    assert response.status_code == 302
    added = SubscriptionRule.objects.get(action="add_contact")
    assert added.retro_status == SubscriptionRule.RetroStatus.QUEUED
    entry = LogEntry.objects.get(additional_data__action__startswith="Retrospective run")
    assert entry.actor == alice
    rules.run_retrospective(added.pk)

    page = alice_client.get(url).text
    assert "Succeeded" in page
    assert "Email Opt Out is ticked and adding opted-out people is prevented: 1" in page
    assert "out@example.com" in page


# -- the pages ----------------------------------------------------------------------------------


def rule_post(*conditions: tuple, logic: str = "", active: bool = True) -> dict:
    data = {"logic": logic}
    if active:
        data["active"] = "on"
    for number, (field, operator, value) in enumerate(conditions, start=1):
        data[f"field_{number}"] = field
        data[f"operator_{number}"] = operator
        data[f"value_{number}"] = value
    return data


def test_the_rules_page_shows_the_four_rules_of_a_list(world, carol_client):
    rule(world.list_a, "add_contact", when("LeadSource", "Web"), when("Title", "CEO"))
    page = carol_client.get(f"/lists/{world.list_a}/rules/").text
    for title in ("Add contact", "Remove contact", "Add lead", "Remove lead"):
        assert f">{title}" in page
    assert "LeadSource equals “Web”" in page and "Title equals “CEO”" in page
    assert "Changing them needs the Full access role" in page
    assert "Add this rule" not in page and "Apply to all existing" not in page


def test_an_admin_creates_a_rule_with_the_condition_builder(world, alice_client):
    url = f"/lists/{world.list_a}/rules/add_contact/"
    page = alice_client.get(url).text
    assert '<option value="LeadSource">' in page and '<option value="Account.Industry">' in page
    assert page.count('class="condition') >= 10

    response = alice_client.post(
        url,
        rule_post(
            ("LeadSource", "equals", "Web"),
            ("Account.Industry", "equals", "Banking"),
            ("Title", "contains", "Chief"),
            logic="1 and (2 or 3)",
        ),
    )

    assert response.status_code == 302
    saved = SubscriptionRule.objects.get(list_id=world.list_a, action="add_contact")
    assert saved.active and saved.logic == "1 and (2 or 3)"
    assert saved.conditions[1] == when("Account.Industry", "Banking")
    assert LogEntry.objects.get_for_object(saved).exists()


def test_lead_rules_offer_no_account_fields(world, alice_client):
    url = f"/lists/{world.list_a}/rules/add_lead/"
    assert "Account.Industry" not in alice_client.get(url).text
    response = alice_client.post(url, rule_post(("Account.Industry", "equals", "Banking")))
    assert response.status_code == 200
    assert not SubscriptionRule.objects.exists()


@pytest.mark.parametrize(
    "conditions, logic, error",
    [
        ((("Name FROM Contact --", "equals", "x"),), "", "Select a valid choice"),
        ((("LastName = '' OR Id", "equals", "x"),), "", "Select a valid choice"),
        ((("LastName", "DROP", "x"),), "", "Select a valid choice"),
        ((("LastName", "equals", "x"),), "1 OR 1=1", "Custom logic: cannot read"),
        ((("LastName", "equals", "x"),), "1; DELETE", "Custom logic: cannot read"),
        ((("LastName", "equals", "x"),), "1 OR 2", "not there"),
        ((("LastName", "equals", "x"), ("Title", "equals", "y")), "1", "does not use"),
        ((("LastName", "equals", "x"), ("Title", "equals", "y")), "1 AND 2 OR 1", "parentheses"),
        ((("HasOptedOutOfEmail", "equals", "maybe"),), "", "true or false"),
        ((("LeadSource", "equals", "Fax"),), "", "is not a value of"),
        ((("HasOptedOutOfEmail", "contains", "x"),), "", "cannot be"),
        ((), "", "Add at least one condition"),
    ],
)
def test_bad_rules_are_refused_beside_the_form_and_nothing_is_saved(
    world, alice_client, conditions, logic, error
):
    url = f"/lists/{world.list_a}/rules/add_contact/"
    response = alice_client.post(url, rule_post(*conditions, logic=logic))
    assert response.status_code == 200
    page = response.text.replace("&#x27;", "'")
    assert error in page and "Nothing was saved" in page
    assert not SubscriptionRule.objects.exists()


def test_custom_logic_needs_rows_without_gaps(world, alice_client):
    data = rule_post(("LastName", "equals", "x"), ("Title", "equals", "y"), logic="1 AND 2")
    data["field_3"], data["operator_3"], data["value_3"] = data.pop("field_2"), "equals", "y"
    data.pop("value_2"), data.pop("operator_2")
    response = alice_client.post(f"/lists/{world.list_a}/rules/add_contact/", data)
    assert "fill the rows in order" in response.text
    assert not SubscriptionRule.objects.exists()


def test_an_admin_edits_and_deletes_a_rule(world, alice_client):
    rule(world.list_a, "remove_lead", when("Title", "Left"))
    url = f"/lists/{world.list_a}/rules/remove_lead/"
    page = alice_client.get(url).text
    assert 'value="Left"' in page
    alice_client.post(url, rule_post(("Title", "equals", "Gone"), active=False))
    edited = SubscriptionRule.objects.get()
    assert edited.conditions == [when("Title", "Gone")] and not edited.active

    response = alice_client.post(f"{url}delete/")
    assert response.status_code == 302
    assert not SubscriptionRule.objects.exists()


@pytest.mark.parametrize("who", ["bob_client", "carol_client"])
def test_standard_and_limited_users_cannot_change_rules(world, request, who):
    web = request.getfixturevalue(who)
    rule(world.list_a, "add_contact", when("LeadSource", "Web"))
    base = f"/lists/{world.list_a}/rules/"
    assert web.get(base).status_code == 200
    assert web.get(f"{base}add_contact/").status_code == 200
    for path in ("add_contact/", "add_lead/", "add_contact/delete/", "add_contact/retrospective/"):
        data = rule_post(("Title", "equals", "x"))
        assert web.post(f"{base}{path}", data).status_code == 403, path
    unchanged = SubscriptionRule.objects.get()
    assert unchanged.conditions == [when("LeadSource", "Web")] and unchanged.retro_status == ""
    assert SubscriptionRule.objects.count() == 1


def test_users_without_a_role_see_nothing(world, mallory_client):
    assert mallory_client.get(f"/lists/{world.list_a}/rules/").status_code == 403


def test_lists_of_clients_a_user_does_not_own_are_not_found(world, alice_client, alice):
    ClientOwnership.objects.create(user=alice, client_id=world.other_client["ClientID"])
    assert alice_client.get(f"/lists/{world.list_a}/rules/").status_code == 404
    assert alice_client.get("/lists/no-such-list/rules/").status_code == 404
    assert alice_client.get(f"/lists/{world.list_a}/rules/bogus/").status_code in (403, 404)


def test_the_rules_step_shows_on_a_change_run(watching, alice_client):
    world = watching
    rule(world.list_a, "add_contact", when("Title", "CEO"))
    person(world, "ceo@example.com", Title="CEO")
    run = react(world)
    assert "Subscription rules" in alice_client.get(f"/sync/runs/{run.pk}/").text


# -- criteria ---------------------------------------------------------------------------------


def _describe(sobject: str) -> ObjectInfo:
    score = FieldInfo(name="Score__c", type="double", label="Score")
    return ObjectInfo(
        name=sobject, label=sobject, createable=True, updateable=True, fields={"score__c": score}
    )


def test_numbers_become_plain_soql_numbers():
    def where(value: str) -> str:
        return parse([when("Score__c", value, "greater")], "", _describe, "Contact").where()

    assert where("1E-7") == "Score__c > 0.0000001"
    assert where("12345678901234567890.5") == "Score__c > 12345678901234567890.5"
    assert where("-3") == "Score__c > -3"
    for bad in ("Infinity", "NaN", "1 OR 1=1"):
        with pytest.raises(InvalidCriteria, match="needs a number"):
            where(bad)


def test_rows_and_custom_logic_are_checked_together(world, alice_client):
    data = rule_post(("LeadSource", "equals", "Fax"), logic="1 OR 1=1")
    page = alice_client.post(f"/lists/{world.list_a}/rules/add_contact/", data).text
    page = page.replace("&#x27;", "'")
    assert "is not a value of Lead Source" in page and "Custom logic: cannot read" in page


@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_the_retrospective_run_through_the_broker(
    world, celery_processes, sync_worker, alice_client
):
    from .test_sync_celery import wait_for

    person(world, "worker@example.com", Title="CEO")
    rule(world.list_a, "add_contact", when("Title", "CEO"))

    alice_client.post(f"/lists/{world.list_a}/rules/add_contact/retrospective/")

    done = wait_for(
        lambda: SubscriptionRule.objects.filter(retro_finished_at__isnull=False).first()
    )
    assert done.retro_status == SubscriptionRule.RetroStatus.SUCCEEDED, done.retro_result
    assert state(world, world.list_a, "worker@example.com") == "Active"


def test_the_run_rule_command_runs_a_rule_retrospectively_without_a_worker(world):
    from io import StringIO

    from django.core.management import call_command

    person(world, "cmd@example.com", Title="CEO")
    added = rule(world.list_a, "add_contact", when("Title", "CEO"))
    out = StringIO()
    call_command("run_rule", str(added.pk), stdout=out)
    assert out.getvalue().startswith("succeeded")
    assert state(world, world.list_a, "cmd@example.com") == "Active"
