"""The console under load: 50 people at about one page a second each, against gunicorn with
3 workers (as docker-compose runs it) on SQLite.

    .venv/bin/python -m bench.console [--sessions 50] [--seconds 60] [--rate 1.0]

Real parts: both emulators in a process of their own (bench/emulator_host.py; the User
security tab and a list's custom fields read Campaign Monitor live, the rule and import pages
Salesforce), cmsync's web app under gunicorn (3 workers, 127.0.0.1, a free port), and a
database seeded as a busy installation: a few hundred runs, 5,000 maintenance messages,
lists, rules, field mappings, imports, 70 people (the 50 below and 20 more), 20 invitations,
API keys and lockouts, and the audit log they leave (bench/console_data.py). Each session
logs in through the login page (its own session cookie) and walks every console page and API
list in turn, one request a second, starting at a different page.

Printed, per page: the queries it makes (counted once in this process with Django's test
client), requests, and latency p50/p95/p99 in ms; then all requests together, the rate
reached, gunicorn's CPU milliseconds per request (its workers' user + system time over the
run, from /proc) and the load average before and after (the machine may be shared).

Billing: without Stripe keys the Billing tab shows its "not configured" card (no Stripe
call); with Stripe it would also wait on Stripe's API, which is not measured here.
"""

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def setup_django(var_dir: str) -> None:
    from bench import changes

    os.environ["ALLOW_INSECURE_LOOPBACK"] = "1"
    os.environ["CMSYNC_URL"] = "http://127.0.0.1:9"  # webhooks registered nowhere
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    for name in ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "DEBUG"):
        os.environ.pop(name, None)
    changes.setup_django(var_dir, broker="")


def pages(data) -> list[str]:
    """Every console page a person reads, and the API's lists (first pages)."""
    runs = f"/sync/runs/{data.run.pk}/"
    lists = f"/lists/{data.list_id}"
    api_list = f"/api/v1/lists/{data.list_id}"
    return [
        "/sync/",
        "/general/",
        "/campaigns/",
        "/maintenance/",
        "/maintenance/messages/",
        "/maintenance/codes/SF_DUPLICATE/",
        "/security/",
        "/billing/",
        "/accounts/",
        "/sync/runs/",
        runs,
        "/sync/lists/",
        "/campaign-monitor/clients/",
        f"{lists}/rules/",
        f"{lists}/rules/add_contact/",
        f"{lists}/fields/",
        f"{lists}/import/history/",
        "/api/v1/runs/",
        f"/api/v1/runs/{data.run.pk}/",
        "/api/v1/messages/",
        "/api/v1/audit/",
        "/api/v1/users/",
        "/api/v1/clients/",
        "/api/v1/lists/",
        f"{api_list}/rules/",
        f"{api_list}/field-mappings/",
        f"{api_list}/imports/",
        "/api/v1/settings/sync/",
        "/api/v1/settings/general/",
        "/api/v1/settings/campaigns/",
    ]


def seed(info: dict, runs: int, messages: int, sessions: int):
    from django.contrib.auth import get_user_model

    from bench.console_data import PASSWORD, ConsoleData
    from security.roles import FULL, set_role

    users = get_user_model()
    admin = users.objects.create_superuser("bench", "bench@example.com", PASSWORD)
    data = ConsoleData(admin, info["cm"], info["sf"])
    data.add(runs, messages=messages, people=20)
    people = []
    for n in range(sessions):
        person = users.objects.create_user(f"console{n}", f"console{n}@example.com")
        person.password = data.password  # hashed once: seeding hundreds of people stays quick
        person.save(update_fields=["password"])
        set_role(person, FULL)
        people.append(person)
    return data, people


def count_queries(paths: list[str], person) -> dict[str, int]:
    """Each page's queries, loaded once in this process (after a first load that may create
    settings rows)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(person)
    counts = {}
    for path in paths:
        client.get(path)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        assert response.status_code == 200, f"{path}: {response.status_code}"
        counts[path] = len(captured)
    return counts


def start_gunicorn(port: int) -> subprocess.Popen:
    import requests

    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "cmsync.wsgi",
         "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "--workers", "3",
         "--log-level", "warning"],
        cwd=ROOT, env={**os.environ},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=10).ok:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.1)
    server.terminate()
    server.wait(timeout=30)
    raise TimeoutError("gunicorn did not answer within 120 s")


def workers_cpu(master: int) -> float:
    """The user + system CPU seconds of gunicorn's workers so far."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    total = 0
    for pid in children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / TICKS


def log_in(base: str, username: str):
    import requests

    from bench.console_data import PASSWORD

    session = requests.Session()
    page = session.get(f"{base}/accounts/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    response = session.post(
        f"{base}/accounts/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=30,
    )
    assert "sessionid" in session.cookies, f"{username} was not logged in ({response.url})"
    return session


