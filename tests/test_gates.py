"""The General options' gates: each says "go ahead" (None) while its option allows the action,
and the admin's sentence when it does not. The paths that use them (changes, rules, imports)
are tested in their own files; this checks the gates' precedence and that every refusal is a
sentence, not a flag."""

import pytest

from settings_app import gates
from settings_app.models import GeneralSettings

pytestmark = pytest.mark.django_db


@pytest.fixture
def general():
    return GeneralSettings.get_solo()


def test_with_the_defaults_nothing_is_refused(general):
    assert gates.triggers_on(general)
    assert gates.change_refusal(general, first_of_batch=False) is None
    assert gates.retrospective_refusal(general, "request") is None
    assert gates.account_rule_refusal(general, False, "request") is None
    assert gates.import_refusal(general, resubscribe=False, journeys=False) is None


def test_disabled_triggers_win_over_bulk_triggers(general):
    general.disable_triggers = general.disable_bulk_triggers = True
    assert not gates.triggers_on(general)
    assert gates.change_refusal(general, first_of_batch=True) == (
        "not acted on: triggers are disabled"
    )


def test_bulk_triggers_refuse_all_but_the_first_record_of_a_batch(general):
    general.disable_bulk_triggers = True
    assert gates.bulk_triggers_off(general)
    assert gates.change_refusal(general, first_of_batch=True) is None
    assert gates.change_refusal(general, first_of_batch=False) == (
        "not acted on: bulk triggers are disabled (not first of its batch)"
    )


def test_a_retrospective_run_says_when_triggers_stopped_it(general):
    general.disable_triggers = True
    assert "so a retrospective run is refused" in gates.retrospective_refusal(general, "request")
    assert gates.retrospective_refusal(general, "start") == (
        "Triggers are disabled (General options): nothing was done."
    )
    assert gates.retrospective_refusal(general, "during") == (
        "Triggers were disabled during the run: it stopped there."
    )


def test_the_account_trigger_only_stops_rules_that_read_account_fields(general):
    general.enable_account_trigger = False
    assert gates.account_change_refusal(general) == "not acted on: the account trigger is off"
    assert gates.account_rule_refusal(general, False, "request") is None
    assert "account trigger is off" in gates.account_rule_refusal(general, True, "request")
    general.enable_account_trigger = True
    assert gates.accounts_watched(general)
    assert gates.account_change_refusal(general) is None
    assert gates.account_rule_refusal(general, True, "start") is None


def test_an_import_names_every_option_it_may_no_longer_use(general):
    general.resubscribe_deleted_via_import = general.trigger_list_journeys = False
    assert gates.import_refusal(general, resubscribe=True, journeys=True) == (
        "The General options no longer allow re-subscribing deleted subscribers or triggering "
        "journeys: change the options."
    )
    assert gates.import_refusal(general, resubscribe=False, journeys=True) == (
        "The General options no longer allow triggering journeys: change the options."
    )
    assert gates.switched_off(gates.JOURNEYS) == (
        "Triggering journeys is switched off in the General options."
    )
