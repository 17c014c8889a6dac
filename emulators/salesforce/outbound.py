"""Outbound Messages: the workflow/Flow action that POSTs records, as SOAP, to an endpoint
when they are created or updated (never when they are deleted).

Outbound.add() configures one: an endpoint on 127.0.0.1 or localhost (anything else is
refused), an object, and fields (Id is always sent, first). Every committed DML call that
created or updated records of that object (a REST create, update or upsert, one sObject
Collections call, one control insert) becomes one message per 100 records, with one
Notification per record holding its field values as committed. Records a call failed to save
(or rolled back, with allOrNone) are not sent.

One background thread sends the messages, in order, as Salesforce does: POST with
Content-Type text/xml; charset=utf-8 and SOAPAction "". Anything but HTTP 200 with
<Ack>true</Ack> in a notificationsResponse is a failed attempt: the same message (same
notification ids) is sent again after each of the action's retry_delays (0.5 s, 1 s, 2 s by
default) while other messages go ahead. deliveries() lists every attempt; wait() blocks until
nothing is queued, waiting for a retry or in flight.

Differences from Salesforce: SessionId is always nil (no "send session id"); the Enterprise
and Partner URLs use the emulator's instance URL (http://127.0.0.1:port); retries stop after
retry_delays instead of going on for 24 hours; configurations live in memory only.
"""

import heapq
import http.client
import itertools
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from emulators.salesforce.clock import parse_datetime
from emulators.salesforce.dml import Saved
from emulators.salesforce.query import column_sql, converter
from emulators.salesforce.schema import NUMBER_TYPES, Field
from emulators.salesforce.store import quote

if TYPE_CHECKING:
    from emulators.salesforce.org import Org

API_VERSION = "62.0"
NAMESPACE = "http://soap.sforce.com/2005/09/outbound"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
DEFAULT_RETRY_DELAYS = (0.5, 1.0, 2.0)
MAX_NOTIFICATIONS = 100
TIMEOUT_SECONDS = 10.0
HEADERS = {
    "Content-Type": "text/xml; charset=utf-8",
    "SOAPAction": '""',
    "User-Agent": "Salesforce Emulator Outbound Message",
    "Connection": "close",
}
_INVALID_XML = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))


@dataclass
class Action:
    """One configured Outbound Message."""

    id: str  # 04k...
    name: str
    endpoint_url: str
    sobject: str
    fields: tuple[str, ...]
    retry_delays: tuple[float, ...]
    removed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "endpoint_url": self.endpoint_url,
            "sobject": self.sobject,
            "fields": list(self.fields),
            "retry_delays": list(self.retry_delays),
        }


@dataclass
class Message:
    number: int
    action: Action
    body: bytes
    notification_ids: list[str]
    record_ids: list[str]
    attempts: int = 0


@dataclass(order=True)
class Job:
    """A message due to be sent at `due` (time.monotonic()), with the retries it has left."""

    due: float
    seq: int
    message: Message = field(compare=False)
    retries: list[float] = field(compare=False)
    redelivery: bool = field(default=False, compare=False)


