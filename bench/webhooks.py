"""Campaign Monitor → Salesforce as it happens: how long from an unsubscribe in Campaign
Monitor to HasOptedOutOfEmail written in Salesforce through cmsync's list webhooks, and how
long a burst of unsubscribes takes.

    .venv/bin/python -m bench.webhooks [--samples 20] [--burst 10000] [--redis]

Real parts: both emulators over HTTP, cmsync's web app serving the webhook endpoint (a
threaded WSGI server), a real Celery worker process, and the broker `make run` uses (the
filesystem transport; `--redis` uses REDIS_URL or redis://127.0.0.1:6379/15 instead).

- Delay: one unsubscribe at a time (the API's unsubscribe call); the emulator posts the
  event, cmsync stores it and queues a run; the worker writes Salesforce. Measured: the
  unsubscribe call → the Contact shows HasOptedOutOfEmail (read every 20 ms).
- Burst: N subscribers unsubscribed while the emulator holds its deliveries, then released
  (Campaign Monitor sends them in POSTs of 1000). Measured: release → every Contact opted
  out; and the Salesforce write calls it took (sObject Collections of 200).
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

from bench import changes
from bench.changes import ROOT, _QuietHandler, _ThreadingServer, summary, wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def setup_django(var_dir: str, broker: str, port: int) -> None:
    """bench.changes' setup, with the console's address (which the webhooks point at) on
    ``port`` and plain HTTP allowed on this machine."""
    os.environ["CMSYNC_URL"] = f"http://127.0.0.1:{port}"
    os.environ["ALLOW_INSECURE_LOOPBACK"] = "1"
    changes.setup_django(var_dir, broker)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--redis", action="store_true")
    args = parser.parse_args()
    broker = ""
    if args.redis:
        broker = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="cmsync-bench-") as var_dir:
        setup_django(var_dir, broker, port)
        run(args, port)


def run(args, port: int) -> None:
    from wsgiref.simple_server import make_server

    from django.contrib.auth import get_user_model
    from django.core.wsgi import get_wsgi_application

    from campaign_monitor.connection import connect
    from campaign_monitor.models import Connection
    from campaign_monitor.records import NewSubscriber
    from emulators.campaign_monitor import CampaignMonitorEmulator
    from emulators.salesforce import SalesforceEmulator
    from salesforce.connection import check_schema, connect_client_credentials
    from sync import cm_events, runner
    from sync.models import SyncRun

    cm = CampaignMonitorEmulator(seed="empty").start()
    sf = SalesforceEmulator(seed="empty", daily_limit=10_000_000).start()
    web = make_server(
        "127.0.0.1", port, get_wsgi_application(), _ThreadingServer, handler_class=_QuietHandler
    )
    threading.Thread(target=web.serve_forever, daemon=True).start()
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "cmsync", "worker", "--pool", "solo",
         "-Q", os.environ["CELERY_TASK_DEFAULT_QUEUE"], "--without-gossip",
         "--without-mingle", "--loglevel", "WARNING"],
        cwd=ROOT, env={**os.environ}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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
        check_schema(sf_connection, install=True)  # schema and the sync user's grants
        api = Connection.current().api()
        broker_name = "Redis" if args.redis else "filesystem (as make run)"
        print(f"broker: {broker_name}; emulators and web on 127.0.0.1; worker: 1 process")

        # Everyone subscribed and in Salesforce, read by a primary sync, which also
        # registers the webhooks.
        emails = {
            "delay": [f"delay{n}@example.com" for n in range(args.samples)],
            "burst": [f"burst{n}@example.com" for n in range(args.burst)],
        }
        ids = {}
        for tag, group in emails.items():
            api.import_subscribers(list_id, [NewSubscriber(e) for e in group])
            for start in range(0, len(group), 200):
                chunk = group[start : start + 200]
                rows = [{"LastName": tag, "Email": e} for e in chunk]
                for email, result in zip(chunk, gateway.create("Contact", rows), strict=True):
                    ids[email] = result.id
        started = time.monotonic()
        run, _ = runner.request_run(SyncRun.Trigger.MANUAL, send=False)
        run = runner.execute(run.pk)
        hooks = [h for h in cm.webhooks() if h["Status"] == "Active"]
        print(f"primary sync of {len(ids)} subscribers: {run.status} in "
              f"{time.monotonic() - started:.1f} s; webhooks registered: {len(hooks)}")  # fmt: skip

        def opted_out(email: str) -> bool:
            soql = f"SELECT HasOptedOutOfEmail FROM Contact WHERE Id = '{ids[email]}'"
            return next(iter(gateway.query(soql)))["HasOptedOutOfEmail"]

        delays = []
        for email in emails["delay"]:
            started = time.monotonic()
            api.unsubscribe(list_id, email)
            wait_until(lambda e=email: opted_out(e), timeout=120)
            delays.append(time.monotonic() - started)
        summary("Unsubscribe in CM → Salesforce write", delays)

        if args.burst:
            wait_until(lambda: cm_events.pending() == 0, timeout=120)
            cm.pause_webhooks()
            started = time.monotonic()
            for email in emails["burst"]:
                cm.set_subscriber(list_id=list_id, email=email, state="Unsubscribed")
            queued = time.monotonic() - started
            sf.reset_request_counts()
            started = time.monotonic()
            cm.resume_webhooks()
            count = (
                "SELECT COUNT() FROM Contact WHERE LastName = 'burst' AND HasOptedOutOfEmail = true"
            )
            wait_until(lambda: gateway.count(count) == args.burst, timeout=900, every=0.25)
            seconds = time.monotonic() - started
            calls = sf.request_counts().get("PATCH /composite/sobjects", 0)
            print(f"Burst: {args.burst} unsubscribes (made in {queued:.1f} s, held) → all "
                  f"written in Salesforce: {seconds:.1f} s after release "
                  f"({args.burst / seconds:.0f}/s)")  # fmt: skip
            print(f"  Salesforce opt-out writes: {calls} calls for {args.burst} Contacts "
                  f"({args.burst / max(calls, 1):.0f} per call); webhook POSTs: "
                  f"{sum(1 for d in cm.webhook_deliveries() if d['events'] > 1)}")  # fmt: skip
            runs = SyncRun.objects.filter(kind=SyncRun.Kind.CM_EVENTS)
            print(f"  runs of 'Campaign Monitor changes': {runs.count()} "
                  f"({', '.join(sorted({r.status for r in runs}))})")  # fmt: skip
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        web.shutdown()
        sf.stop()
        cm.stop()


if __name__ == "__main__":
    main()
