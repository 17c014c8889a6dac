"""A client that drops its connection is no error for the emulators' servers (nor the
benchmarks' cmsync server): the soak kills workers in the middle of requests and resets
connections on purpose, and its output is one line a fault, not a traceback each time."""

import sys

import pytest

from bench.changes import _ThreadingServer
from emulators.campaign_monitor.server import Server as CampaignMonitorServer
from emulators.salesforce.server import Server as SalesforceServer

SERVERS = (SalesforceServer, CampaignMonitorServer, _ThreadingServer)


def handle(server_class, error: Exception) -> None:
    server = server_class.__new__(server_class)  # handle_error needs no running server
    try:
        raise error
    except type(error):
        server.handle_error(None, ("127.0.0.1", 50000))
    assert sys.exc_info() == (None, None, None)


@pytest.mark.parametrize("server_class", SERVERS)
@pytest.mark.parametrize(
    "error",
    [ConnectionResetError(104, "Connection reset by peer"), BrokenPipeError(32, "Broken pipe")],
)
def test_a_client_gone_away_prints_nothing(server_class, error, capsys):
    handle(server_class, error)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("server_class", SERVERS)
def test_any_other_error_is_still_printed(server_class, capsys):
    handle(server_class, ValueError("a bug in the emulator"))
    err = capsys.readouterr().err
    assert "ValueError: a bug in the emulator" in err