class Outbound:
    def __init__(self, org: "Org") -> None:
        self.org = org
        self.actions: list[Action] = []
        self._deliveries: list[dict[str, Any]] = []
        self._last: Message | None = None
        self._queue: list[Job] = []
        self._in_flight = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._seq = itertools.count(1)
        self._numbers = itertools.count(1)
        org.store.on_commit.append(self.committed)

    # -- configuration ---------------------------------------------------------------------

    def add(
        self,
        endpoint_url: str,
        sobject: str,
        fields: list[str],
        name: str = "cmsync",
        retry_delays: list[float] | tuple[float, ...] | None = None,
    ) -> dict[str, Any]:
        if not isinstance(endpoint_url, str) or not endpoint_url:
            raise ValueError("endpoint_url must be a URL")
        parts = urlsplit(endpoint_url)
        if parts.scheme not in ("http", "https") or parts.hostname not in LOCAL_HOSTS:
            raise ValueError(
                "The Salesforce emulator only sends Outbound Messages to http(s) URLs on "
                f"127.0.0.1 or localhost, not {endpoint_url!r}"
            )
        obj = self.org.registry.get(sobject) if isinstance(sobject, str) else None
        if obj is None:
            raise ValueError(f"No such object {sobject!r}")
        if not isinstance(fields, list | tuple) or not all(isinstance(f, str) for f in fields):
            raise ValueError('fields must be a list of field names, e.g. ["Email"]')
        names = ["Id"]
        for wanted in fields:
            found = obj.field(wanted)
            if found is None or found.type == "complexvalue":
                raise ValueError(f"No such field {obj.name}.{wanted} for an Outbound Message")
            if found.name not in names:
                names.append(found.name)
        delays = DEFAULT_RETRY_DELAYS if retry_delays is None else retry_delays
        if not isinstance(delays, list | tuple) or not all(
            isinstance(d, int | float) and not isinstance(d, bool) and 0 <= d <= 3600
            for d in delays
        ):
            raise ValueError("retry_delays must be a list of seconds (0 to 3600)")
        if not isinstance(name, str) or not name.strip():
            raise ValueError("name must be a non-empty string")
        action = Action(
            self.org.ids.new("04k"),
            name.strip(),
            endpoint_url,
            obj.name,
            tuple(names),
            tuple(float(d) for d in delays),
        )
        with self._cond:
            self.actions.append(action)
        return action.as_dict()

    def remove_all(self) -> int:
        """Forget every Outbound Message, its queued (re)tries and the last message."""
        with self._cond:
            count = len(self.actions)
            for action in self.actions:
                action.removed = True
            self.actions.clear()
            self._queue = [job for job in self._queue if not job.message.action.removed]
            heapq.heapify(self._queue)
            self._last = None
            self._cond.notify_all()
        return count

    def configured(self) -> list[dict[str, Any]]:
        with self._cond:
            return [action.as_dict() for action in self.actions]

    # -- deliveries ------------------------------------------------------------------------

    def deliveries(self) -> list[dict[str, Any]]:
        with self._cond:
            return [
                {
                    **d,
                    "notification_ids": list(d["notification_ids"]),
                    "record_ids": list(d["record_ids"]),
                }
                for d in self._deliveries
            ]

    def clear_deliveries(self) -> None:
        with self._cond:
            self._deliveries.clear()

    def wait(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued, waiting for a retry or in flight; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def redeliver_last(self) -> dict[str, Any]:
        """Send the last message again, unchanged (Salesforce delivers at least once)."""
        with self._cond:
            message = self._last
            if message is None:
                raise ValueError("No Outbound Message has been sent yet")
            self._enqueue(message, redelivery=True)
            return {
                "message": message.number,
                "outbound_message_id": message.action.id,
                "notification_ids": list(message.notification_ids),
                "record_ids": list(message.record_ids),
            }

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)

    # -- building messages -----------------------------------------------------------------

    def committed(self, items: list[Any]) -> None:
        """Store.on_commit listener: runs under the store's lock, right after the commit."""
        try:
            with self._cond:
                actions = [] if self._closed else list(self.actions)
            if not actions:
                return
            saved = [item for item in items if isinstance(item, Saved)]
            for action in actions:
                record_ids = list(dict.fromkeys(s.id for s in saved if s.object == action.sobject))
                records = self.snapshot(action, record_ids) if record_ids else []
                for start in range(0, len(records), MAX_NOTIFICATIONS):
                    self.queue(action, records[start : start + MAX_NOTIFICATIONS])
        except Exception:  # never fail the write that has just been committed
            traceback.print_exc(file=sys.stderr)

    def snapshot(self, action: Action, record_ids: list[str]) -> list[list[tuple[Field, Any]]]:
        """The action's fields of each record (as the API would read them), in order."""
        obj = self.org.registry.get(action.sobject)
        if obj is None:
            return []
        fields = [f for f in (obj.field(name) for name in action.fields) if f is not None]
        columns = ", ".join(column_sql("t", f) for f in fields)
        found: dict[str, tuple] = {}
        for start in range(0, len(record_ids), 500):
            chunk = record_ids[start : start + 500]
            sql = (
                f"SELECT {columns} FROM {quote(obj.table)} AS t "
                f'WHERE t."Id" IN ({", ".join("?" * len(chunk))}) AND t."IsDeleted" = 0'
            )
            for row in self.org.store.rows(sql, chunk):
                found[row[0]] = row
        return [
            [(f, converter(f)(value)) for f, value in zip(fields, found[i], strict=True)]
            for i in record_ids
            if i in found
        ]

    def queue(self, action: Action, records: list[list[tuple[Field, Any]]]) -> None:
        notification_ids = [self.org.ids.new("04l") for _ in records]
        body = self.envelope(action, records, notification_ids)
        record_ids = [str(values[0][1]) for values in records]
        with self._cond:
            if self._closed or action.removed:
                return
            message = Message(next(self._numbers), action, body, notification_ids, record_ids)
            self._last = message
            self._enqueue(message)

    def envelope(
        self,
        action: Action,
        records: list[list[tuple[Field, Any]]],
        notification_ids: list[str],
    ) -> bytes:
        org_id = self.org.identity.org_id
        root = self.org.root_url or "http://127.0.0.1"
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
            " <soapenv:Body>",
            f'  <notifications xmlns="{NAMESPACE}">',
            f"   <OrganizationId>{org_id}</OrganizationId>",
            f"   <ActionId>{action.id}</ActionId>",
            '   <SessionId xsi:nil="true"/>',
            f"   <EnterpriseUrl>{_text(f'{root}/services/Soap/c/{API_VERSION}/{org_id}')}"
            "</EnterpriseUrl>",
            f"   <PartnerUrl>{_text(f'{root}/services/Soap/u/{API_VERSION}/{org_id}')}"
            "</PartnerUrl>",
        ]
        for notification_id, values in zip(notification_ids, records, strict=True):
            lines += [
                "   <Notification>",
                f"    <Id>{notification_id}</Id>",
                f'    <sObject xsi:type="sf:{action.sobject}" '
                'xmlns:sf="urn:sobject.enterprise.soap.sforce.com">',
            ]
            for f, value in values:
                if value is None:
                    lines.append(f'     <sf:{f.name} xsi:nil="true"/>')
                else:
                    lines.append(f"     <sf:{f.name}>{_text(_soap_value(f, value))}</sf:{f.name}>")
            lines += ["    </sObject>", "   </Notification>"]
        lines += ["  </notifications>", " </soapenv:Body>", "</soapenv:Envelope>"]
        return ("\n".join(lines) + "\n").encode("utf-8")

    # -- sending ---------------------------------------------------------------------------

    def _enqueue(self, message: Message, redelivery: bool = False) -> None:
        """Under self._cond."""
        if self._closed:
            return
        retries = list(message.action.retry_delays)
        job = Job(time.monotonic(), next(self._seq), message, retries, redelivery)
        heapq.heappush(self._queue, job)
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="salesforce-emulator-outbound", daemon=True
            )
            self._thread.start()
        self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed:
                    now = time.monotonic()
                    if self._queue and self._queue[0].due <= now:
                        break
                    self._cond.wait(self._queue[0].due - now if self._queue else None)
                if self._closed:
                    return
                job = heapq.heappop(self._queue)
                job.message.attempts += 1
                attempt = job.message.attempts
                self._in_flight += 1
            try:
                status, ack, error = self._post(job.message)
            except Exception as unexpected:  # keep the sender alive whatever happens
                status, ack, error = None, False, repr(unexpected)
            with self._cond:
                self._in_flight -= 1
                message = job.message
                self._deliveries.append(
                    {
                        "time": _zulu(self.org.clock.now()),
                        "outbound_message_id": message.action.id,
                        "name": message.action.name,
                        "sobject": message.action.sobject,
                        "url": message.action.endpoint_url,
                        "message": message.number,
                        "attempt": attempt,
                        "redelivery": job.redelivery,
                        "status": status,
                        "ack": ack,
                        "error": error,
                        "notification_ids": list(message.notification_ids),
                        "record_ids": list(message.record_ids),
                    }
                )
                if not ack and job.retries and not message.action.removed and not self._closed:
                    job.due = time.monotonic() + job.retries.pop(0)
                    job.seq = next(self._seq)
                    heapq.heappush(self._queue, job)
                self._cond.notify_all()

    def _post(self, message: Message) -> tuple[int | None, bool, str | None]:
        # http.client rather than urllib: it keeps "SOAPAction" as written and ignores proxies.
        parts = urlsplit(message.action.endpoint_url)
        kind = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        connection = kind(parts.hostname or "", parts.port, timeout=TIMEOUT_SECONDS)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request("POST", target, body=message.body, headers=HEADERS)
            response = connection.getresponse()
            status, body = response.status, response.read(1_000_000)
        except (OSError, http.client.HTTPException) as error:  # refused, reset, timed out
            return None, False, f"{type(error).__name__}: {error}"
        finally:
            connection.close()
        ack = status == 200 and acknowledged(body)
        problem = None if ack else (f"HTTP {status}" if status != 200 else "No <Ack>true</Ack>")
        return status, ack, problem


def acknowledged(body: bytes) -> bool:
    """Whether a SOAP response holds notificationsResponse/Ack = true (any namespace)."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return False
    for element in root.iter():
        if _local(element.tag) == "notificationsResponse":
            for child in element:
                if _local(child.tag) == "Ack" and (child.text or "").strip().lower() == "true":
                    return True
    return False


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _text(value: str) -> str:
    return escape(value.translate(_INVALID_XML))


def _zulu(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")  # whole seconds


def _soap_value(f: Field, value: Any) -> str:
    """A field value as the enterprise WSDL writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if f.type == "datetime" and isinstance(value, str):
        moment = parse_datetime(value)
        return _zulu(moment) if moment else value
    if f.type in NUMBER_TYPES and f.type != "int" and isinstance(value, int | float):
        return repr(float(value))
    return str(value)
