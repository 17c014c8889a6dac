"""The gateway's Bulk API 2.0 path against the emulator over real HTTP: a write set at or
above SALESFORCE_BULK_THRESHOLD goes as ingest jobs and comes back as the same per-record
results, in the records' order, as sObject Collections give."""

import pytest

from salesforce import errors, permissions, schema

from .conftest import control

pytestmark = pytest.mark.django_db

KEY = "CM_Subscriber_List__c"


def people(n: int, start: int = 0) -> list[dict]:
    return [{"LastName": f"Bulk {i}", "Email": f"bulk{i}@example.com"} for i in range(start, n)]


def collection_calls(emulator) -> int:
    return sum(v for k, v in emulator.request_counts().items() if "composite/sobjects" in k)


def bulk_jobs(emulator) -> dict:
    return emulator.bulk_status()["jobs"]


@pytest.fixture
def bulk_from(settings):
    def threshold(n: int) -> None:
        settings.SALESFORCE_BULK_THRESHOLD = n

    threshold(5)
    return threshold


def test_below_the_threshold_writes_go_in_collections_and_above_it_in_one_bulk_job(
    sf_emulator, sf_gateway, bulk_from
):
    sf_emulator.reset_request_counts()
    small = sf_gateway.create("Contact", people(4))
    assert all(r.success for r in small)
    assert collection_calls(sf_emulator) == 1 and bulk_jobs(sf_emulator) == {}

    sf_emulator.reset_request_counts()
    large = sf_gateway.create("Contact", people(12, 4))
    assert collection_calls(sf_emulator) == 0
    assert bulk_jobs(sf_emulator) == {"JobComplete": 1}
    assert sf_gateway.bulk_jobs == 1 and sf_gateway.bulk_records == 8
    assert [r.record["Email"] for r in large] == [f"bulk{i}@example.com" for i in range(4, 12)]
    assert all(r.success and r.operation == "create" for r in large)
    rows = sf_gateway.people_by_id("Contact", [r.id for r in large], ["Email"])
    assert {r.id: r.record["Email"] for r in large} == {i: row["Email"] for i, row in rows.items()}


def test_failed_rows_come_back_in_place_with_the_codes_a_collection_call_gives(
    sf_gateway, bulk_from
):
    records = people(8)
    records[2]["Email"] = "not-an-email"
    del records[5]["LastName"]
    results = sf_gateway.create("Contact", records)
    assert [r.success for r in results] == [True, True, False, True, True, False, True, True]
    assert results[2].errors[0].status_code == "INVALID_EMAIL_ADDRESS"
    assert results[2].record["Email"] == "not-an-email"
    assert results[5].errors[0].status_code == "REQUIRED_FIELD_MISSING"
    assert results[5].errors[0].fields == ("LastName",)
    assert results[5].record == {"Email": "bulk5@example.com"}  # what was sent, as sent

    bulk_from(10**9)
    collections = sf_gateway.create("Contact", records)
    assert [(r.success, [e.status_code for e in r.errors]) for r in collections] == [
        (r.success, [e.status_code for e in r.errors]) for r in results
    ]


def test_update_and_upsert_map_results_by_key_and_none_clears_a_field(sf_gateway, bulk_from):
    bulk_from(10**9)
    ids = [r.id for r in sf_gateway.create("Contact", [{**p, "Title": "T"} for p in people(6)])]
    bulk_from(2)
    updates = [
        {"Id": i, "HasOptedOutOfEmail": n % 2 == 0, "Title": None} for n, i in enumerate(ids)
    ]
    results = sf_gateway.update("Contact", list(reversed(updates)))
    assert [r.record["Id"] for r in results] == list(reversed(ids))
    assert all(r.success and r.id == r.record["Id"] for r in results)
    rows = sf_gateway.people_by_id("Contact", ids, ["HasOptedOutOfEmail", "Title"])
    assert [rows[i]["HasOptedOutOfEmail"] for i in ids] == [True, False] * 3
    assert {rows[i]["Title"] for i in ids} == {None}

    schema.install(sf_gateway)
    permissions.install(sf_gateway, [sf_gateway.identity()["user_id"]])
    lists = [{"CM_List_Id__c": f"L{n}", "Name": f"List {n}"} for n in range(5)]
    first = sf_gateway.upsert(KEY, "CM_List_Id__c", lists)
    assert [r.created for r in first] == [True] * 5
    again = sf_gateway.upsert(KEY, "CM_List_Id__c", [{**x, "Name": "Renamed"} for x in lists])
    assert [r.created for r in again] == [False] * 5
    assert [r.id for r in again] == [r.id for r in first]


