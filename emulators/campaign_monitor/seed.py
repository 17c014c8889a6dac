"""Seed data, deterministic for a seed value (random.Random(seed) and hashed IDs).

"empty": the accounts, their clients and two lists per client.
"demo":  a few hundred people per list in mixed states, five sent campaigns per client with
         opens, clicks, unsubscribes, bounces and spam, a scheduled and a draft campaign.
int N:   N subscribers on the agency's first client's two lists (most on the first) and three
         campaigns with events to the second list, for benchmarks. Rows are generated and
         written in a stream, so memory stays flat even at 1,000,000.

Dates fall in the 90 days before the clock's start, so a run always looks recent.
"""

import json
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from emulators.campaign_monitor import campaigns
from emulators.campaign_monitor.identity import (
    ACCOUNTS,
    CUSTOM_FIELDS,
    ClientSpec,
    api_key,
    hex_id,
)
from emulators.campaign_monitor.store import (
    ACTIVE,
    BOUNCED,
    DELETED,
    UNCONFIRMED,
    UNSUBSCRIBED,
    finish_seeding,
    open_for_seeding,
)

FIRST_NAMES = (
    ("Maria", "maria"), ("James", "james"), ("Zoë", "zoe"), ("Łukasz", "lukasz"),
    ("Aiko", "aiko"), ("Olivia", "olivia"), ("Noah", "noah"), ("Fatima", "fatima"),
    ("Mateo", "mateo"), ("Ingrid", "ingrid"), ("Siobhán", "siobhan"), ("Kwame", "kwame"),
    ("Priya", "priya"), ("Ólafur", "olafur"), ("Amélie", "amelie"), ("Dmitri", "dmitri"),
    ("Hana", "hana"), ("Søren", "soren"), ("José", "jose"), ("Chloé", "chloe"),
)  # fmt: skip
LAST_NAMES = (
    ("Garcia", "garcia"), ("Ångström", "angstrom"), ("Żółć", "zolc"), ("Smith", "smith"),
    ("Nguyen", "nguyen"), ("O'Brien", "obrien"), ("Müller", "muller"), ("Kowalski", "kowalski"),
    ("Tanaka", "tanaka"), ("Okafor", "okafor"), ("Silva", "silva"), ("Dubois", "dubois"),
    ("Patel", "patel"), ("Novák", "novak"), ("Johansson", "johansson"), ("Ruiz", "ruiz"),
    ("Nakamura", "nakamura"),
)  # fmt: skip
CJK_NAMES = (("王芳", "wang.fang"), ("李娜", "li.na"), ("张伟", "zhang.wei"), ("佐藤花子", "sato"))
DOMAINS = ("example.com", "Example.COM", "example.org", "Mail.Example.net", "example.co.uk")
READERS = ("Gmail", "Gmail", "Apple Mail", "iPhone", "Outlook", "")
CLICK_URLS = (
    "https://www.example.com/?utm_source=newsletter&utm_medium=email",
    "https://shop.example.com/sale?category=shoes&size=42&ref=cm",
    "https://www.example.com/blog/post?id=17&lang=en",
    "https://www.example.org/events?city=Sydney&month=6",
)
SOFT_REASONS = (
    "Soft Bounce - Mailbox Full",
    "Soft Bounce - General",
    "Bounce - But No Email Address Returned ",
)
TAGS = ("Newsletter", "Promotion", "Product", "Events", "Seasonal")
CAMPAIGN_NAMES = (
    "Welcome to {c}",
    "{c} Spring Sale",
    "What's new at {c}",
    "{c} Community News",
    "Last chance: {c} offers",
    "{c} Winter Preview",
)
SEED_DAYS = 90
BULK_SECOND_LIST_CAP = 50_000
BATCH = 20_000

# state, probability (the rest is Active)
DEMO_STATES = ((UNSUBSCRIBED, 0.08), (BOUNCED, 0.05), (DELETED, 0.05), (UNCONFIRMED, 0.04))
BULK_STATES = ((UNSUBSCRIBED, 0.04), (BOUNCED, 0.02), (DELETED, 0.02), (UNCONFIRMED, 0.02))


