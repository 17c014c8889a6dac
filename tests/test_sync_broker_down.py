"""Sync now while the broker (a Redis of this test's own) is down: a plain error, no run stuck
as "queued" for ever, and the run starts by itself once the broker is back."""

import socket
import subprocess

import pytest
from django.urls import reverse

from cmsync.celery import app
from sync.models import SyncRun

from .test_sync_celery import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class OwnRedis:
    """A redis-server this test starts and stops at will, on a port of its own."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        wait_for(lambda: _answers(self.port), seconds=30)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)
            self.process = None


def _use_broker(url: str) -> None:
    """Point this process's Celery app at a broker, dropping its pooled connections."""
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def own_broker(monkeypatch):
    redis = OwnRedis()
    redis.start()
    previous = app.conf.broker_url
    monkeypatch.setenv("CELERY_BROKER_URL", redis.url)  # for the worker and beat processes
    _use_broker(redis.url)
    yield redis
    _use_broker(previous)
    redis.stop()


def test_sync_now_with_the_broker_down_answers_plainly_and_starts_once_it_is_back(
    own_broker, world, celery_processes, alice_client, tmp_path
):
    world.subscriber(world.list_a, "back@example.com", "Unsubscribed")
    contact = world.contact("back@example.com")
    own_broker.stop()

    page = alice_client.post(reverse("sync-now"), follow=True).content.decode()
    assert "could not reach its task queue" in page
    assert "Server Error" not in page
    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.QUEUED and run.enqueued_at is None

    # Pressed again, it does not pretend a sync is on its way.
    page = alice_client.post(reverse("sync-now"), follow=True).content.decode()
    assert "could not reach its task queue" in page
    assert "already queued" not in page
    assert SyncRun.objects.count() == 1

    own_broker.start()
    start, queue = celery_processes
    start("worker", "-Q", queue, "--pool", "solo", "-n", f"{queue}@%h")
    start("beat", "--schedule", str(tmp_path / "beat-schedule"), "--loglevel", "INFO")

    finished = wait_for(
        lambda: SyncRun.objects.filter(pk=run.pk, status__in=["succeeded", "failed"]).first(),
        seconds=120,
    )
    assert finished.status == SyncRun.Status.SUCCEEDED, finished.last_error
    assert world.opted_out(contact) is True
    assert SyncRun.objects.count() == 1
