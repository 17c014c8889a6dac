from collections.abc import Sequence
from typing import Protocol

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator

from salesforce.connection import TabsChange, apply_show_tabs
from sync import dispatch
from sync.webhooks import WebhookChange, apply_setting

from .models import (
    STATUS_LABEL_MAX_LENGTH,
    TRACKING_TYPES,
    WEEKDAY_CODES,
    WEEKDAYS,
    CampaignSettings,
    GeneralSettings,
    MemberStatusMapping,
    SyncSettings,
)

TRACKING_FIELDS = [f"track_{code}" for code, _ in TRACKING_TYPES]


class FollowUp(Protocol):
    """What a saved change did outside cmsync (TabsChange, WebhookChange), for the message."""

    @property
    def message(self) -> str: ...

    @property
    def done(self) -> bool: ...  # False: nothing changed outside cmsync now


class SettingsForm(forms.ModelForm):
    """Base of the three settings forms: ``risky`` names changes that need confirming."""

    risky: dict = {}

    def risky_changes(self) -> list[str]:
        """Why each risky value being switched on by this (valid) form needs a yes."""
        return [
            why
            for field, (value, why) in self.risky.items()
            if self.cleaned_data.get(field) == value and self.initial.get(field) != value
        ]

    def effects(self, formset=None) -> list[str]:
        """What this (valid) change will do to Salesforce at the next sync, in plain words,
        for the changes the console asks to confirm though the API saves them directly
        (the API's ``confirmed`` covers ``risky`` only). ``formset``: the status mapping."""
        return []

    def confirmations(self, formset=None) -> list[str]:
        """Everything the console asks a yes for before saving this change."""
        return self.risky_changes() + self.effects(formset)

    def follow_ups(self, user) -> Sequence[FollowUp]:
        """After saving: what the saved changes do outside cmsync, done as ``user``."""
        return []


def limits(model, name: str) -> tuple[int, int]:
    """A number field's real minimum and maximum, read from the model's validators so the
    form's words and the stored rule cannot drift apart."""
    validators = model._meta.get_field(name).validators
    low = next(v.limit_value for v in validators if isinstance(v, MinValueValidator))
    high = next(v.limit_value for v in validators if isinstance(v, MaxValueValidator))
    return low, high


DAYS_MIN, DAYS_MAX = limits(SyncSettings, "days_to_keep")


def _days(n: int) -> str:
    return f"{n} day{'' if n == 1 else 's'}"