def seed_label(seed: str | int) -> str:
    """The canonical name of a seed; raises ValueError for anything unknown."""
    if isinstance(seed, bool):
        raise ValueError(f"unknown seed {seed!r}")
    if isinstance(seed, int) or (isinstance(seed, str) and seed.isdigit()):
        return f"n{int(seed)}"
    if seed in ("demo", "empty"):
        return seed
    raise ValueError(f"unknown seed {seed!r}: use 'demo', 'empty' or a number of subscribers")


class Minutes:
    """Seed dates as minutes since the start of the seeded period, exactly SEED_DAYS before
    the clock's start, so one seed yields the same data at any hour, only shifted in time.
    Formatting is cheap: a million subscribers need two stamps each."""

    def __init__(self, start: datetime) -> None:
        begin = (start - timedelta(days=SEED_DAYS)).replace(second=0, microsecond=0)
        midnight = begin.replace(hour=0, minute=0)
        self.offset = (begin.hour * 60) + begin.minute  # minutes past that first midnight
        self.end = SEED_DAYS * 1440  # the start, i.e. "now"
        span = SEED_DAYS + 8  # a week ahead for scheduled campaigns
        self.days = [(midnight + timedelta(days=d)).strftime("%Y-%m-%d") for d in range(span)]

    def past(self, minute: int) -> str:
        """The stamp of `minute`, but never later than the start (now)."""
        return self.stamp(min(minute, self.end))

    def stamp(self, minute: int) -> str:
        minute += self.offset
        return f"{self.days[minute // 1440]} {minute % 1440 // 60:02d}:{minute % 60:02d}:00"

    def days_ago(self, days: float) -> int:
        return self.end - int(days * 1440)


def seed_database(path: Path, label: str, start: datetime) -> None:
    """Build the database for a seed label (see seed_label) at `path`."""
    conn = open_for_seeding(path)
    rng = random.Random(label)
    minutes = Minutes(start)
    conn.execute("BEGIN")
    clients = _accounts(conn, label)
    if label == "demo":
        _demo(conn, rng, label, minutes, clients)
    elif label != "empty":
        _bulk(conn, rng, label, minutes, clients[0], int(label[1:]))
    conn.execute("COMMIT")
    finish_seeding(conn, label)


@dataclass
class SeededClient:
    pk: int
    name: str
    lists: list[int]


def _accounts(conn: sqlite3.Connection, label: str) -> list[SeededClient]:
    seeded: list[SeededClient] = []
    for a, account in enumerate(ACCOUNTS):
        account_pk = conn.execute(
            "INSERT INTO accounts(name, type, api_key) VALUES (?, ?, ?)",
            (account.name, account.type, api_key(label, "account", a)),
        ).lastrowid
        for c, spec in enumerate(account.clients):
            seeded.append(_client(conn, label, account_pk, (a, c), spec))
    return seeded


def _client(
    conn: sqlite3.Connection, label: str, account_pk: int, where: tuple, spec: ClientSpec
) -> SeededClient:
    slug = "".join(ch for ch in spec.name.lower() if ch.isalnum())
    client_pk = conn.execute(
        "INSERT INTO clients(account_id, client_id, name, api_key, contact_name, email, country, "
        "username) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            account_pk,
            hex_id(label, "client", *where),
            spec.name,
            api_key(label, "client", *where),
            spec.contact,
            f"contact@{slug}.example.com",
            spec.country,
            slug,
        ),
    ).lastrowid
    first = spec.contact.split()[0]
    conn.executemany(
        "INSERT INTO people(client_id, email, name, status, access_level) VALUES (?, ?, ?, ?, ?)",
        [
            (client_pk, f"{first.lower()}@{slug}.example.com", spec.contact, "Active", 1023),
            (client_pk, f"reports@{slug}.example.com", "Reporting Robot", "Active", 0),
        ],
    )
    lists = []
    for n, title in enumerate(spec.list_names):
        list_id = hex_id(label, "list", *where, n)
        lists.append(
            conn.execute(
                "INSERT INTO lists(client_id, list_id, title) VALUES (?, ?, ?)",
                (client_pk, list_id, f"{spec.name} {title}"),
            ).lastrowid
        )
    return SeededClient(client_pk, spec.name, lists)


