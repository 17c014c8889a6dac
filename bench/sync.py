"""The primary sync against both emulators: a first full sync, an incremental one after 1% of
subscribers changed, and one with nothing changed. Prints wall time, records/s, peak RSS,
the API calls next to their lower bound (for Salesforce: the calls sObject Collections alone
would need), and the Bulk API 2.0 jobs and records the run used (SALESFORCE_BULK_THRESHOLD
sets where the gateway switches; set it very high to measure Collections alone).

    .venv/bin/python -m bench.sync [--subscribers 10000 100000] [--workers 1 2 4]

``--workers N`` runs each sync through N real Celery worker processes (solo pool) on a
redis-server the bench starts on a port of its own, sharing the bench's SQLite database: the
run's own worker coordinates and every worker takes its lists and campaigns (sync/spread.py,
SYNC_PARALLEL_ITEMS set to N). It prints each worker's peak RSS. Without it the sync runs in
the bench's own process, as before.

Scenario: N subscribers over 5 lists, 20 sent campaigns, 3 events per subscriber (each
subscriber receives one campaign). The emulators run in a separate process (bench/
emulator_host.py) so the RSS printed is cmsync's own.
"""

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django(var_dir: str, redis_url: str = "", workers: int = 0) -> None:
    os.environ["CMSYNC_VAR_DIR"] = var_dir
    os.environ["DJANGO_SETTINGS_MODULE"] = "cmsync.settings"
    os.environ["ALLOW_INSECURE_LOOPBACK"] = "1"  # the emulators speak plain HTTP on 127.0.0.1
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        os.environ.pop(name, None)
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
        os.environ["CELERY_TASK_DEFAULT_QUEUE"] = f"bench-{os.getpid()}"
    if workers:
        os.environ["SYNC_PARALLEL_ITEMS"] = str(workers)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cm_lower_bound(info: dict, client: dict) -> int:
    """One call per 1000 records of each stream, one per empty stream, plus the fixed reads."""
    import requests

    key = next(a for a in info["accounts"] if a["type"] == "agency")["api_key"]
    base = info["base_url"]

    def total(path: str, **params) -> int:
        answer = requests.get(f"{base}/{path}", params={"pagesize": 10, **params}, auth=(key, "x"))
        return answer.json()["TotalNumberOfRecords"]

    calls = 2  # systemdate, lists
    for mailing_list in client["lists"]:
        calls += 1  # the list's webhooks (the primary sync's check)
        for state in ("active", "unconfirmed", "unsubscribed", "bounced", "deleted"):
            calls += max(1, math.ceil(total(f"lists/{mailing_list['ListID']}/{state}.json") / 1000))
    client_id = client["ClientID"]
    campaigns = requests.get(
        f"{base}/clients/{client_id}/campaigns.json", params={"pagesize": 1000}, auth=(key, "x")
    ).json()["Results"]
    calls += max(1, math.ceil(len(campaigns) / 1000))
    for campaign in campaigns:
        cid = campaign["CampaignID"]
        calls += max(1, math.ceil(total(f"campaigns/{cid}/recipients.json") / 1000))
        for kind in ("opens", "clicks", "unsubscribes", "bounces"):
            calls += max(1, math.ceil(total(f"campaigns/{cid}/{kind}.json") / 1000))
    return calls


# Steps whose "written" counts local rows, not Salesforce records.
LOCAL_STEPS = ("subscribers", "suppressions", "discover", "webhooks", "campaigns")


def sf_lower_bound(run) -> int:
    """Through sObject Collections alone: one write per 200 records written to Salesforce,
    plus one read per 200 distinct emails per object (Contact, Lead). The subscribers step's
    "written" is local subscriber states, not Salesforce writes."""
    writes = sum(
        math.ceil(step.get("written", 0) / 200)
        for name, step in run.counts.items()
        if name not in LOCAL_STEPS
    )
    reads = 2 * math.ceil(run.counts.get("subscribers", {}).get("read", 0) / 200)
    return writes + reads


def bulk_stats(sf_root: str) -> dict:
    """The Salesforce emulator's Bulk API 2.0 counters: jobs by state, records processed."""
    import requests

    return requests.get(f"{sf_root}/_emulator/bulk").json()


