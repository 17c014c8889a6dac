"""Salesforce → Campaign Monitor: how long from an Email Opt Out ticked in Salesforce to the
subscriber being unsubscribed in Campaign Monitor, with an Outbound Message and with the poll.

    .venv/bin/python -m bench.changes [--samples 10] [--bulk 1000] [--redis]

Real parts: both emulators over HTTP, cmsync's web app serving the Outbound Message endpoint
(a threaded WSGI server), a real Celery worker process, and the broker `make run` uses (the
filesystem transport; `--redis` uses REDIS_URL or redis://127.0.0.1:6379/15 instead).

- Outbound Message: the emulator posts the message when the record is saved; cmsync stores
  it, queues a run; the worker unsubscribes. Measured: save → Campaign Monitor shows it.
- Poll: the beat tick that polls is not waited for (it comes every "check every N minutes",
  default 5, so on average N/2 later). Measured: the tick's own poll → unsubscribed.
- Bulk: N contacts ticked in one go (collections of 200), then one poll: throughput.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from emulators.quiet import QuietDisconnects

ROOT = Path(__file__).resolve().parent.parent


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


class _ThreadingServer(QuietDisconnects, ThreadingMixIn, WSGIServer):
    daemon_threads = True


def setup_django(var_dir: str, broker: str) -> None:
    os.environ["CMSYNC_VAR_DIR"] = var_dir
    os.environ["DJANGO_SETTINGS_MODULE"] = "cmsync.settings"
    os.environ["CELERY_TASK_DEFAULT_QUEUE"] = f"bench-{uuid.uuid4().hex[:8]}"
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    if broker:
        os.environ["CELERY_BROKER_URL"] = broker
    else:
        os.environ.pop("CELERY_BROKER_URL", None)
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def wait_until(condition, timeout: float = 120.0, every: float = 0.02) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError("gave up waiting")
        time.sleep(every)
    return time.monotonic() - started


def summary(label: str, seconds: list[float]) -> None:
    ordered = sorted(seconds)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    print(f"{label:44} median {statistics.median(ordered):6.2f} s   p95 {p95:6.2f} s   "
          f"max {ordered[-1]:6.2f} s   (n={len(ordered)})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--bulk", type=int, default=1000)
    parser.add_argument("--redis", action="store_true")
    args = parser.parse_args()
    broker = ""
    if args.redis:
        broker = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
    with tempfile.TemporaryDirectory(prefix="cmsync-bench-") as var_dir:
        setup_django(var_dir, broker)
        run(args, var_dir)


def run(args, var_dir: str) -> None:
    from django.contrib.auth import get_user_model
    from django.core.wsgi import get_wsgi_application

    from campaign_monitor.connection import connect
    from campaign_monitor.models import Connection
    from emulators.campaign_monitor import CampaignMonitorEmulator
    from emulators.salesforce import SalesforceEmulator
    from salesforce.connection import connect_client_credentials
    from sync import change_poll, inbox, outbound

    cm = CampaignMonitorEmulator(seed="empty").start()
    sf = SalesforceEmulator(seed="empty").start()
    web = make_server(
        "127.0.0.1", 0, get_wsgi_application(), _ThreadingServer, handler_class=_QuietHandler
    )
    threading.Thread(target=web.serve_forever, daemon=True).start()
    env = {**os.environ}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "cmsync", "worker", "--pool", "solo",
         "-Q", os.environ["CELERY_TASK_DEFAULT_QUEUE"], "--without-gossip",
         "--without-mingle", "--loglevel", "WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        agency = next(a for a in cm.info()["accounts"] if a["type"] == "agency")
        client = agency["clients"][0]
        list_id = client["lists"][0]["ListID"]
        connect(base_url=cm.base_url, api_key=agency["api_key"], client_ids=[client["ClientID"]])
        admin = get_user_model().objects.create_superuser("bench", password="bench-password-1")
        oauth = sf.info()["oauth"]
        sf_connection = connect_client_credentials(
            admin, sf.info()["login_url"], oauth["client_id"], oauth["client_secret"]
        )
        gateway = sf_connection.gateway()
        api = Connection.current().api()
        broker_name = "Redis" if args.redis else "filesystem (as make run)"
        print(f"broker: {broker_name}; emulators and web on 127.0.0.1; worker: 1 process")

        def person(n: int, tag: str) -> tuple[str, str]:
            email = f"{tag}{n}@example.com"
            cm.set_subscriber(list_id=list_id, email=email, state="Active", date=cm.now())
            (result,) = gateway.create("Contact", [{"LastName": tag, "Email": email}])
            return result.id, email

        def state(email: str) -> str:
            return api.get(f"subscribers/{list_id}.json", {"email": email})["State"]

        people = {tag: [person(n, tag) for n in range(args.samples)] for tag in ("om", "poll")}
        change_poll.poll()  # the baseline
        change_poll.poll()  # drain the creations
        wait_until(lambda: inbox.pending() == 0)

        secret = outbound.new_secret()
        url = f"http://127.0.0.1:{web.server_port}/sync/outbound/{secret}/"
        sf.add_outbound_message(url, "Contact", ["Email", "HasOptedOutOfEmail", "SystemModstamp"])
        om = []
        for record_id, email in people["om"]:
            started = time.monotonic()
            gateway.update("Contact", [{"Id": record_id, "HasOptedOutOfEmail": True}])
            wait_until(lambda e=email: state(e) == "Unsubscribed")
            om.append(time.monotonic() - started)
        sf.remove_outbound_messages()
        summary("Outbound Message: save → unsubscribed", om)

        polled = []
        for record_id, email in people["poll"]:
            gateway.update("Contact", [{"Id": record_id, "HasOptedOutOfEmail": True}])
            started = time.monotonic()
            change_poll.poll()  # what the due beat tick does
            wait_until(lambda e=email: state(e) == "Unsubscribed")
            polled.append(time.monotonic() - started)
        summary("Poll: the tick's poll → unsubscribed", polled)
        print("  + the wait for that tick: 0 to N minutes (N = 'check every', default 5)")

        if args.bulk:
            bulk = [person(n, "bulk") for n in range(args.bulk)]
            change_poll.poll()
            wait_until(lambda: inbox.pending() == 0, timeout=600)
            started = time.monotonic()
            for i in range(0, len(bulk), 200):
                gateway.update(
                    "Contact",
                    [{"Id": rid, "HasOptedOutOfEmail": True} for rid, _ in bulk[i : i + 200]],
                )
            change_poll.poll()
            last = bulk[-1][1]
            wait_until(lambda: inbox.pending() == 0 and state(last) == "Unsubscribed", 900)
            seconds = time.monotonic() - started
            print(f"Bulk: {args.bulk} opt-outs ticked → all unsubscribed: {seconds:.1f} s "
                  f"({args.bulk / seconds:.0f}/s)")  # fmt: skip
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        web.shutdown()
        sf.stop()
        cm.stop()


if __name__ == "__main__":
    main()
