"""The /api/v3.3 routes: clients, lists, subscribers and campaign reports."""

import math
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from emulators.campaign_monitor import campaigns, subscribers, webhooks
from emulators.campaign_monitor.app import ApiError, Reply, Route, flag, parse_json_body, route
from emulators.campaign_monitor.auth import Principal, find_campaign, find_client, find_list
from emulators.campaign_monitor.clock import (
    API_FORMAT,
    TIMEZONE_LABEL,
    InvalidLocalTime,
    parse_filter_date,
    parse_local,
)
from emulators.campaign_monitor.env import Env
from emulators.campaign_monitor.identity import CUSTOM_FIELDS, hex_id
from emulators.campaign_monitor.pager import ResultSet
from emulators.campaign_monitor.store import ACTIVE, DELETED, STATES, UNCONFIRMED, UNSUBSCRIBED

# orderfield -> sort key (an index backs each; "id" breaks ties)
SUBSCRIBER_KEYS = {
    "email": ("email_lc", "date", "id"),
    "name": ("name", "date", "id"),
    "date": ("date", "id"),
}
RECIPIENT_KEYS = {"email": ("email_lc", "id"), "list": ("list_id", "email_lc", "id")}
EVENT_KEYS = {
    "date": ("date", "id"),
    "email": ("email_lc", "date", "id"),
    "list": ("list_id", "date", "id"),
}
REPORTS = {
    "opens": "open",
    "clicks": "click",
    "unsubscribes": "unsubscribe",
    "bounces": "bounce",
    "spam": "spam",
}


@dataclass
class Call:
    env: Env
    conn: sqlite3.Connection
    who: Principal
    ids: dict[str, str]
    params: dict[str, str]
    raw_body: bytes

    def body(self) -> dict[str, Any]:
        data = parse_json_body(self.raw_body)
        if not isinstance(data, dict):
            raise ApiError(400, 400, "Failed to deserialize your request. Expected an object.")
        return data

    def now(self) -> str:
        """Now as stored (UTC, minute precision)."""
        return self.env.clock.stamp()

    def show(self, stored: str | None) -> str | None:
        return self.env.clock.show(stored)


# ---- paging -------------------------------------------------------------------------------


@dataclass
class Paging:
    page: int
    size: int
    field: str
    descending: bool
    since: str | None

    def envelope(self, results: list, total: int, ordered_by: str | None = None) -> dict:
        return {
            "Results": results,
            "ResultsOrderedBy": ordered_by or self.field,
            "OrderDirection": "desc" if self.descending else "asc",
            "PageNumber": self.page,
            "PageSize": self.size,
            "RecordsOnThisPage": len(results),
            "TotalNumberOfRecords": total,
            "NumberOfPages": math.ceil(total / self.size),
        }


def parse_paging(
    params: dict[str, str], fields: dict | None, default: str, direction: str
) -> Paging:
    """Validate page, pagesize, orderfield, orderdirection and date (codes 800-803 and 5)."""
    page = _int(params.get("page"), 1)
    if page is None or page < 1:
        raise ApiError(400, 800, "Invalid page number")
    size = _int(params.get("pagesize"), 1000)
    if size is None or not 10 <= size <= 1000:
        raise ApiError(400, 801, "Invalid page size. Must be between 10 and 1000")
    field = (params.get("orderfield") or default).strip().lower()
    if fields is not None and field not in fields:
        raise ApiError(400, 802, "Invalid order field")
    order = (params.get("orderdirection") or direction).strip().lower()
    if order not in ("asc", "desc"):
        raise ApiError(400, 803, "Invalid order direction")
    return Paging(page, size, field, order == "desc", filter_date(params.get("date", "")))


def _int(text: str | None, default: int) -> int | None:
    if text is None or not text.strip():
        return default
    try:
        return int(text)
    except ValueError:
        return None


def filter_date(text: str) -> str | None:
    """An account-local date parameter as a stored UTC stamp; a time the zone skips is as
    invalid as a malformed one."""
    try:
        return parse_filter_date(text)
    except (ValueError, InvalidLocalTime) as exc:
        raise ApiError(400, 5, "Invalid Date") from exc


def paged(call: Call, rs: ResultSet, paging: Paging) -> tuple[int, list[tuple]]:
    page = call.env.pager.page(call.conn, rs, paging.page, paging.size, paging.descending)
    return page.total, page.rows


# ---- account and clients ------------------------------------------------------------------


def systemdate(call: Call) -> Reply:
    """The current date in the account's time zone, to the minute like the sample."""
    return Reply(body={"SystemDate": call.show(call.now())})