class SyncSettingsForm(SettingsForm):
    days_to_keep = forms.IntegerField(
        label="Days to keep in Salesforce",
        min_value=DAYS_MIN,
        max_value=DAYS_MAX,
        error_messages={
            "min_value": f"Keep tracking data for at least {_days(DAYS_MIN)}: "
            f"the minimum is {DAYS_MIN}.",
            "max_value": f"Keep tracking data for at most {_days(DAYS_MAX)} (about ten years).",
        },
        help_text=f"From {DAYS_MIN} to {DAYS_MAX} days. Tracking data older than this is removed "
        "from Salesforce at the next sync. It stays in Campaign Monitor and can be imported "
        "again later.",
    )
    hour = forms.TypedChoiceField(
        label="Hour of the day",
        choices=[(h, f"{h:02d}:00") for h in range(24)],
        coerce=int,
        help_text="Daily, Weekly and Custom runs start at this hour.",
    )
    custom_days = forms.MultipleChoiceField(
        label="Days of the week",
        choices=WEEKDAYS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Custom runs on these days, at the hour above.",
    )

    class Meta:
        model = SyncSettings
        fields = ["frequency", "hour", "weekday", "custom_days", "import_tracking"]
        fields += TRACKING_FIELDS + ["days_to_keep", "change_poll_minutes", "cm_webhooks"]
        widgets = {"frequency": forms.RadioSelect}
        help_texts = {
            "frequency": "How often the primary sync pulls changes from Campaign Monitor. "
            "Hourly is recommended; with Never, nothing runs until someone presses Sync now.",
            "weekday": "Weekly runs on this day, at the hour above.",
            "import_tracking": "Bring sends, opens, clicks, unsubscribes and bounces into "
            "Salesforce's email tracking statistics.",
            "change_poll_minutes": "How often cmsync checks Salesforce for Contact, Lead and "
            "Account changes to react to (1–60). Outbound Messages, if set up, arrive at once.",
            "cm_webhooks": "cmsync registers a webhook on each connected list, so "
            "unsubscribes, new subscribers and edits in Campaign Monitor reach Salesforce "
            "within seconds. Campaign Monitor must be able to reach this console's address. "
            "Off removes the webhooks; changes then arrive with the primary sync.",
        }

    # Changes that need a second, explicit yes: field -> (risky value, why).
    risky = {
        "frequency": (
            SyncSettings.Frequency.NEVER,
            "With Never, the primary sync stops running on its own: opt-outs, subscriber "
            "states and tracking from Campaign Monitor stop reaching Salesforce until someone "
            "presses Sync now.",
        ),
    }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.initial["custom_days"] = self.instance.custom_day_list
        self.fields["change_poll_minutes"].widget.attrs.update(min=1, max=60)

    def save(self, commit: bool = True) -> SyncSettings:
        """Save, and store the next scheduled run from the new frequency at once: the one
        path for the console and the API (both save through this form)."""
        saved = super().save(commit)
        if commit:
            dispatch.reschedule()
        return saved

    def effects(self, formset=None) -> list[str]:
        """Changing "days to keep": what the next sync deletes from, or imports into,
        Salesforce (sync/tracking.py: ``retention`` and ``reset_window_if_widened``)."""
        if "days_to_keep" not in self.changed_data:
            return []
        old, new = self.initial["days_to_keep"], self.cleaned_data["days_to_keep"]
        if new < old:
            return [
                f"Lowering days to keep from {old} to {new} deletes from Salesforce, at the next "
                f"sync, every email tracking record older than {_days(new)}. They stay in "
                "Campaign Monitor; raising the limit again imports them again."
            ]
        importing = self.cleaned_data.get("import_tracking") and any(
            self.cleaned_data.get(f) for f in TRACKING_FIELDS
        )
        if not importing:
            return [
                f"Raising days to keep from {old} to {new} keeps tracking records in Salesforce "
                f"for {_days(new)}. Email tracking import is off, so nothing older is imported "
                "until it is switched on."
            ]
        return [
            f"Raising days to keep from {old} to {new} makes the next sync read Campaign "
            f"Monitor's email tracking again from {_days(new)} back and import into Salesforce "
            "what it does not have, including records the old limit deleted, for campaigns "
            "sent in that time; their campaign statistics are updated too."
        ]

    def follow_ups(self, user) -> list[WebhookChange]:
        """Switching webhooks on or off registers or removes them in Campaign Monitor now."""
        return [apply_setting()] if "cm_webhooks" in self.changed_data else []

    def clean_custom_days(self) -> str:
        days = set(self.cleaned_data["custom_days"])
        return ",".join(code for code in WEEKDAY_CODES if code in days)

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data  # what ModelForm.clean returns, typed
        custom = data.get("frequency") == SyncSettings.Frequency.CUSTOM
        if custom and not data.get("custom_days"):
            self.add_error("custom_days", "Custom needs at least one day of the week.")
        if data.get("import_tracking") and not any(data.get(f) for f in TRACKING_FIELDS):
            raise ValidationError(
                "Choose at least one tracking type to import, or turn tracking import off."
            )
        return data


