"""Run one import wizard job here and now (what the worker does), or queue the due ones."""

from django.core.management.base import BaseCommand, CommandError

from subscriptions.imports import work as imports
from subscriptions.models import ImportJob


class Command(BaseCommand):
    help = "Run an import wizard job in this process, or with --due queue the scheduled ones."

    def add_arguments(self, parser):
        parser.add_argument("job_id", nargs="?", type=int)
        parser.add_argument("--due", action="store_true", help="queue the due scheduled imports")

    def handle(self, *args, job_id=None, due=False, **options):
        if due:
            self.stdout.write(f"Queued: {imports.dispatch_due() or 'none'}")
            return
        if job_id is None:
            raise CommandError("Give a job id, or --due.")
        job = ImportJob.objects.filter(pk=job_id).first()
        if job is None:
            raise CommandError(f"No import {job_id}.")
        if job.status == ImportJob.Status.DRAFT:
            raise CommandError(f"Import {job_id} is a draft: start it from the wizard.")
        if job.status == ImportJob.Status.SCHEDULED:
            ImportJob.objects.filter(pk=job_id, status=job.status).update(
                status=ImportJob.Status.QUEUED
            )
        job = imports.run(job_id)
        self.stdout.write(f"Import {job.pk}: {job.get_status_display()} {job.totals}")
        if job.last_error:
            self.stdout.write(job.last_error)