def clients(call: Call) -> Reply:
    rows = call.conn.execute(
        "SELECT client_id, name FROM clients WHERE account_id = ? AND (? IS NULL OR id = ?) "
        "ORDER BY id",
        (call.who.account_id, call.who.client_id, call.who.client_id),
    ).fetchall()
    return Reply(body=[{"ClientID": cid, "Name": name} for cid, name in rows])


def client_details(call: Call) -> Reply:
    pk = find_client(call.conn, call.who, call.ids["id"])
    key, cid, name, contact, email, country, username = call.conn.execute(
        "SELECT api_key, client_id, name, contact_name, email, country, username FROM clients "
        "WHERE id = ?",
        (pk,),
    ).fetchone()
    return Reply(
        body={
            "ApiKey": key,
            "AccessDetails": {"Username": username, "AccessLevel": 23},
            "BasicDetails": {
                "ClientID": cid,
                "CompanyName": name,
                "ContactName": contact,
                "EmailAddress": email,
                "Country": country,
                "TimeZone": TIMEZONE_LABEL,
            },
            "BillingDetails": {
                "CanPurchaseCredits": True,
                "Credits": 500,
                "ClientPays": True,
                "BaseRatePerRecipient": 1.0,
                "MarkupPerRecipient": 0.0,
                "MarkupOnDelivery": 0.0,
                "BaseDeliveryRate": 5.0,
                "Currency": "USD",
                "BaseDesignSpamTestRate": 5.0,
            },
        }
    )


def client_lists(call: Call) -> Reply:
    pk = find_client(call.conn, call.who, call.ids["id"])
    rows = call.conn.execute(
        "SELECT list_id, title FROM lists WHERE client_id = ? ORDER BY id", (pk,)
    ).fetchall()
    return Reply(body=[{"ListID": lid, "Name": title} for lid, title in rows])


def lists_for_email(call: Call) -> Reply:
    pk = find_client(call.conn, call.who, call.ids["id"])
    email = call.params.get("email", "")
    if not subscribers.valid_email(email):
        raise ApiError(400, 1, "Invalid Email Address")
    rows = call.conn.execute(
        "SELECT l.list_id, l.title, s.state, s.joined FROM subscribers s "
        "JOIN lists l ON l.id = s.list_id WHERE l.client_id = ? AND s.email_lc = ? ORDER BY l.id",
        (pk, email.lower()),
    ).fetchall()
    return Reply(
        body=[
            {
                "ListID": lid,
                "ListName": title,
                "SubscriberState": STATES[state][0],
                "DateSubscriberAdded": call.show(joined),
            }
            for lid, title, state, joined in rows
        ]
    )


def people(call: Call) -> Reply:
    pk = find_client(call.conn, call.who, call.ids["id"])
    rows = call.conn.execute(
        "SELECT email, name, status, access_level FROM people WHERE client_id = ? ORDER BY id",
        (pk,),
    ).fetchall()
    found = [{"EmailAddress": e, "Name": n, "Status": s, "AccessLevel": a} for e, n, s, a in rows]
    if "email" not in call.params:
        return Reply(body=found)
    for person in found:
        if person["EmailAddress"].lower() == call.params["email"].lower():
            return Reply(body=person)
    raise ApiError(400, 1, "Invalid Email Address")


def client_campaigns(call: Call) -> Reply:
    """v3.3: paged, always ordered by SentDate, filtered by sent dates and tags."""
    pk = find_client(call.conn, call.who, call.ids["id"])
    page = parse_paging(call.params, None, "SentDate", "desc")
    where, args = _campaign_filters(pk, call.params)
    total = call.conn.execute(f"SELECT count(*) FROM campaigns WHERE {where}", args).fetchone()[0]
    order = "DESC" if page.descending else "ASC"
    rows = call.conn.execute(
        f"SELECT {campaigns.CAMPAIGN_COLUMNS} FROM campaigns WHERE {where} "
        f"ORDER BY sent_date {order}, id {order} LIMIT ? OFFSET ?",
        (*args, page.size, (page.page - 1) * page.size),
    ).fetchall()
    results = [campaigns.sent_record(row, call.env.clock) for row in rows]
    return Reply(body=page.envelope(results, total, "SentDate"))


