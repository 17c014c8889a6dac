"""Echo suppression: cmsync's own writes to Salesforce must not come back as reactions.

When the primary sync (or a run of Campaign Monitor events) writes ``HasOptedOutOfEmail`` it
first records the value it expects on the record's ``WatchedRecord`` (``expect_opt_out``);
a failed write takes it back (``write_failed``). When that change then arrives from
Salesforce, the reactions ask ``own_write`` before acting: the expected value is cmsync's own
write, and the record's value from before that write, read late, is not mistaken for a new
one. Used by both directions, written once.
"""

from collections.abc import Iterable
from datetime import timedelta

from django.utils import timezone

from cmsync.iterables import chunks

from .models import WatchedRecord

EXPECT_FOR = timedelta(minutes=30)  # how long the primary sync's own write is waited for


def expect_opt_out(people: Iterable[tuple[str, str, str]], value: bool) -> None:
    """The primary sync is about to write ``HasOptedOutOfEmail = value`` on these
    (sobject, id, email) records: remember it, so the write is not reacted to."""
    until = timezone.now() + EXPECT_FOR
    unique = {record_id: (sobject, email) for sobject, record_id, email in people}
    for chunk in chunks(unique.items(), 500):
        WatchedRecord.objects.bulk_create(
            [
                WatchedRecord(
                    record_id=record_id,
                    sobject=sobject,
                    email_lc=email.lower(),
                    opted_out=value,
                    expect_opted_out=value,
                    expect_until=until,
                )
                for record_id, (sobject, email) in chunk
            ],
            update_conflicts=True,  # a known record keeps its email, takes the expectation
            unique_fields=["record_id"],
            update_fields=["opted_out", "expect_opted_out", "expect_until", "updated_at"],
        )


def write_failed(record_ids: Iterable[str], value: bool) -> None:
    """The expected write did not happen: the records keep their previous value."""
    for chunk in chunks(record_ids, 500):
        WatchedRecord.objects.filter(record_id__in=chunk, expect_opted_out=value).update(
            opted_out=not value, expect_opted_out=None, expect_until=None
        )


def own_write(watched: WatchedRecord, opted_out: bool | None) -> str | None:
    """What a change of the opt-out is while cmsync's own write is awaited on the record:
    the outcome when it is that write (or the value from before it), None when nothing is
    awaited (then it is a change like any other). Either way the expectation is settled."""
    expecting = watched.expect_until is not None and watched.expect_until > timezone.now()
    if expecting and opted_out != watched.expect_opted_out:
        return "not acted on: the value from before cmsync's own write"
    watched.expect_opted_out = watched.expect_until = None
    return "cmsync's own write, no reaction" if expecting else None
