"""Every console page and API list costs a constant, small number of database queries: the
same with 1 row of everything as with 30, and under a stated ceiling. A page that queries once
per row it shows is slow with a few hundred runs or thousands of messages under load
(bench/console.py measures the time; this test pins the cause).

The pages are found by walking the URLconf (as tests/test_url_access.py does): a new page is
measured the day it is added, or must be listed below with the reason it is not.
"""

import re

import pytest
from auditlog.models import LogEntry
from axes.models import AccessAttempt
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.console_data import ConsoleData
from maintenance.models import Message
from security.models import IntegrationKey
from subscriptions.models import FieldMapping

from .test_url_access import PUBLIC, WEBHOOKS, patterns

pytestmark = pytest.mark.django_db

# At most this many queries for any page, rows or not (sessions, the user and their
# permissions, the tab bar and the page's own reads).
CEILING = 30

# Not measured, and why. Everything else is loaded with GET as a Full access admin.
NOT_MEASURED = {
    **{p: "public or a webhook: no console page" for p in PUBLIC | WEBHOOKS},
    "": "a redirect to the Sync tab",
    "api/v1/docs/": "Swagger UI's page: static, no rows",
    "api/v1/schema/": "the OpenAPI schema: generated, no rows",
    "api/v1/billing/invoices/": "read from Stripe, not the database",
    "billing/invoices/<str:invoice_id>/": "read from Stripe, not the database",
    "campaign-monitor/connect/oauth/": "a redirect to Campaign Monitor",
    "campaign-monitor/connect/oauth/callback/": "Campaign Monitor's redirect back",
    "campaign-monitor/open/": "signs in to Campaign Monitor",
    "salesforce/callback/": "Salesforce's redirect back",
    "salesforce/connect/": "a redirect to Salesforce",
    "accounts/logout/": "ends the session",
    "maintenance/audit/export/": "a CSV download, streamed",
    "maintenance/messages/export/": "a CSV download, streamed",
    "sync/runs/<int:run_id>/changes.csv": "a preview's CSV download, streamed",
    "metrics": "Prometheus' endpoint: off without a token; aggregates, no rows shown",
    "settings/confirm/<str:change_id>/": "a change waiting in the session: none without a form",
}
# POST only (a form's target; its page is another URL): GET answers 405.
POST_ONLY = {
    "billing/card/",
    "billing/card/setup/",
    "billing/contact/",
    "billing/invoices/resend/",
    "campaign-monitor/switch-client/",
    "maintenance/messages/action/",
    "sync/preview/",
    "security/invite/",
    "security/keys/",
    "security/lockouts/<int:attempt_id>/unlock/",
    "security/users/<int:user_id>/clients/",
    "security/users/<int:user_id>/invitation/resend/",
    "security/users/<int:user_id>/override/",
    "security/users/<int:user_id>/role/",
    "salesforce/sync-user/",
    "salesforce/schema/",
    "maintenance/alerts/",
    "maintenance/components/",
    "salesforce/test/",
    "api/v1/^messages/delete/$",
    "api/v1/^messages/retry/$",
    "api/v1/^runs/(?P<pk>[0-9]{1,18})/cancel/$",
    "api/v1/^lists/(?P<list_id>[^/]+)/imports/(?P<pk>[0-9]{1,18})/cancel/$",
    "api/v1/^lists/(?P<list_id>[^/]+)/rules/(?P<action>[^/]+)/retrospective/$",
}
# Confirmation pages that, for the seeded rows, send the user on (and why): nothing to confirm.
REDIRECTS = {
    "billing/cancel/": "no paid plan to cancel",
    "lists/<str:list_id>/import/<int:job_id>/cancel/": "the seeded import is a draft",
    "maintenance/messages/delete/": "no messages chosen",
    "security/users/<int:user_id>/invitation/revoke/": "the person is no invitation",
    "security/users/<int:user_id>/reactivate/": "the person is active",
    "sync/runs/<int:run_id>/cancel/": "the run has finished",
    "lists/<str:list_id>/import/<int:job_id>/": "a draft's result is the wizard",
    "sync/changes/endpoint/": "no Outbound Message endpoint to replace yet",
    "sync/now/": "the first Sync now asks first; the seeded runs include a success",
}
FORMAT_SUFFIX = re.compile(r"\\\.\(\?P<format>")


