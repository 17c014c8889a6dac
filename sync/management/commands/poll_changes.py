from django.core.management.base import BaseCommand

from sync import change_poll, inbox, runner
from sync.models import ChangeWatch, SyncRun


class Command(BaseCommand):
    help = (
        "Poll Salesforce for Contact, Lead and Account changes now (whatever the interval) "
        "and queue a run to react to them; --wait reacts in this process."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--wait", action="store_true", help="Act on the changes here (no worker needed)."
        )

    def handle(self, *args, wait: bool, **options) -> None:
        found = change_poll.poll()
        watch = ChangeWatch.get_solo()
        if watch.last_error:
            self.stderr.write(f"The poll failed: {watch.last_error}")
        self.stdout.write(f"{found} new change(s); {inbox.pending()} waiting.")
        run = SyncRun.objects.filter(kind=SyncRun.Kind.CHANGES, active=True).first()
        if run and wait and (run := runner.execute(run.pk)):
            self.stdout.write(f"Run {run.pk}: {run.get_status_display()} {run.counts}")
