from django.core.management.base import BaseCommand, CommandError

from sync import preview, runner
from sync.models import SyncRun


def summary(run: SyncRun) -> str:
    lines = [f"{run.get_kind_display()} run {run.pk}: {run.get_status_display()}"]
    for step, counts in run.counts.items():
        figures = ", ".join(f"{name} {value}" for name, value in counts.items())
        lines.append(f"  {step}: {figures}")
    lines.append(f"  API calls: Campaign Monitor {run.cm_calls}, Salesforce {run.sf_calls}")
    if run.kind == SyncRun.Kind.PREVIEW and not run.is_active:
        totals = preview.totals(run)
        lines.append("  It would change (nothing was written):" if totals else "  No changes.")
        for kind, title in preview.KINDS.items():
            if totals.get(kind):
                lines.append(f"    {title}: {totals[kind]}")
    if run.last_error:
        lines.append(f"  {run.last_error}")
    return "\n".join(lines)


class Command(BaseCommand):
    help = (
        "Start a primary sync, as Sync now does. With --wait it runs here and now (no worker "
        "needed), prints the counts and exits non-zero if the run failed. --dry-run previews "
        "it: reads and decides, writes nothing, says what it would change."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--full", action="store_true", help="ignore cursors: reconcile all")
        parser.add_argument("--wait", action="store_true", help="run in this process")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="a preview: nothing is written to Salesforce, Campaign Monitor or cmsync",
        )

    def handle(self, *args, full: bool, wait: bool, dry_run: bool, **options) -> None:
        kind = SyncRun.Kind.PREVIEW if dry_run else SyncRun.Kind.PRIMARY
        try:
            # --wait runs it here: no task for a worker to race this process for.
            run, created = runner.request_run(
                SyncRun.Trigger.MANUAL, full=full, send=not wait, kind=kind
            )
        except runner.BrokerUnavailable as exc:
            raise CommandError(str(exc)) from exc
        if not created:
            self.stdout.write(
                f"A {run.get_kind_display().lower()} is already {run.status}: run {run.pk}."
            )
        if wait:
            done = runner.execute(run.pk)
            if done is None:
                raise CommandError(f"Sync run {run.pk} no longer exists.")
            run = done
        self.stdout.write(summary(run))
        if run.status in (SyncRun.Status.FAILED, SyncRun.Status.CANCELLED):
            raise CommandError(f"Sync run {run.pk} {run.status}.")
