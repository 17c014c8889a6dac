from django.core.management.base import BaseCommand

from sync import dispatch
from sync.models import ScheduleState


class Command(BaseCommand):
    help = "What Celery beat does every minute: start the scheduled sync if one is due."

    def handle(self, *args, **options) -> None:
        run = dispatch.dispatch_due()
        state = ScheduleState.get_solo()
        if run:
            self.stdout.write(f"Started sync run {run.pk} ({run.status}).")
        else:
            self.stdout.write("No sync due.")
        self.stdout.write(f"Next scheduled run: {state.next_run_at or 'none'}")
