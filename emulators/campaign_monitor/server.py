"""HTTP: a ThreadingHTTPServer speaking HTTP/1.1 with keep-alive, and request dispatch.

/api/v3.3/...  the emulated API (counted, subject to faults, authenticated)
/oauth...      the OAuth endpoints (counted)
/_emulator/... the control surface (no auth, not counted)
"""

import html
import json
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from emulators.campaign_monitor import oauth, webhooks
from emulators.campaign_monitor.api import Call, routes
from emulators.campaign_monitor.app import ApiError, Reply, error_reply, match, not_found
from emulators.campaign_monitor.app import query_params as parse_query
from emulators.campaign_monitor.auth import authenticate
from emulators.campaign_monitor.control import Control, ControlError, apply_fault
from emulators.campaign_monitor.env import Env
from emulators.quiet import QuietDisconnects

API_PREFIX = "/api/v3.3"


class Dispatcher:
    def __init__(self, env: Env, control: Control) -> None:
        self.env, self.control = env, control
        self.routes = routes()

    def handle(self, method: str, target: str, headers: Any, body: bytes) -> Reply:
        url = urlsplit(target)
        path = url.path
        try:
            if path.startswith("/_emulator/"):
                return self._control(method, path, url.query, body)
            if path in ("/oauth", "/oauth/token"):
                return self._oauth(method, path, url.query, body)
            if path.startswith(API_PREFIX + "/"):
                return self._api(method, path, url.query, headers, body)
            return not_found()
        except ApiError as err:
            return err.reply()
        except Exception:  # the real API answers 500 with a JSON body, never a stack trace
            traceback.print_exc(file=sys.stderr)
            return error_reply(500)

    def _api(self, method: str, path: str, query: str, headers: Any, body: bytes) -> Reply:
        found = match(self.routes, method, path[len(API_PREFIX) :])
        if found is None:
            return not_found()
        route, ids = found
        self.control.counts.add(f"{method} {route.template}")
        if method in ("POST", "PUT"):
            self.control.bodies.add(f"{method} {route.template}", body)
        failure = apply_fault(self.control.faults.take(path))
        if failure is not None:
            return failure
        with self.env.store.read(snapshot=True) as conn:
            who = authenticate(conn, headers.get("Authorization"), self.env.clock.timestamp())
            return route.handler(Call(self.env, conn, who, ids, parse_query(query), body))

    def _oauth(self, method: str, path: str, query: str, body: bytes) -> Reply:
        if (method, path) == ("GET", "/oauth"):
            self.control.counts.add("GET /oauth")
            return oauth.authorize(self.env, parse_query(query))
        if (method, path) == ("POST", "/oauth/token"):
            self.control.counts.add("POST /oauth/token")
            failure = apply_fault(self.control.faults.take(path))
            if failure is not None:
                return failure
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            return oauth.token(self.env, form)
        return not_found()

    def _control(self, method: str, path: str, query: str, body: bytes) -> Reply:
        try:
            data = json.loads(body) if body.strip() else {}
            if not isinstance(data, dict):
                raise ControlError("Send a JSON object")
            return self._control_route(method, path, data)
        except (ControlError, ValueError, TypeError, KeyError) as exc:
            return Reply(400, {"error": str(exc) or type(exc).__name__})

    def _control_route(self, method: str, path: str, data: dict) -> Reply:
        c = self.control
        action = (method, path.rstrip("/"))
        if action == ("GET", "/_emulator/info"):
            return Reply(body=self.info())
        if action == ("GET", "/_emulator/clock"):
            return Reply(body={"now": c.now(), "utc": c.utc_now()})
        if action == ("POST", "/_emulator/clock"):
            if "set" in data:
                return Reply(body={"now": c.set_clock(data["set"])})
            return Reply(body={"now": c.advance_clock(float(data["advance_seconds"]))})
        if action == ("POST", "/_emulator/subscribers"):
            args = _args(
                data,
                ListID="list_id",
                EmailAddress="email",
                State="state",
                Name="name",
                Date="date",
            )
            return Reply(body=c.set_subscriber(**args))
        if action == ("POST", "/_emulator/campaigns"):
            args = _args(
                data,
                ClientID="client_id",
                Name="name",
                ListIDs="list_ids",
                Subject="subject",
                SentDate="sent_date",
            )
            return Reply(201, {"CampaignID": c.send_campaign(**args)})
        if action == ("POST", "/_emulator/events"):
            args = _args(
                data,
                CampaignID="campaign_id",
                Type="type",
                EmailAddress="email",
                Date="date",
                URL="url",
                BounceType="bounce_type",
                Reason="reason",
            )
            c.add_event(**args)
            return Reply(201, {"ok": True})
        if action == ("POST", "/_emulator/faults"):
            if data.get("expire_tokens"):
                c.expire_tokens()
            else:
                c.add_fault(
                    **_args(
                        data,
                        status="status",
                        count="count",
                        path="path",
                        retry_after="retry_after",
                        ratelimit_reset="ratelimit_reset",
                        delay="delay",
                    )
                )
            return Reply(body={"ok": True})
        if action == ("GET", "/_emulator/faults"):
            return Reply(body=c.pending_faults())
        if action == ("DELETE", "/_emulator/faults"):
            c.clear_faults()
            return Reply(body={"ok": True})
        if action == ("GET", "/_emulator/requests"):
            return Reply(body=c.request_counts())
        if action == ("DELETE", "/_emulator/requests"):
            c.reset_request_counts()
            return Reply(body={"ok": True})
        if action == ("POST", "/_emulator/request_bodies"):  # POST: the route goes in the body
            return Reply(body=c.request_bodies(str(data.get("route", ""))))
        if action == ("POST", "/_emulator/suppressions"):
            args = _args(data, ClientID="client_id", EmailAddresses="emails")
            return Reply(body={"added": c.suppress(**args)})
        if action == ("POST", "/_emulator/lists"):
            args = _args(data, ListID="list_id", UnsubscribeSetting="setting")
            c.set_unsubscribe_setting(**args)
            return Reply(body={"ok": True})
        if path == "/_emulator/webhooks" or path.startswith("/_emulator/webhooks/"):
            return webhooks.control(self.env.webhooks, method, path, data)
        if method == "GET" and path.startswith("/_emulator/session/"):
            return self._session(path.rsplit("/", 1)[-1])
        return Reply(404, {"error": "No such control endpoint"})

    def info(self) -> dict[str, Any]:
        return info(self.env)

    def _session(self, token: str) -> Reply:
        with self.env.lock:
            session = self.env.sessions.get(token)
        if session is None:
            return Reply(404, {"error": "No such session"})
        rows = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in session.items()
        )
        page = (
            "<!doctype html><title>Campaign Monitor (emulated)</title>"
            f"<h1>Campaign Monitor emulator: external session</h1><table>{rows}</table>"
        )
        return Reply(raw=page.encode(), content_type="text/html; charset=utf-8")


