"""The HTTP side: a ThreadingHTTPServer speaking HTTP/1.1 with keep-alive, handing every
request to the Org and writing its Reply with an exact Content-Length."""

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from emulators.quiet import QuietDisconnects
from emulators.salesforce.wire import Request

if TYPE_CHECKING:
    from emulators.salesforce.org import Org


class Server(QuietDisconnects, ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], org: "Org", quiet: bool = True) -> None:
        super().__init__(address, Handler)
        self.org, self.quiet = org, quiet


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small keep-alive replies must not wait for delayed ACKs
    server: Server
    server_version = "SalesforceEmulator/1.0"

    def do_GET(self) -> None:
        self.dispatch()

    do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = do_GET

    def dispatch(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=parts.path,  # still percent-encoded: an external id may contain "/"
            query=parts.query,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        reply = self.server.org.handle(request)
        payload = reply.payload()
        self.send_response(reply.status)
        if payload or reply.status not in (204, 304):
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        if not self.server.quiet:
            sys.stderr.write(f"salesforce-emulator: {format % args}\n")
