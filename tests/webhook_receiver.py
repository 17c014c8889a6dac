"""A local endpoint for Campaign Monitor list webhooks in tests.

    with Receiver() as receiver:
        ...create a webhook with receiver.url, change subscribers...
        receiver.wait_until(lambda: len(receiver.events()) == 3)

It records every POST (when, path, headers, JSON body) and answers from a script of statuses
(then 200), so a test can make the first attempts fail. Waiting is on a condition that each
POST notifies, with a deadline: no sleeps.
"""

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class Receiver:
    def __init__(self, path: str = "/cm/webhooks") -> None:
        self.received: list[dict[str, Any]] = []
        self.script: list[int] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._cond:
                    status = receiver.script.pop(0) if receiver.script else 200
                    receiver.received.append(
                        {
                            "at": time.monotonic(),
                            "path": self.path,
                            "headers": dict(self.headers),
                            "json": json.loads(body),
                            "status": status,
                        }
                    )
                    receiver._cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,))
        self._thread.daemon = True
        self._thread.start()

    def posts(self) -> list[dict[str, Any]]:
        """The JSON bodies received, oldest first."""
        with self._cond:
            return [r["json"] for r in self.received]

    def events(self, answered_ok: bool = True) -> list[dict[str, Any]]:
        """Every event of every POST (by default only those the receiver accepted)."""
        with self._cond:
            return [
                e
                for r in self.received
                if not answered_ok or 200 <= r["status"] < 300
                for e in r["json"]["Events"]
            ]

    def wait_until(self, condition: Callable[[], Any], seconds: float = 10.0) -> Any:
        """Wait for `condition()` to be truthy, re-checking after every POST; fail after
        `seconds`."""
        deadline = time.monotonic() + seconds
        with self._cond:
            while not (result := condition()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("timed out waiting for webhook posts")
                self._cond.wait(remaining)
        return result

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
