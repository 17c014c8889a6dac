"""Bulk API 2.0 query jobs in the Salesforce emulator, over real HTTP: through simple-salesforce's
own bulk2 query (unchanged) and raw requests: result pages by locator with Salesforce's headers,
the same rows and field security as a REST query, the job's states, abort, delete, list, the
queries Bulk API refuses, limits and the fault cmsync's fallback is tested with."""

import csv
import io

import pytest
import requests
from simple_salesforce.exceptions import SalesforceOperationError

from emulators.salesforce import SalesforceEmulator

from .test_sf_emulator import connect, install_field
from .test_sync_celery import wait_for

SOQL = "SELECT Id, Email, HasOptedOutOfEmail, LastModifiedDate FROM Contact WHERE Email != null"


@pytest.fixture
def emu():
    with SalesforceEmulator(seed="demo") as emulator:
        emulator.seed_people([f"bq{n}@example.com" for n in range(30)])
        yield emulator


@pytest.fixture
def sf(emu):
    return connect(emu)


class Api:
    """Raw HTTP to /services/data/v62.0/jobs/query as the admin."""

    def __init__(self, emu: SalesforceEmulator, version: str = "62.0") -> None:
        self.base = f"{emu.root_url}/services/data/v{version}/jobs/query"
        self.headers = {"Authorization": f"Bearer {emu.issue_token()}"}

    def call(self, method: str, path: str = "", **kwargs) -> requests.Response:
        return requests.request(
            method, self.base + path, headers=self.headers, timeout=30, **kwargs
        )

    def create(self, soql: str, **options) -> requests.Response:
        return self.call("POST", json={"operation": "query", "query": soql, **options})

    def finished(self, job_id: str) -> dict:
        def done():
            job = self.call("GET", f"/{job_id}").json()
            return job if job["state"] in ("JobComplete", "Failed", "Aborted") else None

        return wait_for(done, 30)


@pytest.fixture
def api(emu):
    return Api(emu)


def rows_of(text: str, delimiter: str = ",") -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


def rest_rows(sf, soql: str, all_rows: bool = False) -> list[dict]:
    records = sf.query_all(soql, include_deleted=all_rows)["records"]
    return [{k: v for k, v in r.items() if k != "attributes"} for r in records]