def test_locked_rows_are_written_again_and_reported_only_if_still_locked(
    sf_emulator, sf_gateway, bulk_from, settings
):
    sf_emulator.add_fault("bulk_unable_to_lock_row", count=3)
    results = sf_gateway.create("Contact", people(10))
    assert all(r.success for r in results)  # the three locked rows went again, and were written
    assert sf_gateway.count("SELECT COUNT() FROM Contact WHERE Email LIKE 'bulk%'") == 10

    # Still locked after the collection retries: reported, as a collection write reports it.
    import salesforce.gateway as gateway

    gateway.LOCK_RETRY_PAUSES, saved = (0.01,), gateway.LOCK_RETRY_PAUSES
    try:
        sf_emulator.add_fault("bulk_unable_to_lock_row", count=2)
        sf_emulator.add_fault("unable_to_lock_row", count=10, path="composite/sobjects")
        results = sf_gateway.create("Contact", people(20, 10))
    finally:
        gateway.LOCK_RETRY_PAUSES = saved
    failed = [r for r in results if not r.success]
    assert len(failed) == 2
    assert {e.status_code for r in failed for e in r.errors} == {"UNABLE_TO_LOCK_ROW"}


def test_an_alert_duplicate_rule_saves_as_a_collection_write_does(
    sf_emulator, sf_gateway, bulk_from
):
    bulk_from(10**9)
    sf_gateway.create("Contact", people(6))
    sf_emulator.add_duplicate_rule("Contact", "alert")
    bulk_from(2)
    twins = sf_gateway.create("Contact", people(6))
    assert all(r.success for r in twins)  # Bulk refused them; Collections saved past the alert


def test_a_job_salesforce_fails_as_a_whole_raises_a_plain_error(sf_emulator, sf_gateway, bulk_from):
    sf_emulator.add_fault("bulk_job_failed", count=1)
    with pytest.raises(errors.BulkJobError) as caught:
        sf_gateway.create("Contact", people(8))
    assert "did not process a Bulk API job of 8 Contact records" in str(caught.value)
    assert "written at the next run" in str(caught.value)
    assert sf_gateway.count("SELECT COUNT() FROM Contact WHERE Email LIKE 'bulk%'") == 0


def test_stopping_while_a_job_waits_aborts_the_job(sf_emulator, sf_gateway, bulk_from):
    sf_emulator.pause_bulk(True)  # the job stays UploadComplete until resumed

    class Stop(Exception):
        pass

    polls = []

    def keep_waiting() -> None:
        polls.append(1)
        if len(polls) == 2:
            raise Stop

    sf_gateway.keep_waiting = keep_waiting
    with pytest.raises(Stop):
        sf_gateway.create("Contact", people(8))
    assert bulk_jobs(sf_emulator) == {"Aborted": 1}
    sf_emulator.pause_bulk(False)
    control(sf_emulator, "POST", "bulk/wait", json={"timeout": 5})
    assert sf_gateway.count("SELECT COUNT() FROM Contact WHERE Email LIKE 'bulk%'") == 0


def test_a_delete_of_a_named_object_goes_as_a_job(sf_emulator, sf_gateway, bulk_from):
    bulk_from(10**9)
    ids = [r.id for r in sf_gateway.create("Contact", people(8))]
    bulk_from(2)
    results = sf_gateway.delete(ids, "Contact")
    assert [r.record["Id"] for r in results] == ids and all(r.success for r in results)
    assert bulk_jobs(sf_emulator) == {"JobComplete": 1}
    assert sf_gateway.count("SELECT COUNT() FROM Contact WHERE Email LIKE 'bulk%'") == 0
