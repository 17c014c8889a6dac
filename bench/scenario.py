"""Scenario pieces shared by the benchmarks and the soak: both emulators seeded in a process
of their own, cmsync connected to them, and the soak's campaigns and changes.

The soak builds two worlds that must end alike, so everything it dates itself (the seed,
the campaigns and their events) is dated from one base instant both worlds share
(``--base``, a little in the past): dates never depend on how long a world took to get
there. Campaign Monitor's clock is never moved: real Campaign Monitor runs on the real
clock, and cmsync finds the account's UTC offset by comparing Campaign Monitor's local
time with its own UTC now (a shifted emulator clock reads as another time zone). Changes
people make during the soak are dated by that real clock, like every change cmsync makes:
always after everything dated from the base.
"""

import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta

import requests

from emulators.campaign_monitor import CampaignMonitorEmulator, scenario
from emulators.campaign_monitor.seed import person
from emulators.salesforce import SalesforceEmulator
from emulators.salesforce.seed import DEMO_RULE


def host(subscribers: int, base: str | None = None) -> None:
    """Both emulators seeded with the benchmark scenario (plus the validation rule the
    seed's traps trip over); prints one JSON line, serves until standard input closes.
    ``base``: the instant (ISO 8601, UTC) the seed is dated from; Campaign Monitor's clock
    is set there only while the seed is written, then back to the real clock."""
    cm = CampaignMonitorEmulator(seed="empty").start()
    if base:
        cm.set_clock(datetime.fromisoformat(base))
    shape = scenario.write(cm, subscribers)
    if base:
        cm.set_clock(datetime.now(UTC))
    sf = SalesforceEmulator(seed="empty", daily_limit=100_000_000).start()
    people = sf.seed_people(cm.emails())
    sf.add_validation_rule(**DEMO_RULE)
    print(json.dumps({"cm": cm.info(), "sf": sf.info(), "shape": shape, "people": people}))
    sys.stdout.flush()
    sys.stdin.read()
    sf.stop()
    cm.stop()


def agency_client(info: dict) -> tuple[dict, dict]:
    agency = next(a for a in info["cm"]["accounts"] if a["type"] == "agency")
    return agency, agency["clients"][0]


def connect(info: dict, cm_base_url: str | None = None, username: str = "soak"):
    """cmsync connected to both emulators (schema installed, sync user granted); the
    Salesforce connection. ``cm_base_url`` reaches Campaign Monitor another way (a proxy)."""
    from django.contrib.auth import get_user_model

    from campaign_monitor.connection import connect as connect_cm
    from salesforce.connection import check_schema, connect_client_credentials

    agency, client = agency_client(info)
    connect_cm(base_url=cm_base_url or info["cm"]["base_url"], api_key=agency["api_key"],
               client_ids=[client["ClientID"]])  # fmt: skip
    admin = get_user_model().objects.create_superuser(username, password="bench-password-1")
    oauth = info["sf"]["oauth"]
    connection = connect_client_credentials(
        admin, info["sf"]["login_url"], oauth["client_id"], oauth["client_secret"]
    )
    check_schema(connection, install=True)
    return connection


def cm_root(info: dict) -> str:
    return info["cm"]["base_url"].rsplit("/api/", 1)[0]


def later(base: str, minutes: float) -> str:
    """``minutes`` after the ISO instant ``base``, as the emulator's control surface takes an
    instant (with its offset, so the account's time zone plays no part)."""
    return (datetime.fromisoformat(base) + timedelta(minutes=minutes)).isoformat()


def send_campaigns(info: dict, base: str, count: int = 3, events: int = 40) -> list[str]:
    """``count`` campaigns sent a minute after ``base`` (when auto-create was switched on),
    each to one list, with opens, clicks, an unsubscribe and a bounce by some of their
    recipients in the minutes after."""
    agency, client = agency_client(info)
    root, api = cm_root(info), info["cm"]["base_url"]
    rng = random.Random("soak:campaigns")
    sent = []
    for n in range(count):
        list_id = client["lists"][n % len(client["lists"])]["ListID"]
        answer = requests.post(
            f"{root}/_emulator/campaigns",
            json={"ClientID": client["ClientID"], "Name": f"Soak campaign {n + 1}",
                  "ListIDs": [list_id], "SentDate": later(base, 1)},
            timeout=30,
        )  # fmt: skip
        answer.raise_for_status()
        campaign_id = answer.json()["CampaignID"]
        sent.append(campaign_id)
        recipients = requests.get(
            f"{api}/lists/{list_id}/active.json",
            params={"pagesize": 1000, "orderfield": "email"},
            auth=(agency["api_key"], "x"),
            timeout=60,
        ).json()["Results"]
        chosen = rng.sample(recipients, min(events, len(recipients)))
        for i, subscriber in enumerate(chosen):
            kinds = ["open"] + (["click"] if i % 3 == 0 else [])
            kinds += ["unsubscribe"] if i % 17 == 5 else ["bounce"] if i % 19 == 7 else []
            for minutes, kind in enumerate(kinds, start=1):
                body = {"CampaignID": campaign_id, "Type": kind,
                        "EmailAddress": subscriber["EmailAddress"],
                        "Date": later(base, 1 + minutes)}  # fmt: skip
                if kind == "click":
                    body["URL"] = "https://shop.example/soak"
                if kind == "bounce":
                    body["BounceType"] = "Hard"
                requests.post(f"{root}/_emulator/events", json=body, timeout=30)
    return sent