# Campaign Monitor's names: "United States of America" is not Salesforce's "United States".
SEED_COUNTRIES = ("Australia", "New Zealand", "United Kingdom", "United States of America")


def _field_pool(rng: random.Random, size: int = 509) -> list[str]:
    """Pre-serialised CustomFields values; subscribers pick one, which keeps seeding fast."""
    options = next(opts for key, _, opts in CUSTOM_FIELDS if key == "interests")
    pool = []
    for n in range(size):
        fields = []
        if rng.random() < 0.7:
            fields.append({"Key": "website", "Value": f"https://www.example.com/u?id={n}&ref=cm"})
        for option in sorted(rng.sample(options, rng.randrange(4))):
            fields.append({"Key": "interests", "Value": option})
        if rng.random() < 0.6:
            fields.append({"Key": "age", "Value": str(rng.randint(18, 85))})
        if rng.random() < 0.5:
            day = datetime(1950, 1, 1) + timedelta(days=rng.randrange(20000))
            fields.append({"Key": "birthday", "Value": day.strftime("%Y-%m-%d")})
        if n % 3 == 0:  # by position, not by rng: the rest of the seed stays as it was
            fields.append({"Key": "Country", "Value": SEED_COUNTRIES[n // 3 % len(SEED_COUNTRIES)]})
        pool.append(json.dumps(fields, ensure_ascii=False))
    return pool


def person(index: int) -> tuple[str, str]:
    """(name, email) for person number `index`: unique email, mixed case, unicode names."""
    domain = DOMAINS[index * 7 % len(DOMAINS)]
    if index % 23 == 5:
        name, ascii_name = CJK_NAMES[index % len(CJK_NAMES)]
        return name, f"{ascii_name}{index}@{domain}"
    first, first_ascii = FIRST_NAMES[index % len(FIRST_NAMES)]
    last, last_ascii = LAST_NAMES[index // len(FIRST_NAMES) % len(LAST_NAMES)]
    style = index * 3 % 4
    if style == 0:
        local = f"{first_ascii.capitalize()}.{last_ascii.capitalize()}{index}"
    elif style == 1:
        local = f"{first_ascii}.{last_ascii}{index}"
        domain = domain.lower()
    elif style == 2:
        local = f"{first_ascii[0].upper()}{last_ascii}{index}"
    else:
        local = f"{first_ascii}+news{index}"
    name = "" if index % 41 == 7 else f"{first} {last}"
    return name, f"{local}@{domain}"


class SubscriberRows:
    """Generates subscriber rows for a list from a person range, one at a time."""

    def __init__(self, rng: random.Random, minutes: Minutes, states: tuple) -> None:
        self.rng, self.minutes, self.states = rng, minutes, states
        self.fields = _field_pool(rng)

    def row(self, list_pk: int, index: int) -> tuple:
        rng, minutes = self.rng, self.minutes
        name, email = person(index)
        joined = rng.randrange(minutes.end - 60)
        state, roll = ACTIVE, rng.random()
        for candidate, share in self.states:
            if roll < share:
                state = candidate
                break
            roll -= share
        date = joined
        if state not in (ACTIVE, UNCONFIRMED):
            date = joined + rng.randrange(minutes.end - joined)
        return (
            list_pk,
            email,
            email.lower(),
            name,
            state,
            minutes.stamp(date),
            minutes.stamp(joined),
            self.fields[rng.randrange(len(self.fields))],
            READERS[rng.randrange(len(READERS))],
            "Yes" if rng.random() < 0.8 else "No",
        )


INSERT_SUBSCRIBER = (
    "INSERT INTO subscribers(list_id, email, email_lc, name, state, date, joined, fields, "
    "reads_with, consent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _write_rows(conn: sqlite3.Connection, rows: Iterator[tuple]) -> None:
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            conn.executemany(INSERT_SUBSCRIBER, batch)
            batch.clear()
    conn.executemany(INSERT_SUBSCRIBER, batch)


def _demo(conn, rng: random.Random, label: str, minutes: Minutes, clients: list) -> None:
    gen = SubscriberRows(rng, minutes, DEMO_STATES)
    for c, client in enumerate(clients):
        people = range(c * 1000, c * 1000 + 360)
        for list_pk, share in zip(client.lists, (0.9, 0.55), strict=True):
            chosen = [i for i in people if rng.random() < share]
            _write_rows(conn, (gen.row(list_pk, i) for i in chosen))
        sent_days = sorted((rng.uniform(1, 60) for _ in range(5)), reverse=True)
        for n, days in enumerate(sent_days):
            targets = client.lists if n % 2 else client.lists[:1]
            _sent_campaign(conn, rng, label, minutes, client, n, days, targets)
        _unsent_campaigns(conn, label, minutes, client)


def _bulk(conn, rng: random.Random, label: str, minutes: Minutes, client, total: int) -> None:
    gen = SubscriberRows(rng, minutes, BULK_STATES)
    second = min(total // 10, BULK_SECOND_LIST_CAP)
    first_list, second_list = client.lists
    _write_rows(conn, (gen.row(first_list, i) for i in range(total - second)))
    _write_rows(conn, (gen.row(second_list, i) for i in range(total - second, total)))
    for n, days in enumerate((45, 30, 15)):
        _sent_campaign(conn, rng, label, minutes, client, n, days, [second_list])


def _campaign_fields(rng: random.Random, client, n: int, status: str) -> dict:
    name = CAMPAIGN_NAMES[n % len(CAMPAIGN_NAMES)].format(c=client.name)
    slug = "".join(ch for ch in client.name.lower() if ch.isalnum())
    tags = sorted(rng.sample(TAGS, rng.randrange(3)))
    return {
        "status": status,
        "name": name,
        "subject": name,
        "from_name": client.name,
        "from_email": f"news@{slug}.example.com",
        "reply_to": f"hello@{slug}.example.com",
        "tags": tags,
    }


def _sent_campaign(conn, rng, label, minutes: Minutes, client, n: int, days: float, targets):
    sent = minutes.days_ago(days)
    fields = _campaign_fields(rng, client, n, "sent")
    fields.update(sent_date=minutes.stamp(sent), created=minutes.stamp(sent - 1440))
    campaign_pk, _ = campaigns.create(conn, label, client.pk, fields)
    recipients = _recipients(conn, campaign_pk, targets, minutes.stamp(sent))
    _events(conn, rng, campaign_pk, recipients, sent, minutes)


def _recipients(conn, campaign_pk: int, targets: list[int], sent: str) -> list[tuple]:
    """Those active when it was sent: joined before, and active or only left afterwards."""
    seen: set[str] = set()
    rows = []
    for list_pk in targets:
        conn.execute("INSERT INTO campaign_lists VALUES (?, ?)", (campaign_pk, list_pk))
        for sub_pk, email, state in conn.execute(
            "SELECT id, email, state FROM subscribers WHERE list_id = ? AND joined <= ? "
            "AND (state = ? OR (state IN (?, ?, ?) AND date > ?)) ORDER BY id",
            (list_pk, sent, ACTIVE, UNSUBSCRIBED, BOUNCED, DELETED, sent),
        ):
            if email.lower() not in seen:
                seen.add(email.lower())
                rows.append((sub_pk, list_pk, email, state))
    conn.executemany(
        "INSERT INTO recipients(campaign_id, list_id, email, email_lc) VALUES (?, ?, ?, ?)",
        [(campaign_pk, lp, email, email.lower()) for _, lp, email, _ in rows],
    )
    conn.execute("UPDATE campaigns SET recipients = ? WHERE id = ?", (len(rows), campaign_pk))
    return rows


class _EventWriter:
    """Collects a campaign's events and the state changes they cause, then writes both."""

    def __init__(self, campaign_pk: int, minutes: Minutes) -> None:
        self.campaign_pk, self.minutes = campaign_pk, minutes
        self.events: list[tuple] = []
        self.moves: list[tuple] = []

    def add(self, recipient: tuple, kind: str, at: int, **extra: str) -> str:
        _, list_pk, email, _ = recipient
        date = self.minutes.past(at)
        self.events.append(
            (
                self.campaign_pk,
                kind,
                list_pk,
                email,
                email.lower(),
                date,
                extra.get("url", ""),
                extra.get("bounce", ""),
                extra.get("reason", ""),
                campaigns.place_of(email),
            )
        )
        return date

    def move(self, recipient: tuple, state: int, date: str) -> None:
        self.moves.append((state, date, recipient[0]))

    def write(self, conn: sqlite3.Connection) -> None:
        conn.executemany(
            "INSERT INTO events(campaign_id, kind, list_id, email, email_lc, date, url, "
            "bounce_type, reason, geo) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self.events,
        )
        conn.executemany("UPDATE subscribers SET state = ?, date = ? WHERE id = ?", self.moves)


def _events(conn, rng: random.Random, campaign_pk: int, recipients, sent: int, minutes) -> None:
    out = _EventWriter(campaign_pk, minutes)
    # one of each rarer kind is guaranteed, so every report has something to show
    picks = rng.sample(range(len(recipients)), min(4, len(recipients)))
    forced = dict(zip(picks, ("hard", "soft", "unsubscribe", "spam"), strict=False))
    for n, recipient in enumerate(recipients):
        _recipient_events(rng, out, recipient, forced.get(n) or _roll(rng), sent)
    out.write(conn)


def _recipient_events(rng: random.Random, out: _EventWriter, recipient, roll: str, sent: int):
    active = recipient[3] == ACTIVE
    if roll in ("hard", "soft"):
        hard = roll == "hard" and active  # only someone still active can start bouncing
        bounce, reason = ("Hard", "Hard Bounce") if hard else ("Soft", rng.choice(SOFT_REASONS))
        date = out.add(recipient, "bounce", sent + rng.randrange(60), bounce=bounce, reason=reason)
        if hard:
            out.move(recipient, BOUNCED, date)
        return
    at = sent + rng.randrange(7 * 1440)
    if roll != "none" or rng.random() < 0.45:
        for extra in range(1 + (rng.random() < 0.3) + (rng.random() < 0.1)):
            out.add(recipient, "open", at + extra * rng.randrange(1, 600))
        for gap in (5, 9)[: (rng.random() < 0.3) + (rng.random() < 0.1)]:
            out.add(recipient, "click", at + gap, url=rng.choice(CLICK_URLS))
    if roll == "spam":
        out.add(recipient, "spam", at + 20)
    if roll == "unsubscribe" and active:
        out.move(recipient, UNSUBSCRIBED, out.add(recipient, "unsubscribe", at + 15))


def _roll(rng: random.Random) -> str:
    roll = rng.random()
    for kind, share in (("hard", 0.01), ("soft", 0.02), ("unsubscribe", 0.015), ("spam", 0.004)):
        if roll < share:
            return kind
        roll -= share
    return "none"


def _unsent_campaigns(conn, label: str, minutes: Minutes, client) -> None:
    scheduled = _campaign_fields(random.Random(f"{label}:{client.pk}"), client, 5, "scheduled")
    scheduled.update(
        created=minutes.stamp(minutes.end - 1440),
        scheduled=minutes.stamp(minutes.end + 3 * 1440),
    )
    campaigns.create(conn, label, client.pk, scheduled)
    draft = _campaign_fields(random.Random(f"{label}:{client.pk}:draft"), client, 2, "draft")
    draft.update(name=f"Draft: {draft['name']}", created=minutes.stamp(minutes.end - 2 * 1440))
    campaigns.create(conn, label, client.pk, draft)
