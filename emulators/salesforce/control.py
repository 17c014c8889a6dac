"""The control surface under /_emulator/: plain JSON, no auth, never counted as API calls.

GET    /_emulator/info                 what a client needs to connect (see Org.info)
POST   /_emulator/people               {"emails": [...]} -> seed_people counts
POST   /_emulator/records              {"type": ..., "records": [...]} -> per-record results
GET|POST|DELETE /_emulator/validation_rules   {"object", "field", "equals", "message"}
GET|POST|DELETE /_emulator/duplicate_rules    {"object": "Contact" | "Lead", "action": "alert" |
                                       "block"} (one standard rule per object, duplicates.py)
POST   /_emulator/leads/convert        {"lead_id", "contact_id"?, "account_id"?} -> the Lead's
                                       conversion fields (leads.py)
GET|POST|DELETE /_emulator/faults      {"kind", "count", "path"}
GET|DELETE /_emulator/requests         counts per "METHOD /route/{template}"
GET|POST   /_emulator/limits           {"used", "max"}
POST   /_emulator/token                {"username"?} -> an OAuth token response (for tests)
POST   /_emulator/sessions/expire      expire every access token
POST   /_emulator/clock                {"advance_seconds": n}
GET|POST /_emulator/query_order       {"unordered": "insertion" | "reverse"}: how rows no
                                       ORDER BY decides come back (Salesforce promises none)
GET|POST|DELETE /_emulator/outbound_messages  {"endpoint_url", "sobject", "fields", "name"?,
                                       "retry_delays"?} (see outbound.py)
POST   /_emulator/outbound_messages/redeliver_last   send the last message again, unchanged
GET|DELETE /_emulator/outbound_deliveries     every attempt: time, url, status, ack, attempt...
POST   /_emulator/outbound_deliveries/wait    {"timeout"?: s} -> {"idle", "deliveries"}
GET|POST /_emulator/bulk               Bulk API 2.0 jobs by state (ingest "jobs", "query_jobs"),
                                       records processed; {"paused"?, "chunk_delay"?}
POST   /_emulator/bulk/wait            {"timeout"?: s}: until no ingest or query job is queued
"""

import time
from typing import TYPE_CHECKING, Any

from emulators.salesforce import seed
from emulators.salesforce.errors import SfError
from emulators.salesforce.wire import Reply, Request

if TYPE_CHECKING:
    from emulators.salesforce.org import Org


class ControlError(Exception):
    pass


def handle(org: "Org", request: Request) -> Reply:
    name = request.path.removeprefix("/_emulator/").strip("/")
    handler = HANDLERS.get((request.method, name))
    if handler is None:
        return Reply(404, {"error": f"No control endpoint {request.method} /_emulator/{name}"})
    try:
        body = request.json() if request.method == "POST" and request.body.strip() else {}
        if not isinstance(body, dict):
            raise ControlError("Expected a JSON object")
        return handler(org, body)
    except (ControlError, ValueError, KeyError, TypeError) as error:
        return Reply(400, {"error": str(error)})
    except SfError as error:
        return Reply(400, {"error": error.message, "errorCode": error.code})


def info(org: "Org", body: dict[str, Any]) -> Reply:
    return Reply(200, org.info())


def people(org: "Org", body: dict[str, Any]) -> Reply:
    emails = body.get("emails")
    if not isinstance(emails, list) or not all(isinstance(e, str) for e in emails):
        raise ControlError('Expected {"emails": ["...", ...]}')
    return Reply(200, seed.seed_people(org, emails))


def records(org: "Org", body: dict[str, Any]) -> Reply:
    type_name, items = body.get("type"), body.get("records")
    if not isinstance(type_name, str) or not isinstance(items, list):
        raise ControlError('Expected {"type": "Contact", "records": [{...}, ...]}')
    return Reply(200, seed.insert(org, type_name, items))


def rules(org: "Org", body: dict[str, Any]) -> Reply:
    return Reply(200, [rule.as_dict() for rule in org.engine.rules])


def add_rule(org: "Org", body: dict[str, Any]) -> Reply:
    rule = org.add_rule(body["object"], body["field"], body.get("equals"), body["message"])
    return Reply(201, rule.as_dict())


