from django import forms

from cmsync import endpoints

from .auth import check_url
from .errors import InsecureEndpointError
from .models import SalesforceSettings


class AppForm(forms.ModelForm):
    """The connected app's consumer key and secret, from Salesforce Setup → App Manager."""

    login_url = forms.URLField(
        label="Login URL",
        assume_scheme="https",
        max_length=200,
        help_text="https://login.salesforce.com, https://test.salesforce.com for a sandbox, "
        "or your My Domain address.",
    )
    client_secret = forms.CharField(
        label="Consumer secret",
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        required=False,
        help_text="Leave empty to keep the stored secret. It only ever goes to the host it "
        "was saved for: changing the login URL's host needs the secret again.",
    )

    class Meta:
        model = SalesforceSettings
        fields = ["login_url", "client_id"]
        help_texts = {
            "client_id": "The connected app's consumer key. Its callback URL must be this "
            "console's /salesforce/callback/ address.",
        }

    def clean_login_url(self) -> str:
        try:
            return check_url(self.cleaned_data["login_url"])
        except InsecureEndpointError as exc:
            raise forms.ValidationError(exc.message) from exc

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data  # what Form.clean returns, typed
        if data.get("client_secret"):
            return data
        stored_url = self.instance.login_url
        if not self.instance.client_secret:
            self.add_error("client_secret", "Enter the consumer secret.")
        elif "login_url" in data and not endpoints.same_origin(data["login_url"], stored_url):
            # The stored secret was saved for the old host: never send it to the new one.
            self.add_error(
                "client_secret",
                "The login URL's host changed: enter the consumer secret again. The stored "
                f"secret is only sent to {endpoints.host(stored_url)}.",
            )
        return data

    def save(self, commit: bool = True) -> SalesforceSettings:
        if self.cleaned_data.get("client_secret"):
            self.instance.client_secret = self.cleaned_data["client_secret"]
        return super().save(commit)
