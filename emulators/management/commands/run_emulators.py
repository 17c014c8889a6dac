import json
import signal
import sys
import threading

from django.core.management.base import BaseCommand, CommandError

from campaign_monitor.connection import ConnectError, connect
from campaign_monitor.models import Connection
from emulators.campaign_monitor import CampaignMonitorEmulator


def seed_value(value: str) -> str | int:
    if value in ("demo", "empty"):
        return value
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise CommandError(f"--seed must be demo, empty or a subscriber count, not {value!r}")


class Command(BaseCommand):
    help = (
        "Start the local Campaign Monitor emulator on 127.0.0.1 and print one JSON line with "
        "its base URL and credentials. Ctrl-C stops it."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--cm-port", type=int, default=8101)
        parser.add_argument("--seed", default="demo", help="demo (default), empty or a number N")
        parser.add_argument(
            "--connect",
            action="store_true",
            help="connect cmsync to the emulator's agency account, unless already connected",
        )

    def handle(self, *args, cm_port: int, seed: str, connect: bool, **options) -> None:
        emulator = CampaignMonitorEmulator(seed=seed_value(seed), port=cm_port)
        try:
            emulator.start()
        except OSError as exc:
            raise CommandError(f"Cannot listen on 127.0.0.1:{cm_port}: {exc}") from exc
        info = emulator.info()
        self.stdout.write(json.dumps({"campaign_monitor": info}))
        self.stdout.flush()
        if connect:
            self._connect_demo(info)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            emulator.stop()

    def _connect_demo(self, info: dict) -> None:
        if Connection.current() is not None:
            self.stderr.write("cmsync is already connected to Campaign Monitor; left as it is.")
            return
        agency = next(a for a in info["accounts"] if a["type"] == "agency")
        try:
            connect(base_url=info["base_url"], api_key=agency["api_key"], client_ids="all")
        except ConnectError as exc:
            self.stderr.write(f"Could not connect cmsync to the emulator: {exc}")
            sys.exit(1)
        self.stderr.write(
            f"Demo mode: cmsync is connected to the Campaign Monitor emulator at "
            f"{info['base_url']} (agency account, {len(agency['clients'])} clients)."
        )
