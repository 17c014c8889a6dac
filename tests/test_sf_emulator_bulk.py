"""Bulk API 2.0 ingest jobs in the Salesforce emulator, over real HTTP through simple-salesforce's
own bulk2 (unchanged): jobs end to end, their states, the result CSVs in Salesforce's shapes,
the same per-row failures as sObject Collections, whole-job failures, limits and the faults
cmsync's retry path will be tested with."""

import csv
import io

import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceOperationError,
    SalesforceResourceNotFound,
)

from emulators.salesforce import SalesforceEmulator, bulk

from .test_sf_emulator import connect, install_field
from .test_sf_emulator_security import assign, grant_field, permission_set, user_id
from .test_sync_celery import wait_for

KEY = "CM_Subscriber_Id__c"


@pytest.fixture
def emu():
    with SalesforceEmulator(seed="demo") as emulator:
        yield emulator


@pytest.fixture
def sf(emu):
    return connect(emu)


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def to_csv(rows: list[dict[str, str]], line_ending: str = "\n") -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator=line_ending)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def start_job(sf, sobject: str, operation: str, data: str, **options) -> str:
    """Create, upload and close a job with bulk2's own client; its id."""
    client = getattr(sf.bulk2, sobject)._client
    job = client.create_job(operation, **options)
    assert job["state"] == "Open"
    client.upload_job_data(job["id"], data)
    client.close_job(job["id"])
    return job["id"]


def finished(sf, job_id: str) -> dict:
    """Poll the job as a caller must, until it reaches a terminal state."""

    def done():
        job = sf.restful(f"jobs/ingest/{job_id}")
        return job if job["state"] in ("JobComplete", "Failed", "Aborted") else None

    return wait_for(done, 30)


def results(sf, sobject: str, job_id: str) -> tuple[list, list, list]:
    api = getattr(sf.bulk2, sobject)
    return (
        rows_of(api.get_successful_records(job_id)),
        rows_of(api.get_failed_records(job_id)),
        rows_of(api.get_unprocessed_records(job_id)),
    )


def install_key(sf) -> None:
    install_field(sf, f"Contact.{KEY}", type="Text", length=64, externalId=True, unique=True)


def contacts_by_key(sf) -> dict[str, tuple]:
    soql = f"SELECT {KEY}, LastName, Email, HasOptedOutOfEmail FROM Contact WHERE {KEY} != null"
    return {
        r[KEY]: (r["LastName"], r["Email"], r["HasOptedOutOfEmail"])
        for r in sf.query_all(soql)["records"]
    }


# -- jobs end to end ----------------------------------------------------------------------------


def test_an_insert_job_reports_each_row_in_salesforces_result_shapes(sf):
    rows = [
        {"LastName": "Ada", "Email": "ada.bulk@example.com"},
        {"LastName": "", "Email": "nameless.bulk@example.com"},
        {"LastName": "Grace", "Email": "grace.bulk@example.com"},
    ]
    (summary,) = sf.bulk2.Contact.insert(records=rows, wait=0.1)
    assert summary["numberRecordsProcessed"] == 3 and summary["numberRecordsFailed"] == 1
    job_id = summary["job_id"]
    assert job_id.startswith("750")

    text = sf.bulk2.Contact.get_successful_records(job_id)
    assert text.splitlines()[0].startswith('"sf__Id","sf__Created",')
    succeeded, failed, unprocessed = results(sf, "Contact", job_id)
    assert [(r["LastName"], r["sf__Created"]) for r in succeeded] == [
        ("Ada", "true"),
        ("Grace", "true"),
    ]
    for row in succeeded:
        assert sf.Contact.get(row["sf__Id"])["Email"] == row["Email"]
    assert failed == [
        {
            "sf__Id": "",
            # as failedResults_realistic.csv in the reference samples
            "sf__Error": (
                "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --"
            ),
            "Email": "nameless.bulk@example.com",
            "LastName": "",
        }
    ]
    assert unprocessed == []
    info = sf.restful(f"jobs/ingest/{job_id}")
    assert info["jobType"] == "V2Ingest" and info["object"] == "Contact"
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (3, 1)
    assert "contentUrl" not in info


