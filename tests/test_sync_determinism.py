"""Two fault-free runs of the same input give the same Salesforce end state (issue 14).

One Campaign Monitor, built once, is the input. Each run gets a fresh Salesforce emulator
holding the same people (duplicates modified in the same second among them), a fresh cmsync
database, and the sync in a process of its own (``manage.py sync_now --full --wait``) with
its own PYTHONHASHSEED, so nothing may depend on set iteration order; the second org also
answers every query in the reverse of the first's order, as Salesforce promises no order
without ORDER BY. The two end states are compared record by record, with Salesforce Ids
replaced by what each record stands for.
"""

import os
import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from campaign_monitor.models import Connection
from campaign_monitor.records import NewSubscriber
from emulators.salesforce import SalesforceEmulator
from settings_app.models import CampaignSettings
from subscriptions.models import FieldMapping
from sync.models import SyncRun

from .conftest import _test_database_url
from .sync_world import World

ROOT = Path(__file__).resolve().parent.parent
EMAILS = 240
TIE = {"CreatedDate": "2026-01-05T10:00:00Z", "LastModifiedDate": "2026-01-05T10:00:00Z"}


def email(n: int) -> str:
    return f"p{n:03d}@example.com"


def people() -> dict[str, list[dict]]:
    """Contacts and Leads by object; every LastName is unique, so it names its record."""
    made: dict[str, list[dict]] = {"Contact": [], "Lead": []}

    def add(sobject: str, n: int, tag: str, dates: dict, address: str = "") -> None:
        record = {
            "LastName": f"P{n:03d}{tag}",
            "Email": address or email(n),
            "HasOptedOutOfEmail": n % 4 == 0,
            **dates,
        }
        if sobject == "Lead":
            record["Company"] = "Co"
        made[sobject].append(record)

    for n in range(EMAILS):
        own = {
            "CreatedDate": f"2025-{n % 12 + 1:02d}-01T09:00:00Z",
            "LastModifiedDate": f"2025-12-{n % 28 + 1:02d}T09:{n % 60:02d}:00Z",
        }
        kind = n % 6
        if kind in (0, 3):  # twin Contacts, one stored in capitals
            add("Contact", n, "c1", TIE)
            add("Contact", n, "c2", TIE, email(n).upper())
        if kind in (1, 3):  # twin Leads
            add("Lead", n, "l1", TIE)
            add("Lead", n, "l2", TIE)
        if kind == 2:
            add("Contact", n, "c", own)
            add("Lead", n, "l", own)
        if kind == 4:
            add("Contact", n, "c", own)
        # kind 5: nobody in Salesforce
    return made


