"""List webhooks: the routes that manage them, the events subscriber changes queue for them,
and the background thread that POSTs those events, as Campaign Monitor does.

Sources: Campaign Monitor's webhooks page (campaignmonitor.com/api/v3-3/webhooks/: the
payload, batching, up to 1000 events per POST, a webhook deactivated after a week of errors),
its forum (the Deactivate event carries the new State: Unsubscribed, Bounced or Deleted), the
error codes of its lists page (601 Invalid Webhook URL, 602 Invalid Webhook Format, 603
Invalid Webhook Event, 610 the test request failed, with ResultData), and the official
wrappers (createsend-python list.py, createsend-dotnet Webhook.cs: routes, bodies and the
test failure's FailureStatus/FailureResponseMessage/FailureResponseCode/FailureResponse).

Routes:
  POST   /lists/{id}/webhooks.json                      {Events, Url, PayloadFormat} -> 201 "id"
  GET    /lists/{id}/webhooks.json                      [{WebhookID, Events, Url, Status,
                                                          PayloadFormat}]
  DELETE /lists/{id}/webhooks/{webhookid}.json
  GET    /lists/{id}/webhooks/{webhookid}/test.json     POSTs a sample event now; 400/610 if
                                                          the URL does not answer 2xx
  PUT    /lists/{id}/webhooks/{webhookid}/activate.json, .../deactivate.json

Events. Inside the write that changes a subscriber, subscribers.py asks targets() which
Active webhooks of the list take the event and emit() stores one row per webhook in
webhook_outbox, so a write that rolls back sends nothing. After each commit the Sender picks
the rows up, keeps them in memory per webhook and POSTs them in order, up to 1000 per
request, as {"Events": [...], "ListID": "..."} with Content-Type application/json;
charset=utf-8. Anything but a 2xx answer (or no answer within 10 s) is retried, the same
batch again, after each of retry_delays; a webhook whose retries run out is deactivated
(Status "Deactivated") and its queued events dropped, as Campaign Monitor deactivates a
webhook after a week of errors. One webhook's batches go one at a time, in order; a
deactivated or deleted webhook gets nothing more.
"""

import http.client
import itertools
import json
import sqlite3
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from emulators.campaign_monitor.app import ApiError, Reply, not_found
from emulators.campaign_monitor.auth import find_list
from emulators.campaign_monitor.identity import hex_id

if TYPE_CHECKING:
    from emulators.campaign_monitor.api import Call
    from emulators.campaign_monitor.env import Env
    from emulators.campaign_monitor.store import Store

EVENT_TYPES = ("Subscribe", "Deactivate", "Update")
FORMATS = {"json": "Json", "xml": "Xml"}
ACTIVE, DEACTIVATED = "Active", "Deactivated"
MAX_EVENTS = 1000
DEFAULT_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)
TIMEOUT_SECONDS = 10.0
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
# What Subscribe events give as SignupIPAddress for subscribers the API added. The docs show
# an address for a signup form and "TypeManual" for people entered in the app.
API_SIGNUP = "TypeAPI"
HEADERS = {
    "Content-Type": "application/json; charset=utf-8",
    "User-Agent": "CampaignMonitorEmulator/1.0 (webhooks)",
    "Connection": "close",
}
# The test POST: the subscriber of the docs' example, one event of each type the webhook takes.
SAMPLE = {
    "CustomFields": [{"Key": "website", "Value": "http://example.org"}],
    "EmailAddress": "test@example.org",
    "Name": "Test Subscriber",
}

TABLES = """
CREATE TABLE IF NOT EXISTS webhooks(id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id TEXT NOT NULL UNIQUE, list_id INTEGER NOT NULL, url TEXT NOT NULL,
    events TEXT NOT NULL, payload_format TEXT NOT NULL, status TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS webhooks_list ON webhooks(list_id, status);
-- events committed but not yet taken by the sender (AUTOINCREMENT: ids are never reused,
-- the sender takes rows after the last id it took)
CREATE TABLE IF NOT EXISTS webhook_outbox(id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id INTEGER NOT NULL, event TEXT NOT NULL);
"""


