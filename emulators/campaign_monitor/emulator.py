"""CampaignMonitorEmulator: seed, serve, control and stop the emulated API."""

import shutil
import tempfile
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Self
from zoneinfo import ZoneInfo

from emulators.campaign_monitor.clock import Clock
from emulators.campaign_monitor.control import Control
from emulators.campaign_monitor.env import Env
from emulators.campaign_monitor.identity import oauth_app
from emulators.campaign_monitor.pager import Pager
from emulators.campaign_monitor.seed import seed_database, seed_label
from emulators.campaign_monitor.server import API_PREFIX, Dispatcher, Server, info
from emulators.campaign_monitor.store import Store, existing_seed
from emulators.campaign_monitor.webhooks import Sender

DB_NAME = "campaign-monitor.sqlite3"
POLL_SECONDS = 0.1  # how soon serve_forever notices stop(); the default 0.5 s slows tests


class CampaignMonitorEmulator:
    """A stateful Campaign Monitor API v3.3 on 127.0.0.1.

    seed: "demo", "empty" or a number of subscribers (benchmarks). port 0 picks a free port.
    data_dir: where the SQLite file lives; None means a temporary directory removed by
    stop(). A data_dir that already holds a file built from the same seed is reused as it
    is (state, OAuth tokens and all); delete the file to start over.
    """

    def __init__(
        self,
        seed: str | int = "demo",
        host: str = "127.0.0.1",
        port: int = 0,
        data_dir: str | Path | None = None,
    ) -> None:
        self.seed = seed_label(seed)
        self.host, self.port = host, port
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self._temp_dir: str | None = None
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._serving = False
        self.clock = Clock()
        self.seconds_to_seed = 0.0
        self.env: Env | None = None
        self.control: Control | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Seed (unless reusing data_dir), start listening, serve in a daemon thread."""
        self._prepare()
        self._serving = True  # before the thread runs, so an early stop() still shuts it down
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(POLL_SECONDS,), name="cm-emulator", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until Ctrl-C (for a management command)."""
        self._prepare()
        self._serving = True
        try:
            self._server.serve_forever(POLL_SECONDS)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop serving, close the database, remove a temporary data directory."""
        if self._server is not None:
            # shutdown() waits for serve_forever to end; without one it would wait forever
            if self._serving:
                self._server.shutdown()
            self._server.server_close()
            self._server, self._thread, self._serving = None, None, False
        if self.env is not None:
            if self.env.webhooks is not None:
                self.env.webhooks.close()
            self.env.store.close()
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Start over from the seed on the same address, as a new emulator would: a newly
        seeded database (dated from now), a new clock, and no requests, bodies, faults,
        sessions, webhooks or deliveries remembered.

        A test suite keeps one server (and port) for many tests and resets it before each:
        cheaper than a new emulator a test, whose stop() waits out the server's poll."""
        if self._server is None:
            raise RuntimeError("start() the emulator first")
        if self._data_dir is not None:
            raise RuntimeError("reset() starts a new temporary database: not with a data_dir")
        self.pause()
        self.clock = Clock()
        self._open()
        self._server.dispatcher = Dispatcher(self.env, self.control)

    def pause(self) -> None:
        """Stop sending webhook events (nothing queued or retried reaches anyone any more);
        the API still answers until stop() or reset(). Between two tests of a shared
        emulator, so one test's deliveries never reach the next test's server."""
        if self.env is not None and self.env.webhooks is not None:
            self.env.webhooks.close()

    def _prepare(self) -> None:
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        self._open()
        self._server = Server((self.host, self.port), Dispatcher(self.env, self.control))
        self.port = self._server.server_address[1]
        self.env.root_url = self.root_url

    def _open(self) -> None:
        """The database (seeded unless reused), the state around it and the webhook sender.
        A reset closes the previous ones and removes their temporary directory first."""
        if self.env is not None:
            self.env.store.close()
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None
        path = self._database_path()
        if existing_seed(path) != self.seed:
            for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                stale.unlink(missing_ok=True)
            started = datetime.now()
            seed_database(path, self.seed, self.clock.utc_now())
            self.seconds_to_seed = (datetime.now() - started).total_seconds()
        store = Store(path)
        client_id, secret = oauth_app(self.seed)
        root_url = self.root_url if self._server is not None else ""
        self.env = Env(store, self.clock, Pager(store), self.seed, root_url, client_id, secret)
        self.env.webhooks = Sender(self.env)
        self.control = Control(self.env)

    def _database_path(self) -> Path:
        if self._data_dir is None:
            self._temp_dir = tempfile.mkdtemp(prefix="cm-emulator-")
            return Path(self._temp_dir) / DB_NAME
        self._data_dir.mkdir(parents=True, exist_ok=True)
        return self._data_dir / DB_NAME

    # ---- where and who -------------------------------------------------------------------------

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root_url + API_PREFIX

    @property
    def database_path(self) -> Path:
        return self.env.store.path

    def info(self) -> dict[str, Any]:
        """Base URL, OAuth app and every account, client, key and list (= GET /_emulator/info)."""
        return info(self._env())

    def emails(self) -> Iterator[str]:
        """Every distinct subscriber email (first-seen case), streamed: to seed Salesforce."""
        with self._env().store.read() as db:
            rows = db.execute("SELECT MIN(email) FROM subscribers GROUP BY email_lc")
            for (email,) in rows:
                yield email

    # ---- control (the same operations as /_emulator/*) ----------------------------------------

    def now(self) -> str:
        """Account-local now, "YYYY-MM-DD HH:MM:SS"."""
        return self._control().now()

    def utc_now(self) -> str:
        """Emulated UTC now, "YYYY-MM-DD HH:MM:SS"."""
        return self._control().utc_now()

    @property
    def time_zone(self) -> ZoneInfo:
        """The account's time zone (every date the API shows or takes is local to it)."""
        return self.clock.zone

    def advance_clock(self, seconds: float) -> str:
        return self._control().advance_clock(seconds)

    def set_clock(self, value: str | datetime) -> str:
        return self._control().set_clock(value)

    def set_subscriber(
        self, list_id: str, email: str, state: str, name: str | None = None, date: str | None = None
    ) -> dict[str, Any]:
        return self._control().set_subscriber(list_id, email, state, name, date)

    def send_campaign(
        self,
        client_id: str,
        name: str,
        list_ids: list[str],
        subject: str | None = None,
        sent_date: str | None = None,
    ) -> str:
        return self._control().send_campaign(client_id, name, list_ids, subject, sent_date)

    def add_event(
        self,
        campaign_id: str,
        type: str,  # noqa: A002 (the control API's name)
        email: str,
        date: str | None = None,
        url: str | None = None,
        bounce_type: str | None = None,
        reason: str | None = None,
    ) -> None:
        self._control().add_event(campaign_id, type, email, date, url, bounce_type, reason)

    def add_fault(
        self,
        status: int | None = None,
        count: int = 1,
        path: str | None = None,
        retry_after: float | None = None,
        ratelimit_reset: float | None = None,
        delay: float | None = None,
    ) -> None:
        self._control().add_fault(status, count, path, retry_after, ratelimit_reset, delay)

    def clear_faults(self) -> None:
        self._control().clear_faults()

    def expire_tokens(self) -> None:
        self._control().expire_tokens()

    def request_counts(self) -> dict[str, int]:
        return self._control().request_counts()

    def reset_request_counts(self) -> None:
        """Also forgets the request bodies."""
        self._control().reset_request_counts()

    def request_bodies(self, route: str) -> list[Any]:
        """The JSON bodies of the last 20 calls to a route, e.g.
        "POST /subscribers/{id}/import.json", oldest first."""
        return self._control().request_bodies(route)

    def suppress(self, client_id: str, emails: list[str]) -> int:
        """Put addresses on a client's suppression list: adding or importing them then
        fails with Code 204 "In Suppression List"."""
        return self._control().suppress(client_id, emails)

    def set_unsubscribe_setting(self, list_id: str, setting: str) -> None:
        """AllClientLists (the default) or OnlyThisList, as the app's list options set it."""
        self._control().set_unsubscribe_setting(list_id, setting)

    # ---- list webhooks (see webhooks.py) ------------------------------------------------------

    def webhooks(self) -> list[dict[str, Any]]:
        """Every list webhook: ListID, WebhookID, Events, Url, Status, PayloadFormat."""
        return self._env().webhooks.configured()

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """Every POST attempt, oldest first: time, WebhookID, ListID, url, batch, attempt,
        redelivery, test, status, ok, error, events (a count) and payload."""
        return self._env().webhooks.deliveries()

    def clear_webhook_deliveries(self) -> None:
        self._env().webhooks.clear_deliveries()

    def wait_webhooks(self, timeout: float = 10.0) -> bool:
        """True once no event is queued, being sent or waiting for a retry."""
        return self._env().webhooks.wait(timeout)

    def pause_webhooks(self) -> None:
        """Hold every delivery (events keep queueing and batch up) until resume_webhooks()."""
        self._env().webhooks.pause()

    def resume_webhooks(self) -> None:
        self._env().webhooks.resume()

    def redeliver_last_webhook(self, webhook_id: str | None = None) -> dict[str, Any]:
        """Send the last batch (of one webhook, or of any) again, unchanged."""
        return self._env().webhooks.redeliver_last(webhook_id)

    def set_webhook_retry_delays(self, delays: list[float]) -> list[float]:
        """The waits before each retry of a failed POST (0.5, 1, 2 and 4 s by default); when
        they run out the webhook is deactivated."""
        return self._env().webhooks.set_retry_delays(delays)

    def _env(self) -> Env:
        if self.env is None:
            raise RuntimeError("start() the emulator first")
        return self.env

    def _control(self) -> Control:
        self._env()
        return self.control