def _campaign_filters(client_pk: int, params: dict[str, str]) -> tuple[str, tuple]:
    where, args = ["client_id = ?", "status = 'sent'"], [client_pk]
    since = filter_date(params.get("sentfromdate", ""))
    if since:
        where.append("sent_date >= ?")
        args.append(since)
    raw_until = params.get("senttodate", "").strip()
    until = filter_date(raw_until)
    if until and len(raw_until) == 10:  # a bare date includes that whole (local) day
        day_after = parse_local(raw_until) + timedelta(days=1)
        where.append("sent_date < ?")
        args.append(filter_date(day_after.strftime(API_FORMAT)))
    elif until:
        where.append("sent_date <= ?")
        args.append(until)
    tags = [t.strip() for t in params.get("tags", "").split(",") if t.strip()]
    if tags:
        marks = ", ".join("?" * len(tags))
        where.append(f"EXISTS (SELECT 1 FROM json_each(campaigns.tags) WHERE value IN ({marks}))")
        args.extend(tags)
    return " AND ".join(where), tuple(args)


def _unsent(status: str) -> Callable[[Call], Reply]:
    def handler(call: Call) -> Reply:
        pk = find_client(call.conn, call.who, call.ids["id"])
        order = "scheduled" if status == "scheduled" else "created DESC"
        rows = call.conn.execute(
            f"SELECT {campaigns.CAMPAIGN_COLUMNS} FROM campaigns WHERE client_id = ? "
            f"AND status = ? ORDER BY {order}, id",
            (pk, status),
        ).fetchall()
        scheduled = status == "scheduled"
        return Reply(body=[campaigns.draft_record(row, scheduled, call.env.clock) for row in rows])

    return handler


def client_tags(call: Call) -> Reply:
    pk = find_client(call.conn, call.who, call.ids["id"])
    rows = call.conn.execute(
        "SELECT value, count(*) FROM campaigns, json_each(campaigns.tags) "
        "WHERE client_id = ? GROUP BY value ORDER BY value",
        (pk,),
    ).fetchall()
    return Reply(body=[{"Name": name, "NumberOfCampaigns": n} for name, n in rows])


def external_session(call: Call) -> Reply:
    body = call.body()
    find_client(call.conn, call.who, str(body.get("ClientID", "")))
    token = secrets.token_hex(16)
    with call.env.lock:
        call.env.sessions[token] = {k: body.get(k) for k in ("Email", "Chrome", "Url", "ClientID")}
    return Reply(body={"SessionUrl": f"{call.env.root_url}/_emulator/session/{token}"})


# ---- lists ----------------------------------------------------------------------------------


def list_details(call: Call) -> Reply:
    row = find_list(call.conn, call.who, call.ids["id"])
    opt_in, page, success, setting = call.conn.execute(
        "SELECT confirmed_opt_in, unsubscribe_page, confirmation_page, unsubscribe_setting "
        "FROM lists WHERE id = ?",
        (row.pk,),
    ).fetchone()
    return Reply(
        body={
            "ConfirmedOptIn": bool(opt_in),
            "Title": row.title,
            "UnsubscribePage": page,
            "ListID": row.list_id,
            "ConfirmationSuccessPage": success,
            "UnsubscribeSetting": setting,
        }
    )


def _list_settings(body: dict) -> tuple:
    """Title and options of a list create/update body (createsend's List.create/update)."""
    title = body.get("Title")
    if not isinstance(title, str) or not title.strip():
        raise ApiError(400, 250, "List title must not be empty")
    setting = body.get("UnsubscribeSetting") or subscribers.ALL_CLIENT_LISTS
    if setting not in subscribers.UNSUBSCRIBE_SETTINGS:
        raise ApiError(400, 265, "Invalid UnsubscribeSetting")
    return (
        title.strip(),
        int(flag(body.get("ConfirmedOptIn"))),
        str(body.get("UnsubscribePage") or ""),
        str(body.get("ConfirmationSuccessPage") or ""),
        setting,
    )


def list_create(call: Call) -> Reply:
    """POST /lists/{clientid}.json; UnsubscribeSetting defaults to AllClientLists."""
    client_pk = find_client(call.conn, call.who, call.ids["id"])
    values = _list_settings(call.body())
    with call.env.store.write() as conn:
        pk = conn.execute(
            "INSERT INTO lists(client_id, list_id, title, confirmed_opt_in, unsubscribe_page, "
            "confirmation_page, unsubscribe_setting) VALUES (?, '', ?, ?, ?, ?, ?)",
            (client_pk, *values),
        ).lastrowid
        list_id = hex_id(call.env.seed, "created-list", pk)
        conn.execute("UPDATE lists SET list_id = ? WHERE id = ?", (list_id, pk))
    return Reply(201, list_id)


