"""The control surface: clock, subscriber states, campaigns, events, faults, request counts
and bodies, client suppression lists.

Tests and demos use it to make things happen that a real account would do on its own
(people unsubscribing, campaigns going out, the API failing). It is served without auth
under /_emulator/ and the same operations are methods of CampaignMonitorEmulator.

Dates given to it are account-local "YYYY-MM-DD HH:MM:SS" (a time the fall-back hour repeats
means its second, standard-time occurrence, as in the API), or carry an offset ("+11:00",
"Z") to name one instant exactly. A local time the spring-forward hour skips is refused.
"""

import json
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from emulators.campaign_monitor import campaigns, oauth, subscribers
from emulators.campaign_monitor.app import Reply, error_reply
from emulators.campaign_monitor.clock import API_FORMAT, InvalidLocalTime, minute_stamp, parse_stamp
from emulators.campaign_monitor.env import Env
from emulators.campaign_monitor.store import STATE_CODES, UNSUBSCRIBED


class ControlError(ValueError):
    """A control request that cannot be carried out (answered with 400)."""


@dataclass
class Fault:
    status: int | None
    remaining: int
    path: str | None
    retry_after: float | None
    ratelimit_reset: float | None
    delay: float

    def matches(self, path: str) -> bool:
        return path.startswith("/api/") if self.path is None else self.path in path

    def reply(self) -> Reply | None:
        if self.status is None:
            return None
        headers = {}
        if self.retry_after is not None:
            headers["Retry-After"] = str(round(self.retry_after))
        if self.ratelimit_reset is not None:
            headers.update(
                {
                    "X-RateLimit-Limit": "60",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(round(self.ratelimit_reset)),
                }
            )
        return error_reply(self.status, headers)