def drive(sessions, base: str, paths: list[str], seconds: float, rate: float) -> dict:
    """Each session requests the next page every 1/rate seconds (sooner if the last answer
    was late), for ``seconds``; returns the latencies by page and the errors."""
    timings: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    lock = threading.Lock()
    start = time.monotonic() + 0.5
    stop = start + seconds

    def person(index: int, session) -> None:
        due = start + index / len(sessions) / rate  # spread over the first second
        step = index
        while True:
            time.sleep(max(0.0, due - time.monotonic()))
            if time.monotonic() >= stop:
                return
            path = paths[step % len(paths)]
            began = time.perf_counter()
            try:
                response = session.get(base + path, timeout=30, allow_redirects=False)
                ok = response.status_code == 200
                problem = f"{path}: {response.status_code}"
            except Exception as exc:  # noqa: BLE001 - counted and shown, not raised
                ok, problem = False, f"{path}: {exc}"
            elapsed = time.perf_counter() - began
            with lock:
                (timings[path] if ok else errors).append(elapsed if ok else problem)  # type: ignore[arg-type]
            step += 1
            due += 1 / rate

    threads = [
        threading.Thread(target=person, args=(i, s), daemon=True) for i, s in enumerate(sessions)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"timings": timings, "errors": errors}


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def report(
    paths: list[str], queries: dict[str, int], timings: dict[str, list[float]], data
) -> None:
    print(f"{'page':44} {'queries':>7} {'n':>5} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
    everything = []
    for path in paths:
        ordered = sorted(timings.get(path, []))
        everything += ordered
        label = path.replace(data.list_id, "<list>").replace(f"/{data.run.pk}/", "/<run>/")
        if not ordered:
            print(f"{label:44} {queries.get(path, 0):7} {0:5}")
            continue
        print(
            f"{label:44} {queries.get(path, 0):7} {len(ordered):5} "
            f"{1000 * statistics.median(ordered):7.1f} {1000 * percentile(ordered, 0.95):7.1f} "
            f"{1000 * percentile(ordered, 0.99):7.1f}"
        )
    everything.sort()
    if everything:
        print(
            f"{'all pages':44} {'':7} {len(everything):5} "
            f"{1000 * statistics.median(everything):7.1f} "
            f"{1000 * percentile(everything, 0.95):7.1f} {1000 * percentile(everything, 0.99):7.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=1.0, help="requests per second per session")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--messages", type=int, default=5000)
    args = parser.parse_args()
    # Stopped (Ctrl-C, a timeout's SIGTERM): the finally blocks stop gunicorn and the emulators.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    from bench.webhooks import free_port

    host = subprocess.Popen(
        [sys.executable, "-m", "bench.emulator_host", "50"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        info = json.loads(host.stdout.readline())
        with tempfile.TemporaryDirectory(prefix="cmsync-bench-") as var_dir:
            setup_django(var_dir)
            run(args, info, free_port())
    finally:
        host.stdin.close()
        host.wait(timeout=60)


def run(args, info: dict, port: int) -> None:
    started = time.monotonic()
    data, people = seed(info, args.runs, args.messages, args.sessions)
    paths = pages(data)
    queries = count_queries(paths, people[0])
    print(
        f"seeded in {time.monotonic() - started:.0f} s: {args.runs} runs, {args.messages} "
        f"messages, {args.sessions} people logged in; gunicorn 3 workers on SQLite; "
        f"{len(paths)} pages, {args.rate:g} request/s per session for {args.seconds:g} s"
    )
    server = start_gunicorn(port)
    try:
        base = f"http://127.0.0.1:{port}"
        sessions = [log_in(base, person.username) for person in people]
        for path in paths:  # each worker's first load of each page (imports, templates)
            for session in sessions[:6]:
                session.get(base + path, timeout=30)
        load_before = os.getloadavg()
        cpu_before, clock = workers_cpu(server.pid), time.monotonic()
        result = drive(sessions, base, paths, args.seconds, args.rate)
        cpu = workers_cpu(server.pid) - cpu_before
        elapsed = time.monotonic() - clock
    finally:
        server.terminate()
        server.wait(timeout=30)
    timings, errors = result["timings"], result["errors"]
    report(paths, queries, timings, data)
    served = sum(len(v) for v in timings.values())
    print(
        f"{served} requests in {elapsed:.0f} s ({served / elapsed:.1f}/s), {len(errors)} errors; "
        f"gunicorn CPU {1000 * cpu / max(served, 1):.1f} ms per request; "
        f"load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after "
        f"({os.cpu_count()} CPUs)"
    )
    for problem in sorted(set(errors))[:10]:
        print(f"  error: {problem}")


if __name__ == "__main__":
    main()
