"""Both emulators in a process of their own, seeded with the sync benchmark's scenario, so
the benchmark measures cmsync's memory and not theirs. Prints one JSON line, then serves
until its standard input closes."""

import json
import sys

from emulators.campaign_monitor import CampaignMonitorEmulator, scenario
from emulators.salesforce import SalesforceEmulator


def main(subscribers: int) -> None:
    cm = CampaignMonitorEmulator(seed="empty").start()
    shape = scenario.write(cm, subscribers)
    sf = SalesforceEmulator(seed="empty", daily_limit=10_000_000).start()
    people = sf.seed_people(cm.emails())
    print(json.dumps({"cm": cm.info(), "sf": sf.info(), "shape": shape, "people": people}))
    sys.stdout.flush()
    sys.stdin.read()  # the benchmark closes it when done
    sf.stop()
    cm.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]))
