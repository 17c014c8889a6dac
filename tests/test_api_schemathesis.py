"""schemathesis against a live server with a Full-access key, cmsync connected to both
emulators: every operation of the OpenAPI schema, in every phase (the schema's examples,
coverage of its edges and of wrong input, random fuzzing, and stateful sequences that feed one
response into the next request), must never answer 5xx, must answer only documented status
codes, in the documented shape, and must refuse what the schema does not allow.

The same on every machine: a fixed seed, no example database (a failure saved by an earlier
run on one machine must not decide the run on another), schemathesis run in a directory of the
test's own. Nothing depends on the clock: no deadlines, no response-time limit, no time budget,
no "too slow" health check; requests may take long on a busy machine. Runs it queues stay
queued (no worker), on a queue of the tests' own."""

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.throttling import UserRateThrottle

from maintenance.models import Message
from security.service import create_key
from sync.models import SyncRun

pytestmark = [pytest.mark.schemathesis, pytest.mark.django_db(transaction=True)]

ST = Path(sys.executable).parent / "st"

# positive_data_acceptance expects every request the schema allows to succeed, but the API
# refuses some for the installation's state, with a 400 that says why (a rule the list already
# has, cancelling a finished run, retrying messages that cannot be retried).
CHECKS = "all"
EXCLUDED_CHECKS = "positive_data_acceptance"

CONFIG = """
generation.max-examples = 10

[cache]
enabled = false  # no crash files for `st replay`: this test's output is its report

# Stateful scenarios are few at 10; more cost seconds, not minutes.
[phases.stateful]
generation.max-examples = 50

# The settings' ETag guard refuses before it reads the body: a stale If-Match is a 412
# (RFC 9110, 13.2.2), a missing one a 428 (RFC 6585). schemathesis' own lists, and those.
[checks.negative_data_rejection]
expected-statuses = [400, 401, 403, 404, 405, 406, 409, 412, 415, 422, 428, 429, "5xx"]

[checks.missing_required_header]
expected-statuses = [400, 401, 403, 406, 415, 422, 428]

# A list and a client that exist, so their operations get past the 404.
[parameters]
"path.list_id" = "{list_id}"
"path.client_id" = "{client_id}"
"""


def st_run(base_url: str, secret: str, workdir: Path, config: str) -> subprocess.CompletedProcess:
    (workdir / "schemathesis.toml").write_text(config)
    command = [
        *(str(ST), "--config-file", str(workdir / "schemathesis.toml"), "run"),
        *(f"{base_url}/api/v1/schema/", "--url", base_url),
        *("--header", f"Authorization: Api-Key {secret}"),
        *("--phases", "examples,coverage,fuzzing,stateful"),
        *("--checks", CHECKS, "--exclude-checks", EXCLUDED_CHECKS),
        *("--seed", "1", "--generation-database", "none"),
        *("--suppress-health-check", "too_slow", "--request-timeout", "300"),
        *("--workers", "1", "--no-color"),
    ]
    # The timeout only stops a hung run: a run takes a few minutes at most on a busy machine.
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=3600)


@pytest.fixture
def prompt_live_server(live_server, monkeypatch):
    """The live server, answering without Nagle's delay: on a kept-alive connection each
    response would otherwise wait ~40 ms for the client's delayed ACK (most of the run's time)."""
    server = live_server.thread.httpd
    accept = server.get_request

    def get_request():
        connection, address = accept()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address

    monkeypatch.setattr(server, "get_request", get_request)
    return live_server


def test_the_api_holds_to_its_schema_under_generated_input(
    prompt_live_server, world, alice, tmp_path, monkeypatch
):
    # Thousands of requests a minute from one key: no 429s in place of the answers.
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "1000000/minute"})
    run = SyncRun.objects.create(trigger="manual", status="partial", active=None)
    record = {"sobject": "Contact", "operation": "update", "fields": {"Id": "003X"}}
    Message.objects.create(code="SF_VALIDATION_RULE", summary="rule", run=run, record=record)
    Message.objects.create(code="CM_BAD_RECORD", summary="bad", severity="warning")
    _, secret = create_key("schemathesis", "full", alice)
    config = CONFIG.replace("{list_id}", world.list_a).replace(
        "{client_id}", world.client["ClientID"]
    )

    result = st_run(prompt_live_server.url, secret, tmp_path, config)

    print(result.stdout[-6000:])
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-2000:]