def clear_rules(org: "Org", body: dict[str, Any]) -> Reply:
    org.clear_rules()
    return Reply(200, [])


def duplicate_rules(org: "Org", body: dict[str, Any]) -> Reply:
    return Reply(200, [rule.as_dict() for rule in org.duplicates.rules])


def add_duplicate_rule(org: "Org", body: dict[str, Any]) -> Reply:
    rule = org.add_duplicate_rule(str(body["object"]), str(body["action"]))
    return Reply(201, rule.as_dict())


def clear_duplicate_rules(org: "Org", body: dict[str, Any]) -> Reply:
    org.clear_duplicate_rules()
    return Reply(200, [])


def convert_lead(org: "Org", body: dict[str, Any]) -> Reply:
    lead = org.convert_lead(str(body["lead_id"]), body.get("contact_id"), body.get("account_id"))
    return Reply(200, lead)


def faults(org: "Org", body: dict[str, Any]) -> Reply:
    return Reply(200, [fault.as_dict() for fault in org.faults.pending])


def add_fault(org: "Org", body: dict[str, Any]) -> Reply:
    org.add_fault(body["kind"], int(body.get("count", 1)), str(body.get("path", "")))
    return Reply(201, [fault.as_dict() for fault in org.faults.pending])


def clear_faults(org: "Org", body: dict[str, Any]) -> Reply:
    org.faults.clear()
    return Reply(200, [])


def requests(org: "Org", body: dict[str, Any]) -> Reply:
    return Reply(200, dict(sorted(org.counts.items())))


def reset_requests(org: "Org", body: dict[str, Any]) -> Reply:
    org.counts.clear()
    return Reply(200, {})


def limits(org: "Org", body: dict[str, Any]) -> Reply:
    return Reply(200, {"used": org.limits.used, "max": org.limits.max})


def set_limits(org: "Org", body: dict[str, Any]) -> Reply:
    org.limits.set(body.get("used"), body.get("max"))
    return limits(org, body)


def token(org: "Org", body: dict[str, Any]) -> Reply:
    username = body.get("username") or org.identity.users[0]["Username"]
    user = org.identity.user(username=username)
    if user is None:
        raise ControlError(f"No user {username}")
    return Reply(200, org.oauth.issue(user["Id"], org.identity.client_id))


def expire_sessions(org: "Org", body: dict[str, Any]) -> Reply:
    return Reply(200, {"expired": org.oauth.expire_all()})


def clock(org: "Org", body: dict[str, Any]) -> Reply:
    org.clock.advance(float(body.get("advance_seconds", 0)))
    return Reply(200, {"now": org.clock.stamp()})


def query_order(org: "Org", body: dict[str, Any]) -> Reply:
    return Reply(200, {"unordered": org.unordered_rows()})


def set_query_order(org: "Org", body: dict[str, Any]) -> Reply:
    org.set_unordered_rows(str(body.get("unordered", "")))
    return query_order(org, body)


def outbound_messages(org: "Org", body: dict[str, Any]) -> Reply:
    return Reply(200, org.outbound.configured())


def add_outbound_message(org: "Org", body: dict[str, Any]) -> Reply:
    action = org.outbound.add(
        body["endpoint_url"],
        body["sobject"],
        body["fields"],
        body.get("name", "cmsync"),
        body.get("retry_delays"),
    )
    return Reply(201, action)


def remove_outbound_messages(org: "Org", body: dict[str, Any]) -> Reply:
    return Reply(200, {"removed": org.outbound.remove_all()})


def redeliver_last(org: "Org", body: dict[str, Any]) -> Reply:
    return Reply(202, org.outbound.redeliver_last())


def outbound_deliveries(org: "Org", body: dict[str, Any]) -> Reply:
    return Reply(200, org.outbound.deliveries())


def clear_outbound_deliveries(org: "Org", body: dict[str, Any]) -> Reply:
    org.outbound.clear_deliveries()
    return Reply(200, [])