def test_simple_salesforce_reads_the_rows_of_a_rest_query_page_by_page(sf):
    pages = list(sf.bulk2.Contact.query(SOQL, max_records=7, wait=0.1))
    rows = [row for page in pages for row in rows_of(page)]
    expected = rest_rows(sf, SOQL)
    assert len(expected) > 14 and len(pages) == -(-len(expected) // 7)
    assert [r["Id"] for r in rows] == [r["Id"] for r in expected]
    for row, rest in zip(rows, expected, strict=True):
        assert row["Email"] == rest["Email"]
        assert row["HasOptedOutOfEmail"] == ("true" if rest["HasOptedOutOfEmail"] else "false")
        # Bulk API writes datetimes with Z where REST writes +0000
        assert row["LastModifiedDate"] == rest["LastModifiedDate"].replace("+0000", "Z")


def test_results_come_in_pages_with_salesforces_locator_headers(sf, api):
    expected = rest_rows(sf, SOQL)
    job = api.create(SOQL)
    assert job.status_code == 200
    body = job.json()
    assert body["state"] == "UploadComplete" and body["object"] == "Contact"
    assert body["id"].startswith("750") and "numberRecordsProcessed" not in body
    done = api.finished(body["id"])
    assert done["state"] == "JobComplete" and done["jobType"] == "V2Query"
    assert done["numberRecordsProcessed"] == len(expected)

    ids, locator, pages = [], "", 0
    while True:
        params = {"maxRecords": 10, **({"locator": locator} if locator else {})}
        page = api.call("GET", f"/{body['id']}/results", params=params)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/csv")
        rows = rows_of(page.text)
        assert page.headers["Sforce-NumberOfRecords"] == str(len(rows))
        assert page.text.splitlines()[0] == '"Id","Email","HasOptedOutOfEmail","LastModifiedDate"'
        ids += [r["Id"] for r in rows]
        pages += 1
        locator = page.headers["Sforce-Locator"]
        if locator == "null":
            break
    assert ids == [r["Id"] for r in expected] and pages == -(-len(expected) // 10)
    bad = api.call("GET", f"/{body['id']}/results", params={"locator": "not-a-locator"})
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "API_ERROR"


def test_query_all_includes_deleted_records_and_parent_fields_are_dotted(sf, api):
    contact = sf.Contact.create({"LastName": "Gone", "Email": "gone.bulk@example.com"})["id"]
    sf.Contact.delete(contact)
    soql = "SELECT Id, Account.Name, IsDeleted FROM Contact WHERE Email = 'gone.bulk@example.com'"
    for operation, expected in (("query", []), ("queryAll", [(contact, "", "true")])):
        job = api.call("POST", json={"operation": operation, "query": soql}).json()
        assert api.finished(job["id"])["state"] == "JobComplete"
        text = api.call("GET", f"/{job['id']}/results").text
        assert text.splitlines()[0] == '"Id","Account.Name","IsDeleted"'
        assert [(r["Id"], r["Account.Name"], r["IsDeleted"]) for r in rows_of(text)] == expected


def test_delimiter_and_line_ending_follow_the_job(sf, api):
    job = api.create(SOQL, columnDelimiter="PIPE", lineEnding="CRLF").json()
    assert (job["columnDelimiter"], job["lineEnding"]) == ("PIPE", "CRLF")
    api.finished(job["id"])
    text = api.call("GET", f"/{job['id']}/results", params={"maxRecords": 3}).text
    assert text.count("\r\n") == 4 and text.startswith('"Id"|"Email"|')
    assert len(rows_of(text, delimiter="|")) == 3


def test_a_hidden_field_refuses_the_create_as_a_rest_query_does(sf, api):
    install_field(sf, "Contact.CM_Hidden__c", grant=False, type="Text", length=20)
    soql = "SELECT Id, CM_Hidden__c FROM Contact"
    with pytest.raises(Exception) as rest_error:
        sf.query(soql)
    answer = api.create(soql)
    assert answer.status_code == 400
    (error,) = answer.json()
    assert error["errorCode"] == "INVALID_FIELD" == rest_error.value.content[0]["errorCode"]
    assert error["message"] == rest_error.value.content[0]["message"]
    assert "No such column 'CM_Hidden__c'" in error["message"]
    assert api.call("GET").json()["records"] == []  # no job was created
    unknown = api.create("SELECT Id FROM Nothing__c")
    assert unknown.status_code == 400 and unknown.json()[0]["errorCode"] == "INVALID_TYPE"


def test_access_taken_away_before_the_job_runs_fails_the_job(emu, sf, api):
    install_field(sf, "Contact.CM_Score__c", type="Text", length=20)
    emu.pause_bulk()
    job = api.create("SELECT Id, CM_Score__c FROM Contact").json()
    (grant,) = sf.query("SELECT Id FROM FieldPermissions WHERE Field = 'Contact.CM_Score__c'")[
        "records"
    ]
    sf.FieldPermissions.delete(grant["Id"])
    emu.pause_bulk(False)
    done = api.finished(job["id"])
    assert done["state"] == "Failed" and done["numberRecordsProcessed"] == 0
    assert done["errorMessage"].startswith("INVALID_FIELD : ")
    assert "No such column 'CM_Score__c'" in done["errorMessage"]
    page = api.call("GET", f"/{job['id']}/results")
    assert page.status_code == 400 and page.json()[0]["errorCode"] == "INVALIDJOBSTATE"


@pytest.mark.parametrize(
    "soql",
    ["SELECT COUNT() FROM Contact", "SELECT COUNT(Id) FROM Contact", "SELECT Id FROM Contact "
     "OFFSET 5"],
)  # fmt: skip
def test_what_bulk_query_jobs_do_not_support_is_refused_at_create(api, soql):
    answer = api.create(soql)
    assert answer.status_code == 400 and answer.json()[0]["errorCode"] == "API_ERROR"


def test_a_bad_job_definition_or_an_old_version_is_refused(emu, api):
    for body in (
        {"operation": "insert", "query": SOQL},
        {"operation": "query"},
        {"operation": "query", "query": SOQL, "contentType": "JSON"},
        {"operation": "query", "query": SOQL, "lineEnding": "CR"},
    ):
        answer = api.call("POST", json=body)
        assert answer.status_code == 400 and answer.json()[0]["errorCode"] == "INVALIDJOB", body
    assert Api(emu, "46.0").create(SOQL).status_code == 404  # query jobs came with 47.0
    assert api.call("GET", "/750000000000000AAA").status_code == 404


def test_a_job_moves_through_its_states_and_can_be_aborted_and_deleted(emu, api):
    emu.pause_bulk()
    job = api.create(SOQL).json()
    assert api.call("GET", f"/{job['id']}").json()["state"] == "UploadComplete"
    early = api.call("GET", f"/{job['id']}/results")
    assert early.status_code == 400 and early.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    aborted = api.call("PATCH", f"/{job['id']}", json={"state": "Aborted"})
    assert aborted.json()["state"] == "Aborted"
    again = api.call("PATCH", f"/{job['id']}", json={"state": "Aborted"})
    assert again.status_code == 400 and again.json()[0]["errorCode"] == "INVALIDJOBSTATE"

    requests.post(f"{emu.root_url}/_emulator/bulk", json={"chunk_delay": 2}, timeout=5)
    watched = api.create(SOQL).json()
    emu.pause_bulk(False)
    wait_for(lambda: api.call("GET", f"/{watched['id']}").json()["state"] == "InProgress", 10)
    busy = api.call("DELETE", f"/{watched['id']}")
    assert busy.status_code == 400 and busy.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    requests.post(f"{emu.root_url}/_emulator/bulk", json={"chunk_delay": 0}, timeout=5)
    assert api.finished(watched["id"])["state"] == "JobComplete"
    assert emu.bulk_status()["query_jobs"] == {"Aborted": 1, "JobComplete": 1}

    listed = api.call("GET").json()
    assert listed["done"] is True
    assert {j["id"]: j["state"] for j in listed["records"]} == {
        job["id"]: "Aborted",
        watched["id"]: "JobComplete",
    }
    assert all(j["jobType"] == "V2Query" for j in listed["records"])
    assert api.call("DELETE", f"/{watched['id']}").status_code == 204
    assert api.call("GET", f"/{watched['id']}").status_code == 404
    assert api.call("GET", f"/{watched['id']}/results").status_code == 404


def test_query_jobs_are_counted_in_limits(sf, api):
    before = sf.limits()["DailyBulkV2QueryJobs"]
    assert before == {"Max": 10000, "Remaining": 10000}
    api.finished(api.create(SOQL).json()["id"])
    assert sf.limits()["DailyBulkV2QueryJobs"]["Remaining"] == 9999
    storage = sf.limits()["DailyBulkV2QueryFileStorageMB"]
    assert storage["Max"] == 976562 and storage["Remaining"] == 976561


def test_an_injected_failure_fails_the_job_and_simple_salesforce_raises(emu, sf):
    emu.add_fault("bulk_query_job_failed")
    with pytest.raises(SalesforceOperationError, match="Job failed"):
        list(sf.bulk2.Contact.query(SOQL, wait=0.1))
    assert emu.bulk_status()["query_jobs"] == {"Failed": 1}
    assert len(list(sf.bulk2.Contact.query(SOQL, wait=0.1))) == 1  # the next job is fine
