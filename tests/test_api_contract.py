"""The REST API keeps to its OpenAPI schema: every error it can answer is documented in the one
error shape, responses have the documented form, and a query parameter an operation does not
take is refused rather than silently ignored."""

import pytest
from rest_framework.test import APIClient

from maintenance.models import Message
from security.service import create_key
from sync.models import SyncRun

pytestmark = pytest.mark.django_db

ERROR = "#/components/schemas/Error"


@pytest.fixture
def schema(carol_client) -> dict:
    response = carol_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    return response.json()


@pytest.fixture
def api(alice) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {create_key('contract', 'full', alice)[1]}")
    return client


def operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def error_codes(operation: dict) -> set[str]:
    return {
        code
        for code, response in operation["responses"].items()
        if response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
        == ERROR
    }


def test_every_operation_documents_the_errors_every_request_can_meet(schema):
    for name, operation in operations(schema):
        assert {"400", "401", "403", "429"} <= error_codes(operation), name


def test_operations_on_one_resource_or_a_page_document_404(schema):
    for name, operation in operations(schema):
        takes_id = "{" in name
        paged = "page" in {p["name"] for p in operation.get("parameters", [])}
        if takes_id or paged:
            assert "404" in error_codes(operation), name


@pytest.mark.parametrize("which", ["sync", "general", "campaigns"])
def test_settings_changes_document_the_etag_guard(schema, which):
    patch = schema["paths"][f"/api/v1/settings/{which}/"]["patch"]
    assert {"412", "428"} <= error_codes(patch)


def test_the_error_shape_is_a_component(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    body = schema["components"]["schemas"][error["properties"]["error"]["$ref"].split("/")[-1]]
    assert set(body["properties"]) == {"status", "message", "fields"}


def test_retry_answers_the_bare_list_its_schema_documents(schema, api):
    documented = schema["paths"]["/api/v1/messages/retry/"]["post"]["responses"]["202"]
    assert documented["content"]["application/json"]["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Message"},
    }
    message = Message.objects.create(
        code="SF_VALIDATION_RULE",
        summary="rule",
        run=SyncRun.objects.create(trigger="manual", status="partial", active=None),
        record={"sobject": "Contact", "operation": "update", "fields": {"Id": "003X"}},
    )
    retried = api.post("/api/v1/messages/retry/", {"ids": [message.pk]}, format="json")
    assert retried.status_code == 202
    assert [m["id"] for m in retried.json()] == [message.pk]


def test_filters_are_documented_on_the_lists_only(schema):
    def query_names(path: str, method: str) -> set[str]:
        operation = schema["paths"][path][method]
        return {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}

    assert query_names("/api/v1/runs/", "get") == {"kind", "status", "trigger", "page"}
    assert query_names("/api/v1/runs/", "post") == set()
    assert query_names("/api/v1/runs/{id}/", "get") == set()
    assert query_names("/api/v1/runs/{id}/cancel/", "post") == set()
    assert query_names("/api/v1/messages/", "get") == {"code", "severity", "client", "run", "page"}
    assert query_names("/api/v1/messages/retry/", "post") == set()
    assert query_names("/api/v1/messages/{id}/", "delete") == set()
    assert query_names("/api/v1/audit/{id}/", "get") == set()


def test_the_run_filter_documents_the_ids_it_accepts(schema, api):
    (run,) = [
        p for p in schema["paths"]["/api/v1/messages/"]["get"]["parameters"] if p["name"] == "run"
    ]
    assert run["schema"]["minimum"] == 0 and run["schema"]["maximum"] == 2**63 - 1
    assert api.get("/api/v1/messages/?run=0").status_code == 200
    assert api.get("/api/v1/messages/?run=-1").status_code == 400
    assert api.get("/api/v1/messages/?run=%D9%A3").status_code == 400  # an Arabic-Indic 3


def test_a_query_parameter_sync_now_does_not_take_is_refused_and_starts_nothing(world, api):
    response = api.post("/api/v1/runs/?trigger=AAA", {}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == 400 and "trigger" in error["fields"]
    assert not SyncRun.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/runs/?colour=red",  # a filter the list does not have
        "/api/v1/runs/?statuss=queued",  # a typo
        "/api/v1/runs/1/?status=queued",  # filters are for the list
        "/api/v1/settings/sync/?x=1",
    ],
)
def test_unknown_query_parameters_are_refused_by_name(api, url):
    response = api.get(url)
    assert response.status_code == 400
    name = url.split("?")[1].split("=")[0]
    assert list(response.json()["error"]["fields"]) == [name]


def test_documented_query_parameters_still_work(api):
    assert api.get("/api/v1/runs/?status=queued&kind=primary&page=1").status_code == 200
    assert api.get("/api/v1/audit/?area=sync&user=alice").status_code == 200
    assert api.get("/api/v1/runs/?format=json").status_code == 200  # DRF's own, for browsers


def test_an_api_url_that_matches_nothing_is_a_404_in_the_error_shape(api):
    response = api.get("/api/v1/runs/abc/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["status"] == 404


def test_other_urls_that_match_nothing_keep_the_html_404(alice_client):
    response = alice_client.get("/sync/nowhere/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_request_bodies_are_json_only(schema, world, api):
    for name, operation in operations(schema):
        if "requestBody" in operation:
            assert list(operation["requestBody"]["content"]) == ["application/json"], name
    # a form's "0" is not the boolean the schema asks for: not read as one
    response = api.post("/api/v1/runs/", {"full": "0"}, format="multipart")
    assert response.status_code == 415
    assert response.json()["error"]["status"] == 415
    assert not SyncRun.objects.exists()


def test_the_415_is_documented_where_there_is_a_body(schema):
    for name, operation in operations(schema):
        if "requestBody" in operation:
            assert "415" in error_codes(operation), name


def test_too_many_query_parameters_are_a_400_in_the_error_shape(api):
    response = api.get("/api/v1/runs/?" + "&".join(f"p{i}=1" for i in range(1200)))
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["status"] == 400


def test_settings_changes_must_be_an_object(api):
    url = "/api/v1/settings/sync/"
    tag = api.get(url)["ETag"]
    response = api.patch(url, [], format="json", HTTP_IF_MATCH=tag)
    assert response.status_code == 400
    assert "non_field_errors" in response.json()["error"]["fields"]


@pytest.mark.parametrize("full", [0, 1, "true", "yes", None])
def test_a_boolean_is_true_or_false_not_what_drf_would_read_as_one(world, api, full):
    response = api.post("/api/v1/runs/", {"full": full}, format="json")
    assert response.status_code == 400
    assert "full" in response.json()["error"]["fields"]
    assert not SyncRun.objects.exists()


@pytest.mark.parametrize("ids", [["1"], [1.0], [True]])
def test_ids_are_json_integers(api, ids):
    Message.objects.create(code="CM_BAD_RECORD", summary="bad", severity="warning")
    response = api.post("/api/v1/messages/delete/", {"ids": ids}, format="json")
    assert response.status_code == 400
    assert Message.objects.exists()


def test_strings_are_json_strings(world, api):
    mapping = {"cm_key": 5, "direction": "to_sf"}
    response = api.post(f"/api/v1/lists/{world.list_a}/field-mappings/", mapping, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["cm_key"] == ["Not a valid string."]
