"""Personas, as in healthchecks' hc/test.py: alice has Full access, bob is Standard (Sync now,
retry, read), carol is Limited (read-only), mallory is logged in with no role."""

import pytest

from security.roles import FULL, LIMITED, STANDARD

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True, scope="session")
def own_task_queue():
    """Tasks a test queues without a worker of its own go to a queue nobody reads, never to
    the default queue a `make run` worker on the same machine (and broker) takes from."""
    import uuid

    from cmsync.celery import app

    previous = app.conf.task_default_queue
    app.conf.task_default_queue = f"test-orphans-{uuid.uuid4().hex[:8]}"
    yield
    app.conf.task_default_queue = previous


@pytest.fixture(autouse=True, scope="session")
def insecure_loopback_allowed():
    """The emulators speak plain HTTP on 127.0.0.1: allow it, as `make run` does, here and in
    the processes tests start (workers, servers). Tests of the refusal turn it off."""
    from django.test import override_settings

    with pytest.MonkeyPatch.context() as patch, override_settings(ALLOW_INSECURE_LOOPBACK=True):
        patch.setenv("ALLOW_INSECURE_LOOPBACK", "1")
        yield


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Real hashing costs a quarter second a user; tests make many users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def own_cache(settings):
    """A cache of the test's own: the API's rate-limit counters (by user id, and test
    databases reuse ids) must not leak from one test, or one run, into the next."""
    import uuid

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"test-{uuid.uuid4().hex}",
        }
    }


def make_user(django_user_model, username: str, role: str = ""):
    """A console user with one of the three roles (Django groups), or none."""
    from security.roles import set_role

    user = django_user_model.objects.create_user(
        username=username, email=f"{username}@example.com", password=PASSWORD
    )
    set_role(user, role)
    return user


@pytest.fixture
def alice(django_user_model):
    return make_user(django_user_model, "alice", FULL)


@pytest.fixture
def bob(django_user_model):
    return make_user(django_user_model, "bob", STANDARD)


@pytest.fixture
def carol(django_user_model):
    return make_user(django_user_model, "carol", LIMITED)


@pytest.fixture
def mallory(django_user_model):
    return make_user(django_user_model, "mallory")


def _client_for(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(client, alice):
    return _client_for(client, alice)


@pytest.fixture
def bob_client(client, bob):
    return _client_for(client, bob)


@pytest.fixture
def carol_client(client, carol):
    return _client_for(client, carol)


@pytest.fixture
def mallory_client(client, mallory):
    return _client_for(client, mallory)


def _shared(emulator):
    """One emulator server for the session, reset to its seed before each test that uses it
    (as a new one would be, on the same port) and paused after it, so nothing it sends on
    its own (webhooks, Outbound Messages) reaches a later test. A new emulator a test cost
    a poll interval to stop."""
    emulator.reset()
    yield emulator
    emulator.pause()


@pytest.fixture(scope="session")
def cm_demo_server():
    from emulators.campaign_monitor import CampaignMonitorEmulator

    with CampaignMonitorEmulator(seed="demo") as emulator:
        yield emulator


@pytest.fixture(scope="session")
def cm_empty_server():
    from emulators.campaign_monitor import CampaignMonitorEmulator

    with CampaignMonitorEmulator(seed="empty") as emulator:
        yield emulator


@pytest.fixture(scope="session")
def sf_demo_server():
    from emulators.salesforce import SalesforceEmulator

    with SalesforceEmulator(seed="demo") as emulator:
        yield emulator


@pytest.fixture
def cm_emulator(cm_demo_server):
    """A freshly seeded Campaign Monitor emulator on a free port, over real HTTP."""
    yield from _shared(cm_demo_server)


@pytest.fixture
def cm_agency(cm_emulator) -> dict:
    return next(a for a in cm_emulator.info()["accounts"] if a["type"] == "agency")


@pytest.fixture
def cm_direct(cm_emulator) -> dict:
    return next(a for a in cm_emulator.info()["accounts"] if a["type"] == "direct")


def control(emulator, method: str, path: str, **kwargs):
    """Drive the emulator through its control surface (/_emulator/...)."""
    import requests

    response = requests.request(method, f"{emulator.root_url}/_emulator/{path}", **kwargs)
    response.raise_for_status()
    return response.json() if response.content else None


@pytest.fixture
def sf_emulator(sf_demo_server):
    """A freshly seeded Salesforce emulator on a free port, over real HTTP."""
    yield from _shared(sf_demo_server)


@pytest.fixture
def sf_gateway(sf_emulator):
    """A gateway signed in with the emulator's connected app (client credentials)."""
    from salesforce import auth
    from salesforce.gateway import SalesforceGateway

    info = sf_emulator.info()

    def sign_in() -> str:
        oauth = info["oauth"]
        return auth.client_credentials(
            info["login_url"], oauth["client_id"], oauth["client_secret"]
        ).access_token

    gateway = SalesforceGateway(info["instance_url"], sign_in(), refresh=sign_in)
    gateway.refreshes = 0
    return gateway


@pytest.fixture
def cm_empty(cm_empty_server):
    """Campaign Monitor with accounts, clients and lists but no subscribers."""
    yield from _shared(cm_empty_server)


@pytest.fixture
def world(cm_empty, sf_emulator, admin_user, settings):
    """cmsync connected to an empty Campaign Monitor client and the Salesforce emulator.

    The webhooks a primary sync registers point at a port where nothing listens (never at
    a `make run` console on this machine), unless a test serves cmsync itself (live_server)
    and sets CMSYNC_URL to it."""
    from .sync_world import World

    settings.CMSYNC_URL = "http://127.0.0.1:9"  # the discard port
    return World(cm_empty, sf_emulator, admin_user)


def _test_database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def celery_processes(transactional_db, settings):
    """Start real Celery processes (worker, beat) on the test database and a queue of the
    test's own, so no other worker on this machine takes its tasks."""
    import os
    import subprocess
    import sys
    import uuid
    from pathlib import Path

    from cmsync.celery import app

    queue = f"test-{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "SYNC_DISPATCH_SECONDS": "1",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = queue  # what this process queues goes to that worker
    root = Path(__file__).resolve().parent.parent
    started = []

    def start(*args: str, app: str = "cmsync", **more_env: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", app, *args],
            cwd=root,
            env={**env, **more_env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(process)
        return process

    yield start, queue
    app.conf.task_default_queue = previous
    for process in started:
        process.terminate()
    for process in started:
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:  # still busy: it must not write into the next test
            process.kill()
            output, _ = process.communicate()
        print(output[-3000:])


@pytest.fixture
def sync_worker(celery_processes):
    start, queue = celery_processes
    return start(
        "worker",
        "-Q",
        queue,
        "--pool",
        "solo",
        "-n",
        f"{queue}@%h",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "INFO",
    )
