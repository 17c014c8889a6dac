"""One emulated org: storage, schema, the write and query engines, OAuth, API limits,
injected faults, Outbound Messages and request counts, plus the dispatch of every HTTP
request to them."""

import math
import re
import sys
import threading
import traceback
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from emulators.salesforce import bulk_query, control, ids, rest, seed
from emulators.salesforce.bulk import BulkJobs
from emulators.salesforce.bulk_query import QueryJobs
from emulators.salesforce.campaigns import CampaignRules
from emulators.salesforce.clock import Clock
from emulators.salesforce.dml import Actor, Engine, ValidationRule
from emulators.salesforce.duplicates import DuplicateRule, DuplicateRules
from emulators.salesforce.errors import SfError, not_found
from emulators.salesforce.identity import Identity
from emulators.salesforce.ids import IdFactory
from emulators.salesforce.leads import LeadRules
from emulators.salesforce.oauth import OAuth
from emulators.salesforce.outbound import Outbound
from emulators.salesforce.query import QueryEngine
from emulators.salesforce.schema import Registry, standard_objects, tooling_objects
from emulators.salesforce.security import Security
from emulators.salesforce.store import Store
from emulators.salesforce.tooling import Tooling
from emulators.salesforce.wire import Reply, Request, error_reply

API_VERSION = "62.0"
_DATA_PATH = re.compile(r"^/services/data(?:/v(?P<version>\d+\.\d)(?P<rest>/.*)?)?/?$")
FAULT_KINDS = (
    "unable_to_lock_row",
    "server_unavailable",
    "expire_session",
    "limit_exhausted",
    "bulk_unable_to_lock_row",  # per Bulk API 2.0 row (bulk.py)
    "bulk_job_failed",  # per Bulk API 2.0 ingest job
    "bulk_query_job_failed",  # per Bulk API 2.0 query job (bulk_query.py)
)
UNORDERED_ROWS = ("insertion", "reverse")  # how rows no ORDER BY decides come back
DUPLICATE_RULE_OPTIONS = ("alert", "block", "none")  # the seed option duplicate_rules
LIMIT_EXCEEDED = SfError("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", status=403)
INVALID_SESSION = SfError("INVALID_SESSION_ID", "Session expired or invalid", status=401)
INVALID_HEADER = SfError("INVALID_AUTH_HEADER", "INVALID_HEADER_TYPE", status=401)
UNAVAILABLE = SfError(
    "SERVER_UNAVAILABLE",
    "Server temporarily unavailable (injected by the Salesforce emulator)",
    status=503,
)


FIXED_LIMITS = {
    "ConcurrentAsyncGetReportInstances": 200,
    "ConcurrentSyncReportRuns": 20,
    "DailyAsyncApexExecutions": 250000,
    "DailyDurableGenericStreamingApiEvents": 10000,
    "DailyDurableStreamingApiEvents": 10000,
    "DailyGenericStreamingApiEvents": 10000,
    "DailyStreamingApiEvents": 10000,
    "DailyWorkflowEmails": 390,
    "DataStorageMB": 5,
    "DurableStreamingApiConcurrentClients": 20,
    "FileStorageMB": 20,
    "HourlyAsyncReportRuns": 1200,
    "HourlyDashboardRefreshes": 200,
    "HourlyDashboardResults": 5000,
    "HourlyDashboardStatuses": 999999999,
    "HourlyODataCallout": 10000,
    "HourlySyncReportRuns": 500,
    "HourlyTimeBasedWorkflow": 50,
    "MassEmail": 10,
    "SingleEmail": 15,
    "StreamingApiConcurrentClients": 20,
}


BULK_BATCHES = 15_000  # per rolling 24 h, shared by Bulk API 1.0 and 2.0