def test_update_and_delete_jobs_change_and_remove_records(sf):
    ids = [
        sf.Contact.create({"LastName": f"Old {n}", "Email": f"old{n}.bulk@example.com"})["id"]
        for n in range(3)
    ]
    sf.bulk2.Contact.update(
        records=[
            {"Id": ids[0], "LastName": "New 0", "Email": ""},  # empty: leave Email as it is
            {"Id": ids[1], "Email": "#N/A"},  # #N/A: set Email to null
        ],
        wait=0.1,
    )
    assert (sf.Contact.get(ids[0])["LastName"], sf.Contact.get(ids[0])["Email"]) == (
        "New 0",
        "old0.bulk@example.com",
    )
    assert sf.Contact.get(ids[1])["Email"] is None

    (summary,) = sf.bulk2.Contact.delete(records=[{"Id": ids[2]}], wait=0.1)
    assert summary["numberRecordsFailed"] == 0
    gone = sf.query(f"SELECT Id FROM Contact WHERE Id = '{ids[2]}'")
    assert gone["totalSize"] == 0
    succeeded, _, _ = results(sf, "Contact", summary["job_id"])
    assert succeeded[0]["sf__Id"] == ids[2] and succeeded[0]["sf__Created"] == "false"


def scenario(sf, via_bulk: bool) -> None:
    """Existing subscribers, then an upsert of new and changed ones, an update and a delete:
    the same scenario through Bulk API 2.0 or through sObject Collections."""
    install_key(sf)
    for n in range(3):
        sf.Contact.create({KEY: f"s{n}", "LastName": f"Before {n}", "Email": f"s{n}@example.org"})
    upserts = [
        {KEY: f"s{n}", "LastName": f"After {n}", "Email": f"s{n}.new@example.org"}
        for n in range(1, 6)
    ] + [{KEY: "s9", "LastName": "", "Email": "bad-address"}]  # fails, both ways
    if via_bulk:
        sf.bulk2.Contact.upsert(records=upserts, external_id_field=KEY, wait=0.1)
    else:
        records = [{"attributes": {"type": "Contact"}, **r} for r in upserts]
        for record in records:
            record["LastName"] = record["LastName"] or None
        body = {"allOrNone": False, "records": records}
        sf.restful(f"composite/sobjects/Contact/{KEY}", method="PATCH", json=body)
    found = sf.query(f"SELECT Id, {KEY} FROM Contact WHERE {KEY} IN ('s0', 's5')")["records"]
    by_key = {r[KEY]: r["Id"] for r in found}
    if via_bulk:
        sf.bulk2.Contact.update(
            records=[{"Id": by_key["s0"], "HasOptedOutOfEmail": "true"}], wait=0.1
        )
        sf.bulk2.Contact.delete(records=[{"Id": by_key["s5"]}], wait=0.1)
    else:
        record = {"attributes": {"type": "Contact"}, "Id": by_key["s0"], "HasOptedOutOfEmail": True}
        body = {"allOrNone": False, "records": [record]}
        sf.restful("composite/sobjects", method="PATCH", json=body)
        sf.restful(f"composite/sobjects?ids={by_key['s5']}", method="DELETE")


def test_the_bulk_path_and_the_collections_path_leave_the_same_end_state():
    states = []
    for via_bulk in (True, False):
        with SalesforceEmulator(seed="demo") as emulator:
            sf = connect(emulator)
            scenario(sf, via_bulk)
            states.append(contacts_by_key(sf))
    assert states[0] == states[1]
    assert states[0]["s0"] == ("Before 0", "s0@example.org", True)
    assert states[0]["s4"] == ("After 4", "s4.new@example.org", False)
    assert "s5" not in states[0] and "s9" not in states[0]


def test_upsert_creates_and_updates_and_refuses_an_external_id_twice_in_one_job(sf):
    install_key(sf)
    existing = sf.Contact.create({KEY: "k1", "LastName": "Known", "Email": "k1@example.org"})
    rows = [
        {KEY: "k1", "LastName": "Known again", "Email": "k1@example.org"},
        {KEY: "k2", "LastName": "New", "Email": "k2@example.org"},
        {KEY: "k3", "LastName": "Twice", "Email": "k3@example.org"},
        {KEY: "K3", "LastName": "Twice", "Email": "k3b@example.org"},
    ]
    job_id = start_job(sf, "Contact", "upsert", to_csv(rows), external_id_field=KEY)
    assert finished(sf, job_id)["state"] == "JobComplete"
    succeeded, failed, _ = results(sf, "Contact", job_id)
    assert [(r[KEY], r["sf__Created"]) for r in succeeded] == [("k1", "false"), ("k2", "true")]
    assert succeeded[0]["sf__Id"] == existing["id"]
    assert [r["sf__Error"] for r in failed] == [
        "DUPLICATE_EXTERNAL_ID:Duplicate external id specified: k3: --",
        "DUPLICATE_EXTERNAL_ID:Duplicate external id specified: K3: --",
    ]


