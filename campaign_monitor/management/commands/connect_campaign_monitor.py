from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from campaign_monitor.connection import ConnectError, connect


class Command(BaseCommand):
    help = (
        "Connect cmsync to a Campaign Monitor account, as the console's Connect does: the key "
        "is checked with Campaign Monitor before anything is stored."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--api-key", required=True)
        parser.add_argument("--base-url", default=settings.CAMPAIGN_MONITOR_BASE_URL)
        parser.add_argument(
            "--clients",
            default="all",
            help="'all' (default) or comma-separated client ids to connect (agency accounts)",
        )

    def handle(self, *args, api_key: str, base_url: str, clients: str, **options) -> None:
        wanted = "all" if clients == "all" else [c.strip() for c in clients.split(",")]
        try:
            connection = connect(
                base_url=base_url.rstrip("/"), api_key=api_key.strip(), client_ids=wanted
            )
        except ConnectError as exc:
            raise CommandError(str(exc)) from exc
        names = ", ".join(c.name for c in connection.connected_clients())
        self.stdout.write(
            f"Connected to a Campaign Monitor {connection.account_type} account at "
            f"{connection.base_url}; clients: {names}"
        )
