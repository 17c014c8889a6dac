"""A benchmark scenario written straight into an emulator's database: N subscribers over L
lists of the agency's first client, C sent campaigns, and E events per subscriber.

Rows are streamed in batches, so memory stays flat at any N. Used by ``bench/sync.py``.
"""

import random
from datetime import datetime, timedelta

from emulators.campaign_monitor import campaigns
from emulators.campaign_monitor.identity import hex_id
from emulators.campaign_monitor.seed import person
from emulators.campaign_monitor.store import ACTIVE, BOUNCED, DELETED, UNCONFIRMED, UNSUBSCRIBED

BATCH = 5000
STATES = [(UNSUBSCRIBED, 0.06), (BOUNCED, 0.02), (DELETED, 0.01), (UNCONFIRMED, 0.01)]


def _state(rng: random.Random) -> int:
    roll = rng.random()
    for state, share in STATES:
        if roll < share:
            return state
        roll -= share
    return ACTIVE


def _stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:00")


def write(emulator, subscribers: int, lists: int = 5, sent: int = 20, events: int = 3) -> dict:
    """Fill an emulator started with seed="empty"; returns the scenario's list and campaign ids.

    Each subscriber is on one list, receives one of the campaigns sent to that list, and has
    ``events`` events in it (opens, then a click).
    """
    store = emulator.env.store
    rng = random.Random(f"bench:{subscribers}")
    now = datetime.strptime(emulator.utc_now(), "%Y-%m-%d %H:%M:%S")  # stored dates are UTC
    label = f"bench{subscribers}"
    with store.write() as db:
        client_pk, account_list_ids = _first_client(db)
        list_pks = account_list_ids[:lists]
        while len(list_pks) < lists:
            n = len(list_pks)
            list_id = hex_id(label, "list", n)
            db.execute(
                "INSERT INTO lists(client_id, list_id, title) VALUES (?, ?, ?)",
                (client_pk, list_id, f"Bench list {n + 1}"),
            )
            list_pks.append(db.execute("SELECT last_insert_rowid()").fetchone()[0])
        campaign_pks = []
        for c in range(sent):
            sent_at = now - timedelta(days=sent - c, hours=1)
            fields = {
                "status": "sent",
                "name": f"Bench campaign {c + 1}",
                "sent_date": _stamp(sent_at),
                "created": _stamp(sent_at - timedelta(days=1)),
            }
            pk, _ = campaigns.create(db, label, client_pk, fields)
            db.execute("INSERT INTO campaign_lists VALUES (?, ?)", (pk, list_pks[c % lists]))
            campaign_pks.append((pk, sent_at))
    _subscribers(store, rng, now, subscribers, list_pks, campaign_pks, events)
    store.bump(*(("list", pk) for pk in list_pks), *(("campaign", pk) for pk, _ in campaign_pks))
    return {"lists": len(list_pks), "campaigns": len(campaign_pks)}


def _first_client(db) -> tuple[int, list[int]]:
    client_pk = db.execute(
        "SELECT c.id FROM clients c JOIN accounts a ON a.id = c.account_id "
        "WHERE a.type = 'agency' ORDER BY c.id LIMIT 1"
    ).fetchone()[0]
    lists = [row[0] for row in db.execute("SELECT id FROM lists WHERE client_id = ?", (client_pk,))]
    return client_pk, lists


def _subscribers(store, rng, now, total, list_pks, campaign_pks, events) -> None:
    per_list = len(campaign_pks) // len(list_pks)
    subs, recipients, rows = [], [], []
    for i in range(total):
        name, email = person(i + 1_000_000)
        slot = i % len(list_pks)
        state = _state(rng)
        joined = now - timedelta(days=40, minutes=rng.randrange(14400))
        changed = joined if state in (ACTIVE, UNCONFIRMED) else joined + timedelta(days=30)
        subs.append(
            (list_pks[slot], email, email.lower(), name, state, _stamp(changed), _stamp(joined),
             "[]", "Gmail", "Yes")
        )  # fmt: skip
        pk, sent_at = campaign_pks[slot + len(list_pks) * (i // len(list_pks) % per_list)]
        recipients.append((pk, list_pks[slot], email, email.lower()))
        for e in range(events):
            kind, url = (
                ("click", "https://shop.example/item?id=7&ref=cm") if e == 2 else ("open", "")
            )
            at = sent_at + timedelta(minutes=30 + 90 * e + rng.randrange(60))
            rows.append(
                (pk, kind, list_pks[slot], email, email.lower(), _stamp(min(at, now)), url, "",
                 "", 0)
            )  # fmt: skip
        if len(subs) >= BATCH:
            _flush(store, subs, recipients, rows)
            subs, recipients, rows = [], [], []
    _flush(store, subs, recipients, rows)


def _flush(store, subs, recipients, rows) -> None:
    with store.write() as db:
        db.executemany(
            "INSERT INTO subscribers(list_id, email, email_lc, name, state, date, joined, "
            "fields, reads_with, consent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            subs,
        )
        db.executemany(
            "INSERT INTO recipients(campaign_id, list_id, email, email_lc) VALUES (?, ?, ?, ?)",
            recipients,
        )
        db.executemany(
            "INSERT INTO events(campaign_id, kind, list_id, email, email_lc, date, url, "
            "bounce_type, reason, geo) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        db.execute(
            "UPDATE campaigns SET recipients = (SELECT count(*) FROM recipients r "
            "WHERE r.campaign_id = campaigns.id)"
        )
