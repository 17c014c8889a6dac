# ruff: noqa: F811 -- pytest fixtures imported from billing_fixtures are parameters here
"""A Content-Security-Policy on every page, strict enough that injected script cannot run.

The header comes from django-csp's middleware; these tests walk the URLconf so a new page is
checked the day it is added, and read the templates so nobody brings inline script back (the
policy would silently break it in the browser).
"""

import re
from pathlib import Path

import pytest
from django.conf import settings

from billing import stripe_client

from .billing_fixtures import localstripe, localstripe_server  # noqa: F401
from .test_url_access import ALL, HEALTH, METRICS, WEBHOOKS, concrete

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


def policy(response) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: [sources]}."""
    header = response.headers.get("Content-Security-Policy", "")
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: sources for name, *sources in directives}


def assert_strict(found: dict[str, list[str]], where: str) -> None:
    assert found.get("default-src") == ["'self'"], where
    for directive in ("script-src", "style-src"):
        assert found.get(directive) == ["'self'"], f"{where}: {directive} {found.get(directive)}"
    assert found.get("object-src") == ["'none'"], where
    assert found.get("frame-ancestors") == ["'none'"], where


CONSOLE = sorted(
    {
        concrete(p)
        for p, _ in ALL
        if not p.startswith(("api/", "admin/")) and p not in WEBHOOKS | HEALTH | METRICS
    }
    - {"/billing/"}  # checked below, with Stripe.js
)


@pytest.mark.parametrize("path", sorted(concrete(p) for p in HEALTH | METRICS))
def test_probes_and_metrics_allow_nothing_at_all(client, settings, path):
    """Answered before the CSP middleware (tests/test_health.py): no page, no script, ever."""
    settings.METRICS_TOKEN = "t"
    response = client.get(path, HTTP_AUTHORIZATION="Bearer t")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", CONSOLE)
def test_every_console_page_has_the_strict_policy(alice_client, path):
    assert_strict(policy(alice_client.get(path)), path)


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/reset/", "/nowhere/"])
def test_pages_for_visitors_and_error_pages_have_it_too(client, path):
    assert_strict(policy(client.get(path)), path)


def test_the_admin_and_the_api_have_it_too(alice_client):
    assert_strict(policy(alice_client.get("/admin/")), "/admin/")
    assert "default-src" in policy(alice_client.get("/api/v1/runs/"))


def test_the_api_docs_page_adds_only_data_images(alice_client):
    found = policy(alice_client.get("/api/v1/docs/"))
    assert found["script-src"] == ["'self'"] and found["style-src"] == ["'self'"]
    assert found["img-src"] == ["'self'", "data:"]


def test_the_billing_tab_allows_localstripe_and_nothing_else_when_it_is_configured(
    alice_client, localstripe
):
    origin = settings.STRIPE_API_BASE
    found = policy(alice_client.get("/billing/"))
    assert found["script-src"] == ["'self'", origin]
    assert found["frame-src"] == [origin] and found["connect-src"] == ["'self'", origin]
    assert "https://js.stripe.com" not in str(found)
    assert "unsafe-inline" not in str(found)


def test_other_pages_do_not_allow_stripe(alice_client, localstripe):
    assert settings.STRIPE_API_BASE not in str(policy(alice_client.get("/sync/")))


def test_with_the_real_stripe_the_billing_tab_allows_what_stripes_guide_lists(settings):
    settings.STRIPE_API_BASE = ""
    sources = stripe_client.csp_sources()
    assert sources["script-src"] == ["https://js.stripe.com", "https://*.js.stripe.com"]
    assert "https://hooks.stripe.com" in sources["frame-src"]
    assert sources["connect-src"] == ["https://api.stripe.com"]


def test_read_only_users_get_no_stripe_on_the_billing_tab(carol_client, localstripe):
    """Only those who may change the card load Stripe.js."""
    found = policy(carol_client.get("/billing/"))
    assert found["script-src"] == ["'self'"]


TEMPLATES = sorted(
    path
    for folder in (ROOT / "templates", *ROOT.glob("*/templates"))
    for path in folder.rglob("*.html")
    if ".venv" not in path.parts
)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_have_no_inline_script_handlers_or_styles(template):
    """The policy would block them in the browser: scripts and styles live in static/."""
    text = template.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), "an inline <script>"
    assert not re.search(r"\son[a-z]+\s*=", text), "an inline event handler (onclick=...)"
    assert not re.search(r"\sstyle\s*=", text), "an inline style attribute"
    assert "<style" not in text, "an inline <style>"
    assert "javascript:" not in text.lower(), "a javascript: link"
