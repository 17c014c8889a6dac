"""cmsync's Celery app for tests that spread a run over workers (``celery -A
tests.spread_worker worker``): the same worker, which once ready (Django set up) leaves a
file named after its pid in $SPREAD_READY_DIR (and ``run-<pid>`` there once it takes a
run's own task: it is the run's coordinator) and logs each batch of campaign member writes
it makes, one JSON line {"pid", "campaign", "start", "end"} per batch, to
$SPREAD_MEMBER_WRITES (time.time(): comparable across the test's processes)."""

import json
import os
import time
from pathlib import Path

from celery import signals

from cmsync.celery import app

__all__ = ["app"]


@signals.worker_ready.connect
def _ready(**_) -> None:
    from sync.tracking import MemberStatuses

    log = Path(os.environ["SPREAD_MEMBER_WRITES"])
    write_members = MemberStatuses._write_members

    def logged(self, link, latest) -> None:
        start = time.time()
        try:
            write_members(self, link, latest)
        finally:
            line = {"pid": os.getpid(), "campaign": link.sf_campaign_id, "start": start,
                    "end": time.time()}  # fmt: skip
            with log.open("a") as out:
                out.write(json.dumps(line) + "\n")

    MemberStatuses._write_members = logged  # type: ignore[method-assign]
    (Path(os.environ["SPREAD_READY_DIR"]) / str(os.getpid())).touch()


@signals.task_prerun.connect
def _coordinator(sender=None, **_) -> None:
    if getattr(sender, "name", "") == "sync.run":
        (Path(os.environ["SPREAD_READY_DIR"]) / f"run-{os.getpid()}").touch()