def list_update(call: Call) -> Reply:
    """PUT /lists/{listid}.json. Turning AllClientLists on can, on request, add the list's
    unsubscribed people to the suppression list (AddUnsubscribesToSuppList) and unsubscribe
    its active people who are on it (ScrubActiveWithSuppList)."""
    row = find_list(call.conn, call.who, call.ids["id"])
    body = call.body()
    values = _list_settings(body)
    now = call.now()
    with call.env.store.write(("list", row.pk)) as conn:
        client_pk, before = conn.execute(
            "SELECT client_id, unsubscribe_setting FROM lists WHERE id = ?", (row.pk,)
        ).fetchone()
        conn.execute(
            "UPDATE lists SET title = ?, confirmed_opt_in = ?, unsubscribe_page = ?, "
            "confirmation_page = ?, unsubscribe_setting = ? WHERE id = ?",
            (*values, row.pk),
        )
        if before == values[-1] or values[-1] != subscribers.ALL_CLIENT_LISTS:
            return Reply()
        if flag(body.get("AddUnsubscribesToSuppList")):
            gone = conn.execute(
                "SELECT email FROM subscribers WHERE list_id = ? AND state = ?",
                (row.pk, UNSUBSCRIBED),
            ).fetchall()
            subscribers.suppress(conn, client_pk, [e for (e,) in gone], now, "Unsubscribed")
        if flag(body.get("ScrubActiveWithSuppList")):
            conn.execute(
                "UPDATE subscribers SET state = ?, date = ? WHERE list_id = ? AND state IN (?, ?) "
                "AND email_lc IN (SELECT email_lc FROM suppressions WHERE client_id = ?)",
                (UNSUBSCRIBED, now, row.pk, ACTIVE, UNCONFIRMED, client_pk),
            )
    return Reply()


SUPPRESSION_KEYS = {"email": "email_lc", "date": "date"}


def suppression_list(call: Call) -> Reply:
    """Paged like the sample: {SuppressionReason, EmailAddress, Date, State: "Suppressed"}."""
    pk = find_client(call.conn, call.who, call.ids["id"])
    params = {k: v for k, v in call.params.items() if k != "date"}
    page = parse_paging(params, SUPPRESSION_KEYS, "email", "asc")
    total = call.conn.execute(
        "SELECT count(*) FROM suppressions WHERE client_id = ?", (pk,)
    ).fetchone()[0]
    order = "DESC" if page.descending else "ASC"
    rows = call.conn.execute(
        f"SELECT reason, email, date FROM suppressions WHERE client_id = ? "
        f"ORDER BY {SUPPRESSION_KEYS[page.field]} {order}, email_lc {order} LIMIT ? OFFSET ?",
        (pk, page.size, (page.page - 1) * page.size),
    ).fetchall()
    results = [
        {"SuppressionReason": r, "EmailAddress": e, "Date": call.show(d), "State": "Suppressed"}
        for r, e, d in rows
    ]
    return Reply(body=page.envelope(results, total))


def suppress(call: Call) -> Reply:
    pk = find_client(call.conn, call.who, call.ids["id"])
    emails = call.body().get("EmailAddresses")
    if not isinstance(emails, list) or not all(subscribers.valid_email(e) for e in emails):
        raise ApiError(400, 1, "Invalid Email Address")
    with call.env.store.write() as conn:
        _, changed = subscribers.suppress_and_unsubscribe(
            conn, pk, emails, call.env.clock.precise_stamp()
        )
    call.env.store.bump(*(("list", list_pk) for list_pk in changed))
    return Reply()


def unsuppress(call: Call) -> Reply:
    pk = find_client(call.conn, call.who, call.ids["id"])
    email = call.params.get("email", "")
    with call.env.store.write() as conn:
        subscribers.unsuppress(conn, pk, email)
    return Reply()


def custom_fields(call: Call) -> Reply:
    find_list(call.conn, call.who, call.ids["id"])
    return Reply(
        body=[
            {
                "FieldName": key,
                "Key": f"[{key}]",
                "DataType": data_type,
                "FieldOptions": list(options),
                "VisibleInPreferenceCenter": True,
            }
            for key, data_type, options in CUSTOM_FIELDS
        ]
    )


STAT_NAMES = {
    1: ("TotalActiveSubscribers", "NewActiveSubscribers"),
    3: ("TotalUnsubscribes", "Unsubscribes"),
    5: ("TotalDeleted", "Deleted"),
    4: ("TotalBounces", "Bounces"),
}


