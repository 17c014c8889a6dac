"""A stateful local emulator of the Campaign Monitor API v3.3, for tests, benchmarks and demos.

with CampaignMonitorEmulator(seed="demo") as emu:
    requests.get(emu.base_url + "/clients.json", auth=(emu.info()["accounts"][0]["api_key"], "x"))
"""

from emulators.campaign_monitor.emulator import CampaignMonitorEmulator

__all__ = ["CampaignMonitorEmulator"]
