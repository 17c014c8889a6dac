"""Handlers for /services/data/vNN.N/...: queries, sObject REST, collections, describe,
limits and the Tooling API. Each takes the Org and a Request and returns a Reply (or raises
SfError, which the caller turns into Salesforce's error list)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from emulators.salesforce import bulk, bulk_query, duplicates, ids
from emulators.salesforce import sobject_collections as collections
from emulators.salesforce.clock import format_datetime, parse_datetime
from emulators.salesforce.dml import Actor, MultipleMatches
from emulators.salesforce.errors import SfError, malformed_query, not_found
from emulators.salesforce.query import MAX_BATCH, Plan, attributes
from emulators.salesforce.schema import SObject
from emulators.salesforce.wire import Reply, Request

if TYPE_CHECKING:
    from emulators.salesforce.org import Org

MIN_VERSION, MAX_VERSION = 20.0, 66.0
Handler = Callable[["Org", Request], Reply]


@dataclass
class Route:
    method: str
    pattern: str  # regular expression over the path after /services/data/vNN.N
    template: str  # how /_emulator/requests counts it
    handler: Handler


def access(org: "Org", request: Request) -> Any:
    """The requesting user's object and field access (security.Access), read once."""
    if request.access is None:
        request.access = org.security.access(request.user_id)
    return request.access


def actor(org: "Org", request: Request) -> Actor:
    allow_save = float(request.version) >= 52.0 and duplicates.allow_save(request)
    return Actor(request.user_id, access=access(org, request), allow_save=allow_save)


def sobject(org: "Org", request: Request) -> SObject:
    """The path's object, or 404 when it does not exist or the user may not read it."""
    return org.engine.sobject(request.groups["type"], actor(org, request))


def version_list() -> list[dict[str, str]]:
    numbers = [float(n) for n in range(int(MIN_VERSION), int(MAX_VERSION) + 1)]
    return [
        {"label": f"v{n:.1f}", "url": f"/services/data/v{n:.1f}", "version": f"{n:.1f}"}
        for n in numbers
    ]


def resources(org: "Org", request: Request) -> Reply:
    base = f"/services/data/v{request.version}"
    names = ("tooling", "query", "queryAll", "sobjects", "composite", "limits", "tabs")
    return Reply(200, {name: f"{base}/{name}" for name in names})


def tabs(org: "Org", request: Request) -> Reply:
    """The tabs available to the user (REST API, Tabs: GET /services/data/vXX.X/tabs, in
    version 31.0 and later)."""
    if float(request.version) < 31.0:
        raise not_found()
    settings = org.security.tab_settings(request.user_id)
    return Reply(200, org.tooling.tabs.available(org.root_url, access(org, request), settings))


# -- queries -------------------------------------------------------------------------------


def batch_size(request: Request) -> int:
    options = request.headers.get("sforce-query-options", "")
    for part in options.split(","):
        name, _, value = part.partition("=")
        if name.strip().lower() == "batchsize" and value.strip().isdigit():
            return int(value)
    return MAX_BATCH


def run_query(org: "Org", request: Request, include_deleted: bool, tooling: bool = False) -> Reply:
    soql = request.params.get("q")
    if not soql:
        raise malformed_query("A query string must be provided with the q parameter")
    registry = org.tooling_registry if tooling else org.registry
    user_access = None if tooling else access(org, request)  # Tooling metadata: unfiltered
    plan = org.queries.plan(
        registry, soql, org.clock.now(), include_deleted, request.version, user_access
    )
    kind = "tooling/query" if tooling else ("queryAll" if include_deleted else "query")
    result = org.queries.run(plan, batch_size(request), kind)
    if tooling and result["totalSize"] > 1 and _selects_metadata(plan):
        raise malformed_query(
            "When retrieving results with Metadata or FullName fields, the query "
            "qualifications must specify no more than one row for retrieval. "
            f"Result size: {result['totalSize']}"
        )
    return Reply(200, result)


def _selects_metadata(plan: Plan) -> bool:
    return any(not c.path and c.key in ("Metadata", "FullName") for c in plan.columns)


def query(org: "Org", request: Request) -> Reply:
    return run_query(org, request, include_deleted=False)


