"""Sentry only with SENTRY_DSN: an unexpected error in a run reaches it (a local HTTP server
standing in for Sentry, through the SDK's real HTTP transport) tagged with the run's id;
without a DSN the SDK is not even imported."""

import gzip
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sentry_sdk

from cmsync.errors import init_sentry
from sync import runner
from sync.models import SyncRun

from .test_sync_celery import wait_for

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


class FakeSentry(ThreadingHTTPServer):
    """Takes the SDK's envelopes (POST /api/<project>/envelope/) and keeps their items."""

    def __init__(self) -> None:
        self.items: list[dict] = []
        self.headers_seen: list[dict] = []
        super().__init__(("127.0.0.1", 0), _Handler)
        self.dsn = f"http://publickey@127.0.0.1:{self.server_address[1]}/42"
        threading.Thread(target=self.serve_forever, daemon=True).start()


class _Handler(BaseHTTPRequestHandler):
    server: FakeSentry

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        encoding = self.headers.get("Content-Encoding", "")
        assert encoding in ("", "gzip"), f"cannot read {encoding}"
        if encoding == "gzip":
            body = gzip.decompress(body)
        self.server.headers_seen.append(dict(self.headers))
        for line in body.splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict):
                self.server.items.append(item)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def fake_sentry():
    server = FakeSentry()
    init_sentry(server.dsn, "test")
    yield server
    sentry_sdk.get_client().close(timeout=2)
    sentry_sdk.get_global_scope().set_client(None)
    server.shutdown()


def test_an_unexpected_error_in_a_run_arrives_tagged_with_the_run_id(
    world, fake_sentry, monkeypatch
):
    def broken(ctx) -> None:
        raise RuntimeError("a bug in a step")

    monkeypatch.setitem(runner.BODIES, "primary", runner.Body(broken))
    run, _ = runner.request_run(SyncRun.Trigger.MANUAL)
    done = runner.execute(run.pk)
    assert done.status == "failed" and "a bug in a step" in done.last_error
    sentry_sdk.flush(timeout=5)

    def the_event():
        return next((i for i in fake_sentry.items if i.get("tags", {}).get("run_id")), None)

    event = wait_for(the_event, seconds=15)
    assert event["tags"]["run_id"] == str(run.pk)
    assert event["contexts"]["run"] == {"id": run.pk}
    assert "a bug in a step" in json.dumps(event)
    assert event["environment"] == "test"
    assert "user" not in event  # send_default_pii is off
    assert fake_sentry.headers_seen[0]["X-Sentry-Auth"].startswith("Sentry sentry_key=publickey")


def test_an_error_outside_a_run_has_no_run_tag(fake_sentry):
    import logging

    logging.getLogger("cmsync").error("outside any run")
    sentry_sdk.flush(timeout=5)
    event = wait_for(
        lambda: next((i for i in fake_sentry.items if i.get("logentry")), None), seconds=15
    )
    assert "run_id" not in event.get("tags", {})


def _sentry_state(**env: str) -> str:
    code = "import sys, sentry_sdk as s; print(s.is_initialized())"
    code = "import sys; m = 'sentry_sdk' in sys.modules; " + code.replace("print(", "print(m, ")
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env={**{k: v for k, v in os.environ.items() if k != "SENTRY_DSN"}, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout.strip().splitlines()[-1]


def test_without_a_dsn_the_sdk_is_not_even_imported():
    assert _sentry_state() == "False False"
    assert _sentry_state(SENTRY_DSN="http://k@127.0.0.1:9/1") == "True True"
