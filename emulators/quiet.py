"""What the emulators' HTTP servers (and the benchmarks' cmsync server) share."""

import sys
from typing import Any


class QuietDisconnects:
    """A socketserver mixin: a client that drops its connection (killed, timed out, reset by a
    proxy) is ordinary for a server, not a traceback on stderr; any other error still is one.
    The soak kills workers in the middle of requests, and its output is one line a fault."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[misc]
