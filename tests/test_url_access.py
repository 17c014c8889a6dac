"""Every URL refuses anonymous visitors, found by walking the URLconf itself.

A new page or endpoint is covered the day it is added: nobody has to remember to list it.
Console pages send an anonymous visitor to a login page; the API answers 401 or 403; only the
pages a visitor needs before logging in, and the endpoints other services call (which check a
signature or a secret of their own), answer anyone.
"""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve

pytestmark = pytest.mark.django_db

# Pages for people who are not logged in yet: logging in, logging out and resetting a password.
PUBLIC = {
    "accounts/login/",
    "accounts/logout/",  # logging out when not logged in only lands on the login page
    "accounts/reset/",
    "accounts/reset/sent/",
    "accounts/reset/<uidb64>/<token>/",
    "accounts/reset/done/",
    "admin/login/",
    "admin/logout/",
}
# Health probes for load balancers and orchestrators: public by design, and they say nothing
# but whether each dependency answers (tests/test_health.py).
HEALTH = {"health/live", "health/ready"}
# Prometheus' scrape: a bearer token and/or an address allowlist of its own, 404 while off.
METRICS = {"metrics"}
# Endpoints other services call; each checks its own signature or secret instead of a login.
WEBHOOKS = {
    "billing/webhook/",  # Stripe, signed with STRIPE_WEBHOOK_SECRET
    "campaign-monitor/webhook/<str:secret>/",  # Campaign Monitor list webhooks
    "sync/outbound/<str:secret>/",  # Salesforce Outbound Messages
}
LOGIN_PAGES = ("/accounts/login/?next=", "/admin/login/?next=")

# Plausible values for path parameters, by name (then by converter).
# Fixed, so every pytest process collects the same test ids (pytest-xdist compares them).
A_UUID = "5be9f6d6-a774-4dd9-a072-6cdd57f2766b"
VALUES = {
    "secret": "not-the-secret",
    "list_id": "list-1",
    "client_id": "client-1",
    "action": "add_contact",
    "uidb64": "MQ",
    "token": "set-password",
    "invoice_id": "in_1",
    "code": "DUPLICATES_DETECTED",
    "url": "somewhere/",
    "format": "json",
    "key_id": A_UUID,
}
CONVERTERS = {"int": "1", "uuid": A_UUID, "path": "1", "str": "x", "slug": "x"}


def patterns(resolvers=None, prefix: str = ""):
    """(pattern as written, the view's dotted path) for every URL, resolvers walked down."""
    for entry in resolvers if resolvers is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            yield from patterns(entry.url_patterns, prefix + str(entry.pattern))
        else:
            assert isinstance(entry, URLPattern)
            yield prefix + str(entry.pattern), entry.lookup_str


def _group_value(match: re.Match) -> str:
    name, body = match["name"], match["body"]
    if name in VALUES:
        return VALUES[name]
    if re.fullmatch(r"[\w|]+", body):  # a choice of words: the admin's app labels
        return body.split("|")[0]
    return "1"


def concrete(pattern: str) -> str:
    """A path that the pattern matches, with plausible values in its parameters."""
    path = re.sub(r"\\\.\(\?P<format>[^)]*\)/\?", ".json", pattern)  # DRF's format suffixes
    path = re.sub(r"\(\?P<(?P<name>\w+)>(?P<body>(?:[^()]|\([^()]*\))*)\)", _group_value, path)
    path = re.sub(
        r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>",
        lambda m: VALUES.get(m["name"]) or CONVERTERS[m["conv"] or "str"],
        path,
    )
    path = path.replace("^", "").replace("$", "").replace("\\", "")
    return "/" + path


def _as_route(pattern: str) -> str:
    """Django's spelling of a joined pattern: a regex's leading ^ dropped."""
    return re.sub(r"(^|/)\^", r"\1", pattern)


IN_ORDER = [_as_route(pattern) for pattern, _ in patterns()]
ALL = sorted(set(patterns()))


def test_the_walk_finds_every_kind_of_url():
    """The walk reaches the console, the API router, the admin and the public endpoints."""
    found = {pattern for pattern, _ in ALL}
    assert "sync/" in found and "admin/" in found
    assert any(p.startswith("api/v1/^runs/") for p in found)
    assert PUBLIC | WEBHOOKS | HEALTH | METRICS <= found, "a public URL listed here is gone"


@pytest.mark.parametrize("pattern", [p for p, _ in ALL], ids=lambda p: p)
def test_the_filled_in_path_reaches_its_pattern(pattern):
    """Otherwise the access test below would test some other view. (A pattern an earlier one
    shadows, as django-solo's admin does the change list, reaches that earlier one.)"""
    route, pattern = resolve(concrete(pattern)).route, _as_route(pattern)
    assert route == pattern or IN_ORDER.index(route) < IN_ORDER.index(pattern)


def _ends_at_login(client, response) -> bool:
    """A redirect, followed a few hops (the home page goes to Sync first), lands on login."""
    for _ in range(4):
        if response.status_code != 302:
            return False
        if response.url.startswith(LOGIN_PAGES):
            return True
        response = client.get(response.url)
    return False


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize(
    "pattern", [p for p, _ in ALL if p not in PUBLIC | WEBHOOKS | HEALTH | METRICS], ids=lambda p: p
)
def test_anonymous_visitors_are_refused_everywhere(client, pattern, method):
    path = concrete(pattern)
    response = getattr(client, method)(path)
    assert response.status_code != 500
    if path.startswith("/api/"):
        assert response.status_code in (401, 403), f"{method.upper()} {path}"
    else:
        assert _ends_at_login(client, response), (
            f"{method.upper()} {path} answered {response.status_code}, not the login page"
        )


@pytest.mark.parametrize("pattern", sorted(WEBHOOKS))
def test_webhooks_refuse_a_caller_without_the_secret_or_signature(client, pattern):
    response = client.post(concrete(pattern), b"{}", content_type="application/json")
    assert 400 <= response.status_code < 500, response.status_code


@pytest.mark.parametrize("pattern", sorted(HEALTH))
def test_health_answers_anyone_with_json_and_no_session(client, pattern):
    response = client.get(concrete(pattern))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert "sessionid" not in response.cookies


def test_metrics_are_not_found_for_anyone_while_off(client, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = "", []
    assert client.get(concrete("metrics")).status_code == 404


@pytest.mark.parametrize("pattern", sorted(PUBLIC))
def test_the_public_pages_answer_without_an_error(client, pattern):
    assert client.get(concrete(pattern)).status_code < 500


@pytest.mark.parametrize("pattern", [p for p, _ in ALL if p not in WEBHOOKS], ids=lambda p: p)
def test_a_post_without_the_csrf_token_is_refused(alice, pattern):
    """Logged in, a forged form from another site (no CSRF token) changes nothing anywhere:
    console pages, the login and logout forms, the admin and the API over the session."""
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(concrete(pattern), {"confirmed": "1"})
    assert response.status_code == 403, f"POST {concrete(pattern)}: {response.status_code}"
    # Refused for the missing token, not for something else (the Swagger UI page, which changes
    # nothing anyway, renders every refusal as a bare "403 Forbidden").
    assert "CSRF" in response.text or pattern == "api/v1/docs/"