# -- the same failures as sObject Collections --------------------------------------------------

JANE = {"FirstName": "Jane", "LastName": "Bulkdoe", "Email": "jane.bulkdoe@example.com"}


def readonly_field(emu, sf):
    install_field(sf, "Contact.CM_Score__c", grant=False, type="Text", length=20)
    set_id = permission_set(sf, "Read_Only_Score")
    grant_field(sf, set_id, "Contact.CM_Score__c", edit=False)
    assign(sf, set_id, user_id(sf))
    return "Contact", "insert", [{"LastName": "Ro", "CM_Score__c": "5"}]


def duplicate_block(emu, sf):
    sf.Contact.create(JANE)
    emu.add_duplicate_rule("Contact", "block")
    return "Contact", "insert", [dict(JANE)]


def duplicate_alert(emu, sf):
    sf.Contact.create(JANE)  # Bulk jobs have no Sforce-Duplicate-Rule-Header to allow it
    return "Contact", "insert", [dict(JANE)]


def converted_lead(emu, sf):
    lead_id = sf.Lead.create({"LastName": "Convert", "Company": "Bulk Co"})["id"]
    emu.convert_lead(lead_id)
    return "Lead", "update", [{"Id": lead_id, "Title": "Changed"}]


def required_missing(emu, sf):
    return "Lead", "insert", [{"LastName": "No company", "Email": "nc@example.org"}]


def bad_email(emu, sf):
    return "Contact", "insert", [{"LastName": "Bad", "Email": "not-an-address"}]


def too_long(emu, sf):
    return "Contact", "insert", [{"LastName": "x" * 81}]


@pytest.mark.parametrize(
    "setup",
    [
        readonly_field,
        duplicate_block,
        duplicate_alert,
        converted_lead,
        required_missing,
        bad_email,
        too_long,
    ],
)
def test_a_bulk_row_fails_with_the_code_and_message_of_a_collection_record(emu, sf, setup):
    sobject, operation, rows = setup(emu, sf)
    records = [{"attributes": {"type": sobject}, **row} for row in rows]
    method = "POST" if operation == "insert" else "PATCH"
    body = {"allOrNone": False, "records": records}
    (expected,) = sf.restful("composite/sobjects", method=method, json=body)
    assert expected["success"] is False
    error = expected["errors"][0]

    job_id = start_job(sf, sobject, operation, to_csv(rows))
    assert finished(sf, job_id)["state"] == "JobComplete"
    _, failed, _ = results(sf, sobject, job_id)
    fields = ",".join(error["fields"])
    assert [r["sf__Error"] for r in failed] == [
        f"{error['statusCode']}:{error['message']}:{fields} --"
    ]


def test_a_value_of_the_wrong_type_fails_its_row_not_the_job(sf):
    rows = [
        {"LastName": "Typed", "HasOptedOutOfEmail": "maybe"},
        {"LastName": "Fine", "HasOptedOutOfEmail": "true"},
    ]
    job_id = start_job(sf, "Contact", "insert", to_csv(rows))
    assert finished(sf, job_id)["state"] == "JobComplete"
    succeeded, failed, _ = results(sf, "Contact", job_id)
    assert [r["LastName"] for r in succeeded] == ["Fine"]
    assert failed[0]["sf__Error"] == (
        "INVALID_TYPE_ON_FIELD_IN_RECORD:Email Opt Out: value not of required type: maybe:"
        "HasOptedOutOfEmail --"
    )


# -- whole-job failures --------------------------------------------------------------------------


