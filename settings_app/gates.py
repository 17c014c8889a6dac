"""The General options that stop an action ("gates"), read in one place, with the sentences
that tell the admin so.

Every path that reacts to Salesforce changes (the poll, Outbound Messages, the "Salesforce
changes" run, subscription rules on change and retrospectively) and the import wizard's
options ask here, so an option means the same on every path and the Changes log, a refused
or stopped run and a form error all say it in the same words.

The ``*_refusal`` functions return ``None`` when the option lets the action go ahead, else
the sentence to show (a change's outcome, a refused or stopped run, a form error).
"""

from typing import Literal

from .models import GeneralSettings

# When a retrospective run of a subscription rule is refused: asked for (console, API,
# ``run_rule``), starting on a worker, or between two batches of a run.
Moment = Literal["request", "start", "during"]


# -- "Disable account, contact and lead triggers", "Disable bulk triggers" -----------------------


def triggers_on(general: GeneralSettings) -> bool:
    """Salesforce changes are read and acted on (the poll and Outbound Messages take them)."""
    return not general.disable_triggers


def bulk_triggers_off(general: GeneralSettings) -> bool:
    """Of a change that touches many records at once, only the first record is acted on."""
    return general.disable_bulk_triggers


def change_refusal(general: GeneralSettings, *, first_of_batch: bool = True) -> str | None:
    """Why a Contact, Lead or Account change is not acted on (its outcome in the Changes log).
    ``first_of_batch``: the change is the first record of a change touching many at once."""
    if general.disable_triggers:
        return "not acted on: triggers are disabled"
    if general.disable_bulk_triggers and not first_of_batch:
        return "not acted on: bulk triggers are disabled (not first of its batch)"
    return None


_RETRO_TRIGGERS_OFF: dict[Moment, str] = {
    "request": "Triggers are disabled (General options): subscription rules do not run, so a "
    "retrospective run is refused.",
    "start": "Triggers are disabled (General options): nothing was done.",
    "during": "Triggers were disabled during the run: it stopped there.",
}


def retrospective_refusal(general: GeneralSettings, moment: Moment) -> str | None:
    """Why a rule's retrospective run is refused, or stops, while triggers are disabled."""
    return _RETRO_TRIGGERS_OFF[moment] if general.disable_triggers else None


# -- "Enable the Salesforce account trigger" ------------------------------------------------------


def accounts_watched(general: GeneralSettings) -> bool:
    """Account changes are read, and re-check their contacts against the rules that read
    account fields; with the trigger off such rules do not run at all."""
    return general.enable_account_trigger


def account_change_refusal(general: GeneralSettings) -> str | None:
    """Why an Account change is not acted on (its outcome in the Changes log)."""
    return None if general.enable_account_trigger else "not acted on: the account trigger is off"


_RETRO_ACCOUNT_OFF: dict[Moment, str] = {
    "request": "The rule reads account fields and the Salesforce account trigger is off "
    "(General options): it does not run.",
    "start": "The account trigger is off and the rule reads account fields.",
}


def account_rule_refusal(
    general: GeneralSettings, reads_account: bool, moment: Moment
) -> str | None:
    """Why a retrospective run of a rule that reads account fields is refused."""
    if reads_account and not general.enable_account_trigger:
        return _RETRO_ACCOUNT_OFF[moment]
    return None


# -- the import wizard's options ------------------------------------------------------------------

RESUBSCRIBING = "re-subscribing deleted subscribers"
JOURNEYS = "triggering journeys"


def resubscribe_allowed(general: GeneralSettings) -> bool:
    """ "Resubscribe deleted subscribers via import": an import may bring Deleted ones back."""
    return general.resubscribe_deleted_via_import


def journeys_allowed(general: GeneralSettings) -> bool:
    """ "Trigger 'joins a list' journeys": imports and "add" rules may start those journeys."""
    return general.trigger_list_journeys


def switched_off(what: str) -> str:
    """A form's error for an option the General options do not allow (``RESUBSCRIBING``,
    ``JOURNEYS``)."""
    return f"{what[0].upper()}{what[1:]} is switched off in the General options."


def import_refusal(general: GeneralSettings, *, resubscribe: bool, journeys: bool) -> str | None:
    """Why a draft import asking for these options cannot start any more (the options were
    switched off since it was made)."""
    refused = [
        what
        for what, asked, allowed in (
            (RESUBSCRIBING, resubscribe, resubscribe_allowed(general)),
            (JOURNEYS, journeys, journeys_allowed(general)),
        )
        if asked and not allowed
    ]
    if not refused:
        return None
    return f"The General options no longer allow {' or '.join(refused)}: change the options."
