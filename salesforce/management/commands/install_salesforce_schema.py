from django.core.management.base import BaseCommand, CommandError

from salesforce import errors
from salesforce.connection import check_schema, explain, sync_user_status


class Command(BaseCommand):
    help = "Install cmsync's objects and fields in Salesforce through the sync user's connection."

    def handle(self, *args, **options) -> None:
        status = sync_user_status()
        if status.problem:
            raise CommandError(status.problem)
        assert status.connection is not None  # no problem comes with a connection
        try:
            missing = check_schema(status.connection, install=True)
        except errors.SalesforceError as exc:
            raise CommandError(explain(exc)) from exc
        if missing:
            raise CommandError(f"Still missing: {', '.join(missing)}")
        self.stdout.write("cmsync's schema is installed in Salesforce.")
