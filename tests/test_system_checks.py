"""cmsync's system checks (cmsync/checks.py): each half-done production setting is one
warning with its own id, and the test and `make run` configurations stay quiet."""

import pytest
from django.core.checks import run_checks
from django.core.management import call_command

POSTGRES_ENGINE = "django.db.backends.postgresql"
SMTP = "django.core.mail.backends.smtp.EmailBackend"


def ids() -> set[str]:
    return {m.id for m in run_checks() if (m.id or "").startswith("cmsync.")}


@pytest.fixture
def production(settings):
    """The documented production settings, each check satisfied."""
    settings.DEBUG = False
    settings.ALLOW_INSECURE_LOOPBACK = False
    settings.CMSYNC_URL = "https://cmsync.example.com"
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
    settings.EMAIL_BACKEND = SMTP
    settings.DEFAULT_FROM_EMAIL = "cmsync@example.com"
    settings.STRIPE_SECRET_KEY = settings.STRIPE_PUBLISHABLE_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = ""
    return settings


def test_the_test_configuration_has_no_warnings(capsys):
    call_command("check")
    assert "no issues" in capsys.readouterr().out


def test_the_make_run_configuration_has_no_warnings(settings):
    # make run: DEBUG off, plain HTTP to the emulators on, demo Stripe keys, default address
    settings.DEBUG = False
    settings.ALLOW_INSECURE_LOOPBACK = True
    settings.STRIPE_SECRET_KEY = "sk_test_demo"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_demo"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_demo"
    settings.CMSYNC_URL = "http://127.0.0.1:8000"
    assert ids() == set()


def test_documented_production_settings_have_no_warnings(production):
    assert ids() == set()


@pytest.mark.parametrize(
    "keys",
    [
        {"STRIPE_SECRET_KEY": "sk_live_x"},
        {"STRIPE_SECRET_KEY": "sk_live_x", "STRIPE_PUBLISHABLE_KEY": "pk_live_x"},
        {"STRIPE_PUBLISHABLE_KEY": "pk_live_x", "STRIPE_WEBHOOK_SECRET": "whsec_x"},
        {"STRIPE_WEBHOOK_SECRET": "whsec_x"},
    ],
)
def test_stripe_keys_set_in_part_are_a_warning_naming_the_missing_ones(production, keys):
    for name, value in keys.items():
        setattr(production, name, value)
    (warning,) = [m for m in run_checks() if m.id == "cmsync.W001"]
    for name in ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET"):
        assert name in warning.msg
    assert warning.msg.index("not") > max(warning.msg.index(name) for name in keys)


def test_all_three_stripe_keys_are_fine(production):
    production.STRIPE_SECRET_KEY = "sk_live_x"
    production.STRIPE_PUBLISHABLE_KEY = "pk_live_x"
    production.STRIPE_WEBHOOK_SECRET = "whsec_x"
    assert ids() == set()


def test_the_filesystem_broker_with_postgresql_in_production_is_a_warning(production, monkeypatch):
    monkeypatch.setitem(production.DATABASES["default"], "ENGINE", POSTGRES_ENGINE)
    assert ids() == set()  # with Redis
    production.CELERY_BROKER_URL = "filesystem://"
    assert ids() == {"cmsync.W002"}
    production.DEBUG = True
    assert "cmsync.W002" not in ids()


def test_the_filesystem_broker_with_sqlite_is_fine(production, monkeypatch):
    # SQLite whatever database the suite itself runs on (CI's is PostgreSQL).
    monkeypatch.setitem(production.DATABASES["default"], "ENGINE", "django.db.backends.sqlite3")
    production.CELERY_BROKER_URL = "filesystem://"
    assert ids() == set()


@pytest.mark.parametrize("sender", ["webmaster@localhost", "cmsync@localhost", "x@a.localhost"])
def test_a_sender_at_localhost_is_a_warning_when_mail_is_sent(production, sender):
    production.DEFAULT_FROM_EMAIL = sender
    assert ids() == {"cmsync.W003"}
    production.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    assert ids() == set()  # nothing leaves the machine


@pytest.mark.parametrize(
    "url", ["", "http://cmsync.example.com", "https://127.0.0.1:8000", "https://localhost"]
)
def test_a_console_address_campaign_monitor_cannot_post_to_is_a_warning(production, url):
    production.CMSYNC_URL = url
    (warning,) = [m for m in run_checks() if m.id == "cmsync.W004"]
    assert (url or "not set") in warning.msg
    production.DEBUG = True
    assert ids() == set()
