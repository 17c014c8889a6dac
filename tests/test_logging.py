"""Structured logs: one line per request, per run step and per call to Campaign Monitor or
Salesforce, the run's id on every line of a run, JSON with LOG_FORMAT=json."""

import io
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from cmsync.logs import JsonFormatter, RedactSecrets, RunContext, TextFormatter
from sync import runner
from sync.models import SyncRun

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


class Capture(logging.Handler):
    """Records of this thread (the emulators answer in threads of their own), through the
    filters production's handler uses."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.thread = threading.get_ident()
        self.addFilter(RedactSecrets())
        self.addFilter(RunContext())

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.records.append(record)


@pytest.fixture
def captured():
    handler = Capture()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(previous)


def test_every_line_of_a_run_carries_its_id(world, captured):
    world.subscriber(world.list_a, "gone@example.com", "Unsubscribed")
    world.contact("gone@example.com")
    run, _ = runner.request_run(SyncRun.Trigger.MANUAL)
    captured.records.clear()
    runner.execute(run.pk)
    lines = captured.records
    assert len(lines) > 10
    assert {getattr(r, "run_id", None) for r in lines} == {run.pk}

    events = [getattr(r, "event", "") for r in lines]
    steps = [r for r in lines if getattr(r, "event", "") == "run_step"]
    names = [r.step for r in steps]
    assert {"discover", "subscribers", "opt_out", "tracking"} <= set(names)
    assert names.index("discover") < names.index("subscribers") < names.index("opt_out")
    subscribers = next(r for r in steps if r.step == "subscribers")
    assert subscribers.read == 1 and subscribers.seconds >= 0
    calls = [r for r in lines if getattr(r, "event", "") == "external_call"]
    assert {r.service for r in calls} == {"campaign_monitor", "salesforce"}
    assert all(isinstance(r.status, int) and r.ms >= 0 and "?" not in r.path for r in calls)
    assert events[-1] == "run_finished" and lines[-1].status == "succeeded"
    # Outside the run, no run id.
    captured.records.clear()
    logging.getLogger("cmsync").info("after")
    assert captured.records[0].run_id is None


def test_json_lines_parse_and_text_lines_are_readable(world, captured):
    run = world.sync()
    json_lines = [JsonFormatter().format(r) for r in captured.records]
    parsed = [json.loads(line) for line in json_lines]
    assert all(line.count("\n") == 0 for line in json_lines)
    step = next(p for p in parsed if p.get("event") == "run_step")
    assert step["run_id"] == run.pk and step["level"] == "INFO" and step["logger"] == "sync.context"
    assert {"time", "message", "step", "read", "written", "failed"} <= set(step)
    text = TextFormatter().format(next(r for r in captured.records if r.msg.endswith("done")))
    assert f"sync.context [run {run.pk}] Primary sync step " in text and "event=run_step" in text


def test_one_line_per_request_without_secrets(alice_client, captured):
    from django.test import Client

    alice_client.get("/sync/")
    refused = Client().post("/sync/outbound/a-secret-in-the-url/", "<x/>", "text/xml")
    requests = [r for r in captured.records if getattr(r, "event", "") == "request"]
    assert [(r.method, r.path, r.status) for r in requests] == [
        ("GET", "/sync/", 200),
        ("POST", "/sync/outbound/[redacted]/", refused.status_code),
    ]
    assert requests[0].user_id is not None and requests[1].user_id is None
    assert all("a-secret-in-the-url" not in JsonFormatter().format(r) for r in captured.records)


def test_log_format_json_is_what_the_settings_configure():
    """A process started with LOG_FORMAT=json writes JSON lines (as docker-compose sets)."""
    env = {**os.environ, "LOG_FORMAT": "json"}
    code = "import logging; logging.getLogger('cmsync').warning('hello %s', 'there')"
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = next(x for x in done.stderr.splitlines() if "hello" in x)
    assert json.loads(line) | {"time": ""} == {
        "time": "",
        "level": "WARNING",
        "logger": "cmsync",
        "message": "hello there",
        "run_id": None,
    }


def test_a_broken_line_is_written_not_raised():
    record = logging.makeLogRecord({"msg": "%d", "args": ("x",), "name": "x"})
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets())
    assert RedactSecrets().filter(record) is True
