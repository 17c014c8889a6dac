import signal
import sys

from django.conf import settings
from django.core.management.base import BaseCommand

from billing.localstripe import LocalStripe


class Command(BaseCommand):
    help = "Run localstripe (the demo's Stripe) and register cmsync's webhook with it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=8420)
        parser.add_argument("--webhook-url", default=f"{settings.CMSYNC_URL}/billing/webhook/")

    def handle(self, *args, port: int, webhook_url: str, **options) -> None:
        # honcho stops its processes with SIGTERM: leave no localstripe behind.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        server = LocalStripe(port=port, from_scratch=True).start()
        try:
            if settings.STRIPE_WEBHOOK_SECRET:
                server.register_webhook(webhook_url, settings.STRIPE_WEBHOOK_SECRET)
            self.stdout.write(
                f"localstripe on {server.api_base}; webhooks to {webhook_url}", ending="\n"
            )
            self.stdout.flush()
            assert server.process is not None  # start() started it
            server.process.wait()
        finally:
            server.stop()