def worker_rss_mb(workers: list) -> list[float]:
    """Each worker process's peak RSS so far (VmHWM)."""
    peaks = []
    for proc in workers:
        status = Path(f"/proc/{proc.pid}/status").read_text()
        kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
        peaks.append(kb / 1024)
    return peaks


def measure(label: str, sf_root: str, full: bool = False, workers: list | None = None) -> dict:
    from sync import runner
    from sync.models import SyncRun

    before = bulk_stats(sf_root)
    started = time.monotonic()
    if workers:
        run, _ = runner.request_run(SyncRun.Trigger.MANUAL, full=full)  # sent to the workers
        while SyncRun.objects.filter(pk=run.pk, active=True).exists():
            if not all(proc.poll() is None for proc in workers):
                raise SystemExit("bench: a worker died; see its log")
            time.sleep(0.2)
        run = SyncRun.objects.get(pk=run.pk)
    else:
        run, _ = runner.request_run(SyncRun.Trigger.MANUAL, full=full, send=False)
        run = runner.execute(run.pk)
    seconds = time.monotonic() - started
    after = bulk_stats(sf_root)
    records = sum(step.get("read", 0) for step in run.counts.values())
    return {
        "label": label,
        "run": run,
        "seconds": seconds,
        "records": records,
        "rate": records / seconds if seconds else 0,
        "rss": max(worker_rss_mb(workers)) if workers else peak_rss_mb(),
        "worker_rss": worker_rss_mb(workers) if workers else [],
        "bulk_jobs": sum(after["jobs"].values()) - sum(before["jobs"].values()),
        "bulk_records": after["records_processed"] - before["records_processed"],
    }


def change_one_percent(info: dict, client: dict, subscribers: int) -> int:
    import requests

    from emulators.campaign_monitor.seed import person

    root = info["base_url"].rsplit("/api/", 1)[0]
    lists = [m["ListID"] for m in client["lists"]]
    clock = requests.get(f"{root}/_emulator/clock").json()["now"]
    changed = 0
    for i in range(0, subscribers, 100):
        _, email = person(i + 1_000_000)
        requests.post(
            f"{root}/_emulator/subscribers",
            json={"ListID": lists[i % len(lists)], "EmailAddress": email, "State": "Unsubscribed",
                  "Date": clock},
        )  # fmt: skip
        changed += 1
    return changed


def start_workers(count: int, var_dir: str) -> list:
    """``count`` Celery workers (solo pool) on the bench's broker, queue and database."""
    queue = os.environ["CELERY_TASK_DEFAULT_QUEUE"]
    workers = []
    for n in range(count):
        log = open(Path(var_dir) / f"worker-{n + 1}.log", "w")  # noqa: SIM115
        workers.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "cmsync",
                    "worker",
                    "--pool",
                    "solo",
                    "-Q",
                    queue,
                    "-n",
                    f"bench{n + 1}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--loglevel",
                    "WARNING",
                ],
                cwd=ROOT,
                env=dict(os.environ),
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        )
    return workers


