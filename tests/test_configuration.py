"""Settings come from the environment, with defaults that need nothing installed."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG_VARS = ["DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"]
CONFIG_VARS += ["SECRET_KEY", "DEBUG", "TIME_ZONE", "HTTPS", "ALLOWED_HOSTS", "CMSYNC_VAR_DIR"]
CONFIG_VARS += ["DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE", "SALT_KEY"]


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in CONFIG_VARS}
    clean.update({"CMSYNC_VAR_DIR": str(tmp_path / "var"), **env})
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )


def settings_seen(tmp_path: Path, **env: str) -> dict:
    code = (
        "import django, json, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'cmsync.settings'; "
        "from django.conf import settings as s; "
        "print(json.dumps({'secret': s.SECRET_KEY, 'debug': s.DEBUG, 'tz': s.TIME_ZONE, "
        "'db': s.DATABASES['default']['ENGINE'], 'db_name': str(s.DATABASES['default']['NAME']), "
        "'broker': s.CELERY_BROKER_URL, 'results': s.CELERY_RESULT_BACKEND}))"
    )
    result = run(["-c", code], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_defaults_need_nothing_installed(tmp_path):
    seen = settings_seen(tmp_path)
    assert seen["debug"] is False
    assert seen["tz"] == "UTC"
    assert seen["db"] == "django.db.backends.sqlite3"
    assert seen["db_name"] == str(tmp_path / "var" / "cmsync.sqlite3")
    assert seen["broker"] == "filesystem://"
    assert seen["results"].startswith("file://")
    assert (tmp_path / "var" / "broker" / "queue").is_dir()


def test_secret_key_and_salt_are_generated_once_and_kept_private(tmp_path):
    first = settings_seen(tmp_path)["secret"]
    second = settings_seen(tmp_path)["secret"]
    assert first == second and len(first) >= 50
    for name in ("secret_key", "salt_key"):
        assert (tmp_path / "var" / name).stat().st_mode & 0o777 == 0o600


def test_environment_overrides_the_defaults(tmp_path):
    seen = settings_seen(
        tmp_path,
        SECRET_KEY="k" * 60,
        DEBUG="1",
        TIME_ZONE="Australia/Sydney",
        DATABASE_URL="postgres://cmsync@db.internal:5432/cmsync",
        REDIS_URL="redis://cache.internal:6379/0",
    )
    assert seen["secret"] == "k" * 60
    assert seen["debug"] is True
    assert seen["tz"] == "Australia/Sydney"
    assert seen["db"] == "django.db.backends.postgresql"
    assert seen["broker"] == "redis://cache.internal:6379/0"
    assert seen["results"] == "redis://cache.internal:6379/0"
    assert not (tmp_path / "var" / "secret_key").exists()


def test_celery_broker_url_wins_over_redis_url(tmp_path):
    seen = settings_seen(
        tmp_path, REDIS_URL="redis://cache:6379/0", CELERY_BROKER_URL="amqp://guest@mq//"
    )
    assert seen["broker"] == "amqp://guest@mq//"


PRODUCTION = {"HTTPS": "1", "ALLOWED_HOSTS": "cmsync.example.com"}


@pytest.mark.parametrize(
    "env, clean",
    [
        ({}, False),  # a laptop: no HTTPS, so the deploy check has warnings
        (PRODUCTION, True),  # with the generated secret key
        (
            {**PRODUCTION, "SECRET_KEY": "Zq8#vR2!mK5@wP9$tL3%yB7^nC1&hF4*Gx6(dJ0)sN8-eU2+aW5=oI3"},
            True,
        ),
    ],
)
def test_deploy_check_is_clean_with_production_settings(tmp_path, env, clean):
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], tmp_path, **env)
    assert (result.returncode == 0) is clean, result.stderr


def cookies_seen(tmp_path: Path, **env: str) -> dict:
    """The cookie settings, and the CSRF cookie the login page really sets, in a fresh process."""
    code = (
        "import django, json, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'cmsync.settings'; "
        "django.setup(); from django.conf import settings as s; "
        "from django.test import Client; "
        "page = Client(SERVER_NAME=s.ALLOWED_HOSTS[0]).get('/accounts/login/', secure=True); "
        "cookie = page.cookies[s.CSRF_COOKIE_NAME]; "
        "print(json.dumps({'session_secure': s.SESSION_COOKIE_SECURE, "
        "'session_httponly': s.SESSION_COOKIE_HTTPONLY, 'csrf_secure': bool(cookie['secure']), "
        "'csrf_httponly': bool(cookie['httponly']), 'status': page.status_code}))"
    )
    result = run(["-c", code], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_with_https_the_cookies_are_secure_and_hidden_from_scripts(tmp_path):
    seen = cookies_seen(tmp_path, **PRODUCTION)
    assert seen["status"] == 200
    assert seen["session_secure"] and seen["session_httponly"]
    assert seen["csrf_secure"] and seen["csrf_httponly"]


def test_without_https_the_cookies_still_work_over_plain_http(tmp_path):
    """`make run` on a laptop is plain HTTP: Secure cookies would never come back."""
    seen = cookies_seen(tmp_path)
    assert not seen["session_secure"] and not seen["csrf_secure"]
    assert seen["session_httponly"] and seen["csrf_httponly"]


def test_no_script_reads_the_csrf_cookie():
    """The CSRF cookie is HttpOnly, so a script that read it would break: they read the form."""
    for script in (ROOT / "static").rglob("*.js"):
        assert "document.cookie" not in script.read_text(), script.name
