"""Leases: short sections of work that one cmsync process at a time may do.

The primary sync and a Campaign Monitor events run may be running at once (they are runs
of different kinds). Both store subscriber states and then decide, write and clear the
opt-outs and memberships those states make pending. Without a lease they interleave:

- both read "no row" or an old row for the same address, and the slower one writes its
  older state over the newer one (a re-subscribe where the subscriber had unsubscribed);
- one reads the states of a batch, the other stores a newer state and writes its opt-out,
  then the first writes its older decision to Salesforce after it and clears the pending
  flag: the opt-out is lost.

So storing states and each decide → write → clear batch hold the ``SUBSCRIBER_STATES``
lease. A lease is a database row taken by a conditional write, as runs are claimed
(``sync.runner._claim``); it expires after ``ttl`` so a process that died holding it holds
nothing for long. Holding is re-entrant within a thread. Never take a lease inside a
transaction: the holder must be able to commit while others wait.

A batch whose write is a Salesforce Bulk API job holds the lease while the job runs: its
older decision must not land after a newer one another run writes meanwhile, and letting go
during the job would allow exactly that. The batches are sized (5,000 emails) so a job takes
seconds, which is how long a Campaign Monitor events run may wait; between polls of a job
the holder calls ``keep_alive`` so a job slower than ``ttl`` does not let the lease expire.
"""

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from .models import Lease

SUBSCRIBER_STATES = "subscriber-states"

# Long enough for a batch of Salesforce writes with the gateway's retries; a holder that
# died is waited for at most this long.
TTL = timedelta(minutes=10)
POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 1.0

_held = threading.local()


@contextmanager
def hold(
    name: str, *, ttl: timedelta = TTL, waiting: Callable[[], None] | None = None
) -> Iterator[None]:
    """Hold the lease ``name`` for the block, waiting while another process holds it.

    ``waiting`` is called between attempts (a run passes its heartbeat, so waiting for a
    long holder does not make the run look lost; it may raise to give up)."""
    held = _mine()
    if name in held:  # re-entered: the outer block releases it
        yield
        return
    if _in_transaction():
        raise RuntimeError(f"lease {name!r} taken inside a transaction")
    holder = f"{os.getpid()}-{threading.get_ident()}-{uuid.uuid4().hex[:8]}"
    pause = POLL_SECONDS
    while not _take(name, holder, ttl):
        if waiting is not None:
            waiting()
        time.sleep(pause)
        pause = min(pause * 2, MAX_POLL_SECONDS)
    held[name] = holder
    try:
        yield
    finally:
        del held[name]
        Lease.objects.filter(name=name, holder=holder).delete()


def _mine() -> dict[str, str]:
    """The leases this thread holds: name → holder."""
    if not hasattr(_held, "leases"):
        _held.leases = {}
    return _held.leases


def keep_alive(ttl: timedelta = TTL) -> None:
    """Extend the leases this thread holds by ``ttl`` from now (a long wait inside one)."""
    until = timezone.now() + ttl
    for name, holder in _mine().items():
        Lease.objects.filter(name=name, holder=holder).update(expires_at=until)


def _take(name: str, holder: str, ttl: timedelta) -> bool:
    now = timezone.now()
    expired = Lease.objects.filter(name=name, expires_at__lt=now)
    if expired.update(holder=holder, expires_at=now + ttl):
        return True
    try:
        with transaction.atomic():
            Lease.objects.create(name=name, holder=holder, expires_at=now + ttl)
    except IntegrityError:
        return False  # held (or just taken) by someone else
    return True


def _in_transaction() -> bool:
    """Inside a transaction of cmsync's own; the one a Django test case wraps each test in
    (marked ``_from_testcase`` by Django) does not count: the test's is the only
    connection there."""
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)