def list_stats(call: Call) -> Reply:
    """Totals per state, and how many entered it today, yesterday, this week/month/year (days
    that start at local midnight)."""
    row = find_list(call.conn, call.who, call.ids["id"])
    now = call.env.clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
    marks = [
        now,
        now - timedelta(days=1),
        now - timedelta(days=now.weekday()),
        now.replace(day=1),
        now.replace(month=1, day=1),
    ]
    today, yesterday, week, month, year = (
        call.env.clock.take(m).strftime(API_FORMAT) for m in marks
    )
    counts = {
        state: rest
        for state, *rest in call.conn.execute(
            "SELECT state, count(*), sum(date >= ?), sum(date >= ? AND date < ?), "
            "sum(date >= ?), sum(date >= ?), sum(date >= ?) FROM subscribers "
            "WHERE list_id = ? GROUP BY state",
            (today, yesterday, today, week, month, year, row.pk),
        )
    }
    body: dict[str, int] = {}
    for state, (total_name, prefix) in STAT_NAMES.items():
        values = counts.get(state, [0] * 6)
        body[total_name] = values[0]
        for suffix, value in zip(
            ("Today", "Yesterday", "ThisWeek", "ThisMonth", "ThisYear"), values[1:], strict=True
        ):
            body[prefix + suffix] = value or 0
    return Reply(body=body)


def _state_list(state: int) -> Callable[[Call], Reply]:
    def handler(call: Call) -> Reply:
        row = find_list(call.conn, call.who, call.ids["id"])
        page = parse_paging(call.params, SUBSCRIBER_KEYS, "email", "asc")
        rs = ResultSet(
            "subscribers",
            subscribers.COLUMNS,
            "list_id = ? AND state = ?",
            (row.pk, state),
            SUBSCRIBER_KEYS[page.field],
            page.since,
            ("list", row.pk),
        )
        total, rows = paged(call, rs, page)
        consent = flag(call.params.get("includetrackingpreference", "false"))
        return Reply(body=page.envelope([subscribers.record(r, consent) for r in rows], total))

    return handler


# ---- subscribers --------------------------------------------------------------------------


def subscriber_get(call: Call) -> Reply:
    row = find_list(call.conn, call.who, call.ids["id"])
    consent = flag(call.params.get("includetrackingpreference", "false"))
    return Reply(body=subscribers.fetch(call.conn, row.pk, call.params.get("email", ""), consent))


def _write(call: Call, action: Callable[[sqlite3.Connection, int], Any]) -> Any:
    row = find_list(call.conn, call.who, call.ids["id"])
    with call.env.store.write(("list", row.pk)) as conn:
        return action(conn, row.pk)


def _write_lists(call: Call, action: Callable[[sqlite3.Connection, int], set[int]]) -> None:
    """A write that may change other lists of the client too (an AllClientLists unsubscribe)."""
    changed = _write(call, action)
    call.env.store.bump(*(("list", pk) for pk in changed))


def subscriber_add(call: Call) -> Reply:
    body = call.body()
    email = _write(call, lambda conn, pk: subscribers.add(conn, pk, body, call.now()))
    return Reply(201, email)


def subscriber_update(call: Call) -> Reply:
    body, email = call.body(), call.params.get("email", "")
    _write(call, lambda conn, pk: subscribers.update(conn, pk, email, body, call.now()))
    return Reply()


def subscriber_delete(call: Call) -> Reply:
    email = call.params.get("email", "")
    _write_lists(
        call, lambda conn, pk: subscribers.deactivate(conn, pk, email, DELETED, call.now())
    )
    return Reply()


def subscriber_unsubscribe(call: Call) -> Reply:
    email = str(call.body().get("EmailAddress") or "")
    _write_lists(
        call, lambda conn, pk: subscribers.deactivate(conn, pk, email, UNSUBSCRIBED, call.now())
    )
    return Reply()


def subscriber_import(call: Call) -> Reply:
    body = call.body()
    result = _write(call, lambda conn, pk: subscribers.import_batch(conn, pk, body, call.now()))
    if result["FailureDetails"]:
        raise ApiError(400, 210, "Subscriber Import had some failures", result)
    return Reply(body=result)


# ---- campaigns ----------------------------------------------------------------------------


def campaign_summary(call: Call) -> Reply:
    row = find_campaign(call.conn, call.who, call.ids["id"])
    return Reply(body=campaigns.summary(call.conn, row.pk))


