"""The primary sync against both emulators: a first full sync, an incremental one after 1% of
subscribers changed, and one with nothing changed. Prints wall time, records/s, peak RSS,
the API calls next to their lower bound (for Salesforce: the calls sObject Collections alone
would need), and the Bulk API 2.0 jobs and records the run used (SALESFORCE_BULK_THRESHOLD
sets where the gateway switches; set it very high to measure Collections alone).

    .venv/bin/python -m bench.sync [--subscribers 10000 100000]

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

from bench import io_floor

ROOT = Path(__file__).resolve().parent.parent


def setup_django(var_dir: str) -> None:
    os.environ["CMSYNC_VAR_DIR"] = var_dir
    os.environ["DJANGO_SETTINGS_MODULE"] = "cmsync.settings"
    os.environ["ALLOW_INSECURE_LOOPBACK"] = "1"  # the emulators speak plain HTTP on 127.0.0.1
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # a line per call and step would bury the figures
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
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


def measure(label: str, sf_root: str, full: bool = False) -> dict:
    from sync import runner
    from sync.models import SyncRun

    run, _ = runner.request_run(SyncRun.Trigger.MANUAL, full=full)
    before = bulk_stats(sf_root)
    started = time.monotonic()
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
        "rss": peak_rss_mb(),
        "bulk_jobs": sum(after["jobs"].values()) - sum(before["jobs"].values()),
        "bulk_records": after["records_processed"] - before["records_processed"],
        "query_jobs": sum(after["query_jobs"].values()) - sum(before["query_jobs"].values()),
        "query_records": after["query_records"] - before["query_records"],
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


def bench(subscribers: int) -> None:
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
    try:
        _bench(info, subscribers)
    finally:
        host.stdin.close()
        host.wait(timeout=60)


def _bench(info: dict, subscribers: int) -> None:
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
    org = io_floor.Org(info["sf"])
    jobs_before = set(org.job_ids())
    requests.delete(f"{sf_root}/_emulator/requests")
    results = [measure("first full sync", sf_root)]
    full_calls = requests.get(f"{sf_root}/_emulator/requests").json()
    full_jobs = [job for job in org.job_ids() if job not in jobs_before]
    changed = change_one_percent(info["cm"], client, subscribers)
    results.append(measure(f"incremental, {changed} changed", sf_root))
    requests.delete(f"{sf_root}/_emulator/requests")
    results.append(measure("incremental, nothing changed", sf_root))
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
    print("Bulk API query jobs (records):", ", ".join(
        f"{r['label']} {r['query_jobs']} ({r['query_records']:,})" for r in results))  # fmt: skip
    print("first run counts:", json.dumps(first.counts))
    if first.cm_calls:
        print(f"CM calls / lower bound: {first.cm_calls / cm_bound:.2f}")
    busiest = sorted(full_calls.items(), key=lambda item: -item[1])[:8]
    print("Salesforce calls of the first full sync, most first:", json.dumps(dict(busiest)))
    print("Salesforce calls of the run with nothing changed:", json.dumps(quiet_calls))
    floor = io_floor.measure(info, client, full_jobs)
    print(f"I/O floor of the first full sync: {floor.seconds:.1f} s (Campaign Monitor "
          f"{floor.cm_calls} calls in {floor.cm_seconds:.1f} s; {floor.bulk_jobs} Bulk jobs, "
          f"{floor.bulk_records:,} records in {floor.bulk_seconds:.1f} s, beside it); "
          f"full sync / floor: {results[0]['seconds'] / floor.seconds:.2f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    for n in args.subscribers:
        with tempfile.TemporaryDirectory(prefix="cmsync-bench-") as var_dir:
            # A fresh process per size: Django is set up once per process, and the peak RSS
            # must be this size's own.
            if len(args.subscribers) > 1:
                subprocess.run([sys.executable, "-m", "bench.sync", "--subscribers", str(n)],
                               cwd=ROOT, check=True)  # fmt: skip
                continue
            setup_django(var_dir)
            bench(n)


if __name__ == "__main__":
    main()
