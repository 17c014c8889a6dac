"""Build the POST a browser would send for a settings page as it is currently shown."""

from html.parser import HTMLParser

from django import forms

from settings_app.forms import (
    CampaignSettingsForm,
    GeneralSettingsForm,
    MemberStatusMappingFormSet,
    SyncSettingsForm,
)
from settings_app.models import (
    CampaignSettings,
    GeneralSettings,
    MemberStatusMapping,
    SyncSettings,
)


def _as_post(form: forms.BaseForm) -> dict:
    data = {}
    for field in form:
        value = field.value()
        if isinstance(field.field, forms.BooleanField):
            if value:
                data[field.html_name] = "on"
        elif value not in (None, ""):
            data[field.html_name] = value
    return data


def sync_post(**changes) -> dict:
    data = _as_post(SyncSettingsForm(instance=SyncSettings.get_solo()))
    return _apply(data, changes)


def general_post(**changes) -> dict:
    data = _as_post(GeneralSettingsForm(instance=GeneralSettings.get_solo()))
    return _apply(data, changes)


def campaigns_post(mapping: dict | None = None, **changes) -> dict:
    """``mapping`` maps an activity to (label, responded) to change in the mapping table."""
    data = _as_post(CampaignSettingsForm(instance=CampaignSettings.get_solo()))
    formset = MemberStatusMappingFormSet(queryset=MemberStatusMapping.load())
    data.update(_as_post(formset.management_form))
    for form in formset:
        row = _as_post(form)
        row[form["id"].html_name] = form.instance.pk
        if mapping and form.instance.activity in mapping:
            label, responded = mapping[form.instance.activity]
            row[form["label"].html_name] = label
            row.pop(form["responded"].html_name, None)
            if responded:
                row[form["responded"].html_name] = "on"
        data.update(row)
    return _apply(data, changes)


def _apply(data: dict, changes: dict) -> dict:
    """True ticks a checkbox, False unticks it, anything else is the submitted value."""
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        elif value is True:
            data[name] = "on"
        else:
            data[name] = value
    return data


class _FormState(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, list[str]] = {}
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.values.setdefault(name, []).append(attrs.get("value", "on"))
            elif kind not in ("submit", "hidden"):
                self.values.setdefault(name, []).append(attrs.get("value", ""))
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select and "selected" in attrs:
            self.values.setdefault(self._select, []).append(attrs.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def shown_values(html: str) -> dict[str, list[str]]:
    """What the page shows in its form: ticked boxes, chosen options, typed values."""
    parser = _FormState()
    parser.feed(html)
    return parser.values


def save_through_confirmation(client, path: str, data: dict):
    """POST a settings form and, when it asks for a yes on its confirmation page, say yes:
    the answer of the last POST (a redirect to the settings page once saved)."""
    response = client.post(path, data)
    if response.status_code == 302 and response.url.startswith("/settings/confirm/"):
        assert "Nothing has been saved yet." in client.get(response.url).text
        response = client.post(response.url)
    return response
