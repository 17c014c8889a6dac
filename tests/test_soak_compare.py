"""The soak's comparison finds each kind of difference, so it cannot pass by comparing
nothing; and the soak's fault schedule covers every applicable kind."""

import argparse

import pytest

from bench import scenario, soak
from bench.soak_compare import compare, tally

REFERENCE = {
    "Contact": [
        (("003A",), ("ann@example.com", True)),
        (("003B",), ("bob@example.com", False)),
    ],
    "CM_Email_Tracking__c": [
        (
            ("c1:ann@example.com:opened:2026-01-01",),
            ("opened", "ann@example.com", "2026-01-01", "003A", None),
        ),
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
    found = compare(REFERENCE, faulty)
    assert [(d.kind, d.key) for d in found if d.table == "Contact"] == [("lost", ("003A",))]
    # The rows linked to ann's Contact now link to a record that is gone: they differ too.
    assert {(d.kind, d.table) for d in found if d.table != "Contact"} == {
        ("wrong", "CM_Email_Tracking__c"),
        ("lost", "CampaignMember"),
        ("wrong", "CampaignMember"),
    }


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
    (text,) = [d.describe() for d in compare(REFERENCE, faulty) if d.table == "Contact"]
    assert text.startswith("lost: Contact 003A")


# Two Contacts share ann's email: a link to either is a link to ann (DESIGN.md §5).
LINKED = {
    "Contact": [
        (("003A",), ("ann@example.com", True)),
        (("003C",), ("ann@example.com", True)),
        (("003B",), ("bob@example.com", False)),
    ],
    "Lead": [(("00QA",), ("ann@example.com", False))],
    "CM_List_Membership__c": [
        (("list1:ann@example.com",), ("list1", "003A", None, "ann@example.com", "Unsubscribed")),
    ],
    "CM_Email_Tracking__c": [
        (("c1:ann:open",), ("opened", "ann@example.com", "2026-01-01", "003A", None)),
    ],
    "CampaignMember": [(("c1", "003A", ""), ("Opened", "opened", "2026-01-01"))],
}


def relinked(contact_id, lead_id=None):
    """LINKED with every link to ann's Contact 003A pointing at ``contact_id``/``lead_id``."""
    faulty = copy(LINKED)
    faulty["CM_List_Membership__c"] = [
        (
            ("list1:ann@example.com",),
            ("list1", contact_id, lead_id, "ann@example.com", "Unsubscribed"),
        )
    ]
    faulty["CM_Email_Tracking__c"] = [
        (("c1:ann:open",), ("opened", "ann@example.com", "2026-01-01", contact_id, lead_id))
    ]
    faulty["CampaignMember"] = [
        (("c1", contact_id or "", lead_id or ""), ("Opened", "opened", "2026-01-01"))
    ]
    return faulty


def test_a_link_to_another_contact_with_the_same_email_is_the_same_link():
    assert compare(LINKED, relinked("003C")) == []


def test_a_link_to_a_contact_of_another_email_is_wrong():
    found = compare(LINKED, relinked("003B"))
    assert {(d.table, d.kind) for d in found} == {
        ("CM_List_Membership__c", "wrong"),
        ("CM_Email_Tracking__c", "wrong"),
        ("CampaignMember", "lost"),  # ann's member row is gone: bob's is one too many
        ("CampaignMember", "wrong"),
    }


def test_a_link_to_a_lead_instead_of_the_contact_is_wrong():
    found = compare(LINKED, relinked(None, "00QA"))
    assert "wrong" in {d.kind for d in found if d.table == "CM_List_Membership__c"}
    assert "wrong" in {d.kind for d in found if d.table == "CM_Email_Tracking__c"}


def test_a_missing_link_is_wrong():
    found = compare(LINKED, relinked(None))
    assert [(d.table, d.kind) for d in found if d.table != "CampaignMember"] == [
        ("CM_Email_Tracking__c", "wrong"),
        ("CM_List_Membership__c", "wrong"),
    ]


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


def test_each_bulk_fault_comes_with_a_write_set_that_goes_as_a_bulk_job():
    """A Bulk API fault meets nothing unless the next run writes at least the threshold in
    one set: each comes with a suppression import that large, of people no other change
    touches (so the order the worlds apply them in does not matter)."""
    args = argparse.Namespace(subscribers=1000, faults=30, seed=1, bulk_threshold=100)
    changes, imports = soak.plans(args)
    bulk_faults = sum(soak.schedule(30, 1).count(k) for k in soak.BULK_KINDS)
    assert bulk_faults >= 2 and len(imports) == bulk_faults
    assert all(len(batch) >= args.bulk_threshold for batch in imports)
    assert {kind for batch in imports for kind, _, _ in batch} == {"cm_suppress"}
    suppressed = [email for batch in imports for _, _, email in batch]
    changed = {email for batch in changes for _, _, email in batch}
    assert len(set(suppressed)) == len(suppressed) and not changed & set(suppressed)


def test_a_small_world_suppresses_only_people_it_has():
    plan = scenario.suppression_plan(100, 3, seed=1, size=150)
    assert [len(batch) for batch in plan] == [33, 33, 33]
    assert len({email for batch in plan for _, _, email in batch}) == 99


def test_a_world_with_differences_exits_non_zero(monkeypatch):
    """The orchestrator learns a world's answer only from its exit code: a faulty world that
    found differences must not exit 0 (it once did, so the soak could never fail)."""
    monkeypatch.setattr(soak, "world", lambda args: 1)
    monkeypatch.setattr("sys.argv", ["soak", "--world", "faulty", "--dir", "/nowhere"])
    with pytest.raises(SystemExit) as stopped:
        soak.main()
    assert stopped.value.code == 1
