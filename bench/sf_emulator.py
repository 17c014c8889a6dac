"""Benchmark the Salesforce emulator at scale, through simple-salesforce over HTTP.

    .venv/bin/python -m bench.sf_emulator [--people 200000] [--runs 20]

Seeds N Contacts and Leads, then prints the seeding time, the process's peak RSS and the
latency of the calls the sync makes most: a 2000-row query page (the first page, and a page
reached through nextRecordsUrl), `WHERE Email IN (200 emails)`, and 200-record sObject
Collections calls (PATCH update and PATCH upsert on an external id). Median and p95 are
over `--runs` calls; each call is one HTTP request on a keep-alive connection.

Then write throughput in records/s, wall clock and this process's CPU (the emulator runs in
it; on a shared machine the CPU figure is the steadier one): collection upsert (the 200-record
calls above) and a Bulk API 2.0 upsert job of `--bulk-rows` rows (half updates, half new)
through simple-salesforce's bulk2, polled as a caller must.
"""

import argparse
import random
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

import requests
from simple_salesforce import Salesforce
from simple_salesforce.format import format_soql

from emulators.salesforce import SalesforceEmulator

PAGE_SOQL = "SELECT Id, Email, LastModifiedDate FROM Contact"


class LocalSession(requests.Session):
    """simple-salesforce always builds https:// URLs; the emulator speaks plain HTTP."""

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        url = url.replace("https://127.0.0.1", "http://127.0.0.1", 1)
        return super().request(method, url, *args, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--bulk-rows", type=int, default=20_000)
    args = parser.parse_args()

    started = time.perf_counter()
    with SalesforceEmulator(seed=args.people) as emu:
        print(f"people seeded            {args.people:,} Contacts + Leads")
        print(f"seeding + start          {time.perf_counter() - started:.1f} s")
        print(f"peak RSS after seeding   {_peak_mib():.0f} MiB")
        sf = Salesforce(
            instance_url=emu.root_url,
            session_id=emu.issue_token(),
            session=LocalSession(),
            version="62.0",
        )
        _measure_all(sf, args.runs)
        _throughput(sf, args.runs, args.bulk_rows)
        print(f"\npeak RSS at the end      {_peak_mib():.0f} MiB")
        print(f"API calls counted        {sf.api_usage['api-usage'].used:,}")


def _measure_all(sf: Salesforce, runs: int) -> None:
    first = sf.query(PAGE_SOQL)
    contacts = first["records"]
    rng = random.Random(7)
    print(f"\n{'call (' + str(runs) + ' runs each)':46} {'median':>9} {'p95':>9}")
    _report("query, first 2000-row page", runs, lambda: sf.query(PAGE_SOQL))
    _report(
        "query_more, 2000-row page via nextRecordsUrl",
        runs,
        lambda: sf.query_more(first["nextRecordsUrl"], identifier_is_url=True),
    )
    _report("query, WHERE Email IN (200 emails)", runs, lambda: _email_in(sf, contacts, rng))
    _report("composite/sobjects PATCH, 200 updates", runs, lambda: _update(sf, contacts, rng))
    _install_key(sf)
    counter = iter(range(10**9))
    _report(
        "composite/sobjects upsert, 200 records",
        runs,
        lambda: _upsert(sf, contacts, next(counter)),
    )


def _email_in(sf: Salesforce, contacts: list[dict], rng: random.Random) -> None:
    # Mixed case on purpose: Salesforce matches e-mail addresses case-insensitively.
    emails = [c["Email"].upper() if rng.random() < 0.5 else c["Email"] for c in contacts]
    chosen = rng.sample(emails, 200)
    found = sf.query(
        format_soql("SELECT Id, Email, LastModifiedDate FROM Contact WHERE Email IN {}", chosen)
    )
    assert found["totalSize"] >= 200, found["totalSize"]


def _update(sf: Salesforce, contacts: list[dict], rng: random.Random) -> None:
    records = [
        {"attributes": {"type": "Contact"}, "Id": c["Id"], "HasOptedOutOfEmail": rng.random() < 0.1}
        for c in rng.sample(contacts, 200)
    ]
    results = sf.restful(
        "composite/sobjects", method="PATCH", json={"allOrNone": False, "records": records}
    )
    assert all(r["success"] for r in results)


def _install_key(sf: Salesforce) -> None:
    metadata = {
        "label": "CM Subscriber Id",
        "type": "Text",
        "length": 64,
        "externalId": True,
        "unique": True,
    }
    sf.restful(
        "tooling/sobjects/CustomField",
        method="POST",
        json={"FullName": "Contact.CM_Subscriber_Id__c", "Metadata": metadata},
    )
    # A new field is hidden from every user until a permission set grants it.
    user_id = sf.oauth2("userinfo")["user_id"]
    set_id = sf.PermissionSet.create({"Name": "Bench", "Label": "Bench"})["id"]
    sf.PermissionSetAssignment.create({"AssigneeId": user_id, "PermissionSetId": set_id})
    grant = {"ParentId": set_id, "SobjectType": "Contact", "Field": "Contact.CM_Subscriber_Id__c"}
    sf.FieldPermissions.create({**grant, "PermissionsRead": True, "PermissionsEdit": True})


def _upsert(sf: Salesforce, contacts: list[dict], run: int) -> None:
    # Half the keys were created by the previous run (updates), half are new (inserts).
    records = [
        {
            "attributes": {"type": "Contact"},
            "CM_Subscriber_Id__c": f"sub-{run * 100 + n}",
            "LastName": f"Subscriber {n}",
            "Email": f"bench.{run}.{n}@example.com",
        }
        for n in range(200)
    ]
    results = sf.restful(
        "composite/sobjects/Contact/CM_Subscriber_Id__c",
        method="PATCH",
        json={"allOrNone": False, "records": records},
    )
    assert all(r["success"] for r in results), results[0]


def _throughput(sf: Salesforce, runs: int, bulk_rows: int) -> None:
    print(f"\n{'write throughput':46} {'wall':>11} {'cpu':>11}")
    first = 10**6  # keys no earlier run used
    wall, cpu = time.perf_counter(), time.process_time()
    for run in range(runs):
        _upsert(sf, [], first + run)
    _rate("composite/sobjects upsert", runs * 200, wall, cpu)
    rows = [
        {"CM_Subscriber_Id__c": f"sub-{first + n}", "LastName": f"Bulk {n}", "Email": ""}
        for n in range(bulk_rows)  # the first runs * 100 keys exist: updates, the rest new
    ]
    wall, cpu = time.perf_counter(), time.process_time()
    (summary,) = sf.bulk2.Contact.upsert(
        records=rows, external_id_field="CM_Subscriber_Id__c", wait=0.2
    )
    assert summary["numberRecordsFailed"] == 0, summary
    _rate(f"Bulk API 2.0 upsert job, {bulk_rows:,} rows", bulk_rows, wall, cpu)


def _rate(label: str, records: int, wall: float, cpu: float) -> None:
    wall_rate = records / (time.perf_counter() - wall)
    cpu_rate = records / max(time.process_time() - cpu, 1e-9)
    print(f"{label:46} {wall_rate:7.0f} r/s {cpu_rate:7.0f} r/s")


def _report(label: str, runs: int, call: Callable[[], Any]) -> None:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        timings.append((time.perf_counter() - start) * 1000)
    print(f"{label:46} {statistics.median(timings):7.1f}ms {_p95(timings):7.1f}ms")


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
