"""SalesforceEmulator: the public face of the emulator (see the package docstring)."""

import threading
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from emulators.salesforce import seed as seeding
from emulators.salesforce.org import Org
from emulators.salesforce.server import Server


class SalesforceEmulator:
    def __init__(
        self,
        seed: str | int = "demo",
        host: str = "127.0.0.1",
        port: int = 0,
        data_dir: str | Path | None = None,
        daily_limit: int = 100_000,
        quiet: bool = True,
        duplicate_rules: str | None = None,
    ) -> None:
        """duplicate_rules: "alert", "block" or "none" for the standard Contact and Lead
        duplicate rules of a newly seeded org; None means the seed's default ("alert" for
        "demo", "none" otherwise)."""
        if isinstance(seed, str) and seed.isdigit():
            seed = int(seed)
        self.host, self.port, self.quiet = host, port, quiet
        path = Path(data_dir) if data_dir else None
        self._org_args = (seed, path, daily_limit, duplicate_rules)
        self.org = Org(*self._org_args)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._serving = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------

    def bind(self) -> Server:
        if self._server is None:
            self._server = Server((self.host, self.port), self.org, quiet=self.quiet)
            self.port = self._server.server_address[1]
            self.org.set_root_url(self.root_url)
        return self._server

    def start(self) -> "SalesforceEmulator":
        """Serve in a background daemon thread; returns once the socket is listening."""
        server = self.bind()
        if self._thread is None:
            # A short poll interval keeps stop() quick (tests start one emulator each).
            self._thread = threading.Thread(
                target=server.serve_forever, args=(0.05,), name="salesforce-emulator", daemon=True
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until stop() is called from another one."""
        server = self.bind()
        self._serving.set()
        try:
            server.serve_forever(0.05)
        finally:
            self._serving.clear()

    def stop(self) -> None:
        if self._server is not None:
            if self._thread is not None or self._serving.is_set():
                self._server.shutdown()
            self._server.server_close()
            self._server = self._thread = None
        self.org.close()

    def reset(self) -> None:
        """Start over from the seed on the same address, as a new emulator would: a newly
        seeded org (dated from now) with its own clock, ids, sessions, limits, faults,
        rules, installed schema, Outbound Messages and request counts.

        A test suite keeps one server (and port) for many tests and resets it before each:
        cheaper than a new emulator a test, whose stop() waits out the server's poll."""
        if self._server is None:
            raise RuntimeError("start() the emulator first")
        if self._org_args[1] is not None:
            raise RuntimeError("reset() seeds a new temporary org: not with a data_dir")
        self.org.close()
        self.org = Org(*self._org_args)
        self.org.set_root_url(self.root_url)
        self._server.org = self.org

    def pause(self) -> None:
        """Stop sending Outbound Messages (nothing queued or retried reaches anyone any
        more); the API still answers until stop() or reset(). Between two tests of a shared
        emulator, so one test's messages never reach the next test's server."""
        self.org.outbound.close()

    def __enter__(self) -> "SalesforceEmulator":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        """Both the login URL and the instance URL, e.g. http://127.0.0.1:8765."""
        return f"http://{self.host}:{self.port}"

    # -- facts and seeding -----------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        return self.org.info()

    def seed_people(self, emails: Iterable[str]) -> dict[str, int]:
        return seeding.seed_people(self.org, emails)

    def insert(self, type_name: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Insert through the normal checks (audit fields such as CreatedDate allowed)."""
        return seeding.insert(self.org, type_name, records)

    def issue_token(self, username: str | None = None) -> str:
        """An access token for a seeded user (the admin by default), skipping OAuth."""
        user = self.org.identity.user(username=username or "") or self.org.identity.users[0]
        return self.org.oauth.issue(user["Id"], self.org.identity.client_id)["access_token"]

    # -- control -------------------------------------------------------------------------

    def add_fault(self, kind: str, count: int = 1, path: str = "") -> None:
        self.org.add_fault(kind, count, path)

    def clear_faults(self) -> None:
        self.org.faults.clear()

    def expire_sessions(self) -> int:
        return self.org.oauth.expire_all()

    def request_counts(self) -> dict[str, int]:
        return dict(sorted(self.org.counts.items()))

    def reset_request_counts(self) -> None:
        self.org.counts.clear()

    def set_limit(self, used: int | None = None, max: int | None = None) -> dict[str, int]:
        self.org.limits.set(used, max)
        return {"used": self.org.limits.used, "max": self.org.limits.max}

    def add_validation_rule(
        self,
        object: str,
        field: str,
        equals: Any,
        message: str,
    ) -> dict[str, Any]:
        return self.org.add_rule(object, field, equals, message).as_dict()

    def clear_validation_rules(self) -> None:
        self.org.clear_rules()

    def add_duplicate_rule(self, object: str, action: str) -> dict[str, Any]:
        """Activate the standard duplicate rule of Contact or Lead (replacing the object's
        rule, if any) with action "alert" or "block" (see duplicates.py)."""
        return self.org.add_duplicate_rule(object, action).as_dict()

    def duplicate_rules(self) -> list[dict[str, Any]]:
        return [rule.as_dict() for rule in self.org.duplicates.rules]

    def clear_duplicate_rules(self) -> None:
        self.org.clear_duplicate_rules()

    def convert_lead(
        self, lead_id: str, contact_id: str | None = None, account_id: str | None = None
    ) -> dict[str, Any]:
        """Convert a Lead into a new Contact (or contact_id); returns the Lead's conversion
        fields (IsConverted, ConvertedContactId, ConvertedAccountId, ConvertedDate...)."""
        return self.org.convert_lead(lead_id, contact_id, account_id)

    def advance_clock(self, seconds: float) -> None:
        self.org.clock.advance(seconds)

    def set_unordered_rows(self, order: str) -> None:
        """How rows a query leaves unordered come back (no ORDER BY, or ties within one):
        "insertion" (the default) or "reverse". Salesforce promises neither."""
        self.org.set_unordered_rows(order)

    # -- Outbound Messages (see outbound.py) -------------------------------------------------

    def add_outbound_message(
        self,
        endpoint_url: str,
        sobject: str,
        fields: list[str],
        name: str = "cmsync",
        retry_delays: list[float] | None = None,
    ) -> dict[str, Any]:
        """POST a SOAP message to endpoint_url (127.0.0.1/localhost only) after every DML
        call that creates or updates `sobject` records; Id is always among the fields.
        retry_delays: the waits before each retry of a failed attempt (0.5, 1 and 2 s)."""
        return self.org.outbound.add(endpoint_url, sobject, fields, name, retry_delays)

    def remove_outbound_messages(self) -> int:
        return self.org.outbound.remove_all()

    def outbound_messages(self) -> list[dict[str, Any]]:
        return self.org.outbound.configured()

    def outbound_deliveries(self) -> list[dict[str, Any]]:
        """Every attempt so far: time, url, status, ack, attempt, notification_ids..."""
        return self.org.outbound.deliveries()

    def clear_outbound_deliveries(self) -> None:
        self.org.outbound.clear_deliveries()

    def wait_outbound(self, timeout: float = 10.0) -> bool:
        """Wait until no message is queued, waiting for a retry or in flight."""
        return self.org.outbound.wait(timeout)

    def redeliver_last(self) -> dict[str, Any]:
        """Send the last Outbound Message again, unchanged (same notification ids)."""
        return self.org.outbound.redeliver_last()

    # -- Bulk API 2.0 (see bulk.py) -----------------------------------------------------------

    def wait_bulk(self, timeout: float = 10.0) -> bool:
        """Wait until no ingest or query job is queued or being processed."""
        from emulators.salesforce.control import wait_all_bulk

        return wait_all_bulk(self.org, timeout)

    def pause_bulk(self, paused: bool = True) -> None:
        """Hold closed ingest jobs and new query jobs in UploadComplete (or let them be
        processed again)."""
        self.org.bulk.set_paused(paused)
        self.org.bulk_query.set_paused(paused)

    def bulk_status(self) -> dict[str, Any]:
        """Jobs by state, jobs and records processed, records failed, batches used."""
        from emulators.salesforce.control import bulk_status

        return bulk_status(self.org, {}).body
