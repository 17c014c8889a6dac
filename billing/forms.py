from django import forms
from django.core.validators import RegexValidator


class ContactForm(forms.Form):
    email = forms.EmailField(label="Billing contact", help_text="Invoices are emailed here.")

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


class CardForm(forms.Form):
    """The id of a payment method Stripe.js created: the card itself never reaches us."""

    payment_method = forms.CharField(
        max_length=255, validators=[RegexValidator(r"^pm_\w+$", "Not a Stripe payment method.")]
    )


class ResendForm(forms.Form):
    invoice = forms.CharField(
        max_length=255, validators=[RegexValidator(r"^in_\w+$", "Not a Stripe invoice.")]
    )
