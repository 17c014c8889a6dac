"""Run localstripe (a fake but stateful Stripe server) as a subprocess: for the tests and for
`make run`'s demo. Not used in production."""

import socket
import subprocess
import sys
import time

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalStripe:
    """``with LocalStripe() as ls: ls.api_base`` — from scratch, on a free port by default."""

    def __init__(self, port: int | None = None, from_scratch: bool = True) -> None:
        self.port = port or free_port()
        self.from_scratch = from_scratch
        self.process: subprocess.Popen | None = None

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20) -> "LocalStripe":
        args = [sys.executable, "-m", "localstripe", "--port", str(self.port)]
        if self.from_scratch:
            args.append("--from-scratch")
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"localstripe exited with {self.process.returncode}")
            try:
                requests.get(f"{self.api_base}/js.stripe.com/v3/", timeout=1).raise_for_status()
                return self
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"localstripe did not start on port {self.port}")

    def register_webhook(self, url: str, secret: str, name: str = "cmsync") -> None:
        """localstripe's own endpoint: it signs and POSTs every event to ``url``."""
        response = requests.post(
            f"{self.api_base}/_config/webhooks/{name}",
            data={"url": url, "secret": secret},
            timeout=5,
        )
        response.raise_for_status()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "LocalStripe":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
