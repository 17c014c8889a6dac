"""Contacts and Leads by email for a run that asks about many: read once, kept locally.

A full sync (or the first sync, or one after many changes) asks about most subscribers'
emails, in the opt-out, memberships and tracking steps. Looked up in Salesforce that is two
queries per 200 emails a step (the run's people cache is bounded, so at volume each step
asks again); reading every Contact and Lead with an email is one query per 2,000 records,
once, or, from SALESFORCE_BULK_QUERY_THRESHOLD records of an object, one Bulk API 2.0 query
job (a handful of calls whatever the size; issue 19). The read is chosen only when it is
the cheaper of the two (an org of millions with a handful of emails to ask about keeps the
lookups).

A query job Salesforce fails (or one that does not finish in SALESFORCE_BULK_TIMEOUT_SECONDS)
does not fail the run: the object is read again through query calls, which cost more calls
but give the same people, and a warning says so. The read is only a cheaper way to the same
answers, so a run that can still get them goes on; errors that would stop the query calls
too (authentication, the daily API limit, Cancel) stop the run as anywhere else.

Answers are ordered as ``SalesforceGateway.find_people`` orders them (most recently modified
first, of the same second the lowest Id), so a run gives the same result whichever way the
people were read.
"""

import logging
import math
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import transaction

from cmsync.iterables import chunks
from salesforce.errors import BulkJobError
from salesforce.gateway import Person, by_email

from .models import KnownPerson, SubscriberState

log = logging.getLogger(__name__)

PEOPLE = ("Contact", "Lead")
STORE_BATCH = 2000
LOOKUP_BATCH = 900  # emails in one IN list: under SQLite's oldest parameter limit
QUERY_JOB_CALLS = 5  # a Bulk API query job: create, about three looks, a result page


def people_counts(sf) -> dict[str, int]:
    """How many Contacts and unconverted Leads have an email."""
    return {sobject: sf.count_people(sobject) for sobject in PEOPLE}


def read_calls(count: int) -> int:
    """The calls reading ``count`` people of one object costs: its count, then query calls
    of 2,000 or a query job."""
    if count >= settings.SALESFORCE_BULK_QUERY_THRESHOLD:
        return 1 + QUERY_JOB_CALLS + math.ceil(count / 200_000)
    return 1 + math.ceil(count / 2000)


def worth_reading(sf, emails: int) -> bool:
    """Whether reading every person costs fewer calls than looking ``emails`` up."""
    return reading_plan(sf, emails) is not None


def reading_plan(sf, emails: int) -> dict[str, int] | None:
    """How many people of each object a read would bring, when reading them all costs fewer
    calls than looking ``emails`` up (two queries per 200 emails in each of about three
    steps); None when the lookups are cheaper."""
    lookups = 3 * 2 * math.ceil(emails / 200)
    if lookups <= 2 * len(PEOPLE):  # a read costs at least a count and a page an object
        return None
    counts = people_counts(sf)
    return counts if sum(read_calls(n) for n in counts.values()) < lookups else None


def read_all(
    sf, beat: Callable[[], None] | None = None, counts: dict[str, int] | None = None
) -> None:
    """Replace the local copy with every Contact and Lead with an email (``counts``: how many
    of each to expect, which picks a query job for the large ones)."""
    KnownPerson.objects.all().delete()
    for sobject in PEOPLE:
        expected = (counts or {}).get(sobject, 0)
        try:
            _store(sf.all_people(sobject, expected), beat)
        except BulkJobError as exc:
            log.warning(
                "Reading every %s through a Bulk API query job failed (%s); reading them "
                "through query calls instead",
                sobject,
                exc,
            )
            KnownPerson.objects.filter(sobject=sobject).delete()
            _store(sf.all_people(sobject), beat)


def _store(people: Iterable[Person], beat: Callable[[], None] | None) -> None:
    for batch in chunks(people, STORE_BATCH):
        with transaction.atomic():
            KnownPerson.objects.bulk_create(
                [
                    KnownPerson(
                        email_lc=p.email.lower(),
                        sobject=p.sobject,
                        sf_id=p.id,
                        email=p.email,
                        last_modified=p.last_modified,
                        has_opted_out=p.has_opted_out,
                    )
                    for p in batch
                ],
                batch_size=STORE_BATCH,
            )
        if beat is not None:
            beat()


def lookup(emails: Iterable[str]) -> dict[str, list[Person]]:
    """The local copy's people of these (lower-case) emails, as find_people answers."""
    return by_email(
        Person(*row)
        for batch in chunks(sorted(set(emails)), LOOKUP_BATCH)
        for row in KnownPerson.objects.filter(email_lc__in=batch).values_list(
            "sobject", "sf_id", "email", "last_modified", "has_opted_out"
        )
    )


def emails_to_ask(full: bool) -> int:
    """Roughly how many emails a run asks about (rows, not distinct emails): every stored
    state on a full run, else those pending (counted over the pending indexes)."""
    if full:
        return SubscriberState.objects.count()
    return max(
        SubscriberState.objects.filter(opt_out_pending=True).count(),
        SubscriberState.objects.filter(membership_pending=True).count(),
    )
