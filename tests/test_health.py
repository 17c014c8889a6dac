"""Health for load balancers, orchestrators and scripts: /health/live, /health/ready,
``manage.py health`` (with --beat and --worker), the Maintenance tab's health card, and the
heartbeats of real beat and worker processes."""

import io
import json
import subprocess
import time
from datetime import timedelta

import pytest
import redis
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from cmsync.celery import app
from maintenance import heartbeats
from maintenance.models import AlertSettings, Heartbeat, Message

from .test_sync_broker_down import _free_port, _use_broker
from .test_sync_celery import wait_for

pytestmark = pytest.mark.django_db

PASSWORD = "broker-pass-never-shown-42"


class PasswordRedis:
    """A redis-server of this test's own that asks for a password, so a URL with
    credentials is what the checks connect with."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"redis://:{PASSWORD}@127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--requirepass", PASSWORD],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, password=PASSWORD, socket_timeout=1)
        wait_for(lambda: _pings(client), seconds=30)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture
def own_redis(settings):
    server = PasswordRedis()
    previous = app.conf.broker_url, app.conf.broker_transport_options
    settings.CELERY_BROKER_URL = server.url  # the checks' list of secrets to keep out
    app.conf.broker_transport_options = {}
    _use_broker(server.url)
    yield server
    app.conf.broker_transport_options = previous[1]
    _use_broker(previous[0])
    server.kill()


def test_live_answers_anyone_with_no_session_and_ready_is_ok(client, django_assert_num_queries):
    with django_assert_num_queries(0):  # no session, no user: the process answers, that's all
        live = client.get("/health/live")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    assert "Set-Cookie" not in live.headers and "no-cache" in live["Cache-Control"]
    ready = client.get("/health/ready")
    assert ready.status_code == 200, ready.json()
    body = ready.json()
    assert body["status"] == "ok" and body["failed"] == []
    assert set(body["checks"]) == {"database", "migrations", "broker", "cache"}


def test_probes_answer_a_host_name_not_in_allowed_hosts_and_plain_http(client, settings):
    """Orchestrators probe by IP address, over plain HTTP inside the network."""
    settings.ALLOWED_HOSTS = ["cmsync.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/health/live", HTTP_HOST="10.0.0.7:8000").status_code == 200
    assert client.get("/health/ready", HTTP_HOST="10.0.0.7:8000").status_code == 200
    assert client.get("/sync/", HTTP_HOST="10.0.0.7:8000").status_code == 400  # the rest: not


def test_ready_names_the_broker_when_it_is_down_quickly_and_without_its_password(
    client, own_redis, settings
):
    settings.HEALTH_TIMEOUT_SECONDS = 2
    assert client.get("/health/ready").status_code == 200
    own_redis.kill()

    started = time.monotonic()
    ready = client.get("/health/ready")
    took = time.monotonic() - started
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "fail" and body["failed"] == ["broker"]
    assert body["checks"]["broker"]["ok"] is False and body["checks"]["broker"]["error"]
    assert body["checks"]["database"]["ok"] is True
    assert PASSWORD not in ready.text
    assert took < 10, f"{took:.1f} s for a dead broker"
    assert client.get("/health/live").status_code == 200  # the process itself is fine

    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("health", stdout=out)
    assert exit_.value.code == 1
    lines = out.getvalue().splitlines()
    assert any(line.startswith("FAIL broker: ") for line in lines), lines
    assert any(line.startswith("ok   database: ") for line in lines), lines
    assert PASSWORD not in out.getvalue()


def test_a_timed_out_check_is_named_and_the_answer_still_comes_back(client, settings, monkeypatch):
    from cmsync import health

    settings.HEALTH_TIMEOUT_SECONDS = 0.5
    gate = __import__("threading").Event()
    monkeypatch.setitem(health.CHECKS, "cache", lambda: gate.wait(5))
    started = time.monotonic()
    ready = client.get("/health/ready")
    gate.set()
    assert ready.status_code == 503 and ready.json()["failed"] == ["cache"]
    assert "no answer within 0.5 seconds" in ready.json()["checks"]["cache"]["error"]
    assert time.monotonic() - started < 3


def test_credentials_in_an_error_are_cut_out():
    from cmsync.health import clean

    text = clean("Error connecting to redis://:hunter2secret@10.0.0.1:6379/0 (password=abc123)")
    assert "hunter2secret" not in text and "abc123" not in text
    assert "redis://10.0.0.1:6379/0" in text


def test_manage_py_health_passes_and_prints_one_line_per_check():
    out = io.StringIO()
    call_command("health", stdout=out)  # no SystemExit: exit status 0
    lines = out.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "ok   database",
        "ok   migrations",
        "ok   broker",
        "ok   cache",
    ]


def _health(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("health", *args, stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_manage_py_health_beat_and_worker_follow_the_heartbeats():
    now = timezone.now()
    assert _health("--beat") == (
        1,
        "FAIL beat: Celery beat has never ticked: scheduled syncs do not start.\n",
    )
    heartbeats.stamp("beat", now - timedelta(seconds=30))
    code, out = _health("--beat")
    assert code == 0 and out.startswith("ok   beat: last tick ")
    heartbeats.stamp("beat", now - timedelta(minutes=4))
    code, out = _health("--beat")
    assert code == 1 and "has not ticked since" in out

    host = heartbeats.this_host()
    assert _health("--worker")[0] == 1
    heartbeats.stamp(f"worker:celery@{host}", now - timedelta(seconds=20))
    assert _health("--worker") == (0, f"ok   worker: celery@{host}\n")
    assert _health("--worker", "celery@elsewhere")[0] == 1
    heartbeats.stamp(f"worker:celery@{host}", now - timedelta(minutes=3))
    assert _health("--worker")[0] == 1


def test_the_maintenance_card_shows_a_stale_beat_and_no_worker_as_problems(alice_client):
    heartbeats.stamp("beat", timezone.now() - timedelta(minutes=5))
    page = alice_client.get("/maintenance/").text
    assert '<strong class="problem">Problem:</strong> Celery beat has not ticked since' in page
    assert "No Celery worker is consuming tasks" in page
    assert 'id="health-broker">reachable' in page and 'id="health-database">reachable' in page

    heartbeats.stamp("beat")
    heartbeats.stamp("worker:celery@box-1")
    page = alice_client.get("/maintenance/").text
    assert "Problem:" not in page
    assert "1 consuming: <code>celery@box-1</code>" in page


def test_a_silent_beat_and_no_worker_are_alerted_once_per_outage(alice, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    alerts = AlertSettings.get_solo()
    alerts.recipients.set([alice])
    now = timezone.now()
    heartbeats.stamp("beat", now - timedelta(minutes=4))
    heartbeats.stamp("worker:celery@box-1", now - timedelta(minutes=10))

    assert heartbeats.alert_if_silent(now) == ["BEAT_STOPPED", "NO_WORKER"]
    assert heartbeats.alert_if_silent(now) == []  # the same outage: said once
    assert set(Message.objects.values_list("code", flat=True)) == {"BEAT_STOPPED", "NO_WORKER"}
    subjects = sorted(m.subject for m in mail.outbox)
    assert subjects == ["cmsync: Celery beat has stopped", "cmsync: No Celery worker is running"]
    assert mail.outbox[0].to == [alice.email]

    # Beat comes back, then stops again later: a new outage, a new alert.
    heartbeats.stamp("beat", now + timedelta(minutes=1))
    assert heartbeats.alert_if_silent(now + timedelta(minutes=2)) == []
    assert heartbeats.alert_if_silent(now + timedelta(minutes=6)) == ["BEAT_STOPPED"]


@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_real_beat_and_worker_stamp_their_heartbeats(celery_processes, sync_worker, tmp_path):
    start, queue = celery_processes
    start("beat", "--schedule", str(tmp_path / "beat-schedule"), "--loglevel", "INFO")
    wait_for(lambda: Heartbeat.objects.filter(name="beat").exists(), seconds=90)
    worker = wait_for(
        lambda: Heartbeat.objects.filter(name__startswith=f"worker:{queue}@").first(), seconds=90
    )
    assert timezone.now() - worker.seen_at < timedelta(minutes=1)
    node = worker.name.removeprefix("worker:")
    assert _health("--beat")[0] == 0
    assert _health("--worker", node) == (0, f"ok   worker {node}: alive\n")
    assert _health("--worker")[0] == 0  # a worker on this host


def test_health_answers_json_that_parses_and_never_a_login_page(client):
    for path in ("/health/live", "/health/ready"):
        response = client.get(path)
        assert response["Content-Type"] == "application/json"
        json.loads(response.content)
