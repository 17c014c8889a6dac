"""The soak's moving parts that are not cmsync: compressed clocks for its processes, a TCP
proxy that can reset connections, a Redis of its own, and its Celery workers.

Compressed clocks: in production a run whose worker died is taken over after two minutes of
silence and a dead holder's lease expires after ten. A soak that kills workers every few
seconds would spend its whole budget waiting, so every cmsync process of the soak (its
workers and its dispatcher) runs with these periods scaled down. Only the waits change; the
code paths (stale heartbeat → takeover, expired lease → taken again, client timeout →
unreachable) are the production ones.
"""

import os
import random
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Heartbeat every second, taken over after 8 s of silence, resent after 20 s in the queue.
BEAT_SECONDS = 1.0
STALE_SECONDS = 8.0
RESEND_SECONDS = 20.0
LEASE_SECONDS = 15.0
ITEM_STALE_SECONDS = 4.0  # a spread run's work item whose worker went silent is taken back
CM_EVENTS_RETRY_SECONDS = 5.0
CM_TIMEOUT = (2.0, 3.0)  # connect, read: a "slow response" fault waits longer than this
SF_LOCK_PAUSES = (0.2, 0.5, 1.0)


def compress_clocks() -> None:
    """Scale cmsync's waits down in this process (after django.setup())."""
    from django.conf import settings

    from campaign_monitor.client import CampaignMonitorClient
    from salesforce import gateway
    from sync import cm_events, context, leases, runner

    context.BEAT_EVERY = timedelta(seconds=BEAT_SECONDS)
    runner.STALE_AFTER = timedelta(seconds=STALE_SECONDS)
    runner.RESEND_AFTER = timedelta(seconds=RESEND_SECONDS)
    settings.SYNC_ITEM_STALE_SECONDS = ITEM_STALE_SECONDS
    leases.TTL = timedelta(seconds=LEASE_SECONDS)
    leases.hold.__wrapped__.__kwdefaults__["ttl"] = leases.TTL  # type: ignore[attr-defined]
    cm_events.RETRY_AFTER = timedelta(seconds=CM_EVENTS_RETRY_SECONDS)
    CampaignMonitorClient.__init__.__kwdefaults__["timeout"] = CM_TIMEOUT
    gateway.LOCK_RETRY_PAUSES = SF_LOCK_PAUSES


def worker_main() -> None:
    """``python -m bench.soak_parts worker QUEUE``: a Celery worker with compressed clocks."""
    import django

    django.setup()
    compress_clocks()
    from cmsync.celery import app

    mark_busy(Path(os.environ.get("SOAK_BUSY_DIR", "")))
    queue = sys.argv[2]
    app.worker_main(
        ["worker", "--pool", "solo", "-Q", queue, "--without-gossip", "--without-mingle",
         "--without-heartbeat", "--loglevel", "ERROR"]
    )  # fmt: skip


def mark_busy(folder: Path) -> None:
    """While this worker runs a task, a file named after its pid lies in ``folder``: the
    soak kills a busy worker (one in the middle of a run), not just any."""
    if not folder.name:
        return
    from celery import signals

    busy = folder / str(os.getpid())

    def started(**_) -> None:
        busy.touch()

    def finished(**_) -> None:
        busy.unlink(missing_ok=True)

    signals.task_prerun.connect(started, weak=False)
    signals.task_postrun.connect(finished, weak=False)


class Workers:
    """1–3 Celery worker processes on the soak's queue; killed with SIGKILL, started again."""

    def __init__(self, queue: str, env: dict, log_dir: Path) -> None:
        self.queue, self.log_dir = queue, log_dir
        self.busy_dir = log_dir / "busy"
        self.busy_dir.mkdir(exist_ok=True)
        self.env = {**env, "SOAK_BUSY_DIR": str(self.busy_dir)}
        self.procs: list[subprocess.Popen] = []
        self.started = 0

    def start(self) -> None:
        self.started += 1
        log = open(self.log_dir / f"worker-{self.started}.log", "w")  # noqa: SIM115
        self.procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "bench.soak_parts", "worker", self.queue],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        )

    def alive(self) -> list[subprocess.Popen]:
        self.procs = [p for p in self.procs if p.poll() is None]
        return self.procs

    def scale(self, count: int) -> None:
        while len(self.alive()) < count:
            self.start()

    def kill_one(self, rng: random.Random) -> tuple[int, bool]:
        """SIGKILL a worker in the middle of a task if one is (else any); its pid and whether
        it was busy."""
        alive = self.alive()
        if not alive:
            return 0, False
        busy = [p for p in alive if (self.busy_dir / str(p.pid)).exists()]
        victim = rng.choice(busy or alive)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        (self.busy_dir / str(victim.pid)).unlink(missing_ok=True)
        return victim.pid, bool(busy)

    def stop(self) -> None:
        for proc in self.alive():
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


class Redis:
    """A redis-server of the soak's own, on its own port, without persistence: a kill loses
    whatever it held, as a crashed broker does."""

    def __init__(self, port: int, work_dir: Path) -> None:
        self.port, self.work_dir = port, work_dir
        self.proc: subprocess.Popen | None = None
        if shutil.which("redis-server") is None:
            raise SystemExit("soak: redis-server is not installed")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        if self._answers():  # someone else's: killing "ours" would leave it answering
            raise SystemExit(f"soak: port {self.port} is taken; pass --redis-port")
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.work_dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._answers():
                return
            time.sleep(0.05)
        raise SystemExit(f"soak: redis-server did not start on port {self.port}")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


class ResetProxy:
    """A TCP proxy on 127.0.0.1 in front of an emulator. ``reset(n)`` arms it: the next n
    requests (client data on any connection, new or kept alive) are answered with a TCP
    reset instead of being forwarded."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.armed = 0
        self.done = 0
        self._lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self, count: int = 1) -> None:
        with self._lock:
            self.armed += count

    def _take(self) -> bool:
        with self._lock:
            if self.armed <= 0:
                return False
            self.armed -= 1
            self.done += 1
            return True

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
        except OSError:
            client.close()
            return
        pair = {client: upstream, upstream: client}
        try:
            while True:
                ready, _, _ = select.select(list(pair), [], [], 60)
                if not ready:
                    return
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client and self._take():
                        client.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                        return  # closing with linger 0 sends RST
                    pair[sock].sendall(data)
        except OSError:
            return
        finally:
            client.close()
            upstream.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


if __name__ == "__main__" and sys.argv[1:2] == ["worker"]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cmsync.settings")
    worker_main()
