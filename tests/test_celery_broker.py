"""One task through the real broker (Redis in CI, the embedded broker locally) to a real
worker process and back. Everything else calls task functions directly."""

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from cmsync.celery import app, ping

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def worker():
    """A worker in its own process, on a queue of its own so no other worker steals the task."""
    queue = f"test-{uuid.uuid4().hex[:12]}"
    args = [sys.executable, "-m", "celery", "-A", "cmsync", "worker", "-Q", queue]
    args += ["--pool", "solo", "-n", f"{queue}@%h", "--without-gossip", "--without-mingle"]
    process = subprocess.Popen(
        args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    yield process, queue
    process.terminate()
    output, _ = process.communicate(timeout=30)
    print(output)


@pytest.mark.broker
def test_a_task_goes_through_the_broker_to_a_worker_and_back(worker):
    process, queue = worker
    result = ping.apply_async(args=["hello"], queue=queue)
    reply = result.get(timeout=60)
    assert reply["payload"] == "hello"
    assert reply["pid"] == process.pid  # it ran in the worker, not in this test process
    assert result.successful()


def test_the_broker_is_the_one_configured():
    expected = settings.REDIS_URL or "filesystem://"
    assert app.conf.broker_url == expected
    assert app.conf.task_acks_late is True
