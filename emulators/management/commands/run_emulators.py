import json
import signal
import sys
import threading

from django.conf import settings as django_settings
from django.core.management.base import BaseCommand, CommandError

from campaign_monitor.connection import ConnectError, connect
from campaign_monitor.models import Connection
from emulators.campaign_monitor import CampaignMonitorEmulator
from emulators.salesforce import SalesforceEmulator
from salesforce import errors as sf_errors
from salesforce.connection import connect_client_credentials, explain, install_components
from salesforce.management.commands.connect_salesforce import console_user
from salesforce.models import SalesforceConnection, SalesforceSettings


def seed_value(value: str) -> str | int:
    if value in ("demo", "empty"):
        return value
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise CommandError(f"--seed must be demo, empty or a subscriber count, not {value!r}")


class Command(BaseCommand):
    help = (
        "Start the local Campaign Monitor and Salesforce emulators on 127.0.0.1 and print one "
        "JSON line with their addresses and credentials. Ctrl-C stops them."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--cm-port", type=int, default=8101)
        parser.add_argument("--sf-port", type=int, default=8102)
        parser.add_argument("--seed", default="demo", help="demo (default), empty or a number N")
        parser.add_argument(
            "--connect",
            action="store_true",
            help="connect cmsync to both emulators (demo mode), leaving existing connections",
        )

    def handle(self, *args, cm_port: int, sf_port: int, seed: str, connect: bool, **options):
        seed = seed_value(seed)
        if connect and not django_settings.ALLOW_INSECURE_LOOPBACK:
            raise CommandError(
                "--connect sends the emulators' credentials over plain HTTP to 127.0.0.1: "
                "set ALLOW_INSECURE_LOOPBACK=1 for it (make run does), in every process of "
                "the demo (web, worker, beat)."
            )
        cm = CampaignMonitorEmulator(seed=seed, port=cm_port)
        sf = SalesforceEmulator(seed="demo" if seed == "demo" else "empty", port=sf_port)
        try:
            cm.start()
            sf.start()
        except OSError as exc:
            cm.stop()
            raise CommandError(f"Cannot listen on 127.0.0.1: {exc}") from exc
        if seed != "empty":
            sf.seed_people(cm.emails())  # the same people on both sides
        info = {"campaign_monitor": cm.info(), "salesforce": sf.info()}
        self.stdout.write(json.dumps(info))
        self.stdout.flush()
        if connect:
            self._connect_campaign_monitor(info["campaign_monitor"])
            self._connect_salesforce(info["salesforce"])
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            sf.stop()
            cm.stop()

    def _say(self, message: str) -> None:
        self.stderr.write(message)
        self.stderr.flush()

    def _connect_campaign_monitor(self, info: dict) -> None:
        if Connection.current() is not None:
            self._say("cmsync is already connected to Campaign Monitor; left as it is.")
            return
        agency = next(a for a in info["accounts"] if a["type"] == "agency")
        try:
            connect(base_url=info["base_url"], api_key=agency["api_key"], client_ids="all")
        except ConnectError as exc:
            self._say(f"Could not connect cmsync to the Campaign Monitor emulator: {exc}")
            sys.exit(1)
        self._say(
            f"Demo mode: cmsync is connected to the Campaign Monitor emulator at "
            f"{info['base_url']} (agency account, {len(agency['clients'])} clients)."
        )

    def _reinstall(self, connection: SalesforceConnection) -> None:
        """A fresh emulator (they keep nothing between starts) behind an existing demo
        connection: put cmsync's components back, as Install does."""
        try:
            install_components(connection, django_settings.CMSYNC_URL)
        except sf_errors.SalesforceError as exc:
            self._say(
                f"Could not install cmsync's schema in the Salesforce emulator: {explain(exc)}"
            )
            return
        self._say("cmsync's Salesforce components are installed in the emulator again.")

    def _connect_salesforce(self, info: dict) -> None:
        """The emulator's connected app for the console's OAuth; the admin connected to it."""
        admin = console_user(None)
        settings = SalesforceSettings.get_solo()
        existing = SalesforceConnection.objects.filter(user=admin).first()
        if existing is not None or settings.app_configured:
            self._say("cmsync already has Salesforce settings; left as they are.")
            if existing is not None and existing.login_url == info["login_url"]:
                self._reinstall(existing)
            return
        oauth = info["oauth"]
        settings.login_url = info["login_url"]
        settings.client_id = oauth["client_id"]
        settings.client_secret = oauth["client_secret"]
        settings.save()
        try:
            connection = connect_client_credentials(
                admin, info["login_url"], oauth["client_id"], oauth["client_secret"]
            )
            install_components(connection, django_settings.CMSYNC_URL)
        except sf_errors.SalesforceError as exc:
            self._say(f"Could not connect cmsync to the Salesforce emulator: {explain(exc)}")
            sys.exit(1)
        self._say(
            f"Demo mode: {admin} is connected to the Salesforce emulator at {info['login_url']} "
            f"as {connection.sf_username}, is the sync user, and cmsync's Salesforce "
            "components are installed."
        )