class Faults:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        """What is armed and not yet used up: each fault and how many requests it has left."""
        with self._lock:
            return [
                {"status": f.status, "count": f.remaining, "path": f.path,
                 "retry_after": f.retry_after, "delay": f.delay}
                for f in self._faults
            ]  # fmt: skip

    def take(self, path: str) -> Fault | None:
        """The first armed fault for this path, counted down by one use."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None


class RequestCounts:
    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


class RequestBodies:
    """The JSON bodies of the last few POST/PUT requests per route ("POST /subscribers/{id}/
    import.json"), so a test can see which flags were sent."""

    KEEP = 20

    def __init__(self) -> None:
        self._bodies: dict[str, deque[bytes]] = {}
        self._lock = threading.Lock()

    def add(self, key: str, body: bytes) -> None:
        with self._lock:
            self._bodies.setdefault(key, deque(maxlen=self.KEEP)).append(body)

    def get(self, key: str) -> list[Any]:
        with self._lock:
            raw = list(self._bodies.get(key, ()))
        return [_decoded(body) for body in raw]

    def reset(self) -> None:
        with self._lock:
            self._bodies.clear()


def _decoded(body: bytes) -> Any:
    try:
        return json.loads(body) if body.strip() else None
    except ValueError:
        return body.decode("utf-8", "replace")


def apply_fault(fault: Fault | None) -> Reply | None:
    """Sleep for a slow-response fault; the error reply to send instead, if any."""
    if fault is None:
        return None
    if fault.delay:
        time.sleep(fault.delay)
    return fault.reply()


class Control:
    """The operations behind /_emulator/*, callable in-process too."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.faults = Faults()
        self.counts = RequestCounts()
        self.bodies = RequestBodies()

    def now(self) -> str:
        """Account-local now."""
        return self.env.clock.now().strftime(API_FORMAT)

    def utc_now(self) -> str:
        return self.env.clock.utc_now().strftime(API_FORMAT)

    def advance_clock(self, seconds: float) -> str:
        self.env.clock.advance(float(seconds))
        return self.now()

    def set_clock(self, value: str | datetime) -> str:
        """Set now: local text (see the module docstring), an aware datetime, or a naive
        one taken as account-local."""
        if isinstance(value, datetime) and value.tzinfo is not None:
            moment = value.astimezone(UTC).replace(tzinfo=None)
        elif isinstance(value, datetime):
            moment = _checked(self.env.clock.take, value)
        else:
            moment = _stamp(value)
        self.env.clock.set_utc(moment)
        return self.now()

    def set_subscriber(
        self,
        list_id: str,
        email: str,
        state: str,
        name: str | None = None,
        date: str | None = None,
    ) -> dict[str, Any]:
        """Insert a subscriber or move it to `state`, with Date = `date` (default now).
        Unsubscribed follows the list's UnsubscribeSetting, as an unsubscribe in the app
        does: other AllClientLists lists of the client and the suppression list too."""
        code = STATE_CODES.get(str(state).lower())
        if code is None:
            raise ControlError(f"State must be one of {', '.join(s for s in STATE_CODES)}")
        if not subscribers.valid_email(email):
            raise ControlError("Invalid EmailAddress")
        when = minute_stamp(_stamp(date)) if date else self.env.clock.stamp()
        list_pk = self._list_pk(list_id)
        changed: set[int] = set()
        with self.env.store.write(("list", list_pk)) as conn:
            existing = subscribers.find(conn, list_pk, email)
            if existing is None:
                body = {"EmailAddress": email}
                subscribers.insert(conn, list_pk, email, name or "", code, when, "Yes", body)
            if existing is not None and name is not None and name != existing.name:
                subscribers.rename(conn, existing, name, when)
            if existing is not None and code != UNSUBSCRIBED:
                subscribers.change_state(conn, existing.pk, code, when)
            if code == UNSUBSCRIBED:
                if existing is not None and existing.state == UNSUBSCRIBED:
                    subscribers.change_state(conn, existing.pk, code, when)
                changed = subscribers.unsubscribe(conn, list_pk, email, when)
            record = subscribers.fetch(conn, list_pk, email, True)
        self.env.store.bump(*(("list", pk) for pk in changed))
        return record

    def send_campaign(
        self,
        client_id: str,
        name: str,
        list_ids: list[str],
        subject: str | None = None,
        sent_date: str | None = None,
    ) -> str:
        """Send a campaign now (or as of `sent_date`) to the lists' active subscribers."""
        client_pk = self._client_pk(client_id)
        list_pks = [self._list_pk(list_id, client_pk) for list_id in list_ids]
        if not list_pks or not name:
            raise ControlError("Name and at least one ListID are required")
        sent = minute_stamp(_stamp(sent_date)) if sent_date else self.env.clock.stamp()
        fields = {
            "status": "sent",
            "name": name,
            "subject": subject,
            "sent_date": sent,
            "created": sent,
        }
        with self.env.store.write() as conn:
            pk, campaign_id = campaigns.create(conn, self.env.seed, client_pk, fields)
            campaigns.send(conn, pk, list_pks, sent)
        self.env.store.bump(("campaign", pk))
        return campaign_id

    def add_event(
        self,
        campaign_id: str,
        type: str,
        email: str,
        date: str | None = None,
        url: str | None = None,
        bounce_type: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Record an open, click, unsubscribe, bounce or spam complaint by a recipient."""
        kind = str(type).lower()
        when = minute_stamp(_stamp(date)) if date else self.env.clock.stamp()
        details = _checked(campaigns.event_details, kind, when, url, bounce_type, reason)
        with self.env.store.read() as conn:
            row = conn.execute(
                "SELECT id FROM campaigns WHERE campaign_id = ? AND status = 'sent'",
                (campaign_id,),
            ).fetchone()
        if row is None:
            raise ControlError("Unknown or unsent CampaignID")
        with self.env.store.write(("campaign", row[0])) as conn:
            changed = _checked(campaigns.add_event, conn, row[0], kind, email, details)
        self.env.store.bump(*(("list", pk) for pk in changed))

    def add_fault(
        self,
        status: int | None = None,
        count: int = 1,
        path: str | None = None,
        retry_after: float | None = None,
        ratelimit_reset: float | None = None,
        delay: float | None = None,
    ) -> None:
        """Make the next `count` API requests whose path contains `path` fail with `status`
        (429, 500, 503...) and/or answer only after `delay` seconds."""
        if status is None and not delay:
            raise ControlError("A fault needs a status, a delay or both")
        if status is not None and not 400 <= int(status) <= 599:
            raise ControlError("status must be an HTTP error status")
        self.faults.add(
            Fault(
                None if status is None else int(status),
                int(count),
                path or None,
                retry_after,
                ratelimit_reset,
                float(delay or 0),
            )
        )

    def clear_faults(self) -> None:
        self.faults.clear()

    def pending_faults(self) -> list[dict[str, Any]]:
        return self.faults.pending()

    def expire_tokens(self) -> None:
        oauth.expire_all(self.env)

    def request_counts(self) -> dict[str, int]:
        return self.counts.snapshot()

    def reset_request_counts(self) -> None:
        self.counts.reset()
        self.bodies.reset()

    def request_bodies(self, route: str) -> list[Any]:
        """The last bodies sent to `route` ("POST /subscribers/{id}/import.json"), oldest
        first."""
        return self.bodies.get(route)

    def suppress(self, client_id: str, emails: list[str]) -> int:
        """Put addresses on the client's suppression list, as Campaign Monitor's
        POST /clients/{id}/suppress.json does: they leave the Active and Unconfirmed states
        of the client's AllClientLists lists, and adding or importing them into those lists
        then fails with Code 204 "In Suppression List". Returns how many were new on the
        list."""
        client_pk = self._client_pk(client_id)
        if not isinstance(emails, list) or not all(isinstance(e, str) for e in emails):
            raise ControlError("EmailAddresses must be a list of addresses")
        with self.env.store.write() as conn:
            added, changed = subscribers.suppress_and_unsubscribe(
                conn, client_pk, emails, self.env.clock.precise_stamp()
            )
        self.env.store.bump(*(("list", pk) for pk in changed))
        return added

    def set_unsubscribe_setting(self, list_id: str, setting: str) -> None:
        """Set a list's UnsubscribeSetting (AllClientLists or OnlyThisList) as the app's
        list options do, without touching its subscribers or the suppression list."""
        if setting not in subscribers.UNSUBSCRIBE_SETTINGS:
            raise ControlError("UnsubscribeSetting must be AllClientLists or OnlyThisList")
        list_pk = self._list_pk(list_id)
        with self.env.store.write(("list", list_pk)) as conn:
            conn.execute(
                "UPDATE lists SET unsubscribe_setting = ? WHERE id = ?", (setting, list_pk)
            )

    def _client_pk(self, client_id: str) -> int:
        with self.env.store.read() as conn:
            row = conn.execute("SELECT id FROM clients WHERE client_id = ?", (client_id,))
            found = row.fetchone()
        if found is None:
            raise ControlError("Unknown ClientID")
        return found[0]

    def _list_pk(self, list_id: str, client_pk: int | None = None) -> int:
        with self.env.store.read() as conn:
            found = conn.execute(
                "SELECT id, client_id FROM lists WHERE list_id = ?", (list_id,)
            ).fetchone()
        if found is None or client_pk not in (None, found[1]):
            raise ControlError(f"Unknown ListID {list_id} (for this client)")
        return found[0]


def _stamp(text: str) -> datetime:
    """Control input as naive UTC."""
    try:
        return parse_stamp(text)
    except InvalidLocalTime as exc:
        raise ControlError(
            f"{text} does not exist in the account's time zone (the clocks skip it); "
            "give an offset to name an instant"
        ) from exc
    except (ValueError, AttributeError, TypeError) as exc:
        raise ControlError("Dates must look like YYYY-MM-DD HH:MM:SS") from exc


def _checked(function, *args):
    try:
        return function(*args)
    except ValueError as exc:
        raise ControlError(str(exc)) from exc
