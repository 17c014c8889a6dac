"""The suite shares one server per emulator seed and resets it before each test (conftest.py):
a reset must leave nothing of the previous test behind, or tests would depend on their order."""

from datetime import UTC, datetime

import pytest
import requests

from emulators.campaign_monitor import CampaignMonitorEmulator
from emulators.salesforce import SalesforceEmulator

API = "/services/data/v62.0"


def soql(emu: SalesforceEmulator, token: str, query: str) -> requests.Response:
    return requests.get(
        f"{emu.root_url}{API}/query",
        params={"q": query},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_a_reset_salesforce_emulator_is_a_new_org_on_the_same_port():
    with SalesforceEmulator(seed="empty") as emu:
        port = emu.port
        (first,) = emu.insert("Contact", [{"LastName": "Before", "Email": "b@example.com"}])
        old_token = emu.issue_token()
        assert soql(emu, old_token, "SELECT Id FROM Contact").json()["totalSize"] == 1
        emu.add_fault("server_unavailable", count=5)
        emu.add_validation_rule("Contact", "LastName", "Blocked", "No.")
        emu.advance_clock(86_400)
        emu.set_limit(used=99_000)

        emu.reset()

        assert emu.port == port
        assert emu.request_counts() == {}
        assert emu.set_limit() == {"used": 0, "max": 100_000}
        assert abs((emu.org.clock.now() - datetime.now(UTC)).total_seconds()) < 60
        assert soql(emu, old_token, "SELECT Id FROM Contact").status_code == 401
        token = emu.issue_token()
        reply = soql(emu, token, "SELECT Id FROM Contact")
        assert reply.status_code == 200  # the fault is gone
        assert reply.json()["totalSize"] == 0
        (again,) = emu.insert("Contact", [{"LastName": "Blocked", "Email": "a@example.com"}])
        assert again["success"], again  # the validation rule is gone
        assert again["id"] == first["id"]  # ids start over as in a new org


def test_a_reset_campaign_monitor_emulator_is_a_new_account_on_the_same_port():
    with CampaignMonitorEmulator(seed="empty") as emu:
        port = emu.port
        agency = next(a for a in emu.info()["accounts"] if a["type"] == "agency")
        list_id = agency["clients"][0]["lists"][0]["ListID"]
        emu.set_subscriber(list_id, "before@example.com", "Active")
        emu.advance_clock(86_400)
        emu.add_fault(status=500, count=5)
        clients = f"{emu.base_url}/clients.json"
        requests.get(clients, auth=(agency["api_key"], "x"), timeout=10)
        assert emu.request_counts()

        emu.reset()

        assert emu.port == port
        assert list(emu.emails()) == []
        assert emu.request_counts() == {}
        assert emu.webhook_deliveries() == []
        utc_now = datetime.strptime(emu.utc_now(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        assert abs((utc_now - datetime.now(UTC)).total_seconds()) < 60
        reply = requests.get(clients, auth=(agency["api_key"], "x"), timeout=10)
        assert reply.status_code == 200  # the same key, and no fault left


def test_reset_refuses_an_emulator_that_keeps_its_data(tmp_path):
    with SalesforceEmulator(seed="empty", data_dir=tmp_path / "sf") as sf:
        with pytest.raises(RuntimeError):
            sf.reset()
    with CampaignMonitorEmulator(seed="empty", data_dir=tmp_path / "cm") as cm:
        with pytest.raises(RuntimeError):
            cm.reset()