def bench(subscribers: int, workers: int = 0, var_dir: str = "") -> None:
    host = subprocess.Popen(
        [sys.executable, "-m", "bench.emulator_host", str(subscribers)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    seed_started = time.monotonic()
    info = json.loads(host.stdout.readline())
    seeded = time.monotonic() - seed_started
    print(f"\n== {subscribers:,} subscribers: emulators seeded in {seeded:.1f} s; "
          f"Salesforce people {info['people']}")  # fmt: skip
    procs = start_workers(workers, var_dir) if workers else []
    try:
        _bench(info, subscribers, procs)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
        host.stdin.close()
        host.wait(timeout=60)


def _bench(info: dict, subscribers: int, workers: list) -> None:
    import requests
    from django.contrib.auth import get_user_model

    from campaign_monitor.connection import connect
    from salesforce.connection import check_schema, connect_client_credentials
    from settings_app.models import SyncSettings

    agency = next(a for a in info["cm"]["accounts"] if a["type"] == "agency")
    client = agency["clients"][0]
    connect(base_url=info["cm"]["base_url"], api_key=agency["api_key"],
            client_ids=[client["ClientID"]])  # fmt: skip
    admin = get_user_model().objects.create_superuser("bench", password="bench-password-1")
    oauth = info["sf"]["oauth"]
    connection = connect_client_credentials(
        admin, info["sf"]["login_url"], oauth["client_id"], oauth["client_secret"]
    )
    check_schema(connection, install=True)  # the schema and the sync user's permission set
    # Nothing serves cmsync's webhook endpoint here: the primary sync only checks there are
    # no webhooks of cmsync's (bench/webhooks.py measures them).
    SyncSettings.objects.update_or_create(pk=1, defaults={"cm_webhooks": False})
    cm_bound = cm_lower_bound(info["cm"], client)

    sf_root = info["sf"]["instance_url"]
    requests.delete(f"{sf_root}/_emulator/requests")
    results = [measure("first full sync", sf_root, workers=workers)]
    full_calls = requests.get(f"{sf_root}/_emulator/requests").json()
    changed = change_one_percent(info["cm"], client, subscribers)
    results.append(measure(f"incremental, {changed} changed", sf_root, workers=workers))
    requests.delete(f"{sf_root}/_emulator/requests")
    results.append(measure("incremental, nothing changed", sf_root, workers=workers))
    quiet_calls = requests.get(f"{sf_root}/_emulator/requests").json()

    print(f"{'run':34} {'status':10} {'wall s':>8} {'records':>9} {'rec/s':>8} {'RSS MB':>7} "
          f"{'CM calls (bound)':>18} {'SF REST (bound)':>18} {'Bulk jobs':>9} "
          f"{'Bulk recs':>9}")  # fmt: skip
    for r in results:
        run = r["run"]
        bound = cm_bound if r is results[0] else None
        cm = f"{run.cm_calls} ({bound})" if bound else f"{run.cm_calls}"
        sf = f"{run.sf_calls} ({sf_lower_bound(run)})"
        print(f"{r['label']:34} {run.status:10} {r['seconds']:8.1f} {r['records']:9,} "
              f"{r['rate']:8.0f} {r['rss']:7.0f} {cm:>18} {sf:>18} {r['bulk_jobs']:9,} "
              f"{r['bulk_records']:9,}")  # fmt: skip
    first = results[0]["run"]
    if workers:
        peaks = ", ".join(f"{mb:.0f}" for mb in results[-1]["worker_rss"])
        items = first.items.count()
        takers = len(set(first.items.values_list("claimed_by", flat=True)))
        print(f"{len(workers)} workers, peak RSS MB each: {peaks}; the first run's {items} "
              f"work items were done by {takers} of them")  # fmt: skip
    print("first run counts:", json.dumps(first.counts))
    if first.cm_calls:
        print(f"CM calls / lower bound: {first.cm_calls / cm_bound:.2f}")
    busiest = sorted(full_calls.items(), key=lambda item: -item[1])[:8]
    print("Salesforce calls of the first full sync, most first:", json.dumps(dict(busiest)))
    print("Salesforce calls of the run with nothing changed:", json.dumps(quiet_calls))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--workers", type=int, nargs="+", default=[])
    parser.add_argument("--redis-port", type=int, default=0, help="default: a free port")
    args = parser.parse_args()
    runs = [(n, w) for n in args.subscribers for w in (args.workers or [0])]
    if len(runs) > 1:
        # A fresh process per size and worker count: Django is set up once per process,
        # and the peak RSS must be this run's own.
        for n, w in runs:
            more = ["--workers", str(w)] if w else []
            port = ["--redis-port", str(args.redis_port)]
            subprocess.run([sys.executable, "-m", "bench.sync", "--subscribers", str(n), *more,
                            *port], cwd=ROOT, check=True)  # fmt: skip
        return
    ((n, w),) = runs
    with tempfile.TemporaryDirectory(prefix="cmsync-bench-") as var_dir:
        if not w:
            setup_django(var_dir)
            bench(n)
            return
        from bench.soak_parts import Redis, free_port

        redis = Redis(args.redis_port or free_port(), Path(var_dir))
        redis.start()
        try:
            setup_django(var_dir, redis.url, w)
            print(f"\n== {w} worker{'s' if w > 1 else ''} (Redis on port {redis.port})")
            bench(n, w, var_dir)
        finally:
            redis.stop()


if __name__ == "__main__":
    main()
