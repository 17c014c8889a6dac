"""The gateway's Bulk API 2.0 query path, and its cheaper ingest jobs, against the emulator over
real HTTP (issue 19): every Contact or Lead with an email read through a query job from
SALESFORCE_BULK_QUERY_THRESHOLD records, the same people as query calls give, streamed page by
page; a stopped wait aborts the job; ingest jobs skip the result files they cannot need."""

import pytest

from salesforce import bulk, errors

from .conftest import control

pytestmark = pytest.mark.django_db


def seed(sf_emulator) -> None:
    sf_emulator.seed_people([f"gq{n}@example.com" for n in range(40)])


def calls(sf_emulator, prefix: str) -> int:
    return sum(v for k, v in sf_emulator.request_counts().items() if k.startswith(prefix))


def test_a_query_job_reads_the_people_query_calls_read(sf_emulator, sf_gateway, settings):
    seed(sf_emulator)
    settings.SALESFORCE_BULK_QUERY_THRESHOLD = 10**9
    everyone = []
    for sobject in ("Contact", "Lead"):
        count = sf_gateway.count_people(sobject)
        by_queries = sorted(sf_gateway.all_people(sobject, count), key=lambda p: p.id)
        settings.SALESFORCE_BULK_QUERY_THRESHOLD = 1
        sf_emulator.reset_request_counts()
        by_job = sorted(sf_gateway.all_people(sobject, count), key=lambda p: p.id)
        settings.SALESFORCE_BULK_QUERY_THRESHOLD = 10**9
        assert by_job == by_queries and len(by_job) == count > 0
        assert all(p.last_modified.utcoffset().total_seconds() == 0 for p in by_job)
        everyone += by_job
        assert calls(sf_emulator, "GET /query") == 0
        assert calls(sf_emulator, "POST /jobs/query") == 1
    assert sf_emulator.bulk_status()["query_jobs"] == {"JobComplete": 2}
    assert sf_gateway.bulk_query_jobs == 2
    opted_out = [p.has_opted_out for p in everyone]
    assert any(opted_out) and not all(opted_out)


def test_result_pages_are_followed_by_locator(sf_emulator, sf_gateway, settings, monkeypatch):
    seed(sf_emulator)
    monkeypatch.setattr(bulk, "QUERY_PAGE", 7)
    settings.SALESFORCE_BULK_QUERY_THRESHOLD = 1
    count = sf_gateway.count_people("Contact")
    people = list(sf_gateway.all_people("Contact", count))
    assert len({p.id for p in people}) == count > 14
    assert calls(sf_emulator, "GET /jobs/query/{id}/results") == -(-count // 7)


def test_below_the_threshold_people_are_read_with_query_calls(sf_emulator, sf_gateway, settings):
    seed(sf_emulator)
    settings.SALESFORCE_BULK_QUERY_THRESHOLD = 1000
    sf_emulator.reset_request_counts()
    assert list(sf_gateway.all_people("Contact", 999))
    assert calls(sf_emulator, "POST /jobs/query") == 0 and calls(sf_emulator, "GET /query") == 1


def test_a_query_job_salesforce_fails_raises_a_plain_error(sf_emulator, sf_gateway, settings):
    seed(sf_emulator)
    settings.SALESFORCE_BULK_QUERY_THRESHOLD = 1
    sf_emulator.add_fault("bulk_query_job_failed")
    with pytest.raises(errors.BulkJobError, match="did not process a Bulk API job of 5 Lead"):
        list(sf_gateway.all_people("Lead", 5))


def test_stopping_while_a_query_job_waits_aborts_it(sf_emulator, sf_gateway, settings):
    seed(sf_emulator)
    settings.SALESFORCE_BULK_QUERY_THRESHOLD = 1
    sf_emulator.pause_bulk(True)

    class Stop(Exception):
        pass

    waits = []

    def keep_waiting() -> None:
        waits.append(1)
        if len(waits) == 3:
            raise Stop

    sf_gateway.keep_waiting = keep_waiting
    with pytest.raises(Stop):
        list(sf_gateway.all_people("Contact", 30))
    assert sf_emulator.bulk_status()["query_jobs"] == {"Aborted": 1}
    sf_emulator.pause_bulk(False)
    control(sf_emulator, "POST", "bulk/wait", json={"timeout": 5})
    assert sf_emulator.bulk_status()["query_jobs"] == {"Aborted": 1}


def test_a_preview_may_run_query_jobs_but_still_writes_nothing(sf_emulator, sf_gateway, settings):
    seed(sf_emulator)
    settings.SALESFORCE_BULK_QUERY_THRESHOLD = 1
    sf_gateway.session.read_only = True
    assert list(sf_gateway.all_people("Contact", 30))
    with pytest.raises(errors.RequestError, match="does not write"):
        sf_gateway.rest("sobjects/Contact", method="POST", json={"LastName": "No"})


# -- ingest jobs: fewer calls, every row accounted for ---------------------------------------


def people(n: int, start: int = 0) -> list[dict]:
    return [{"LastName": f"Few {i}", "Email": f"few{i}@example.com"} for i in range(start, n)]


def test_a_clean_update_job_reads_no_result_file_and_a_clean_create_only_its_ids(
    sf_emulator, sf_gateway, settings
):
    settings.SALESFORCE_BULK_THRESHOLD = 2
    sf_emulator.reset_request_counts()
    created = sf_gateway.create("Contact", people(50))
    assert all(r.success and r.id for r in created)
    counts = sf_emulator.request_counts()
    assert counts["GET /jobs/ingest/{id}/{results}"] == 1  # successfulResults: the new ids
    assert counts["GET /jobs/ingest/{id}"] <= 4

    sf_emulator.reset_request_counts()
    ids = [r.id for r in created]
    updated = sf_gateway.update("Contact", [{"Id": i, "Title": "Clean"} for i in ids])
    assert [r.id for r in updated] == ids and all(r.success for r in updated)
    assert "GET /jobs/ingest/{id}/{results}" not in sf_emulator.request_counts()
    rows = sf_gateway.people_by_id("Contact", ids, ["Title"])
    assert {rows[i]["Title"] for i in ids} == {"Clean"}


def test_a_job_with_failed_rows_still_reads_both_result_files(sf_emulator, sf_gateway, settings):
    settings.SALESFORCE_BULK_THRESHOLD = 2
    ids = [r.id for r in sf_gateway.create("Contact", people(6))]
    sf_emulator.reset_request_counts()
    updates = [{"Id": i, "Email": "not-an-email" if n == 3 else None} for n, i in enumerate(ids)]
    results = sf_gateway.update("Contact", updates)
    assert [r.success for r in results] == [True, True, True, False, True, True]
    assert results[3].errors[0].status_code == "INVALID_EMAIL_ADDRESS"
    assert sf_emulator.request_counts()["GET /jobs/ingest/{id}/{results}"] == 2


def test_a_long_job_is_looked_at_when_it_should_be_done(sf_emulator, sf_gateway, settings):
    """Twenty chunks of 200 rows, 0.1 s each: the old pauses (0.2 s growing by half) looked
    about nine times; the pace the job shows needs a few looks."""
    settings.SALESFORCE_BULK_THRESHOLD = 2
    control(sf_emulator, "POST", "bulk", json={"chunk_delay": 0.1})
    sf_emulator.reset_request_counts()
    results = sf_gateway.create("Contact", people(4000))
    assert len(results) == 4000 and all(r.success for r in results)
    assert sf_emulator.request_counts()["GET /jobs/ingest/{id}"] <= 5
