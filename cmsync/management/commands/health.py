"""``manage.py health``: the readiness checks for scripts and containers, one line each.

Exit status 0 when every check passes, 1 otherwise. ``--beat`` checks that Celery beat ticked
in the last 3 minutes; ``--worker`` that a worker on this host (or the node named) showed it
is alive in the last 2 minutes: docker-compose's healthchecks of the beat and worker
services. ``--all`` adds both installation-wide (any worker, anywhere).
"""

from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError

from cmsync import health
from maintenance import heartbeats


class Command(BaseCommand):
    help = "Check the database, broker, cache, migrations (or beat, a worker); 1 on a failure."
    requires_system_checks: list[str] = []  # quick and quiet: a container runs it every 30 s

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--beat", action="store_true", help="only: has Celery beat ticked?")
        parser.add_argument(
            "--worker",
            nargs="?",
            const="",
            default=None,
            metavar="NODE",
            help="only: is a worker on this host (or the worker NODE, e.g. celery@host) alive?",
        )
        parser.add_argument(
            "--all", action="store_true", dest="everything", help="the checks, beat and any worker"
        )

    def handle(self, *args, beat: bool, worker: str | None, everything: bool, **options) -> None:
        lines: list[tuple[bool, str, str]] = []
        if not beat and worker is None:
            for check in health.run():
                detail = check.error or f"{check.ms} ms"
                lines.append((check.ok, check.name, detail))
        if beat or worker is not None or everything:
            try:
                state = heartbeats.liveness()
            except DatabaseError as exc:
                self.stdout.write(f"FAIL database: {health.clean(f'{type(exc).__name__}: {exc}')}")
                raise SystemExit(1) from None
            if beat or everything:
                seen = (
                    f"last tick {state.beat_seen:%Y-%m-%d %H:%M:%S} UTC" if state.beat_seen else ""
                )
                lines.append((not state.beat_problem, "beat", state.beat_problem or seen))
            if worker is not None:
                lines.append(_worker_line(worker))
            elif everything:
                names = ", ".join(sorted(state.workers))
                lines.append((not state.worker_problem, "workers", state.worker_problem or names))
        for ok, name, detail in lines:
            self.stdout.write(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
        if not all(ok for ok, _, _ in lines):
            raise SystemExit(1)


def _worker_line(node: str) -> tuple[bool, str, str]:
    state = heartbeats.liveness()
    if node:
        alive = node in state.workers
        return alive, f"worker {node}", "alive" if alive else "not seen in the last 2 minutes"
    host = heartbeats.this_host()
    mine = heartbeats.worker_alive(host)
    if mine:
        return True, "worker", ", ".join(mine)
    return False, "worker", f"no worker on {host} seen in the last 2 minutes"