def wait_outbound(org: "Org", body: dict[str, Any]) -> Reply:
    timeout = min(max(float(body.get("timeout", 10)), 0.0), 120.0)
    idle = org.outbound.wait(timeout)
    return Reply(200, {"idle": idle, "deliveries": org.outbound.deliveries()})


def bulk_status(org: "Org", body: dict[str, Any]) -> Reply:
    """Bulk API 2.0 jobs by state and what the workers did (for the benchmark): ingest jobs
    under "jobs", query jobs under "query_jobs"."""
    states: dict[str, int] = {}
    for job in org.bulk.all_jobs():
        states[job["state"]] = states.get(job["state"], 0) + 1
    query_states: dict[str, int] = {}
    for job in org.bulk_query.all_jobs():
        query_states[job["state"]] = query_states.get(job["state"], 0) + 1
    return Reply(
        200,
        {
            "jobs": dict(sorted(states.items())),
            **org.bulk.stats,
            "query_jobs": dict(sorted(query_states.items())),
            "query_records": org.bulk_query.stats["records"],
            "batches": org.limits.bulk_batches,
            "paused": org.bulk.paused,
            "chunk_delay": org.bulk.chunk_delay,
            "idle": org.bulk.idle() and org.bulk_query.idle(),
        },
    )


def set_bulk(org: "Org", body: dict[str, Any]) -> Reply:
    """{"paused": bool} holds queued jobs (ingest jobs in UploadComplete, query jobs too);
    {"chunk_delay": seconds} slows each chunk (200 ingest rows, 2,000 query rows) so a job
    stays InProgress long enough to watch."""
    if "paused" in body:
        org.bulk.set_paused(bool(body["paused"]))
        org.bulk_query.set_paused(bool(body["paused"]))
    if "chunk_delay" in body:
        org.bulk.chunk_delay = min(max(float(body["chunk_delay"]), 0.0), 10.0)
    return bulk_status(org, body)


def wait_bulk(org: "Org", body: dict[str, Any]) -> Reply:
    timeout = min(max(float(body.get("timeout", 10)), 0.0), 120.0)
    idle = wait_all_bulk(org, timeout)
    return Reply(200, {**bulk_status(org, body).body, "idle": idle})


def wait_all_bulk(org: "Org", timeout: float) -> bool:
    """Wait until no ingest or query job is queued or being processed."""
    deadline = time.monotonic() + timeout
    return org.bulk.wait(timeout) and org.bulk_query.wait(max(0.0, deadline - time.monotonic()))


HANDLERS = {
    ("GET", "info"): info,
    ("POST", "people"): people,
    ("POST", "records"): records,
    ("GET", "validation_rules"): rules,
    ("POST", "validation_rules"): add_rule,
    ("DELETE", "validation_rules"): clear_rules,
    ("GET", "duplicate_rules"): duplicate_rules,
    ("POST", "duplicate_rules"): add_duplicate_rule,
    ("DELETE", "duplicate_rules"): clear_duplicate_rules,
    ("POST", "leads/convert"): convert_lead,
    ("GET", "faults"): faults,
    ("POST", "faults"): add_fault,
    ("DELETE", "faults"): clear_faults,
    ("GET", "requests"): requests,
    ("DELETE", "requests"): reset_requests,
    ("GET", "limits"): limits,
    ("POST", "limits"): set_limits,
    ("POST", "token"): token,
    ("POST", "sessions/expire"): expire_sessions,
    ("POST", "clock"): clock,
    ("GET", "query_order"): query_order,
    ("POST", "query_order"): set_query_order,
    ("GET", "outbound_messages"): outbound_messages,
    ("POST", "outbound_messages"): add_outbound_message,
    ("DELETE", "outbound_messages"): remove_outbound_messages,
    ("POST", "outbound_messages/redeliver_last"): redeliver_last,
    ("GET", "outbound_deliveries"): outbound_deliveries,
    ("DELETE", "outbound_deliveries"): clear_outbound_deliveries,
    ("POST", "outbound_deliveries/wait"): wait_outbound,
    ("GET", "bulk"): bulk_status,
    ("POST", "bulk"): set_bulk,
    ("POST", "bulk/wait"): wait_bulk,
}