def _args(data: dict, **names: str) -> dict[str, Any]:
    """Map the control API's JSON names to keyword arguments, keeping only those sent."""
    return {arg: data[key] for key, arg in names.items() if key in data}


def info(env: Env) -> dict[str, Any]:
    """Where the emulator is and every credential it knows, for tests and the demo."""
    with env.store.read() as conn:
        accounts = conn.execute("SELECT id, name, type, api_key FROM accounts ORDER BY id")
        out = []
        for pk, name, kind, key in accounts.fetchall():
            out.append(
                {"name": name, "type": kind, "api_key": key, "clients": _clients_info(conn, pk)}
            )
    return {
        "base_url": env.root_url + API_PREFIX,
        "oauth": {
            "authorize_url": env.root_url + "/oauth",
            "token_url": env.root_url + "/oauth/token",
            "client_id": env.oauth_client_id,
            "client_secret": env.oauth_client_secret,
        },
        "accounts": out,
    }


def _clients_info(conn, account_pk: int) -> list[dict[str, Any]]:
    clients = []
    rows = conn.execute(
        "SELECT id, client_id, name, api_key FROM clients WHERE account_id = ? ORDER BY id",
        (account_pk,),
    ).fetchall()
    for pk, client_id, name, key in rows:
        lists = conn.execute(
            "SELECT list_id, title FROM lists WHERE client_id = ? ORDER BY id", (pk,)
        ).fetchall()
        clients.append(
            {
                "ClientID": client_id,
                "Name": name,
                "ApiKey": key,
                "lists": [{"ListID": lid, "Name": title} for lid, title in lists],
            }
        )
    return clients


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every reply carries Content-Length
    disable_nagle_algorithm = True  # small replies must not wait for delayed ACKs
    server_version = "CampaignMonitorEmulator/1.0"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._serve("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = self.server.dispatcher.handle(method, self.path, self.headers, body)  # type: ignore[attr-defined]
        payload = reply.payload()
        head = [
            f"HTTP/1.1 {reply.status} {self.responses.get(reply.status, ('',))[0]}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {reply.content_type}",
            f"Content-Length: {len(payload)}",
        ]
        head += [f"{name}: {value}" for name, value in reply.headers.items()]
        if self.close_connection:
            head.append("Connection: close")
        # one write for headers and body: no Nagle stall between them
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # quiet: tests and benchmarks would drown in access logs


class Server(QuietDisconnects, ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], dispatcher: Dispatcher) -> None:
        super().__init__(address, Handler)
        self.dispatcher = dispatcher