def campaign_lists(call: Call) -> Reply:
    row = find_campaign(call.conn, call.who, call.ids["id"])
    return Reply(body=campaigns.lists_and_segments(call.conn, row.pk))


def _list_ids(call: Call, campaign_pk: int) -> dict[int, str]:
    rows = call.conn.execute(
        "SELECT l.id, l.list_id FROM lists l JOIN campaign_lists cl ON cl.list_id = l.id "
        "WHERE cl.campaign_id = ?",
        (campaign_pk,),
    )
    return dict(rows.fetchall())


def recipients(call: Call) -> Reply:
    row = find_campaign(call.conn, call.who, call.ids["id"])
    params = {k: v for k, v in call.params.items() if k != "date"}  # no date filter here
    page = parse_paging(params, RECIPIENT_KEYS, "email", "asc")
    rs = ResultSet(
        "recipients",
        "email, list_id",
        "campaign_id = ?",
        (row.pk,),
        RECIPIENT_KEYS[page.field],
        None,
        ("campaign", row.pk),
    )
    total, rows = paged(call, rs, page)
    lists = _list_ids(call, row.pk)
    results = [{"EmailAddress": email, "ListID": lists[lpk]} for email, lpk in rows]
    return Reply(body=page.envelope(results, total))


def _report(kind: str) -> Callable[[Call], Reply]:
    def handler(call: Call) -> Reply:
        row = find_campaign(call.conn, call.who, call.ids["id"])
        page = parse_paging(call.params, EVENT_KEYS, "date", "asc")
        rs = ResultSet(
            "events",
            "id, email, list_id, date, url, bounce_type, reason, geo",
            "campaign_id = ? AND kind = ?",
            (row.pk, kind),
            EVENT_KEYS[page.field],
            page.since,
            ("campaign", row.pk),
        )
        total, rows = paged(call, rs, page)
        lists = _list_ids(call, row.pk)
        results = [
            campaigns.event_record(kind, (r[0], r[1], lists[r[2]], call.show(r[3]), *r[4:]))
            for r in rows
        ]
        return Reply(body=page.envelope(results, total))

    return handler


def routes() -> list[Route]:
    table: list[tuple[str, str, Callable[[Call], Reply]]] = [
        ("GET", "/systemdate.json", systemdate),
        ("GET", "/clients.json", clients),
        ("PUT", "/externalsession.json", external_session),
        ("GET", "/clients/{id}.json", client_details),
        ("GET", "/clients/{id}/lists.json", client_lists),
        ("GET", "/clients/{id}/listsforemail.json", lists_for_email),
        ("GET", "/clients/{id}/campaigns.json", client_campaigns),
        ("GET", "/clients/{id}/scheduled.json", _unsent("scheduled")),
        ("GET", "/clients/{id}/drafts.json", _unsent("draft")),
        ("GET", "/clients/{id}/tags.json", client_tags),
        ("GET", "/clients/{id}/people.json", people),
        ("GET", "/clients/{id}/suppressionlist.json", suppression_list),
        ("POST", "/clients/{id}/suppress.json", suppress),
        ("PUT", "/clients/{id}/unsuppress.json", unsuppress),
        ("POST", "/lists/{id}.json", list_create),
        ("GET", "/lists/{id}.json", list_details),
        ("PUT", "/lists/{id}.json", list_update),
        ("GET", "/lists/{id}/customfields.json", custom_fields),
        ("GET", "/lists/{id}/stats.json", list_stats),
        ("GET", "/subscribers/{id}.json", subscriber_get),
        ("POST", "/subscribers/{id}.json", subscriber_add),
        ("PUT", "/subscribers/{id}.json", subscriber_update),
        ("DELETE", "/subscribers/{id}.json", subscriber_delete),
        ("POST", "/subscribers/{id}/unsubscribe.json", subscriber_unsubscribe),
        ("POST", "/subscribers/{id}/import.json", subscriber_import),
        ("GET", "/campaigns/{id}/summary.json", campaign_summary),
        ("GET", "/campaigns/{id}/listsandsegments.json", campaign_lists),
        ("GET", "/campaigns/{id}/recipients.json", recipients),
    ]
    for code, (_, endpoint) in STATES.items():
        table.append(("GET", f"/lists/{{id}}/{endpoint}.json", _state_list(code)))
    for endpoint, kind in REPORTS.items():
        table.append(("GET", f"/campaigns/{{id}}/{endpoint}.json", _report(kind)))
    table.extend(webhooks.ROUTES)
    return [route(method, template, handler) for method, template, handler in table]