def ensure_tables(store: "Store") -> None:
    """Data files seeded before webhooks existed get their tables on start."""
    with store.write() as conn:
        for statement in TABLES.split(";"):
            if statement.strip():
                conn.execute(statement)


# ---- events --------------------------------------------------------------------------------


def targets(conn: sqlite3.Connection, list_pk: int, kind: str) -> list[int]:
    """The Active webhooks of the list that take events of `kind`."""
    rows = conn.execute(
        "SELECT id, events FROM webhooks WHERE list_id = ? AND status = ?", (list_pk, ACTIVE)
    ).fetchall()
    return [pk for pk, events in rows if kind in json.loads(events)]


def emit(
    conn: sqlite3.Connection,
    hook_pks: list[int],
    kind: str,
    subscriber: dict[str, Any],
    old_email: str | None = None,
) -> None:
    """Queue an event for each of the webhooks (see targets()), inside the caller's write
    transaction. `subscriber` is the API's record of the subscriber."""
    text = json.dumps(event(kind, subscriber, old_email), ensure_ascii=False)
    conn.executemany(
        "INSERT INTO webhook_outbox(webhook_id, event) VALUES (?, ?)",
        [(pk, text) for pk in hook_pks],
    )


def event(kind: str, subscriber: dict[str, Any], old_email: str | None = None) -> dict:
    """One event as the docs show it (keys in their order): Subscribe has SignupIPAddress,
    Update has OldEmailAddress and State, Deactivate has State."""
    out: dict[str, Any] = {
        "CustomFields": subscriber["CustomFields"],
        "Date": subscriber["Date"],
        "EmailAddress": subscriber["EmailAddress"],
        "Name": subscriber["Name"],
    }
    if kind == "Update":
        out["OldEmailAddress"] = old_email or subscriber["EmailAddress"]
    if kind == "Subscribe":
        out["SignupIPAddress"] = API_SIGNUP
    if kind in ("Update", "Deactivate"):
        out["State"] = subscriber["State"]
    out["Type"] = kind
    return out


# ---- the API ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hook:
    """A webhook as the sender needs it."""

    pk: int
    webhook_id: str
    list_id: str  # the list's ListID
    url: str
    events: tuple[str, ...]
    payload_format: str
    status: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "WebhookID": self.webhook_id,
            "Events": list(self.events),
            "Url": self.url,
            "Status": self.status,
            "PayloadFormat": self.payload_format,
        }


HOOK_COLUMNS = "w.id, w.webhook_id, l.list_id, w.url, w.events, w.payload_format, w.status"
HOOK_SELECT = f"SELECT {HOOK_COLUMNS} FROM webhooks w JOIN lists l ON l.id = w.list_id"


def _hook(row: tuple) -> Hook:
    return Hook(row[0], row[1], row[2], row[3], tuple(json.loads(row[4])), row[5], row[6])


def _checked_url(value: Any) -> str:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(400, 601, "Invalid Webhook URL")
    return value


def _checked_events(value: Any) -> list[str]:
    names = {name.lower(): name for name in EVENT_TYPES}
    if not isinstance(value, list) or not value:
        raise ApiError(400, 603, "Invalid Webhook Event")
    events: list[str] = []
    for item in value:
        name = names.get(item.strip().lower()) if isinstance(item, str) else None
        if name is None:
            raise ApiError(400, 603, "Invalid Webhook Event")
        if name not in events:
            events.append(name)
    return events


