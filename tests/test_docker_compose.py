"""docker-compose.yml's production profile, checked as data (docker compose is not installed
here): every service has a healthcheck using cmsync's health endpoints or command, the
worker scales (no fixed container name or host port), no emulator is in it, and every
variable it passes to cmsync is documented in the README."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_the_production_services_are_all_there_and_no_emulator():
    assert set(SERVICES) == {"postgres", "redis", "web", "worker", "beat"}
    text = (ROOT / "docker-compose.yml").read_text()
    assert "emulator" not in text and "ALLOW_INSECURE_LOOPBACK" not in text


def _test(service: str) -> str:
    check = SERVICES[service]["healthcheck"]
    assert check["test"][0] in ("CMD", "CMD-SHELL")
    assert check["interval"] and check["retries"] >= 1
    return " ".join(check["test"][1:])


def test_every_service_has_a_healthcheck_using_cmsyncs_own():
    assert "http://127.0.0.1:8000/health/ready" in _test("web")
    assert _test("worker") == "python manage.py health --worker"
    assert _test("beat") == "python manage.py health --beat"
    assert "pg_isready" in _test("postgres") and "ping" in _test("redis")


def test_the_worker_can_be_scaled():
    worker = SERVICES["worker"]
    assert "container_name" not in worker and "ports" not in worker and "hostname" not in worker
    assert worker["command"].startswith("celery -A cmsync worker")
    assert "container_name" not in SERVICES["beat"]


def test_workers_and_beat_start_once_web_is_ready():
    for name in ("worker", "beat"):
        assert SERVICES[name]["depends_on"]["web"]["condition"] == "service_healthy"
    assert SERVICES["web"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_every_variable_is_passed_and_documented():
    env = SERVICES["web"]["environment"]
    assert SERVICES["worker"]["environment"] == env == SERVICES["beat"]["environment"]
    assert env["LOG_FORMAT"] == "${LOG_FORMAT:-json}"
    for name in ("SENTRY_DSN", "METRICS_TOKEN", "METRICS_ALLOWED_IPS", "LOG_LEVEL"):
        assert name in env
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z_]+)`", readme, re.MULTILINE))
    documented |= set(re.findall(r"`([A-Z_]{4,})`", readme))
    assert set(env) - {"STATIC_MANIFEST"} <= documented, set(env) - documented