class GeneralSettingsForm(SettingsForm):
    class Meta:
        model = GeneralSettings
        fields = [
            "sync_email_opt_out",
            "prevent_opted_out_in_lists",
            "unsubscribe_on_opt_out",
            "show_tabs",
            "resubscribe_deleted_via_import",
            "delete_subscriber_on_record_delete",
            "trigger_list_journeys",
            "enable_account_trigger",
            "disable_triggers",
            "disable_bulk_triggers",
            "full_daily_sync",
        ]
        help_texts = {
            "sync_email_opt_out": "Tick 'Email Opt Out' when an email is unsubscribed from all "
            "of its Campaign Monitor lists, and clear it when it is active on at least one. "
            "Updated at each primary sync.",
            "prevent_opted_out_in_lists": "A contact or lead with 'Email Opt Out' ticked cannot "
            "be added to a subscriber list. Not retrospective: nobody is removed from a list.",
            "unsubscribe_on_opt_out": "When 'Email Opt Out' is ticked in Salesforce, unsubscribe "
            "the contact or lead from every list it is on in Campaign Monitor.",
            "show_tabs": "Add Campaign Monitor tabs (lists, email tracking statistics) to "
            "Salesforce's navigation. Off removes them; the records stay.",
            "resubscribe_deleted_via_import": "Let the import wizard re-subscribe people who "
            "were deleted from a list. People who unsubscribed are never re-subscribed.",
            "delete_subscriber_on_record_delete": "When a contact or lead is deleted in "
            "Salesforce, set its subscriber to Deleted on every list.",
            "trigger_list_journeys": "Start 'joins a list' journeys for subscribers added from "
            "Salesforce. Careful: a bulk import can then email everyone in it.",
            "enable_account_trigger": "Re-evaluate subscription rules and field mappings when "
            "an account changes. Needed only when they use account fields.",
            "disable_triggers": "Stop reacting to contact, lead and account changes in "
            "Salesforce: no subscription rules, field mappings or opt-out updates. "
            "Normally left off.",
            "disable_bulk_triggers": "In a change that touches many records at once, react to "
            "the first record only.",
            "full_daily_sync": "Once a day, the first scheduled run reconciles everything "
            "instead of only what changed since the last run.",
        }

    def effects(self, formset=None) -> list[str]:
        """Switching opt-out sync on: the next sync writes Email Opt Out."""
        if "sync_email_opt_out" in self.changed_data and self.cleaned_data["sync_email_opt_out"]:
            return [
                "Turning on opt-out sync makes the next sync tick 'Email Opt Out' on every "
                "Salesforce contact and lead whose email is unsubscribed from all of its Campaign "
                "Monitor lists, and clear it where the email is active on at least one list."
            ]
        return []

    def follow_ups(self, user) -> list[TabsChange]:
        """Show tabs adds cmsync's tabs to Salesforce, or removes them."""
        return [apply_show_tabs(user)] if "show_tabs" in self.changed_data else []

    risky = {
        "trigger_list_journeys": (
            True,
            "Journeys that start when someone joins a list will run for every subscriber "
            "cmsync adds, so a bulk import may email everyone in it.",
        ),
        "disable_triggers": (
            True,
            "Salesforce changes stop reaching Campaign Monitor: an 'Email Opt Out' ticked in "
            "Salesforce will no longer unsubscribe anyone.",
        ),
        "disable_bulk_triggers": (
            True,
            "In a bulk change only the first record is processed: opt-outs on the other "
            "records of the batch will not reach Campaign Monitor.",
        ),
    }


