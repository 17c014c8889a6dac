"""Contacts and Leads by email for a run that asks about many: read once, kept locally.

A full sync (or the first sync, or one after many changes) asks about most subscribers'
emails, in the opt-out, memberships and tracking steps. Looked up in Salesforce that is two
queries per 200 emails a step (the run's people cache is bounded, so at volume each step
asks again); reading every Contact and Lead with an email is one query per 2,000 records,
once. The read is chosen only when it is the cheaper of the two (an org of millions with a
handful of emails to ask about keeps the lookups).

Answers are ordered as ``SalesforceGateway.find_people`` orders them (most recently modified
first, of the same second the lowest Id), so a run gives the same result either way.
"""

import math
from collections.abc import Iterable

from django.db import transaction

from cmsync.iterables import chunks
from salesforce.gateway import Person, by_email

from .models import KnownPerson, SubscriberState

PEOPLE = ("Contact", "Lead")
STORE_BATCH = 2000
LOOKUP_BATCH = 900  # emails in one IN list: under SQLite's oldest parameter limit


def worth_reading(sf, emails: int) -> bool:
    """Whether reading every person costs fewer calls than looking ``emails`` up (two
    queries per 200 emails in each of about three steps)."""
    lookups = 3 * 2 * math.ceil(emails / 200)
    if lookups <= 2 * len(PEOPLE):  # a read costs at least a count and a page an object
        return False
    reads = sum(math.ceil(sf.count_people(sobject) / 2000) + 1 for sobject in PEOPLE)
    return reads < lookups


def read_all(sf, beat=None) -> None:
    """Replace the local copy with every Contact and Lead with an email."""
    KnownPerson.objects.all().delete()
    for sobject in PEOPLE:
        for batch in chunks(sf.all_people(sobject), STORE_BATCH):
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