def query_all(org: "Org", request: Request) -> Reply:
    return run_query(org, request, include_deleted=True)


def tooling_query(org: "Org", request: Request) -> Reply:
    return run_query(org, request, include_deleted=False, tooling=True)


def query_more(org: "Org", request: Request) -> Reply:
    return Reply(200, org.queries.more(request.groups["locator"], int(request.groups["offset"])))


# -- describe and limits -------------------------------------------------------------------


def global_describe(org: "Org", request: Request) -> Reply:
    user_access = access(org, request)
    objects = [
        obj.summary(request.version, user_access)
        for obj in org.registry.objects.values()
        if user_access.sees_object(obj)
    ]
    return Reply(200, {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": objects})


def sobject_info(org: "Org", request: Request) -> Reply:
    obj = sobject(org, request)
    summary = obj.summary(request.version, access(org, request))
    return Reply(200, {"objectDescribe": summary, "recentItems": []})


def describe(org: "Org", request: Request) -> Reply:
    obj = sobject(org, request)
    return Reply(200, org.registry.describe(obj, request.version, access(org, request)))


def tooling_describe(org: "Org", request: Request) -> Reply:
    obj = org.tooling_registry.get(request.groups["type"])
    if obj is None:
        raise not_found()
    return Reply(200, org.tooling_registry.describe(obj, request.version))


def limits(org: "Org", request: Request) -> Reply:
    jobs = org.bulk_query
    return Reply(200, org.limits.body(jobs.created, jobs.result_bytes))


# -- single records ------------------------------------------------------------------------


def _lock(org: "Org", request: Request, record_id: str | None) -> None:
    if org.faults.take("unable_to_lock_row", request.path):
        raise collections.lock_error(record_id)


def create(org: "Org", request: Request) -> Reply:
    obj = sobject(org, request)
    body = request.json()
    _lock(org, request, collections.parent_hint(body))
    record_id = org.engine.create(obj, body, actor(org, request))
    return Reply(201, {"id": record_id, "success": True, "errors": []})


def _record_id(value: str) -> str:
    normal = ids.normalize(value)
    if normal is None:
        raise not_found(f"Provided external ID field does not exist or is not accessible: {value}")
    return normal


def retrieve(org: "Org", request: Request) -> Reply:
    obj = sobject(org, request)
    record_id = _record_id(request.groups["id"])
    org.engine.live(obj, record_id)
    wanted = request.params.get("fields")
    return Reply(200, fetch(org, request, obj, [record_id], wanted)[0])


def fetch(
    org: "Org", request: Request, obj: SObject, record_ids: list[str], wanted: str | None
) -> list[dict[str, Any] | None]:
    """Records by id (None where missing), with every field the user can see or the
    comma-separated `wanted`."""
    user_access = access(org, request)
    names = (
        [n.strip() for n in wanted.split(",")]
        if wanted
        else [f.name for f in obj.fields.values() if user_access.sees(obj, f)]
    )
    quoted = ", ".join(f"'{i}'" for i in record_ids)
    soql = f"SELECT {', '.join(names)} FROM {obj.name} WHERE Id IN ({quoted})"
    plan = org.queries.plan(
        org.registry, soql, org.clock.now(), False, request.version, user_access
    )
    found = {r["attributes"]["url"].rsplit("/", 1)[1]: r for r in org.queries.run(plan)["records"]}
    return [found.get(i) for i in record_ids]


def _all_fields(obj: SObject) -> list[str]:
    return [f.name for f in obj.fields.values()]


def update(org: "Org", request: Request) -> Reply:
    obj = sobject(org, request)
    record_id = _record_id(request.groups["id"])
    body = request.json()
    _lock(org, request, record_id)
    org.engine.update(obj, record_id, body, actor(org, request))
    return Reply(204)


def delete(org: "Org", request: Request) -> Reply:
    obj = sobject(org, request)
    record_id = _record_id(request.groups["id"])
    _lock(org, request, record_id)
    org.engine.delete(obj, record_id, actor(org, request))
    return Reply(204)


def _matches(org: "Org", request: Request, obj: SObject, field_name: str, value: str) -> list[str]:
    f = obj.field(field_name)
    if f is None or not f.id_lookup or not access(org, request).sees(obj, f):
        raise not_found(
            f"Provided external ID field does not exist or is not accessible: {field_name}"
        )
    if f.type == "id":
        normal = ids.normalize(value)
        return [normal] if normal and org.store.find(obj, "Id", normal) else []
    return org.store.find(obj, f.name, org.engine.coerce(f, value), f.case_sensitive)


def _multiple(obj: SObject, record_ids: list[str], version: str) -> Reply:
    urls = [attributes(obj, i, version)["url"] for i in record_ids]
    return Reply(300, urls)


def by_external_id(org: "Org", request: Request) -> Reply:
    obj = sobject(org, request)
    found = _matches(org, request, obj, request.groups["field"], request.groups["value"])
    if len(found) > 1:
        return _multiple(obj, found, request.version)
    if not found:
        raise not_found()
    wanted = request.params.get("fields")
    return Reply(200, fetch(org, request, obj, found, wanted)[0])


def upsert(org: "Org", request: Request) -> Reply:
    obj = sobject(org, request)
    body = request.json()
    _lock(org, request, collections.parent_hint(body))
    field_name, value = request.groups["field"], request.groups["value"]
    try:
        record_id, created = org.engine.upsert(obj, field_name, value, body, actor(org, request))
    except MultipleMatches as error:
        return _multiple(obj, error.record_ids, request.version)
    if float(request.version) < 46.0:
        return (
            Reply(201, {"id": record_id, "success": True, "errors": []}) if created else Reply(204)
        )
    result = {"id": record_id, "success": True, "errors": [], "created": created}
    return Reply(201 if created else 200, result)


def delete_by_external_id(org: "Org", request: Request) -> Reply:
    obj = sobject(org, request)
    found = _matches(org, request, obj, request.groups["field"], request.groups["value"])
    if len(found) > 1:
        return _multiple(obj, found, request.version)
    if not found:
        raise not_found()
    _lock(org, request, found[0])
    org.engine.delete(obj, found[0], actor(org, request))
    return Reply(204)


def _window(request: Request) -> tuple[str, str]:
    params = request.params
    start, end = parse_datetime(params.get("start", "")), parse_datetime(params.get("end", ""))
    if start is None or end is None:
        raise SfError("INVALID_REPLICATION_DATE", "start and end must be valid dateTimes")
    return format_datetime(start), format_datetime(end)


def deleted(org: "Org", request: Request) -> Reply:
    obj = sobject(org, request)
    start, end = _window(request)
    rows = org.engine.deleted_since(obj, start, end)
    return Reply(
        200,
        {
            "deletedRecords": [{"id": i, "deletedDate": when} for i, when in rows],
            "earliestDateAvailable": start,
            "latestDateCovered": end,
        },
    )


def updated(org: "Org", request: Request) -> Reply:
    obj = sobject(org, request)
    start, end = _window(request)
    return Reply(200, {"ids": org.engine.updated_since(obj, start, end), "latestDateCovered": end})


# -- sObject Collections -------------------------------------------------------------------


def _collection(org: "Org", request: Request, operations: list, all_or_none: bool) -> Reply:
    locked = org.faults.take("unable_to_lock_row", request.path)
    return Reply(200, collections.run(org.store, operations, all_or_none, locked))


def collection_create(org: "Org", request: Request) -> Reply:
    records, all_or_none = collections.records_of(request.json())
    operations = collections.create_ops(org.engine, records, actor(org, request))
    return _collection(org, request, operations, all_or_none)


def collection_update(org: "Org", request: Request) -> Reply:
    records, all_or_none = collections.records_of(request.json())
    operations = collections.update_ops(org.engine, records, actor(org, request))
    return _collection(org, request, operations, all_or_none)


def collection_delete(org: "Org", request: Request) -> Reply:
    params = request.params
    record_ids = [i for i in params.get("ids", "").split(",") if i]
    if not record_ids:
        raise SfError("MISSING_ARGUMENT", "ids parameter is required", [])
    if len(record_ids) > collections.MAX_RECORDS:
        raise collections.too_many()
    all_or_none = params.get("allOrNone", "false").lower() == "true"
    operations = collections.delete_ops(org.engine, record_ids, actor(org, request))
    return _collection(org, request, operations, all_or_none)


def collection_upsert(org: "Org", request: Request) -> Reply:
    obj = sobject(org, request)
    records, all_or_none = collections.records_of(request.json())
    operations = collections.upsert_ops(
        org.engine, obj, request.groups["field"], records, actor(org, request)
    )
    return _collection(org, request, operations, all_or_none)


def collection_retrieve(org: "Org", request: Request) -> Reply:
    obj = sobject(org, request)
    params = request.params
    raw_ids = [i for i in params.get("ids", "").split(",") if i]
    if not raw_ids or not params.get("fields"):
        raise SfError("MISSING_ARGUMENT", "ids and fields parameters are required", [])
    if len(raw_ids) > 2000:
        raise collections.too_many()
    record_ids = [ids.normalize(i) or i for i in raw_ids]
    valid = [i for i in record_ids if ids.normalize(i) and i[:3] == obj.key_prefix]
    found = dict(zip(valid, fetch(org, request, obj, valid, params["fields"]), strict=True))
    return Reply(200, [found.get(i) for i in record_ids])


# -- Tooling API ---------------------------------------------------------------------------


def tooling_sobjects(org: "Org", request: Request) -> Reply:
    objects = [obj.summary(request.version) for obj in org.tooling_registry.objects.values()]
    return Reply(200, {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": objects})


def tooling_create(org: "Org", request: Request) -> Reply:
    record_id = org.tooling.create(request.groups["type"], request.json())
    body = {"id": record_id, "success": True, "errors": [], "warnings": [], "infos": []}
    return Reply(201, body)


def tooling_retrieve(org: "Org", request: Request) -> Reply:
    obj = org.tooling_registry.get(request.groups["type"])
    record_id = ids.normalize(request.groups["id"])
    if obj is None or record_id is None:
        raise not_found()
    soql = f"SELECT {', '.join(_all_fields(obj))} FROM {obj.name} WHERE Id = '{record_id}'"
    plan = org.queries.plan(org.tooling_registry, soql, org.clock.now(), False, request.version)
    records = org.queries.run(plan)["records"]
    if not records:
        raise not_found()
    return Reply(200, records[0])


def tooling_update(org: "Org", request: Request) -> Reply:
    org.tooling.update(request.groups["type"], request.groups["id"], request.json())
    return Reply(204)


def tooling_delete(org: "Org", request: Request) -> Reply:
    org.tooling.delete(request.groups["type"], request.groups["id"])
    return Reply(204)


TYPE, ID = r"(?P<type>\w+)", r"(?P<id>[^/]+)"
FIELD, VALUE = r"(?P<field>\w+)", r"(?P<value>[^/]+)"
JOB = r"(?P<job>[^/]+)"
ROUTES = [
    Route("GET", r"", "/", resources),
    Route("GET", r"/query", "/query", query),
    Route("GET", r"/queryAll", "/queryAll", query_all),
    Route(
        "GET", r"/query(?:All)?/(?P<locator>\w+)-(?P<offset>\d+)", "/query/{locator}", query_more
    ),
    Route("GET", r"/limits", "/limits", limits),
    Route("GET", r"/tabs", "/tabs", tabs),
    Route("GET", r"/sobjects", "/sobjects", global_describe),
    Route("GET", rf"/sobjects/{TYPE}", "/sobjects/{type}", sobject_info),
    Route("POST", rf"/sobjects/{TYPE}", "/sobjects/{type}", create),
    Route("GET", rf"/sobjects/{TYPE}/describe", "/sobjects/{type}/describe", describe),
    Route("GET", rf"/sobjects/{TYPE}/deleted", "/sobjects/{type}/deleted", deleted),
    Route("GET", rf"/sobjects/{TYPE}/updated", "/sobjects/{type}/updated", updated),
    Route("GET", rf"/sobjects/{TYPE}/{ID}", "/sobjects/{type}/{id}", retrieve),
    Route("PATCH", rf"/sobjects/{TYPE}/{ID}", "/sobjects/{type}/{id}", update),
    Route("DELETE", rf"/sobjects/{TYPE}/{ID}", "/sobjects/{type}/{id}", delete),
    Route(
        "GET",
        rf"/sobjects/{TYPE}/{FIELD}/{VALUE}",
        "/sobjects/{type}/{field}/{value}",
        by_external_id,
    ),
    Route(
        "PATCH",
        rf"/sobjects/{TYPE}/{FIELD}/{VALUE}",
        "/sobjects/{type}/{field}/{value}",
        upsert,
    ),
    Route(
        "DELETE",
        rf"/sobjects/{TYPE}/{FIELD}/{VALUE}",
        "/sobjects/{type}/{field}/{value}",
        delete_by_external_id,
    ),
    Route("POST", r"/composite/sobjects", "/composite/sobjects", collection_create),
    Route("PATCH", r"/composite/sobjects", "/composite/sobjects", collection_update),
    Route("DELETE", r"/composite/sobjects", "/composite/sobjects", collection_delete),
    Route("GET", rf"/composite/sobjects/{TYPE}", "/composite/sobjects/{type}", collection_retrieve),
    Route(
        "PATCH",
        rf"/composite/sobjects/{TYPE}/{FIELD}",
        "/composite/sobjects/{type}/{field}",
        collection_upsert,
    ),
    Route("POST", r"/jobs/ingest", "/jobs/ingest", bulk.create_job),
    Route("GET", r"/jobs/ingest", "/jobs/ingest", bulk.list_jobs),
    Route("GET", rf"/jobs/ingest/{JOB}", "/jobs/ingest/{id}", bulk.job_info),
    Route("PATCH", rf"/jobs/ingest/{JOB}", "/jobs/ingest/{id}", bulk.patch_job),
    Route("DELETE", rf"/jobs/ingest/{JOB}", "/jobs/ingest/{id}", bulk.delete_job),
    Route("PUT", rf"/jobs/ingest/{JOB}/batches", "/jobs/ingest/{id}/batches", bulk.upload),
    Route(
        "GET",
        rf"/jobs/ingest/{JOB}/(?P<kind>(?i:successfulResults|failedResults|unprocessedRecords))",
        "/jobs/ingest/{id}/{results}",
        bulk.results,
    ),
    Route("POST", r"/jobs/query", "/jobs/query", bulk_query.create_job),
    Route("GET", r"/jobs/query", "/jobs/query", bulk_query.list_jobs),
    Route("GET", rf"/jobs/query/{JOB}", "/jobs/query/{id}", bulk_query.job_info),
    Route("PATCH", rf"/jobs/query/{JOB}", "/jobs/query/{id}", bulk_query.patch_job),
    Route("DELETE", rf"/jobs/query/{JOB}", "/jobs/query/{id}", bulk_query.delete_job),
    Route("GET", rf"/jobs/query/{JOB}/results", "/jobs/query/{id}/results", bulk_query.results),
    Route("GET", r"/tooling/query", "/tooling/query", tooling_query),
    Route(
        "GET",
        r"/tooling/query/(?P<locator>\w+)-(?P<offset>\d+)",
        "/tooling/query/{locator}",
        query_more,
    ),
    Route("GET", r"/tooling/sobjects", "/tooling/sobjects", tooling_sobjects),
    Route("POST", rf"/tooling/sobjects/{TYPE}", "/tooling/sobjects/{type}", tooling_create),
    Route(
        "GET",
        rf"/tooling/sobjects/{TYPE}/describe",
        "/tooling/sobjects/{type}/describe",
        tooling_describe,
    ),
    Route(
        "GET", rf"/tooling/sobjects/{TYPE}/{ID}", "/tooling/sobjects/{type}/{id}", tooling_retrieve
    ),
    Route(
        "PATCH",
        rf"/tooling/sobjects/{TYPE}/{ID}",
        "/tooling/sobjects/{type}/{id}",
        tooling_update,
    ),
    Route(
        "DELETE",
        rf"/tooling/sobjects/{TYPE}/{ID}",
        "/tooling/sobjects/{type}/{id}",
        tooling_delete,
    ),
]