@pytest.mark.parametrize("hidden", [False, True])
def test_an_unknown_or_hidden_column_fails_the_whole_job(sf, hidden):
    column = "CM_Hidden__c" if hidden else "CM_Foo__c"
    if hidden:
        install_field(sf, f"Contact.{column}", grant=False, type="Text", length=20)
    data = to_csv([{"LastName": "A", column: "1"}, {"LastName": "B", column: "2"}])
    job_id = start_job(sf, "Contact", "insert", data)
    job = finished(sf, job_id)
    assert job["state"] == "Failed"
    assert job["errorMessage"] == f"InvalidBatch : Field name not found : {column}"
    assert (job["numberRecordsProcessed"], job["numberRecordsFailed"]) == (0, 0)
    succeeded, failed, unprocessed = results(sf, "Contact", job_id)
    assert succeeded == [] and failed == []
    assert [r["LastName"] for r in unprocessed] == ["A", "B"]
    with pytest.raises(SalesforceOperationError, match="Field name not found"):
        sf.bulk2.Contact.insert(csv_file=None, records=[{"LastName": "C", column: "3"}], wait=0.1)


def test_line_endings_must_match_the_job(sf):
    data = to_csv([{"LastName": "Crlf"}], line_ending="\r\n")
    job = finished(sf, start_job(sf, "Contact", "insert", data))
    assert job["state"] == "Failed"
    assert job["errorMessage"] == (
        "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF"
    )
    job = finished(sf, start_job(sf, "Contact", "insert", data, line_ending="CRLF"))
    assert job["state"] == "JobComplete" and job["numberRecordsProcessed"] == 1


def test_an_upload_over_150_mb_of_base64_is_refused(sf, monkeypatch):
    monkeypatch.setattr(bulk, "MAX_UPLOAD_BASE64", 40)
    client = sf.bulk2.Contact._client
    job = client.create_job("insert")
    with pytest.raises(SalesforceMalformedRequest) as excinfo:
        client.upload_job_data(job["id"], "LastName\n" + "Somebody\n" * 4)
    assert excinfo.value.content[0]["errorCode"] == "ClientInputError"
    assert "Exceeded max size limit of 40" in excinfo.value.content[0]["message"]


# -- states, abort, delete, list -------------------------------------------------------------------


def test_a_job_moves_through_its_states_and_callers_must_poll(emu, sf):
    emu.pause_bulk()
    client = sf.bulk2.Contact._client
    job = client.create_job("insert")
    assert job["contentUrl"] == f"services/data/v62.0/jobs/ingest/{job['id']}/batches"
    client.upload_job_data(job["id"], to_csv([{"LastName": f"P{n}"} for n in range(250)]))
    assert client.close_job(job["id"])["state"] == "UploadComplete"
    assert client.get_job(job["id"], False)["state"] == "UploadComplete"  # paused: queued

    requests.post(f"{emu.root_url}/_emulator/bulk", json={"chunk_delay": 1.0}, timeout=5)
    emu.pause_bulk(False)
    wait_for(lambda: client.get_job(job["id"], False)["state"] == "InProgress", 10)
    done = finished(sf, job["id"])
    assert done["state"] == "JobComplete" and done["numberRecordsProcessed"] == 250


def test_wrong_states_and_unknown_jobs_answer_errors(sf):
    client = sf.bulk2.Contact._client
    job_id = start_job(sf, "Contact", "insert", to_csv([{"LastName": "Once"}]))
    finished(sf, job_id)
    with pytest.raises(SalesforceMalformedRequest) as excinfo:
        client.close_job(job_id)
    assert excinfo.value.content[0]["errorCode"] == "INVALIDJOBSTATE"
    with pytest.raises(SalesforceMalformedRequest) as excinfo:
        client.upload_job_data(job_id, "LastName\nLate\n")
    assert excinfo.value.content[0]["errorCode"] == "INVALIDJOBSTATE"
    open_job = client.create_job("insert")
    with pytest.raises(SalesforceMalformedRequest):
        client.get_ingest_results(open_job["id"], "successfulResults")
    with pytest.raises(SalesforceResourceNotFound):
        client.get_job("750000000000000AAA", False)
    with pytest.raises(SalesforceMalformedRequest) as excinfo:
        sf.bulk2.Contact._client.create_job("upsert")  # no externalIdFieldName
    assert excinfo.value.content[0]["errorCode"] == "INVALIDJOB"