class Limits:
    """The org's daily API request allocation (Sforce-Limit-Info, /limits, 403s), and the
    Bulk API batches ingest jobs consumed (DailyBulkApiBatches; the sample's older name,
    DailyBulkApiRequests, shows the same count)."""

    def __init__(self, daily_limit: int) -> None:
        self.used, self.max = 0, daily_limit
        self.bulk_batches = 0
        self._lock = threading.Lock()

    def spend_bulk_batches(self, count: int) -> None:
        """Count the 10,000-record batches of an ingest job (Salesforce counts a batch
        beyond the allocation too; the job is processed anyway, here as there)."""
        with self._lock:
            self.bulk_batches += count

    def spend(self) -> bool:
        """Count one API call; False when the allocation is already spent."""
        with self._lock:
            if self.used >= self.max:
                return False
            self.used += 1
            return True

    def header(self) -> str:
        return f"api-usage={self.used}/{self.max}"

    def set(self, used: int | None = None, maximum: int | None = None) -> None:
        with self._lock:
            self.max = self.max if maximum is None else int(maximum)
            self.used = self.used if used is None else int(used)

    def body(self, query_jobs: int = 0, query_bytes: int = 0) -> dict[str, Any]:
        """GET /limits: a Developer Edition's allocations, with DailyApiRequests, the Bulk
        API batches and the Bulk API 2.0 query jobs and result storage live."""
        body = {name: {"Max": value, "Remaining": value} for name, value in FIXED_LIMITS.items()}
        body["DailyBulkV2QueryJobs"] = {
            "Max": bulk_query.MAX_JOBS,
            "Remaining": max(0, bulk_query.MAX_JOBS - query_jobs),
        }
        storage = bulk_query.MAX_STORAGE_MB - math.ceil(query_bytes / 1024 / 1024)
        body["DailyBulkV2QueryFileStorageMB"] = {
            "Max": bulk_query.MAX_STORAGE_MB,
            "Remaining": max(0, storage),
        }
        body["DailyApiRequests"] = {"Max": self.max, "Remaining": max(0, self.max - self.used)}
        batches = {"Max": BULK_BATCHES, "Remaining": max(0, BULK_BATCHES - self.bulk_batches)}
        body["DailyBulkApiBatches"] = batches
        body["DailyBulkApiRequests"] = dict(batches)
        return dict(sorted(body.items()))


@dataclass
class Fault:
    kind: str
    remaining: int
    path: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "count": self.remaining, "path": self.path}


class Faults:
    def __init__(self) -> None:
        self.pending: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, kind: str, count: int, path: str) -> None:
        with self._lock:
            self.pending.append(Fault(kind, count, path))

    def take(self, kind: str, path: str) -> bool:
        """Consume one matching fault, if any."""
        with self._lock:
            for fault in self.pending:
                if fault.kind == kind and fault.path in path and fault.remaining > 0:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self.pending.remove(fault)
                    return True
        return False

    def clear(self) -> None:
        with self._lock:
            self.pending.clear()