def build_campaign_monitor(world: World) -> None:
    """List A: everyone below 200 active; list B: 160 and up unsubscribed (some bounced);
    two campaigns sent in the same minute, with opens and clicks in one minute (ties), a
    repeated open, unsubscribes, bounces; a mapped custom field for some."""
    cm = world.cm
    cm.set_unsubscribe_setting(world.list_b, "OnlyThisList")  # list B's unsubscribes stay there
    base = datetime.strptime(cm.now(), "%Y-%m-%d %H:%M:%S").replace(second=0)

    def at(minutes: int) -> str:
        return (base + timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S")

    for n in range(200):
        cm.set_subscriber(list_id=world.list_a, email=email(n), state="Active", date=at(-300))
    for n in range(160, EMAILS):
        state = "Bounced" if n % 7 == 0 else "Unsubscribed"
        cm.set_subscriber(list_id=world.list_b, email=email(n), state=state, date=at(-280))
    client = world.client["ClientID"]
    campaigns = [
        cm.send_campaign(client_id=client, name=name, list_ids=[world.list_a], sent_date=at(-240))
        for name in ("Tie one", "Tie two")
    ]
    for number, campaign in enumerate(campaigns):
        for n in range(number, 200, 3):
            cm.add_event(campaign, "open", email(n), date=at(-120))
            if n % 2 == 0:
                cm.add_event(campaign, "click", email(n), date=at(-120), url="https://a.example/")
            if n % 5 == 0:
                cm.add_event(campaign, "open", email(n), date=at(-120))  # the same minute
        for n in range(number + 1, 200, 17):
            cm.add_event(campaign, "unsubscribe", email(n), date=at(-60 + number))
        for n in range(number + 2, 200, 23):
            cm.add_event(campaign, "bounce", email(n), date=at(-90), bounce_type="Soft")
    api = Connection.current().api()
    for n in range(0, 200, 10):
        pairs = (("website", f"https://p{n:03d}.example/"),)
        api.update_subscriber(world.list_a, email(n), NewSubscriber(email(n), None, pairs))


def prepare(cm, sf, django_user_model) -> World:
    """A fresh cmsync connected to this Salesforce, with the run's settings."""
    call_command("flush", interactive=False, verbosity=0)
    admin = django_user_model.objects.create_superuser("admin", "admin@example.com", "pw")
    world = World(cm, sf, admin)
    CampaignSettings.get_solo()  # flushed with the rest
    CampaignSettings.objects.update(
        auto_create_campaigns=True,
        auto_create_since=timezone.now() - timedelta(days=1),
        member_status_mode="always",
    )
    FieldMapping.objects.create(
        list_id=world.list_a,
        cm_key="[website]",
        cm_type="Text",
        direction=FieldMapping.Direction.TO_SF,
        contact_field="Title",
        lead_field="Title",
    )
    return world


def sync_in_a_process(hash_seed: str) -> SyncRun:
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "PYTHONHASHSEED": hash_seed,
        "CELERY_TASK_DEFAULT_QUEUE": f"test-orphans-{uuid.uuid4().hex[:8]}",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    done = subprocess.run(
        [sys.executable, "manage.py", "sync_now", "--full", "--wait"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return SyncRun.objects.get()


def end_state(world: World) -> dict[str, dict]:
    """Everything the sync writes, by stable keys, with Salesforce Ids replaced by names."""
    query = world.gateway.query
    names: dict[str | None, str | None] = {None: None}
    state: dict[str, dict] = {}
    for sobject in ("Contact", "Lead"):
        for row in query(f"SELECT Id, LastName, Email, HasOptedOutOfEmail, Title FROM {sobject}"):
            names[row["Id"]] = row["LastName"]
            state[f"{sobject} {row['LastName']}"] = {
                "email": row["Email"],
                "opted_out": row["HasOptedOutOfEmail"],
                "title": row["Title"],
            }
    for row in query("SELECT Id, CM_List_Id__c FROM CM_Subscriber_List__c"):
        names[row["Id"]] = f"list {row['CM_List_Id__c']}"
    campaign_fields = "Id, Name, CM_Campaign_Id__c, CM_Recipients__c, CM_Total_Opens__c"
    for row in query(f"SELECT {campaign_fields} FROM Campaign"):
        names[row["Id"]] = f"campaign {row['CM_Campaign_Id__c']}"
        state[names[row["Id"]]] = {k: v for k, v in row.items() if k != "Id"}
    for row in query(
        "SELECT CampaignId, Label, SortOrder, HasResponded, IsDefault FROM CampaignMemberStatus"
    ):
        state[f"status {names[row['CampaignId']]} {row['Label']}"] = {
            "sort_order": row["SortOrder"],
            "responded": row["HasResponded"],
            "default": row["IsDefault"],
        }
    for row in query(
        "SELECT CampaignId, ContactId, LeadId, Status, HasResponded, CM_Last_Activity__c, "
        "CM_Last_Activity_Date__c, CM_Status_Set__c FROM CampaignMember"
    ):
        person = names[row["ContactId"] or row["LeadId"]]
        state[f"member {names[row['CampaignId']]} {person}"] = {
            k: v for k, v in row.items() if k not in ("CampaignId", "ContactId", "LeadId")
        }
    for row in query(
        "SELECT CM_Event_Key__c, CM_Email__c, CM_Type__c, CM_Event_Date__c, CM_Contact__c, "
        "CM_Lead__c, CM_Campaign__c, CM_Campaign_Id__c, CM_List_Id__c, CM_URL__c, "
        "CM_Bounce_Type__c, CM_Bounce_Reason__c FROM CM_Email_Tracking__c"
    ):
        links = ("CM_Contact__c", "CM_Lead__c", "CM_Campaign__c")
        key = row.pop("CM_Event_Key__c")
        state[f"tracking {key}"] = {k: names[v] if k in links else v for k, v in row.items()}
    for row in query(
        "SELECT CM_Membership_Key__c, CM_Email__c, CM_State__c, CM_State_Date__c, "
        "CM_Joined_Date__c, CM_Contact__c, CM_Lead__c, CM_Subscriber_List__c "
        "FROM CM_List_Membership__c"
    ):
        links = ("CM_Contact__c", "CM_Lead__c", "CM_Subscriber_List__c")
        key = row.pop("CM_Membership_Key__c")
        state[f"membership {key}"] = {k: names[v] if k in links else v for k, v in row.items()}
    return state


def differences(first: dict, second: dict) -> list[str]:
    keys = sorted(set(first) | set(second))
    return [
        f"{k}: {first.get(k)} != {second.get(k)}" for k in keys if first.get(k) != second.get(k)
    ]


@pytest.mark.django_db(transaction=True)
def test_two_runs_of_the_same_input_give_the_same_salesforce_end_state(cm_empty, django_user_model):
    states = []
    for hash_seed, unordered in (("1", "insertion"), ("2", "reverse")):
        with SalesforceEmulator(seed="empty") as sf:
            for sobject, records in people().items():
                assert all(r["success"] for r in sf.insert(sobject, records))
            world = prepare(cm_empty, sf, django_user_model)
            if not states:
                build_campaign_monitor(world)
            sf.set_unordered_rows(unordered)
            run = sync_in_a_process(hash_seed)
            assert run.status == SyncRun.Status.SUCCEEDED, run.last_error
            states.append(end_state(world))

    first, second = states
    assert differences(first, second)[:20] == []
    # The scenario reached every kind of record the sync writes, ties included.
    kinds = {key.split(" ", 1)[0] for key in first}
    assert kinds == {"Contact", "Lead", "campaign", "status", "member", "tracking", "membership"}
    # Twins modified in the same second: the lowest Id (the first created) stands for both.
    assert first["Contact P000c1"]["title"] == "https://p000.example/"
    assert first["Contact P000c2"]["title"] is None
    membership = first[f"membership {world.list_a}:p000@example.com"]
    assert (membership["CM_Contact__c"], membership["CM_Lead__c"]) == ("P000c1", None)