def create(call: "Call") -> Reply:
    row = find_list(call.conn, call.who, call.ids["id"])
    body = call.body()
    url = _checked_url(body.get("Url"))
    fmt = body.get("PayloadFormat")
    payload_format = FORMATS.get(fmt.strip().lower()) if isinstance(fmt, str) else None
    if payload_format is None:
        raise ApiError(400, 602, "Invalid Webhook Format")
    events = _checked_events(body.get("Events"))
    with call.env.store.write() as conn:
        pk = conn.execute(
            "INSERT INTO webhooks(webhook_id, list_id, url, events, payload_format, status) "
            "VALUES ('', ?, ?, ?, ?, ?)",
            (row.pk, url, json.dumps(events), payload_format, ACTIVE),
        ).lastrowid
        webhook_id = hex_id(call.env.seed, "webhook", pk)
        conn.execute("UPDATE webhooks SET webhook_id = ? WHERE id = ?", (webhook_id, pk))
    return Reply(201, webhook_id)


def listing(call: "Call") -> Reply:
    row = find_list(call.conn, call.who, call.ids["id"])
    rows = call.conn.execute(f"{HOOK_SELECT} WHERE w.list_id = ? ORDER BY w.id", (row.pk,))
    return Reply(body=[_hook(r).as_dict() for r in rows.fetchall()])


def _find(call: "Call") -> Hook:
    """The list's webhook named in the path; Campaign Monitor documents no code for an
    unknown one, so it is a 404 with an empty body like any unknown resource."""
    row = find_list(call.conn, call.who, call.ids["id"])
    found = call.conn.execute(
        f"{HOOK_SELECT} WHERE w.list_id = ? AND w.webhook_id = ?", (row.pk, call.ids["webhook"])
    ).fetchone()
    if found is None:
        raise _NotFound()
    return _hook(found)


class _NotFound(ApiError):
    def __init__(self) -> None:
        super().__init__(404, 404, "Not Found")

    def reply(self) -> Reply:
        return not_found()


def delete(call: "Call") -> Reply:
    hook = _find(call)
    with call.env.store.write() as conn:
        conn.execute("DELETE FROM webhooks WHERE id = ?", (hook.pk,))
        conn.execute("DELETE FROM webhook_outbox WHERE webhook_id = ?", (hook.pk,))
    call.env.webhooks.forget(hook.pk)
    return Reply()


def _set_status(status: str) -> Callable[["Call"], Reply]:
    def handler(call: "Call") -> Reply:
        hook = _find(call)
        with call.env.store.write() as conn:
            conn.execute("UPDATE webhooks SET status = ? WHERE id = ?", (status, hook.pk))
        if status != ACTIVE:
            call.env.webhooks.forget(hook.pk)
        return Reply()

    return handler


def test(call: "Call") -> Reply:
    """POST a sample batch to the webhook's URL now (whatever its Status), answer 200 if it
    answered 2xx and 400 Code 610 with the failure in ResultData otherwise."""
    hook = _find(call)
    outcome = call.env.webhooks.test(hook, call.env.clock.stamp())
    if not outcome.ok:
        raise ApiError(400, 610, "The webhook request has failed", outcome.failure())
    return Reply()


ROUTES: list[tuple[str, str, Callable[["Call"], Reply]]] = [
    ("POST", "/lists/{id}/webhooks.json", create),
    ("GET", "/lists/{id}/webhooks.json", listing),
    ("DELETE", "/lists/{id}/webhooks/{webhook}.json", delete),
    ("GET", "/lists/{id}/webhooks/{webhook}/test.json", test),
    ("PUT", "/lists/{id}/webhooks/{webhook}/activate.json", _set_status(ACTIVE)),
    ("PUT", "/lists/{id}/webhooks/{webhook}/deactivate.json", _set_status(DEACTIVATED)),
]


# ---- delivery -----------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one POST came to. `sent` is False when the emulator did not try (see _post)."""

    ok: bool
    status: int | None = None
    reason: str = ""
    error: str | None = None
    response: str = ""
    sent: bool = True
    failure_status: str = ""

    def failure(self) -> dict[str, str]:
        """ResultData of Code 610, in the names of createsend-dotnet's WebhookTestErrorResult."""
        return {
            "FailureStatus": self.failure_status,
            "FailureResponseMessage": self.reason or (self.error or ""),
            "FailureResponseCode": "" if self.status is None else str(self.status),
            "FailureResponse": self.response,
        }


