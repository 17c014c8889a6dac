"""The soak's comparison finds each kind of difference, so it cannot pass by comparing
nothing; and the soak's fault schedule covers every applicable kind."""

import pytest

from bench import scenario, soak
from bench.soak_compare import compare, tally

REFERENCE = {
    "Contact": [
        (("003A",), ("ann@example.com", True)),
        (("003B",), ("bob@example.com", False)),
    ],
    "CM_Email_Tracking__c": [
        (("c1:ann@example.com:opened:2026-01-01",), ("opened", "ann@example.com")),
    ],
    "CampaignMember": [(("c1", "003A", ""), ("Opened", "opened", "2026-01-01"))],
    "CM subscribers": [(("list1", "ann@example.com"), ("unsubscribed",))],
}


def copy(snapshot):
    return {table: list(rows) for table, rows in snapshot.items()}


def test_equal_worlds_have_no_difference():
    assert compare(REFERENCE, copy(REFERENCE)) == []


def test_a_lost_opt_out_is_lost():
    faulty = copy(REFERENCE)
    faulty["Contact"] = faulty["Contact"][1:]
    (difference,) = compare(REFERENCE, faulty)
    assert (difference.kind, difference.table, difference.key) == ("lost", "Contact", ("003A",))


def test_a_tracking_row_written_twice_is_duplicated():
    faulty = copy(REFERENCE)
    faulty["CM_Email_Tracking__c"] = faulty["CM_Email_Tracking__c"] * 2
    (difference,) = compare(REFERENCE, faulty)
    assert difference.kind == "duplicated"
    assert (difference.reference, difference.faulty) == (1, 2)


def test_a_campaign_member_twice_is_duplicated():
    faulty = copy(REFERENCE)
    faulty["CampaignMember"] = faulty["CampaignMember"] + faulty["CampaignMember"]
    assert tally(compare(REFERENCE, faulty)) == {"lost": 0, "duplicated": 1, "wrong": 0}


def test_a_flipped_opt_out_is_wrong():
    faulty = copy(REFERENCE)
    faulty["Contact"] = [(("003A",), ("ann@example.com", False)), faulty["Contact"][1]]
    (difference,) = compare(REFERENCE, faulty)
    assert difference.kind == "wrong"
    assert difference.reference == ("ann@example.com", True)
    assert difference.faulty == ("ann@example.com", False)


def test_another_member_status_is_wrong():
    faulty = copy(REFERENCE)
    faulty["CampaignMember"] = [(("c1", "003A", ""), ("Sent", "sent", "2026-01-01"))]
    assert tally(compare(REFERENCE, faulty)) == {"lost": 0, "duplicated": 0, "wrong": 1}


def test_a_subscriber_left_active_in_campaign_monitor_is_wrong():
    faulty = copy(REFERENCE)
    faulty["CM subscribers"] = [(("list1", "ann@example.com"), ("active",))]
    assert [d.kind for d in compare(REFERENCE, faulty)] == ["wrong"]


def test_a_row_the_reference_does_not_have_is_wrong():
    faulty = copy(REFERENCE)
    faulty["CM subscribers"] = faulty["CM subscribers"] + [
        (("list1", "eve@example.com"), ("active",))
    ]
    (difference,) = compare(REFERENCE, faulty)
    assert (difference.kind, difference.key) == ("wrong", ("list1", "eve@example.com"))


def test_a_missing_table_is_refused_not_passed():
    faulty = copy(REFERENCE)
    del faulty["CampaignMember"]
    with pytest.raises(ValueError):
        compare(REFERENCE, faulty)


def test_each_difference_reads_as_a_sentence():
    faulty = copy(REFERENCE)
    faulty["Contact"] = faulty["Contact"][1:]
    text = compare(REFERENCE, faulty)[0].describe()
    assert text.startswith("lost: Contact 003A")


def test_every_applicable_fault_kind_is_scheduled_and_the_rest_say_why():
    order = soak.schedule(len(soak.KINDS) * 2, seed=7)
    applicable = set(soak.KINDS) - set(soak.NOT_YET)
    assert set(order) == applicable
    assert soak.schedule(40, seed=7) == soak.schedule(40, seed=7)  # seeded: repeatable
    assert all(kind in soak.KINDS for kind in soak.NOT_YET)


def test_the_change_plan_changes_each_person_once():
    plan = scenario.change_plan(500, 10, seed=3)
    emails = [email for batch in plan for _, _, email in batch]
    assert len(plan) == 10 and len(emails) == 60
    assert len(set(emails)) == len(emails)
