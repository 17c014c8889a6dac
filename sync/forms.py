"""The Lists page's form: "Prevent member sync" per list of the connected clients."""

from django import forms
from django.db import transaction

from campaign_monitor.lists import ListRow, set_prevent_member_sync


class ListOptionsForm(forms.Form):
    """One "Prevent member sync" box per list the user may see; others are left alone."""

    prevent_member_sync = forms.MultipleChoiceField(
        label="Prevent member sync", required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, rows: list[ListRow], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rows = rows
        field = self.fields["prevent_member_sync"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(row.list_id, row.name) for row in rows]
        field.initial = [row.list_id for row in rows if row.prevent_member_sync]

    def save(self) -> list[ListRow]:
        """Store each list's choice; returns the lists whose switch changed."""
        chosen = set(self.cleaned_data["prevent_member_sync"])
        with transaction.atomic():
            return [
                row
                for row in self.rows
                if set_prevent_member_sync(row.list_id, row.list_id in chosen)
            ]