def test_an_aborted_job_leaves_its_rows_unprocessed(emu, sf):
    emu.pause_bulk()
    client = sf.bulk2.Contact._client
    job_id = start_job(sf, "Contact", "insert", to_csv([{"LastName": "Never"}]))
    assert client.abort_job(job_id, False)["state"] == "Aborted"
    emu.pause_bulk(False)
    assert emu.wait_bulk(10)
    job = client.get_job(job_id, False)
    assert job["state"] == "Aborted" and job["numberRecordsProcessed"] == 0
    _, _, unprocessed = results(sf, "Contact", job_id)
    assert unprocessed == [{"LastName": "Never"}]
    assert sf.query("SELECT COUNT() FROM Contact WHERE LastName = 'Never'")["totalSize"] == 0


def test_jobs_are_listed_and_deleted(sf):
    job_id = start_job(sf, "Contact", "insert", to_csv([{"LastName": "Listed"}]))
    finished(sf, job_id)
    listed = sf.restful("jobs/ingest", params={"jobType": "V2Ingest"})
    assert listed["done"] is True and job_id in [j["id"] for j in listed["records"]]
    answer = sf.session.delete(
        f"{sf.base_url}jobs/ingest/{job_id}".replace("https://", "http://"),
        headers=sf.headers,
        timeout=5,
    )
    assert answer.status_code == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.restful(f"jobs/ingest/{job_id}")


# -- limits, counts and faults ---------------------------------------------------------------------


def test_bulk_requests_are_counted_and_batches_show_in_limits(emu, sf):
    before = sf.limits()["DailyBulkApiBatches"]["Remaining"]
    emu.reset_request_counts()
    sf.bulk2.Contact.insert(records=[{"LastName": "Counted"}], wait=0.1)
    counts = emu.request_counts()
    assert counts["POST /jobs/ingest"] == 1
    assert counts["PUT /jobs/ingest/{id}/batches"] == 1
    assert counts["PATCH /jobs/ingest/{id}"] == 1
    assert counts["GET /jobs/ingest/{id}"] >= 2
    assert sf.limits()["DailyBulkApiBatches"]["Remaining"] == before - 1
    status = requests.get(f"{emu.root_url}/_emulator/bulk", timeout=5).json()
    assert status["jobs"] == {"JobComplete": 1}
    assert (status["jobs_processed"], status["records_processed"]) == (1, 1)


def test_the_lock_fault_fails_rows_that_a_retry_then_writes(emu, sf):
    requests.post(
        f"{emu.root_url}/_emulator/faults",
        json={"kind": "bulk_unable_to_lock_row", "count": 2},
        timeout=5,
    )
    rows = [{"LastName": f"Locked {n}", "Email": f"locked{n}@example.org"} for n in range(3)]
    (summary,) = sf.bulk2.Contact.insert(records=rows, wait=0.1)
    assert summary["numberRecordsFailed"] == 2
    _, failed, _ = results(sf, "Contact", summary["job_id"])
    assert [r["sf__Error"].split(":")[0] for r in failed] == ["UNABLE_TO_LOCK_ROW"] * 2
    assert failed[0]["sf__Error"].startswith(
        "UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record"
    )

    retry = [{"LastName": r["LastName"], "Email": r["Email"]} for r in failed]
    (again,) = sf.bulk2.Contact.insert(records=retry, wait=0.1)
    assert again["numberRecordsFailed"] == 0
    count = "SELECT COUNT() FROM Contact WHERE LastName LIKE 'Locked %'"
    assert sf.query(count)["totalSize"] == 3


def test_the_job_fault_fails_a_job_whose_rows_a_retry_then_writes(emu, sf):
    emu.add_fault("bulk_job_failed")
    job_id = start_job(sf, "Contact", "insert", to_csv([{"LastName": "Retried"}]))
    job = finished(sf, job_id)
    assert job["state"] == "Failed" and "injected" in job["errorMessage"]
    _, _, unprocessed = results(sf, "Contact", job_id)
    (summary,) = sf.bulk2.Contact.insert(records=unprocessed, wait=0.1)
    assert summary["numberRecordsFailed"] == 0
    assert sf.query("SELECT COUNT() FROM Contact WHERE LastName = 'Retried'")["totalSize"] == 1