class Org:
    def __init__(
        self,
        seed_value: str | int,
        data_dir: Path | None = None,
        daily_limit: int = 100_000,
        duplicate_rules: str | None = None,
    ) -> None:
        if duplicate_rules is not None and duplicate_rules not in DUPLICATE_RULE_OPTIONS:
            raise ValueError(
                f"duplicate_rules must be one of {', '.join(DUPLICATE_RULE_OPTIONS)}, "
                f"not {duplicate_rules!r}"
            )
        self.seed = seed_value
        # None: the seed's default (an alert rule on Contact and Lead in "demo", else none).
        self.duplicate_rules_option = duplicate_rules
        self.identity = Identity.from_seed(str(seed_value))
        path = None
        if data_dir is not None:
            data_dir.mkdir(parents=True, exist_ok=True)
            path = data_dir / f"salesforce-{seed_value}.sqlite3"
        self.store = Store(path)
        self.clock = Clock()
        self.ids = IdFactory(self.identity.pod)
        self.registry = Registry(standard_objects())
        self.tooling_registry = Registry(tooling_objects())
        self.engine = Engine(self.store, self.registry, self.clock, self.ids)
        CampaignRules(self.engine)
        self.duplicates = DuplicateRules(self.engine)
        self.leads = LeadRules(self.engine)
        self.security = Security(self.engine)
        self.tooling = Tooling(self.engine, self.tooling_registry, self.security)
        self.queries = QueryEngine(self.store, lambda: self.ids.new("01g"))
        self.root_url = ""
        self.oauth = OAuth(self.identity, "")
        self.limits = Limits(daily_limit)
        self.faults = Faults()
        self.outbound = Outbound(self)
        self.counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()
        self.open_or_seed()
        self.bulk = BulkJobs(self)  # Bulk API 2.0 ingest jobs, kept in the store
        self.bulk_query = QueryJobs(self)  # Bulk API 2.0 query jobs, kept in the store

    def open_or_seed(self) -> None:
        if self.store.meta("seeded"):
            seed.reopen(self)
        else:
            seed.seed_org(self)
            self.store.set_meta("seeded", True)

    def set_root_url(self, root_url: str) -> None:
        self.root_url = self.oauth.root_url = root_url

    def close(self) -> None:
        self.bulk.close()
        self.bulk_query.close()
        self.outbound.close()
        self.store.close()

    # -- control helpers -------------------------------------------------------------------

    def add_rule(self, object: str, field: str, equals: Any, message: str) -> ValidationRule:
        target = self.registry.get(object)
        found = target.field(field) if target else None
        if target is None or found is None:
            raise ValueError(f"No such field {object}.{field}")
        rule = ValidationRule(self.ids.new("03d"), target.name, found.name, equals, message)
        self.engine.rules.append(rule)
        self.save_rules()
        return rule

    def clear_rules(self) -> None:
        self.engine.rules.clear()
        self.save_rules()

    def save_rules(self) -> None:
        self.store.set_meta("validation_rules", [r.as_dict() for r in self.engine.rules])

    def add_duplicate_rule(self, object: str, action: str) -> DuplicateRule:
        rule = self.duplicates.add(object, action, self.ids.new("0Bm"))
        self.save_duplicate_rules()
        return rule

    def clear_duplicate_rules(self) -> None:
        self.duplicates.rules.clear()
        self.save_duplicate_rules()

    def save_duplicate_rules(self) -> None:
        self.store.set_meta("duplicate_rules", [r.as_dict() for r in self.duplicates.rules])

    def load_duplicate_rules(self) -> None:
        self.duplicates.rules = [DuplicateRule(**r) for r in self.store.meta("duplicate_rules", [])]
        for rule in self.duplicates.rules:
            self.ids.observe(rule.id)

    def convert_lead(
        self, lead_id: str, contact_id: str | None = None, account_id: str | None = None
    ) -> dict[str, Any]:
        """Convert a Lead as the admin (see leads.py); the conversion is not an API call."""
        admin = Actor(self.identity.users[0]["Id"], skip_duplicates=True)
        return self.leads.convert(lead_id, admin, contact_id, account_id)

    def set_unordered_rows(self, order: str) -> None:
        if order not in UNORDERED_ROWS:
            raise ValueError(f"Unknown order {order!r}; use one of {', '.join(UNORDERED_ROWS)}")
        self.queries.reverse_ties = order == "reverse"

    def unordered_rows(self) -> str:
        return "reverse" if self.queries.reverse_ties else "insertion"

    def add_fault(self, kind: str, count: int = 1, path: str = "") -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"Unknown fault kind {kind!r}; use one of {', '.join(FAULT_KINDS)}")
        if kind == "expire_session":
            self.oauth.expire_all()
        elif kind == "limit_exhausted":
            self.limits.set(used=self.limits.max)
        else:
            self.faults.add(kind, max(1, int(count)), path)

    def count(self, key: str) -> None:
        with self._counts_lock:
            self.counts[key] += 1

    # -- dispatch --------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        try:
            return self.route(request)
        except Exception:  # an emulator bug: answer like Salesforce's UNKNOWN_EXCEPTION
            traceback.print_exc(file=sys.stderr)
            error_id = str(uuid.uuid4().int)[:10]
            message = (
                "An unexpected error occurred. Please include this ErrorId if you contact "
                f"support: {error_id}-0 (emulator)"
            )
            return error_reply(SfError("UNKNOWN_EXCEPTION", message, status=500))

    def route(self, request: Request) -> Reply:
        path = request.path
        if path.startswith("/_emulator/"):
            return control.handle(self, request)
        if path.startswith("/services/data"):
            return self.api(request)
        if path.startswith("/services/oauth2/"):
            return self.oauth_route(request)
        if path.startswith("/id/"):
            self.count(f"{request.method} /id/{{org}}/{{user}}")
            parts = path.strip("/").split("/")  # id / org / user
            known = len(parts) == 3 and ids.normalize(parts[1]) == self.identity.org_id
            user_id = ids.normalize(parts[2]) if known else None
            return self.oauth.userinfo(request, user_id or "-")
        if path == "/":
            return Reply(200, {"emulator": "Salesforce", "info": f"{self.root_url}/_emulator/info"})
        return error_reply(not_found())

    def oauth_route(self, request: Request) -> Reply:
        method, name = request.method, request.path.removeprefix("/services/oauth2/").strip("/")
        self.count(f"{method} /services/oauth2/{name}")
        handlers = {
            ("GET", "authorize"): self.oauth.authorize_page,
            ("POST", "authorize"): self.oauth.authorize_submit,
            ("POST", "token"): self.oauth.token,
            ("POST", "revoke"): self.oauth.revoke,
            ("GET", "userinfo"): self.oauth.userinfo,
            ("POST", "userinfo"): self.oauth.userinfo,
        }
        handler = handlers.get((method, name))
        return handler(request) if handler else error_reply(not_found())

    def api(self, request: Request) -> Reply:
        match = _DATA_PATH.match(request.path)
        if not match:
            return error_reply(not_found())
        if match["version"] is None:
            self.count(f"{request.method} /services/data")
            return Reply(200, rest.version_list())
        if not rest.MIN_VERSION <= float(match["version"]) <= rest.MAX_VERSION:
            return error_reply(not_found())
        request.version = match["version"]
        route, request.groups = self.find_route(request.method, (match["rest"] or "").rstrip("/"))
        self.count(f"{request.method} {route.template}")
        return self.call(route, request)

    @staticmethod
    def find_route(method: str, rest_path: str) -> tuple[rest.Route, dict[str, str]]:
        """The route and its decoded path parameters; unknown paths and methods get a route
        that answers 404 or 405 (after authentication, as Salesforce does)."""
        allowed = []
        for route in rest.ROUTES:
            match = re.fullmatch(route.pattern, rest_path)
            if match and route.method == method:
                return route, {
                    name: unquote_plus(value) for name, value in match.groupdict().items()
                }
            if match:
                allowed.append(route.method)
        if not allowed:
            error = not_found()
        else:
            message = f"HTTP Method '{method}' not allowed. Allowed are {','.join(allowed)}"
            error = SfError("METHOD_NOT_ALLOWED", message, status=405)
        return rest.Route(method, "", "<unknown>", lambda org, request: error_reply(error)), {}

    def call(self, route: rest.Route, request: Request) -> Reply:
        authorization = request.headers.get("authorization", "")
        if not authorization:
            return error_reply(INVALID_HEADER)
        session = self.oauth.session(authorization)
        if session is None:
            return error_reply(INVALID_SESSION)
        request.user_id = session.user_id
        if not self.limits.spend():
            reply = error_reply(LIMIT_EXCEEDED)
        elif self.faults.take("server_unavailable", request.path):
            reply = error_reply(UNAVAILABLE)
        else:
            try:
                reply = route.handler(self, request)
            except SfError as error:
                reply = error_reply(error)
        reply.headers["Sforce-Limit-Info"] = self.limits.header()
        return reply

    # -- facts -----------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        identity, root = self.identity, self.root_url
        return {
            "instance_url": root,
            "login_url": root,
            "api_version": API_VERSION,
            "oauth": {
                "authorize_url": f"{root}/services/oauth2/authorize",
                "token_url": f"{root}/services/oauth2/token",
                "client_id": identity.client_id,
                "client_secret": identity.client_secret,
            },
            "users": [
                {key: user[key] for key in ("Id", "Username", "Name", "Email", "password")}
                for user in identity.users
            ],
            "jwt": {
                "client_id": identity.client_id,
                "username": identity.users[1]["Username"],  # the integration user
                "private_key_pem": identity.private_key_pem(),
            },
            "org": {"Id": identity.org_id, "Name": identity.org_name},
        }
