"""Benchmark the Campaign Monitor emulator at scale.

    .venv/bin/python -m bench.cm_emulator [--subscribers 1000000] [--requests 30]

Seeds N subscribers, then prints the seeding time, the process's peak RSS, the SQLite file
size and the latency of 1000-record pages of the active list over HTTP (requests, one
keep-alive session): the first page, a middle page, the last page and pages with a `date`
filter. "cold" is the first request for a result set (page 1; it builds the result set's
paging anchors in one pass); median and p95 are over the hot requests that follow.
"""

import argparse
import resource
import statistics
import time
from datetime import datetime, timedelta

import requests

from emulators.campaign_monitor import CampaignMonitorEmulator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()

    started = time.perf_counter()
    with CampaignMonitorEmulator(seed=args.subscribers) as emu:
        print(f"subscribers seeded     {args.subscribers:,}")
        print(f"seeding + start        {time.perf_counter() - started:.1f} s")
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"peak RSS after seeding {peak_kb / 1024:.0f} MiB")
        size = sum(p.stat().st_size for p in emu.database_path.parent.iterdir())
        print(f"SQLite files           {size / 2**20:.0f} MiB")
        _pages(emu, args.requests)
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"peak RSS at the end    {peak_kb / 1024:.0f} MiB")


def _pages(emu: CampaignMonitorEmulator, repeats: int) -> None:
    account = emu.info()["accounts"][0]
    list_id = account["clients"][0]["lists"][0]["ListID"]
    session = requests.Session()
    session.auth = (account["api_key"], "x")
    url = f"{emu.base_url}/lists/{list_id}/active.json"
    month_ago = datetime.strptime(emu.now(), "%Y-%m-%d %H:%M:%S") - timedelta(days=30)
    since = month_ago.strftime("%Y-%m-%d")
    result_sets = {
        "by email (default)": ({}, ["first", "middle", "last"]),
        "by date, desc": ({"orderfield": "date", "orderdirection": "desc"}, ["last"]),
        f"date>={since}, by date": ({"date": since, "orderfield": "date"}, ["middle"]),
        f"date>={since}, by email": ({"date": since}, ["middle"]),
    }
    print(f"\n{'1000-record page of the active list':44} {'cold':>8} {'median':>8} {'p95':>8}")
    for label, (params, positions) in result_sets.items():
        params = {"pagesize": 1000, **params}
        cold, body = _get(session, url, {**params, "page": 1})
        pages = body["NumberOfPages"]
        if label.startswith("by email"):
            print(f"  ({body['TotalNumberOfRecords']:,} active subscribers, {pages:,} pages)")
        for n, position in enumerate(positions):
            page = {"first": 1, "middle": max(1, pages // 2), "last": pages}[position]
            hot = [_get(session, url, {**params, "page": page})[0] for _ in range(repeats)]
            cold_text = f"{cold:7.1f}ms" if n == 0 else f"{'':9}"
            name = f"{label}, page {page:,}"
            print(f"{name:44} {cold_text} {statistics.median(hot):7.1f}ms {_p95(hot):7.1f}ms")


def _get(session: requests.Session, url: str, params: dict) -> tuple[float, dict]:
    """Milliseconds for one request, including reading the JSON, and the body."""
    start = time.perf_counter()
    reply = session.get(url, params=params)
    reply.raise_for_status()
    body = reply.json()
    return (time.perf_counter() - start) * 1000, body


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


if __name__ == "__main__":
    main()