def measured() -> list[str]:
    return sorted(
        pattern
        for pattern, _ in set(patterns())
        if not pattern.startswith("admin/")
        and not FORMAT_SUFFIX.search(pattern)
        and pattern not in NOT_MEASURED
    )


def test_every_listed_url_still_exists():
    found = {pattern for pattern, _ in patterns()}
    assert set(NOT_MEASURED) | POST_ONLY | set(REDIRECTS) <= found


def _values(data: ConsoleData) -> dict[str, str]:
    """Path parameters, by name, pointing at the seeded rows."""
    assert data.run and data.job and data.user
    return {
        "run_id": str(data.run.pk),
        "job_id": str(data.job.pk),
        "user_id": str(data.user.pk),
        "list_id": data.list_id,
        "client_id": data.client_id,
        "action": "add_contact",
        "code": "SF_DUPLICATE",
        "key_id": str(IntegrationKey.objects.first().public_id),
        "attempt_id": str(AccessAttempt.objects.first().pk),
    }


def _pk(pattern: str, data: ConsoleData) -> str:
    """An API detail's primary key: a row of the resource the pattern names."""
    assert data.run and data.job and data.user
    for resource, pk in (
        ("runs", data.run.pk),
        ("messages", Message.objects.first().pk),
        ("audit", LogEntry.objects.first().pk),
        ("users", data.user.pk),
        ("field-mappings", FieldMapping.objects.filter(list_id=data.list_id).first().pk),
        ("fields", FieldMapping.objects.filter(list_id=data.list_id).first().pk),
        ("imports", data.job.pk),
    ):
        if f"{resource}/(?P<pk>" in pattern or f"{resource}/<int:pk>" in pattern:
            return str(pk)
    raise AssertionError(f"no primary key for {pattern}")


def path_of(pattern: str, data: ConsoleData) -> str:
    values = _values(data)
    path = re.sub(r"\(\?P<pk>[^)]*\)", lambda _: _pk(pattern, data), pattern)
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values[m[1]], path)
    path = re.sub(r"<int:pk>", lambda _: _pk(pattern, data), path)
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m[1]], path)
    return "/" + path.replace("^", "").replace("$", "")


def queries(client, path: str) -> tuple[int, int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    return response.status_code, len(captured), [q["sql"] for q in captured.captured_queries]


@pytest.fixture
def data(admin_user, cm_emulator, sf_emulator, settings):
    settings.CMSYNC_URL = "http://127.0.0.1:9"  # webhooks registered nowhere
    return ConsoleData(admin_user, cm_emulator.info(), sf_emulator.info())


def test_every_page_costs_the_same_queries_with_1_row_as_with_30(admin_client, data):
    data.add(1)
    pages = measured()
    for pattern in pages:  # first loads create singletons (settings rows): not measured
        admin_client.get(path_of(pattern, data))
    one = {pattern: queries(admin_client, path_of(pattern, data)) for pattern in pages}
    data.add(29)
    thirty = {pattern: queries(admin_client, path_of(pattern, data)) for pattern in pages}
    problems = []
    for pattern in pages:
        (status, count, _), (status_30, count_30, sql) = one[pattern], thirty[pattern]
        if pattern in POST_ONLY:
            if status != 405:
                problems.append(f"{pattern}: listed as POST only, GET answered {status}")
            continue
        expected = 302 if pattern in REDIRECTS else 200
        if status != expected or status_30 != expected:
            problems.append(f"{pattern}: GET answered {status} / {status_30}")
        elif count_30 != count:
            problems.append(f"{pattern}: {count} queries with 1 row, {count_30} with 30")
        elif count > CEILING:
            problems.append(f"{pattern}: {count} queries (ceiling {CEILING})")
    import os

    if os.environ.get("QUERY_DEBUG"):  # the SQL of the pages whose count grew, most repeated
        from collections import Counter

        for pattern in pages:
            if one[pattern][1] != thirty[pattern][1]:
                print(f"== {pattern}")
                for sql, n in Counter(thirty[pattern][2]).most_common(6):
                    print(n, sql[:300])

                def shape(sqls):
                    return Counter(re.sub(r"'[^']*'|\\d+", "?", q)[:200] for q in sqls)

                print("-- 1 row minus 30:", shape(one[pattern][2]) - shape(thirty[pattern][2]))
                print("-- 30 minus 1 row:", shape(thirty[pattern][2]) - shape(one[pattern][2]))
    assert not problems, "\n".join(problems)