class CampaignSettingsForm(SettingsForm):
    class Meta:
        model = CampaignSettings
        fields = [
            "update_statistics",
            "auto_create_campaigns",
            "member_status_mode",
            "auto_create_statuses",
        ]
        widgets = {"member_status_mode": forms.RadioSelect}
        help_texts = {
            "update_statistics": "Copy each Campaign Monitor campaign's totals (recipients, "
            "opens, clicks, unsubscribes, bounces) onto its linked Salesforce campaign.",
            "auto_create_campaigns": "Create and link a Salesforce campaign for each Campaign "
            "Monitor campaign. Not retrospective: only campaigns after you switch it on.",
            "member_status_mode": "Never leaves statuses alone; Always sets the latest "
            "activity's status at each sync; Once only sets it the first time and then never "
            "again. A status is only written when the activity is newer than the member's.",
            "auto_create_statuses": "Add mapped statuses that a linked campaign lacks. When "
            "off, such members are skipped and a maintenance message names the missing status.",
        }

    MODE_EFFECTS = {
        CampaignSettings.MemberStatusMode.NEVER: "the sync stops changing campaign member "
        "statuses in Salesforce; the statuses already set stay as they are.",
        CampaignSettings.MemberStatusMode.ALWAYS: "at every sync, each member of a linked "
        "Salesforce campaign gets the mapped status of its latest Campaign Monitor activity "
        "whenever that activity is newer than the one stored on the member, and people with "
        "activity become campaign members.",
        CampaignSettings.MemberStatusMode.ONCE: "at the next sync, each member of a linked "
        "Salesforce campaign whose status cmsync has not set yet gets the mapped status of its "
        "latest Campaign Monitor activity (people with activity become campaign members); "
        "after that the sync never changes it again.",
    }

    def effects(self, formset=None) -> list[str]:
        """Changing the member status mode or the mapping: the member statuses the sync writes."""
        found = []
        mode = CampaignSettings.MemberStatusMode(self.cleaned_data["member_status_mode"])
        if "member_status_mode" in self.changed_data:
            found.append(f"Member status update “{mode.label}”: {self.MODE_EFFECTS[mode]}")
        changes = mapping_changes(formset) if formset is not None else []
        if changes and mode != CampaignSettings.MemberStatusMode.NEVER:
            found.append(
                f"New status mapping ({'; '.join(changes)}): from the next sync, members whose "
                "newer activity maps to a changed status get the new one, which is added to each "
                "linked campaign that lacks it"
                + (
                    ""
                    if self.cleaned_data.get("auto_create_statuses")
                    else " (auto-create is off: such members are skipped and a maintenance "
                    "message names the missing status)"
                )
                + ". Statuses already set stay as they are."
            )
        return found


def mapping_changes(formset) -> list[str]:
    """A valid mapping formset's changed rows in words: "Clicked → “Engaged” (was “Clicked”)"."""
    found = []
    for form in formset.forms:
        old, new = form.initial.get("label"), form.cleaned_data["label"]
        responded = form.cleaned_data["responded"]
        if new == old and responded == form.initial.get("responded"):
            continue  # e.g. only spaces trimmed
        activity = form.instance.get_activity_display()
        parts = [f"{activity} → “{new}” (was “{old}”)" if new != old else activity]
        if responded != form.initial.get("responded"):
            parts.append("counts as responded" if responded else "no longer counts as responded")
        found.append(", ".join(parts))
    return found


class MemberStatusMappingForm(forms.ModelForm):
    class Meta:
        model = MemberStatusMapping
        fields = ["label", "responded"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        activity = self.instance.get_activity_display()
        self.fields["label"].widget.attrs["aria-label"] = f"Member status for {activity}"
        self.fields["responded"].widget.attrs["aria-label"] = f"{activity} counts as responded"

    def clean_label(self) -> str:
        label = " ".join(self.cleaned_data["label"].split())
        if not label:
            raise ValidationError("Enter the Salesforce member status for this activity.")
        if len(label) > STATUS_LABEL_MAX_LENGTH:
            raise ValidationError(
                f"Salesforce member statuses are at most {STATUS_LABEL_MAX_LENGTH} characters."
            )
        return label


class BaseMappingFormSet(forms.BaseModelFormSet):
    def clean(self) -> None:
        super().clean()
        activities = [form.instance.activity for form in self.forms]
        if len(activities) != len(set(activities)):
            raise ValidationError("Each activity can be mapped only once.")


MemberStatusMappingFormSet = forms.modelformset_factory(
    MemberStatusMapping,
    form=MemberStatusMappingForm,
    formset=BaseMappingFormSet,
    extra=0,
    can_delete=False,
)