@dataclass
class Batch:
    number: int
    hook: Hook
    events: list[dict[str, Any]]
    body: bytes
    retries: list[float]
    due: float = 0.0
    attempts: int = 0
    redelivery: bool = False


@dataclass
class _Queue:
    """One webhook's undelivered events, the batch being sent or retried, redeliveries."""

    hook: Hook
    events: deque[dict[str, Any]] = field(default_factory=deque)
    current: Batch | None = None
    again: deque[Batch] = field(default_factory=deque)

    def idle(self) -> bool:
        return not self.events and self.current is None and not self.again


class Sender:
    """The background sender of one emulator; also the control operations on it."""

    def __init__(self, env: "Env") -> None:
        self.env = env
        self.retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
        self._cond = threading.Condition()
        self._queues: dict[int, _Queue] = {}
        self._deliveries: list[dict[str, Any]] = []
        self._last: dict[str, Batch] = {}  # WebhookID -> the last batch sent
        self._last_any: Batch | None = None
        self._numbers = itertools.count(1)
        self._cursor = 0  # the last webhook_outbox row taken
        self._dirty = True  # rows may be waiting (a data_dir can hold some)
        self._busy = 0  # a pickup or a POST under way
        self._paused = False
        self._closed = False
        ensure_tables(env.store)
        env.store.on_commit.append(self._committed)
        self._thread = threading.Thread(target=self._run, name="cm-emulator-webhooks", daemon=True)
        self._thread.start()

    # -- control -----------------------------------------------------------------------------

    def configured(self) -> list[dict[str, Any]]:
        """Every webhook of every list, with its ListID."""
        with self.env.store.read() as conn:
            rows = conn.execute(f"{HOOK_SELECT} ORDER BY w.id").fetchall()
        return [{"ListID": h.list_id, **h.as_dict()} for h in map(_hook, rows)]

    def deliveries(self) -> list[dict[str, Any]]:
        with self._cond:
            return [dict(d) for d in self._deliveries]

    def clear_deliveries(self) -> None:
        with self._cond:
            self._deliveries.clear()

    def wait(self, timeout: float = 10.0) -> bool:
        """Block until no event is waiting, being sent or waiting for a retry; False on
        timeout (and so while paused with events queued)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._dirty or self._busy or not all(q.idle() for q in self._queues.values()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def pause(self) -> None:
        """Stop sending; events keep queueing (and batch up) until resume()."""
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def set_retry_delays(self, delays: Any) -> list[float]:
        if not isinstance(delays, list | tuple) or not all(
            isinstance(d, int | float) and not isinstance(d, bool) and 0 <= d <= 3600
            for d in delays
        ):
            raise ValueError("retry_delays must be a list of seconds (0 to 3600)")
        with self._cond:
            self.retry_delays = tuple(float(d) for d in delays)
            return list(self.retry_delays)

    def redeliver_last(self, webhook_id: str | None = None) -> dict[str, Any]:
        """Send the last batch (of one webhook, or of any) again: the same events and body,
        as a webhook receiver must expect from an at-least-once sender."""
        with self._cond:
            last = self._last.get(webhook_id) if webhook_id else self._last_any
            if last is None:
                raise ValueError("No webhook batch has been sent yet")
            again = Batch(last.number, last.hook, last.events, last.body, list(self.retry_delays))
            again.redelivery = True
            queue = self._queues.setdefault(last.hook.pk, _Queue(last.hook))
            queue.again.append(again)
            self._cond.notify_all()
            return {
                "batch": last.number,
                "WebhookID": last.hook.webhook_id,
                "events": len(last.events),
            }

    def forget(self, hook_pk: int) -> None:
        """Drop what is queued for a webhook that was deactivated or deleted."""
        with self._cond:
            self._queues.pop(hook_pk, None)
            self._cond.notify_all()

    def test(self, hook: Hook, date: str) -> Outcome:
        events = [
            event(kind, {**SAMPLE, "Date": date, "State": "Active"}, SAMPLE["EmailAddress"])
            for kind in hook.events
        ]
        batch = Batch(0, hook, events, _body(hook, events), [])
        with self._cond:
            self._busy += 1
        try:
            outcome = self._post(batch)
        finally:
            with self._cond:
                self._busy -= 1
                self._record(batch, outcome, attempt=1, test=True)
                self._cond.notify_all()
        return outcome

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)

    # -- the sending thread -----------------------------------------------------------------

    def _committed(self) -> None:
        """Store.on_commit listener: there may be new rows in webhook_outbox."""
        with self._cond:
            self._dirty = True
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                batch = None
                while not self._closed and not self._dirty:
                    batch, wait = self._next_due()
                    if batch is not None:
                        break
                    self._cond.wait(wait)
                if self._closed:
                    return
                pickup, self._dirty = self._dirty, False
                if not pickup:
                    batch.attempts += 1
                self._busy += 1
            try:
                if pickup:
                    self._pickup()
                else:
                    self._deliver(batch)
            except Exception:  # keep the sender alive whatever happens
                if not self._closed:  # (stop() closes the store under a late POST)
                    traceback.print_exc(file=sys.stderr)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _pickup(self) -> None:
        """Move committed events from webhook_outbox into the queues (then delete them)."""
        with self.env.store.read(snapshot=True) as conn:
            rows = conn.execute(
                f"SELECT o.id, o.event, {HOOK_COLUMNS} FROM webhook_outbox o "
                "JOIN webhooks w ON w.id = o.webhook_id JOIN lists l ON l.id = w.list_id "
                "WHERE o.id > ? ORDER BY o.id",
                (self._cursor,),
            ).fetchall()
            newest = conn.execute("SELECT max(id) FROM webhook_outbox").fetchone()[0]
        if newest is None or newest <= self._cursor:
            return
        with self._cond:
            for row in rows:
                hook = _hook(row[2:])
                if hook.status == ACTIVE:
                    queue = self._queues.setdefault(hook.pk, _Queue(hook))
                    queue.events.append(json.loads(row[1]))
            self._cursor = newest
            self._cond.notify_all()
        with self.env.store.write() as conn:
            conn.execute("DELETE FROM webhook_outbox WHERE id <= ?", (newest,))

    def _next_due(self) -> tuple[Batch | None, float | None]:
        """Under self._cond: a batch due now, or how long until the next one is."""
        if self._paused:
            return None, None
        now, soonest = time.monotonic(), None
        for queue in self._queues.values():
            if queue.current is None and queue.again:
                queue.current = queue.again.popleft()
            elif queue.current is None and queue.events:
                events = [queue.events.popleft() for _ in range(min(MAX_EVENTS, len(queue.events)))]
                body = _body(queue.hook, events)
                number = next(self._numbers)
                queue.current = Batch(number, queue.hook, events, body, list(self.retry_delays))
            if queue.current is None:
                continue
            if queue.current.due <= now:
                return queue.current, None
            wait = queue.current.due - now
            soonest = wait if soonest is None else min(soonest, wait)
        return None, soonest

    def _deliver(self, batch: Batch) -> None:
        outcome = self._post(batch)
        give_up = False
        with self._cond:
            self._record(batch, outcome, batch.attempts)
            queue = self._queues.get(batch.hook.pk)
            if queue is None or queue.current is not batch:
                return  # deactivated or deleted meanwhile
            if outcome.ok or not outcome.sent:
                queue.current = None
            elif batch.retries:
                batch.due = time.monotonic() + batch.retries.pop(0)
            else:
                give_up = True
                del self._queues[batch.hook.pk]
        if give_up:  # Campaign Monitor deactivates a webhook that keeps failing
            with self.env.store.write() as conn:
                conn.execute(
                    "UPDATE webhooks SET status = ? WHERE id = ?", (DEACTIVATED, batch.hook.pk)
                )

    def _record(self, batch: Batch, outcome: Outcome, attempt: int, test: bool = False) -> None:
        """Under self._cond."""
        self._deliveries.append(
            {
                "time": self.env.clock.now().strftime("%Y-%m-%d %H:%M:%S"),
                "WebhookID": batch.hook.webhook_id,
                "ListID": batch.hook.list_id,
                "url": batch.hook.url,
                "batch": batch.number,
                "attempt": attempt,
                "redelivery": batch.redelivery,
                "test": test,
                "status": outcome.status,
                "ok": outcome.ok,
                "error": outcome.error,
                "events": len(batch.events),
                "payload": {"Events": batch.events, "ListID": batch.hook.list_id},
            }
        )
        if not test and outcome.sent:
            self._last[batch.hook.webhook_id] = batch
            self._last_any = batch

    def _post(self, batch: Batch) -> Outcome:
        """POST the batch. Nothing is sent to a host other than this machine, nor for an Xml
        webhook (the emulator builds JSON payloads only): such a batch is recorded as not
        sent and dropped."""
        parts = urlsplit(batch.hook.url)
        if parts.hostname not in LOCAL_HOSTS:
            reason = "not sent: the emulator only POSTs to 127.0.0.1 or localhost"
            return Outcome(False, error=reason, sent=False, failure_status="NotSent")
        if batch.hook.payload_format != "Json":
            reason = "not sent: the emulator does not build Xml payloads"
            return Outcome(False, error=reason, sent=False, failure_status="NotSent")
        kind = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        connection = kind(parts.hostname, parts.port, timeout=TIMEOUT_SECONDS)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request("POST", target, body=batch.body, headers=HEADERS)
            response = connection.getresponse()
            text = response.read(100_000).decode("utf-8", "replace")
        except TimeoutError as error:
            return Outcome(False, error=f"TimeoutError: {error}", failure_status="Timeout")
        except (OSError, http.client.HTTPException) as error:  # refused, reset, bad reply
            message = f"{type(error).__name__}: {error}"
            return Outcome(False, error=message, failure_status="ConnectFailure")
        finally:
            connection.close()
        ok = 200 <= response.status < 300
        return Outcome(
            ok,
            response.status,
            response.reason,
            None if ok else f"HTTP {response.status}",
            text,
            failure_status="" if ok else "ProtocolError",
        )


def _body(hook: Hook, events: list[dict[str, Any]]) -> bytes:
    payload = {"Events": events, "ListID": hook.list_id}
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


# ---- the control surface (/_emulator/webhooks...) -----------------------------------------


def control(sender: Sender, method: str, path: str, data: dict[str, Any]) -> Reply:
    action = (method, path.rstrip("/").removeprefix("/_emulator/webhooks"))
    if action == ("GET", ""):
        return Reply(body=sender.configured())
    if action == ("GET", "/deliveries"):
        return Reply(body=sender.deliveries())
    if action == ("DELETE", "/deliveries"):
        sender.clear_deliveries()
        return Reply(body={"ok": True})
    if action == ("POST", "/wait"):
        idle = sender.wait(float(data.get("timeout", 10.0)))
        return Reply(body={"idle": idle, "deliveries": sender.deliveries()})
    if action == ("POST", "/pause"):
        sender.pause()
        return Reply(body={"paused": True})
    if action == ("POST", "/resume"):
        sender.resume()
        return Reply(body={"paused": False})
    if action == ("POST", "/redeliver_last"):
        return Reply(202, sender.redeliver_last(data.get("WebhookID")))
    if action == ("POST", "/retry_delays"):
        return Reply(body={"retry_delays": sender.set_retry_delays(data.get("retry_delays"))})
    return Reply(404, {"error": "No such control endpoint"})