def change_plan(subscribers: int, batches: int, seed: int, per_batch: int = 6) -> list[list]:
    """The changes people make while cmsync runs: each batch a few Campaign Monitor
    unsubscribes, Salesforce opt-outs ticked and Contacts deleted, each person changed at
    most once (so the end state does not depend on the order the changes reach cmsync)."""
    rng = random.Random(f"soak:changes:{seed}")
    people = rng.sample(range(subscribers), min(subscribers, batches * per_batch))
    kinds = ("cm_unsubscribe", "sf_opt_out", "sf_delete")
    plan: list[list] = [[] for _ in range(batches)]
    for n, i in enumerate(people):
        _, email = person(i + 1_000_000)
        plan[n % batches].append((kinds[n % len(kinds)], i % 5, email))
    return plan


def suppression_plan(
    subscribers: int, batches: int, seed: int, size: int, changes: list[list] | None = None
) -> list[list]:
    """Large changes, for the write sets that go as Bulk API jobs: each batch ``size``
    people (fewer if there are not enough) put on the client's suppression list at once, as
    an admin importing a suppression file does. Nobody in ``changes`` (the change plan) is
    among them, and nobody is suppressed twice, so the order never matters."""
    taken = {email for batch in changes or () for _, _, email in batch}
    free = [i for i in range(subscribers) if person(i + 1_000_000)[1] not in taken]
    random.Random(f"soak:suppressions:{seed}").shuffle(free)
    size = min(size, len(free) // max(1, batches))
    return [
        [("cm_suppress", 0, person(i + 1_000_000)[1]) for i in free[n * size : (n + 1) * size]]
        for n in range(batches)
    ]


class Changer:
    """Applies planned changes over the emulators' own APIs, as people would: Campaign
    Monitor's control surface, Salesforce's REST API as its admin. Injected faults and an
    exhausted limit are waited out: the change must happen in every world."""

    def __init__(self, info: dict) -> None:
        self.info = info
        _, self.client = agency_client(info)
        self.sf_root = info["sf"]["instance_url"].rstrip("/")
        self.session = requests.Session()
        self._login()

    def _login(self) -> None:
        token = requests.post(f"{self.sf_root}/_emulator/token", json={}, timeout=30).json()
        self.session.headers["Authorization"] = f"Bearer {token['access_token']}"

    def _sf(self, method: str, path: str, **kwargs) -> requests.Response:
        url = f"{self.sf_root}/services/data/v62.0/{path}"
        for _ in range(200):
            answer = self.session.request(method, url, timeout=30, **kwargs)
            if answer.status_code == 401:
                self._login()
                continue
            if answer.status_code == 503 or "REQUEST_LIMIT_EXCEEDED" in answer.text:
                time.sleep(0.2)  # the soak's fault: it is reset within seconds
                continue
            return answer
        raise RuntimeError(f"Salesforce kept refusing {method} {path}")

    def apply(self, batch: list) -> None:
        lists = [m["ListID"] for m in self.client["lists"]]
        root = cm_root(self.info)
        suppressed = [email for kind, _, email in batch if kind == "cm_suppress"]
        if suppressed:  # one import: Campaign Monitor takes them in one write
            requests.post(
                f"{root}/_emulator/suppressions",
                json={"ClientID": self.client["ClientID"], "EmailAddresses": suppressed},
                timeout=60,
            ).raise_for_status()
        for kind, slot, email in batch:
            if kind == "cm_suppress":
                continue
            if kind == "cm_unsubscribe":
                requests.post(
                    f"{root}/_emulator/subscribers",
                    json={"ListID": lists[slot], "EmailAddress": email, "State": "Unsubscribed"},
                    timeout=30,
                ).raise_for_status()
                continue
            soql = f"SELECT Id FROM Contact WHERE Email = '{email}' ORDER BY Id LIMIT 1"
            found = self._sf("GET", "query", params={"q": soql}).json()["records"]
            if not found:
                continue
            path = f"sobjects/Contact/{found[0]['Id']}"
            if kind == "sf_opt_out":
                self._sf("PATCH", path, json={"HasOptedOutOfEmail": True})
            else:
                self._sf("DELETE", path)


if __name__ == "__main__":
    host(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)
