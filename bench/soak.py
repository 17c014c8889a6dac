"""A standing fault soak: many faults in a row leave Salesforce and Campaign Monitor exactly
as a fault-free run does.

    .venv/bin/python -m bench.soak [--subscribers 20000] [--faults 40] [--seed 1]
                                   [--max-seconds 1800] [--bulk-threshold 100]

Two worlds run at once, each with its own pair of emulators seeded alike (in parallel) and
its own cmsync database:

1. The fault-free reference (bench/scenario.py: opt-out cases, duplicates, validation
   traps, converted Leads, restricted picklists, campaigns with events, list memberships):
   syncs run in process, the same changes by people (Campaign Monitor unsubscribes,
   Salesforce opt-outs and deletions) applied between runs, until nothing is left to do.
2. The same scenario in the faulty world, with real Celery workers (1–3) on a Redis the
   soak starts on its own port, cmsync's web app taking Outbound Messages and Campaign
   Monitor webhooks, and faults from a seeded random generator: worker SIGKILL at random
   moments, Redis killed and restarted, Campaign Monitor 429 (with and without
   Retry-After), 500/503, slow answers past the client timeout, connection resets,
   Salesforce 503, UNABLE_TO_LOCK_ROW, REQUEST_LIMIT_EXCEEDED then reset, expired tokens,
   Bulk API jobs that fail as a whole or refuse rows with UNABLE_TO_LOCK_ROW, the people's
   changes arriving during runs, Outbound Messages and webhooks redelivered, Sync now twice
   at once, Sync now during a run, Cancel and a new run. Faults armed for requests nobody
   made before the faults stopped are counted apart, per kind, in the report.
3. After the faults, the faulty world keeps the dispatcher and syncs going until its end
   state equals the reference's record by record (bench/soak_compare.py) or --max-seconds
   passes; exits 1 on any difference.

Both worlds run cmsync with SALESFORCE_BULK_THRESHOLD at 100 (--bulk-threshold; 2000 in
production), so a short soak writes its large sets (the first sync, the suppression imports
that come with each Bulk API fault) as Bulk API 2.0 jobs and the rest through sObject
Collections; the report counts the jobs by how they ended.

Retryable maintenance messages are retried as an admin would (Retry on the Maintenance
page) before the comparison, in both worlds. cmsync's waits (takeover of a silent run,
lease expiry, client timeouts) are scaled down in the soak's processes (bench/soak_parts.py)
so a killed worker costs seconds, not minutes.
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from bench import scenario, soak_compare
from bench.soak_parts import ROOT, Redis, ResetProxy, Workers, free_port

# Every fault kind, each on by default. A kind whose cmsync side has not landed yet is
# listed with the reason and never drawn; adding it is one entry in INJECT below.
KINDS = {
    "worker_kill": "worker SIGKILL",
    "redis_restart": "Redis killed and restarted",
    "cm_429_retry_after": "Campaign Monitor 429 with Retry-After",
    "cm_429": "Campaign Monitor 429 without Retry-After",
    "cm_5xx": "Campaign Monitor 500/503",
    "cm_slow": "Campaign Monitor slower than the client timeout",
    "cm_reset": "Campaign Monitor connection reset",
    "sf_503": "Salesforce 503",
    "sf_lock": "Salesforce UNABLE_TO_LOCK_ROW",
    "sf_limit": "Salesforce REQUEST_LIMIT_EXCEEDED, then reset",
    "sf_expire": "Salesforce token expired",
    "sf_bulk_failed": "Salesforce Bulk API job failed",
    "sf_bulk_lock": "Salesforce Bulk API rows UNABLE_TO_LOCK_ROW",
    "changes": "people's changes during a run (Salesforce and Campaign Monitor)",
    "outbound_redeliver": "Outbound Message redelivered",
    "webhook_redeliver": "Campaign Monitor webhook redelivered",
    "sync_now_twice": "two Sync now presses at once",
    "sync_now_during_run": "Sync now during a run",
    "cancel_and_new": "Cancel during a run, then a new run",
}
# How long "Cancel, then a new run" waits for the cancelled run to stop (its next safe point,
# or a takeover when its worker was killed: STALE_SECONDS plus a dispatcher tick).
CANCEL_WAIT = 15.0
# The seed's and campaigns' dates start this long before the soak: Campaign Monitor dates
# nothing after now, and the campaigns' events (a few minutes after the base) must come
# before the changes people make during the soak (dated now) in both worlds.
BASE_BEFORE = timedelta(minutes=30)
# Kinds listed but not drawn, each with the reason (none at the moment).
NOT_YET: dict[str, str] = {}
# Write sets of this many records or more go as Bulk API 2.0 jobs (SALESFORCE_BULK_THRESHOLD,
# 2000 in production), in both worlds: low enough that a short soak's runs use both paths.
BULK_THRESHOLD = 100
# The Bulk API faults come with a suppression import of this many times the threshold, so the
# next run has a write set that goes as a Bulk API job for the fault to meet.
BULK_CHANGE = 1.5
BULK_KINDS = ("sf_bulk_failed", "sf_bulk_lock")
# What each emulator fault is, as the soak's kind (for the faults armed but never met).
SF_FAULT_KINDS = {
    "server_unavailable": "sf_503",
    "unable_to_lock_row": "sf_lock",
    "bulk_job_failed": "sf_bulk_failed",
    "bulk_unable_to_lock_row": "sf_bulk_lock",
}
# Faults stop when this share of --max-seconds is spent, whatever is left of the schedule:
# the rest is for converging (a loaded machine slows everything; a soak that spent its whole
# budget on faults would end "did not converge" without having had a chance to).
FAULT_SHARE = 0.7
# Kinds that mean something only while a primary run is under way: injected once one runs.
DURING_A_RUN = ("worker_kill", "sync_now_during_run", "cancel_and_new")


def schedule(faults: int, seed: int) -> list[str]:
    """The faults to inject, in order: every applicable kind in turn, shuffled per round."""
    rng = random.Random(f"soak:schedule:{seed}")
    kinds = [k for k in KINDS if k not in NOT_YET]
    order: list[str] = []
    while len(order) < faults:
        round_ = kinds[:]
        rng.shuffle(round_)
        order += round_
    return order[:faults]


def batches_of(args) -> int:
    return max(1, schedule(args.faults, args.seed).count("changes"))


def plans(args) -> tuple[list[list], list[list]]:
    """The people's changes, in batches: small ones (one a "changes" fault) and suppression
    imports large enough for a Bulk API job (one a Bulk API fault). Both worlds apply all."""
    changes = scenario.change_plan(args.subscribers, batches_of(args), args.seed)
    bulk = sum(schedule(args.faults, args.seed).count(k) for k in BULK_KINDS)
    size = int(args.bulk_threshold * BULK_CHANGE)
    imports = scenario.suppression_plan(args.subscribers, bulk, args.seed, size, changes)
    return changes, imports


# -- the orchestrator -----------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--faults", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=1800)
    parser.add_argument("--redis-port", type=int, default=6390)
    parser.add_argument(
        "--bulk-threshold",
        type=int,
        default=BULK_THRESHOLD,
        help="cmsync's SALESFORCE_BULK_THRESHOLD in both worlds",
    )
    parser.add_argument("--keep", help="keep the worlds' databases and logs in this folder")
    parser.add_argument("--world", choices=("reference", "faulty"), help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # lines as they come
    # Stopped (by CI, or the orchestrator stopping a world): leave through the finally
    # blocks, which stop the worlds, their workers, Redis and the emulators.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
    if args.world:
        sys.exit(world(args))  # the orchestrator reads the world's answer from its exit code
    started = time.monotonic()
    # The instant both worlds date their seed and campaigns from: in the past (Campaign
    # Monitor's clock is the real one), on a whole minute as Campaign Monitor's dates are.
    base = (datetime.now(UTC) - BASE_BEFORE).replace(second=0, microsecond=0).isoformat()
    print(f"soak: {args.subscribers} subscribers, {args.faults} faults, seed {args.seed}; "
          f"write sets of {args.bulk_threshold} records or more go as Bulk API jobs "
          "(SALESFORCE_BULK_THRESHOLD), smaller ones through sObject Collections")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="cmsync-soak-") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        code = run_worlds(args, work, base, started)
    print(f"soak: {time.monotonic() - started:.0f} s in all")
    sys.exit(code)


def run_worlds(args, work: Path, base: str, started: float) -> int:
    """Both worlds at once, each with its own pair of emulators (seeded alike, in parallel)
    and its own database: the faulty world waits for the reference's end state only when
    it compares. Two emulator pairs rather than one reset between the worlds: the worlds
    overlap in time, and nothing of one can leak into the other."""
    roles = ("reference", "faulty")
    hosts = {
        role: subprocess.Popen(
            [sys.executable, "-m", "bench.scenario", str(args.subscribers), base],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for role in roles
    }
    worlds: dict[str, subprocess.Popen] = {}
    try:
        for role, host in hosts.items():
            line = host.stdout.readline() if host.stdout else ""
            if not line:
                print("soak: the emulators did not start")
                return 2
            (work / role).mkdir()
            (work / role / "info.json").write_text(line)
        print(f"seeded both worlds in {time.monotonic() - started:.0f} s")
        budget = max(60.0, args.max_seconds - (time.monotonic() - started))
        for role in roles:
            command = [sys.executable, "-m", "bench.soak", "--world", role, "--dir", str(work),
                       "--base", base, "--subscribers", str(args.subscribers),
                       "--faults", str(args.faults), "--seed", str(args.seed),
                       "--max-seconds", str(budget),
                       "--bulk-threshold", str(args.bulk_threshold),
                       "--redis-port", str(args.redis_port)]  # fmt: skip
            worlds[role] = subprocess.Popen(command, cwd=ROOT)
        try:
            failed = worlds["reference"].wait(timeout=budget + 60)
        except subprocess.TimeoutExpired:
            failed = True
        if failed:
            print("soak: the fault-free reference did not finish; nothing to compare")
            return 2
        return worlds["faulty"].wait()
    finally:
        for proc in worlds.values():
            if proc.poll() is None:
                proc.terminate()  # the world stops its workers and Redis on the way out
                proc.wait(timeout=60)
        for host in hosts.values():
            if host.stdin:
                host.stdin.close()
            host.wait(timeout=120)


# -- a world --------------------------------------------------------------------------------


def setup_django(
    var_dir: Path, broker: str, port: int, queue: str, bulk_threshold: int = BULK_THRESHOLD
) -> dict:
    """cmsync's environment for this world's processes (this one and its workers)."""
    env = {
        "CMSYNC_VAR_DIR": str(var_dir),
        "DJANGO_SETTINGS_MODULE": "cmsync.settings",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "CMSYNC_URL": f"http://127.0.0.1:{port}",
        "ALLOW_INSECURE_LOOPBACK": "1",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SALESFORCE_RETRY_BACKOFF_SECONDS": "0.05",
        "SALESFORCE_BULK_THRESHOLD": str(bulk_threshold),
        "LOG_LEVEL": "ERROR",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        os.environ.pop(name, None)
    if broker:
        env["CELERY_BROKER_URL"] = broker
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    from bench.soak_parts import compress_clocks

    call_command("migrate", verbosity=0)
    compress_clocks()
    return {**os.environ}


def configure(webhooks: bool, base: str) -> None:
    """The options that make every reaction happen: webhooks (faulty world), deletes set
    subscribers to Deleted, campaigns auto-created with member statuses always set. Auto-create
    counts as switched on at ``base`` in both worlds (the soak's campaigns are sent after it)."""
    from settings_app.models import CampaignSettings, GeneralSettings, SyncSettings

    SyncSettings.objects.update_or_create(pk=1, defaults={"cm_webhooks": webhooks})
    general = GeneralSettings.get_solo()
    general.delete_subscriber_on_record_delete = True
    general.save()
    campaigns = CampaignSettings.get_solo()
    campaigns.auto_create_campaigns = True
    campaigns.auto_create_since = datetime.fromisoformat(base)
    campaigns.member_status_mode = CampaignSettings.MemberStatusMode.ALWAYS
    campaigns.save()


def retry_messages_as_admin() -> int:
    """Press Retry on every retryable maintenance message, as an admin would."""
    from maintenance.models import Message

    ids = [m.pk for m in Message.objects.filter(retry_requested=False) if m.retryable]
    Message.objects.filter(pk__in=ids).update(retry_requested=True)
    return len(ids)


def take_snapshot(info: dict, connection) -> soak_compare.Snapshot:
    agency, client = scenario.agency_client(info)
    from salesforce.models import SalesforceConnection

    user = SalesforceConnection.objects.get(pk=connection.pk).sf_username
    return soak_compare.snapshot(
        info["sf"]["instance_url"], user, info["cm"]["base_url"], agency["api_key"],
        [m["ListID"] for m in client["lists"]],
    )  # fmt: skip


def world(args) -> int:
    work = Path(args.dir)
    info = json.loads((work / args.world / "info.json").read_text())
    if args.world == "reference":
        return reference_world(args, work, info)
    return FaultyWorld(args, work, info).run()


def reference_world(args, work: Path, info: dict) -> int:
    setup_django(work / "reference", "", free_port(), "soak-reference", args.bulk_threshold)
    from sync import change_poll, runner
    from sync.models import SyncRun

    started = time.monotonic()
    connection = scenario.connect(info)
    configure(webhooks=False, base=args.base)
    scenario.send_campaigns(info, args.base)

    def drain() -> None:
        """Every queued run, executed here, until none is left."""
        for _ in range(50):
            active = list(SyncRun.objects.filter(active=True).values_list("pk", flat=True))
            if not active:
                return
            for pk in active:
                runner.execute(pk)

    def primary() -> None:
        run, _ = runner.request_run(SyncRun.Trigger.MANUAL, send=False)
        runner.execute(run.pk)
        drain()

    primary()
    change_poll.poll()  # the baseline: changes from here on are reacted to
    changer = scenario.Changer(info)
    changes, imports = plans(args)
    for batch in changes + imports:
        changer.apply(batch)
    for _ in range(3):
        time.sleep(2.5)  # the poll's second-settling window (inbox.SECOND_SETTLES)
        change_poll.poll()
        drain()
        primary()
    retry_messages_as_admin()
    primary()
    state = take_snapshot(info, connection)
    (work / "reference.part").write_text(json.dumps(state))
    (work / "reference.part").rename(work / "reference.json")  # whole, or not there
    runs = SyncRun.objects.count()
    print(f"reference: {runs} runs, no faults, in {time.monotonic() - started:.0f} s: "
          f"{soak_compare.sizes(state)}; Bulk API jobs "
          f"{bulk_jobs(info['sf']['instance_url'])}")  # fmt: skip
    return 0


def bulk_jobs(sf_root: str) -> str:
    """The Bulk API 2.0 jobs Salesforce (the emulator) was given, by how they ended."""
    status = requests.get(f"{sf_root.rstrip('/')}/_emulator/bulk", timeout=10).json()
    states = ", ".join(f"{state} {count}" for state, count in status["jobs"].items())
    return (
        f"{sum(status['jobs'].values())} ({states or 'none'}), {status['records_processed']} rows"
    )


class FaultyWorld:
    """The same scenario with real workers, a real broker and faults."""

    def __init__(self, args, work: Path, info: dict) -> None:
        self.args, self.work, self.info = args, work, info
        self.rng = random.Random(f"soak:faults:{args.seed}")
        self.counts = dict.fromkeys(KINDS, 0)
        # Of what was injected, what never reached cmsync: requests a fault was armed for
        # that nobody made before the faults stopped, a redelivery of nothing.
        self.missed = dict.fromkeys(KINDS, 0)
        self.injected = 0
        self.timers: list[threading.Timer] = []
        self.sf_root = info["sf"]["instance_url"].rstrip("/")
        self.cm_root = scenario.cm_root(info)

    # -- set-up ---------------------------------------------------------------------------

    def run(self) -> int:
        args, work = self.args, self.work
        self.redis = Redis(args.redis_port, work / "faulty")
        self.redis.start()
        port = free_port()
        queue = f"soak-{uuid.uuid4().hex[:8]}"
        env = setup_django(work / "faulty", self.redis.url, port, queue, args.bulk_threshold)
        self.workers = Workers(queue, env, work / "faulty")
        web = self._serve(port)
        try:
            return self._run(port)
        finally:
            for timer in self.timers:
                timer.cancel()
            self.workers.stop()
            web.shutdown()
            self.redis.stop()

    def _serve(self, port: int):
        from wsgiref.simple_server import make_server

        from django.core.wsgi import get_wsgi_application

        from bench.changes import _QuietHandler, _ThreadingServer

        web = make_server(
            "127.0.0.1", port, get_wsgi_application(), _ThreadingServer, handler_class=_QuietHandler
        )
        threading.Thread(target=web.serve_forever, daemon=True).start()
        return web

    def _run(self, port: int) -> int:
        from sync import outbound

        port_of_cm = int(self.info["cm"]["base_url"].split(":")[2].split("/")[0])
        self.proxy = ResetProxy(port_of_cm)
        proxied = self.info["cm"]["base_url"].replace(f":{port_of_cm}/", f":{self.proxy.port}/")
        self.connection = scenario.connect(self.info, cm_base_url=proxied)
        configure(webhooks=True, base=self.args.base)
        scenario.send_campaigns(self.info, self.args.base)
        requests.post(f"{self.cm_root}/_emulator/webhooks/retry_delays",
                      json={"retry_delays": [0.2, 0.5, 1, 2, 4]}, timeout=10)  # fmt: skip
        url = f"http://127.0.0.1:{port}/sync/outbound/{outbound.new_secret()}/"
        requests.post(
            f"{self.sf_root}/_emulator/outbound_messages",
            json={"endpoint_url": url, "sobject": "Contact", "retry_delays": [0.2, 0.5, 1, 2],
                  "fields": ["Email", "HasOptedOutOfEmail", "SystemModstamp"]},
            timeout=10,
        ).raise_for_status()  # fmt: skip
        self.workers.scale(self.rng.randint(1, 3))
        started = time.monotonic()
        deadline = started + self.args.max_seconds
        self._first_sync()
        self.changer = scenario.Changer(self.info)
        self.plan, self.imports = plans(self.args)
        order = schedule(self.args.faults, self.args.seed)
        self._faults(order, started + self.args.max_seconds * FAULT_SHARE)
        self._calm()
        cut = ""
        if self.injected < len(order):  # the time for faults ran out
            cut = f" at {FAULT_SHARE:.0%} of the time, {self.injected} of {len(order)} injected"
        print(f"faults stopped after {time.monotonic() - started:.0f} s{cut} (first sync "
              f"{self.first_sync:.0f} s); converging")  # fmt: skip
        calm_at = time.monotonic()
        differences = self._converge(deadline)
        return self._report(differences, time.monotonic() - calm_at)

    def _first_sync(self) -> None:
        """The first sync, untroubled (the reference's first too), then the poll baseline."""
        from sync import change_poll

        began = time.monotonic()
        self._sync_now()
        self._wait_idle(time.monotonic() + 600)
        change_poll.poll()
        self.first_sync = time.monotonic() - began

    # -- the dispatcher and Sync now ------------------------------------------------------

    def _sync_now(self):
        from sync import runner
        from sync.models import SyncRun

        try:
            run, _ = runner.request_run(SyncRun.Trigger.MANUAL)
            return run
        except runner.BrokerUnavailable as exc:
            return exc.run

    def _tick(self) -> None:
        """What beat does every minute, and the Outbound Message/ webhook catch-up."""
        from sync import change_poll, cm_events, dispatch, inbox

        for job in (dispatch.dispatch_due, change_poll.poll, inbox.request_if_pending,
                    cm_events.request_if_pending):  # fmt: skip
            try:
                job()
            except Exception as exc:  # the broker or an emulator is down: the next tick
                print(f"  (dispatcher: {type(exc).__name__}: {exc})"[:160])

    def _active(self, kind=None) -> list:
        from sync.models import SyncRun

        runs = SyncRun.objects.filter(active=True)
        return list(runs.filter(kind=kind) if kind else runs)

    def _wait_idle(self, deadline: float) -> bool:
        """Tick until no run is active and nothing waits in the inboxes."""
        from sync import cm_events, inbox

        while time.monotonic() < deadline:
            self._tick()
            if not self._active() and not inbox.pending() and not cm_events.pending():
                return True
            time.sleep(1.0)
        return False

    # -- faults ---------------------------------------------------------------------------

    def _faults(self, order: list[str], deadline: float) -> None:
        from sync.models import SyncRun

        batches, imports = iter(self.plan), iter(self.imports)
        for n, kind in enumerate(order, start=1):
            if time.monotonic() > deadline:
                break
            if not self._active(SyncRun.Kind.PRIMARY):
                self._sync_now()
            time.sleep(self.rng.uniform(0.2, 1.5))  # a random moment of the run
            if kind in DURING_A_RUN:  # the run may have ended in the meantime: another
                self._wait_running(min(time.monotonic() + 60, deadline))
            detail = self.inject(kind, batches, imports)
            self.counts[kind] += 1
            self.injected += 1
            print(f"fault {n}/{len(order)}: {KINDS[kind]}{': ' + detail if detail else ''}")
            self._tick()
        for batch in [*batches, *imports]:  # none left unless the deadline came first
            self.changer.apply(batch)

    def _wait_running(self, deadline: float) -> bool:
        """Tick (asking for a run when none is active) until a primary run is under way."""
        from sync.models import SyncRun

        while time.monotonic() < deadline:
            primaries = self._active(SyncRun.Kind.PRIMARY)
            if any(run.status == SyncRun.Status.RUNNING for run in primaries):
                return True
            if not primaries:
                self._sync_now()
            self._tick()
            time.sleep(0.1)
        return False

    def later(self, seconds: float, action) -> None:
        timer = threading.Timer(seconds, action)
        timer.daemon = True
        self.timers.append(timer)
        timer.start()

    def cm_fault(self, **fault) -> None:
        requests.post(f"{self.cm_root}/_emulator/faults", json=fault, timeout=10)

    def sf_control(self, method: str, path: str, body: dict | None = None) -> None:
        requests.request(method, f"{self.sf_root}/_emulator/{path}", json=body, timeout=10)

    def inject(self, kind: str, batches, imports) -> str:
        rng = self.rng
        if kind == "worker_kill":
            pid, busy = self.workers.kill_one(rng)
            want = rng.randint(1, 3)
            self.later(rng.uniform(0.5, 3), lambda: self.workers.scale(want))
            what = "in the middle of a task" if busy else "idle"
            return f"pid {pid} ({what}); {want} workers after the restart"
        if kind == "redis_restart":
            self.redis.kill()
            down = rng.uniform(1, 4)
            self.later(down, self.redis.start)
            return f"down for {down:.1f} s"
        if kind == "cm_429_retry_after":
            count = rng.randint(1, 3)
            self.cm_fault(status=429, count=count, retry_after=1)
            return f"{count} requests"
        if kind == "cm_429":
            count = rng.randint(1, 6)
            self.cm_fault(status=429, count=count)
            return f"{count} requests"
        if kind == "cm_5xx":
            status, count = rng.choice((500, 503)), rng.randint(1, 6)
            self.cm_fault(status=status, count=count)
            return f"{status} x {count}"
        if kind == "cm_slow":
            self.cm_fault(delay=4.0, count=1)
            return "one answer after 4 s (client gives up at 3 s)"
        if kind == "cm_reset":
            count = rng.randint(1, 2)
            self.proxy.reset(count)
            return f"{count} requests"
        if kind == "sf_503":
            count = rng.randint(1, 4)
            self.sf_control("POST", "faults", {"kind": "server_unavailable", "count": count,
                                               "path": "/services/data"})  # fmt: skip
            return f"{count} requests"
        if kind == "sf_lock":
            count = rng.randint(1, 3)
            self.sf_control("POST", "faults", {"kind": "unable_to_lock_row", "count": count,
                                               "path": "/composite/sobjects"})  # fmt: skip
            return f"{count} writes"
        if kind == "sf_limit":
            self.sf_control("POST", "faults", {"kind": "limit_exhausted"})
            reset = rng.uniform(1, 5)
            self.later(reset, lambda: self.sf_control("POST", "limits", {"used": 0}))
            return f"reset after {reset:.1f} s"
        if kind in BULK_KINDS:
            if kind == "sf_bulk_failed":
                self.sf_control("POST", "faults", {"kind": "bulk_job_failed", "count": 1})
                what = "the next job fails as a whole"
            else:
                count = rng.randint(1, 20)
                self.sf_control("POST", "faults", {"kind": "bulk_unable_to_lock_row",
                                                   "count": count})  # fmt: skip
                what = f"the next {count} rows processed are refused"
            batch = next(imports, [])
            self.changer.apply(batch)
            return f"{what}; {len(batch)} addresses put on the suppression list at once"
        if kind == "sf_expire":
            self.sf_control("POST", "sessions/expire")
            return ""
        if kind == "changes":
            batch = next(batches, [])
            self.changer.apply(batch)
            return ", ".join(sorted({k for k, _, _ in batch})) + f" ({len(batch)} people)"
        if kind == "outbound_redeliver":
            answer = requests.post(
                f"{self.sf_root}/_emulator/outbound_messages/redeliver_last", timeout=10
            )
            if not answer.ok:
                self.missed[kind] += 1
                return "none sent yet: nothing to redeliver"
            return f"message {answer.json()['message']}"
        if kind == "webhook_redeliver":
            answer = requests.post(
                f"{self.cm_root}/_emulator/webhooks/redeliver_last", json={}, timeout=10
            )
            if not answer.ok:
                self.missed[kind] += 1
                return "none sent yet: nothing to redeliver"
            return f"batch {answer.json()['batch']} ({answer.json()['events']} events)"
        if kind == "sync_now_twice":
            results: list = []
            presses = [threading.Thread(target=lambda: results.append(self._sync_now()))
                       for _ in range(2)]  # fmt: skip
            for press in presses:
                press.start()
            for press in presses:
                press.join()
            return f"runs {sorted({r.pk for r in results if r})}"
        if kind == "sync_now_during_run":
            run = self._sync_now()
            return f"run {run.pk if run else '-'}"
        if kind == "cancel_and_new":
            from sync import runner
            from sync.models import SyncRun

            active = self._active(SyncRun.Kind.PRIMARY)
            for run in active:
                runner.cancel(run)
            # A running run stops at its next safe point (or, its worker killed, when it is
            # taken over): until then Sync now answers with that same run.
            stopped = self._wait_stopped([r.pk for r in active], time.monotonic() + CANCEL_WAIT)
            new = self._sync_now()
            waited = "" if stopped else f" (still stopping after {CANCEL_WAIT:.0f} s)"
            return f"cancelled {[r.pk for r in active]}{waited}, then run {new.pk if new else '-'}"
        raise ValueError(f"No such fault kind {kind}")

    def _wait_stopped(self, pks: list[int], deadline: float) -> bool:
        """Tick until none of these runs is active any more, or the deadline."""
        from sync.models import SyncRun

        while time.monotonic() < deadline:
            if not SyncRun.objects.filter(pk__in=pks, active=True).exists():
                return True
            self._tick()
            time.sleep(0.25)
        return False

    def _calm(self) -> None:
        """The faults stop: nothing armed, the limit back, Redis and a worker up."""
        for timer in self.timers:
            timer.join(timeout=10)
        self._count_unmet()
        requests.delete(f"{self.cm_root}/_emulator/faults", timeout=10)
        self.sf_control("DELETE", "faults")
        self.sf_control("POST", "limits", {"used": 0})
        self.proxy.armed = 0
        if self.redis.proc is None:
            self.redis.start()
        self.workers.scale(1)

    def _count_unmet(self) -> None:
        """The faults still armed when the faults stop: nothing met them."""
        sf = requests.get(f"{self.sf_root}/_emulator/faults", timeout=10).json()
        for fault in sf:
            if fault["kind"] in SF_FAULT_KINDS:
                self.missed[SF_FAULT_KINDS[fault["kind"]]] += fault["count"]
        for fault in requests.get(f"{self.cm_root}/_emulator/faults", timeout=10).json():
            if fault["status"] == 429:
                kind = "cm_429_retry_after" if fault["retry_after"] is not None else "cm_429"
            else:
                kind = "cm_5xx" if fault["status"] else "cm_slow"
            self.missed[kind] += fault["count"]
        self.missed["cm_reset"] += self.proxy.armed

    # -- convergence ----------------------------------------------------------------------

    def _converge(self, deadline: float) -> list:
        ready = self.work / "reference.json"
        while not ready.exists():  # the reference runs alongside: wait for its end state
            if time.monotonic() > deadline:
                raise SystemExit("soak: the reference's end state never came")
            self._tick()
            time.sleep(1.0)
        reference = json.loads(ready.read_text())
        reference = {t: [(tuple(k), tuple(v)) for k, v in rows] for t, rows in reference.items()}
        differences: list = []
        same = 0
        while time.monotonic() < deadline and same < 5:
            self._wait_idle(deadline)
            retry_messages_as_admin()
            self._sync_now()
            self._wait_idle(deadline)
            state = take_snapshot(self.info, self.connection)
            before, differences = differences, soak_compare.compare(reference, state)
            same = same + 1 if differences == before else 0  # stuck: five rounds alike
            if not differences:
                return []
            print(f"  not yet equal: {len(differences)} differences, e.g. "
                  f"{differences[0].describe()}"[:300])  # fmt: skip
        return differences

    def _report(self, differences: list, seconds: float) -> int:
        from sync.models import SyncRun

        for kind, label in KINDS.items():
            note = NOT_YET.get(kind, "")
            if self.missed[kind]:
                note = f"{self.missed[kind]} never reached cmsync: armed requests nobody made"
                if kind.endswith("redeliver"):
                    note = f"{self.missed[kind]} with nothing yet to redeliver"
            print(f"  {label}: {self.counts[kind]}{' (' + note + ')' if note else ''}")
        print(f"  Bulk API jobs: {bulk_jobs(self.sf_root)}")
        for difference in differences[:50]:
            print("  " + difference.describe())
        counts = soak_compare.tally(differences)
        failed = SyncRun.objects.filter(status=SyncRun.Status.FAILED).count()
        total = SyncRun.objects.count()
        converged = f"converged in {seconds:.0f} s" if not differences else "did not converge"
        print(f"soak: {self.injected} faults, lost {counts['lost']}, duplicated "
              f"{counts['duplicated']}, wrong {counts['wrong']}, runs {failed} failed "
              f"(of {total}), {converged} (retryable messages retried as an admin "
              "would)")  # fmt: skip
        return 1 if differences else 0


if __name__ == "__main__":
    main()
