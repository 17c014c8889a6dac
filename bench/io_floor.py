"""The I/O floor of a full sync: the same Campaign Monitor pages and the same Bulk API 2.0
jobs, by raw HTTP against the same emulators, with nothing of cmsync's in between.

``bench/sync.py`` measures it in the same run, right after the sync it compares with: the
sync's wall time over this floor says how much of the time is cmsync's own work.

What the floor does, in two threads started together (a perfect sync would overlap its
reads and its writes as well as this does, no better, since a job can only carry what was
read):
- Campaign Monitor: every page the sync's lower bound counts (``cm_pages``), fetched one
  after another at 1,000 records a page, as the client does (its rate limit is per key);
- Salesforce: each Bulk job the sync created, submitted again with the same object,
  operation, external id and rows (rebuilt from the job's result files: they echo the
  uploaded columns), one job at a time as the sync does, polled every 50 ms.

Not in the floor: the few REST calls (describe, limits, queries), which the sync's own
figures list beside it. Replaying an insert job makes duplicates the org may refuse
(a CampaignMember twice fails its row): a failed row costs the emulator about what a
written one does, so the floor stays a fair lower bound.
"""

import csv
import io
import math
import threading
import time
from dataclasses import dataclass

import requests

POLL = 0.05
STATES = ("active", "unconfirmed", "unsubscribed", "bounced", "deleted")
TRACKING = ("opens", "clicks", "unsubscribes", "bounces")
TERMINAL = ("JobComplete", "Failed", "Aborted")


@dataclass
class Floor:
    seconds: float
    cm_calls: int
    cm_seconds: float
    bulk_jobs: int
    bulk_records: int
    bulk_seconds: float


def _total(base: str, key: str, path: str) -> int:
    answer = requests.get(f"{base}/{path}", params={"pagesize": 10}, auth=(key, "x"), timeout=60)
    answer.raise_for_status()
    return int(answer.json()["TotalNumberOfRecords"])


def cm_pages(cm_info: dict, client: dict) -> list[str]:
    """Every page (path with its query) the sync's Campaign Monitor lower bound counts: each
    list's five subscriber states, the client's campaigns, each campaign's recipients and
    tracking, 1,000 records a page (one page for an empty stream); plus the fixed reads
    (systemdate, the client's lists, each list's webhooks)."""
    key = next(a for a in cm_info["accounts"] if a["type"] == "agency")["api_key"]
    base, client_id = cm_info["base_url"], client["ClientID"]
    pages = ["systemdate.json", f"clients/{client_id}/lists.json"]

    def stream(path: str) -> None:
        count = max(1, math.ceil(_total(base, key, path) / 1000))
        pages.extend(f"{path}?page={n}&pagesize=1000" for n in range(1, count + 1))

    for mailing_list in client["lists"]:
        pages.append(f"lists/{mailing_list['ListID']}/webhooks.json")
        for state in STATES:
            stream(f"lists/{mailing_list['ListID']}/{state}.json")
    campaigns = requests.get(
        f"{base}/clients/{client_id}/campaigns.json",
        params={"pagesize": 1000},
        auth=(key, "x"),
        timeout=60,
    ).json()["Results"]
    pages.extend(
        f"clients/{client_id}/campaigns.json?page={n}&pagesize=1000"
        for n in range(1, max(1, math.ceil(len(campaigns) / 1000)) + 1)
    )
    for campaign in campaigns:
        stream(f"campaigns/{campaign['CampaignID']}/recipients.json")
        for kind in TRACKING:
            stream(f"campaigns/{campaign['CampaignID']}/{kind}.json")
    return pages


class Org:
    """Raw REST against the Salesforce emulator, as the sync user's connected app."""

    def __init__(self, sf_info: dict) -> None:
        oauth = sf_info["oauth"]
        token = requests.post(
            oauth["token_url"],
            data={
                "grant_type": "client_credentials",
                "client_id": oauth["client_id"],
                "client_secret": oauth["client_secret"],
            },
            timeout=60,
        )
        token.raise_for_status()
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        self.jobs_url = (
            f"{sf_info['instance_url']}/services/data/v{sf_info['api_version']}/jobs/ingest"
        )

    def job_ids(self) -> list[str]:
        """Every ingest job's id, oldest first."""
        answer = self.session.get(self.jobs_url, timeout=60)
        answer.raise_for_status()
        jobs = sorted(answer.json()["records"], key=lambda job: job["createdDate"])
        return [job["id"] for job in jobs]

    def recipe(self, job_id: str) -> tuple[dict, str, int]:
        """A job's definition and its rows as CSV, rebuilt from its three result files."""
        url = f"{self.jobs_url}/{job_id}"
        info = self.session.get(url, timeout=60).json()
        definition = {"object": info["object"], "operation": info["operation"]}
        if info.get("externalIdFieldName"):
            definition["externalIdFieldName"] = info["externalIdFieldName"]
        header: list[str] | None = None
        rows: list[list[str]] = []
        for kind in ("successfulResults", "failedResults", "unprocessedrecords"):
            text = self.session.get(f"{url}/{kind}", timeout=300).text
            reader = csv.reader(io.StringIO(text))
            columns = next(reader, None)
            if not columns:
                continue
            own = [i for i, name in enumerate(columns) if not name.startswith("sf__")]
            header = header or [columns[i] for i in own]
            rows.extend([row[i] for i in own] for row in reader)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header or [])
        writer.writerows(rows)
        return definition, out.getvalue(), len(rows)

    def submit(self, definition: dict, body: str) -> None:
        """One job: create, upload, close, poll until it ends."""
        created = self.session.post(
            self.jobs_url, json={**definition, "lineEnding": "LF"}, timeout=60
        )
        created.raise_for_status()
        url = f"{self.jobs_url}/{created.json()['id']}"
        self.session.put(
            f"{url}/batches", data=body.encode(), headers={"Content-Type": "text/csv"}, timeout=300
        ).raise_for_status()
        self.session.patch(url, json={"state": "UploadComplete"}, timeout=60).raise_for_status()
        while self.session.get(url, timeout=60).json()["state"] not in TERMINAL:
            time.sleep(POLL)


def measure(info: dict, client: dict, sync_job_ids: list[str]) -> Floor:
    """The floor of the reads and Bulk writes a sync made (its jobs' ids, in order)."""
    cm_info = info["cm"]
    key = next(a for a in cm_info["accounts"] if a["type"] == "agency")["api_key"]
    pages = cm_pages(cm_info, client)
    org = Org(info["sf"])
    recipes = [org.recipe(job_id) for job_id in sync_job_ids]
    spent: dict[str, float] = {}

    def read_cm() -> None:
        started = time.monotonic()
        with requests.Session() as session:
            session.auth = (key, "x")
            for page in pages:
                session.get(f"{cm_info['base_url']}/{page}", timeout=120).raise_for_status()
        spent["cm"] = time.monotonic() - started

    def write_sf() -> None:
        started = time.monotonic()
        for definition, body, _ in recipes:
            org.submit(definition, body)
        spent["sf"] = time.monotonic() - started

    started = time.monotonic()
    threads = [threading.Thread(target=read_cm), threading.Thread(target=write_sf)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Floor(
        seconds=time.monotonic() - started,
        cm_calls=len(pages),
        cm_seconds=spent.get("cm", 0.0),
        bulk_jobs=len(recipes),
        bulk_records=sum(count for _, _, count in recipes),
        bulk_seconds=spent.get("sf", 0.0),
    )
