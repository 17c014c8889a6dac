"""Your account: every logged-in user sets their own name, email address and password.

No permission is needed beyond being logged in: these pages only ever change the user who
is asking. The password pages are Django's own views with the console's templates; a
forgotten password is reset by an emailed link (Django's PasswordResetView, which says the
same whether or not the address belongs to anyone).
"""

import hashlib

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.contrib.auth.password_validation import password_validators_help_texts
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from redis.exceptions import RedisError

from cmsync import answers
from maintenance.audit import record_action

RESET_EMAILS_PER_HOUR = 3
# The account page's cards: each answer opens in the card it concerns.
PROFILE, PASSWORD = "profile", "password"


class AccountForm(forms.ModelForm):
    class Meta:
        model = get_user_model()
        fields = ["first_name", "last_name", "email"]
        labels = {"first_name": "First name", "last_name": "Last name", "email": "Email address"}
        help_texts = {
            "email": "Alerts and password reset links are sent here.",
        }

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        others = get_user_model().objects.exclude(pk=self.instance.pk)
        # One address, one person: a reset link for it must reach only its owner.
        if email and others.filter(email__iexact=email).exists():
            raise forms.ValidationError("Another user already has this email address.")
        return email


DEACTIVATED = "This account is deactivated. Ask a Full access user to reactivate it."


class LoginForm(AuthenticationForm):
    """Django's login form, which says plainly when the account is deactivated.

    Django's ModelBackend refuses an inactive user as if the password were wrong. Only
    someone who gives the right password learns that the account exists and is deactivated;
    anyone else gets the usual "didn't match".
    """

    def clean(self) -> dict:
        try:
            return super().clean()
        except forms.ValidationError:
            username = self.cleaned_data.get("username")
            password = self.cleaned_data.get("password")
            users = get_user_model()._default_manager
            user = users.filter(username=username, is_active=False).first()
            if user is not None and password and user.check_password(password):
                raise forms.ValidationError(DEACTIVATED, code="inactive") from None
            raise

    @property
    def deactivated(self) -> bool:
        return any(e.code == "inactive" for e in self.non_field_errors().as_data())


class ConsolePasswordChangeForm(PasswordChangeForm):
    """Django's form with the console's labels."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["old_password"].label = "Current password"
        self.fields["new_password1"].label = "New password"
        self.fields["new_password2"].label = "New password again"
        # Django's help is an HTML list; the console's help is one plain line under the field.
        self.fields["new_password1"].help_text = " ".join(password_validators_help_texts())
        self.fields["new_password2"].help_text = ""


def _changes(before: dict, after: dict) -> str:
    labels = AccountForm.Meta.labels
    parts = [
        f"{labels[name].lower()} {before[name] or '(none)'} → {after[name] or '(none)'}"
        for name in labels
        if before[name] != after[name]
    ]
    return ", ".join(parts)


@login_required
def account_view(request: HttpRequest) -> HttpResponse:
    """Your account: name and email address, and links to change the password."""
    user = request.user
    before = {name: getattr(user, name) for name in AccountForm.Meta.fields}
    form = AccountForm(request.POST or None, instance=user)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            after = {name: getattr(user, name) for name in AccountForm.Meta.fields}
            changed = _changes(before, after)
            if changed:
                record_action(user, "security", f"{user}: own account, {changed}")
            answers.success(request, "Your account is saved.", PROFILE)
            return answers.redirect_to(PROFILE, "account")
        return render(request, "registration/account.html", {"form": form}, status=400)
    return render(request, "registration/account.html", {"form": form})


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change: the current password is asked for, the session is kept
    (other sessions of the same user end, as their password hash no longer matches)."""

    form_class = ConsolePasswordChangeForm
    success_url = reverse_lazy("account")

    def get_success_url(self) -> str:
        """The account page, opened at the Password card that says it is changed."""
        return f"{super().get_success_url()}#{PASSWORD}"

    def form_valid(self, form) -> HttpResponse:
        response = super().form_valid(form)
        record_action(self.request.user, "security", f"{self.request.user}: changed own password")
        answers.success(self.request, "Your password is changed.", PASSWORD)
        return response

    def form_invalid(self, form) -> HttpResponse:
        response = super().form_invalid(form)
        response.status_code = 400
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Forgot password: a link by email, with the console's own address in it (not the
    request's Host), like the invitations'.

    At most RESET_EMAILS_PER_HOUR links per address an hour, so the form cannot flood
    someone's inbox; past that the answer is the same "Check your email" page, as it is for
    an address nobody has.
    """

    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"

    def form_valid(self, form) -> HttpResponse:
        email = form.cleaned_data["email"].strip().lower()
        key = "password-reset:" + hashlib.sha256(email.encode()).hexdigest()
        try:
            cache.add(key, 0, timeout=3600)
            sent = cache.incr(key)
        except (RedisError, ValueError):  # the cache is down or lost the key: no limit now
            sent = 0
        if sent > RESET_EMAILS_PER_HOUR:
            return redirect(self.get_success_url())
        return super().form_valid(form)

    @property
    def extra_email_context(self) -> dict:
        return {"cmsync_url": settings.CMSYNC_URL}
