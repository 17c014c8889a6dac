"""What every handler can reach: the store, the clock, the pager and a few settings."""

import threading
from dataclasses import dataclass, field
from typing import Any

from emulators.campaign_monitor.clock import Clock
from emulators.campaign_monitor.pager import Pager
from emulators.campaign_monitor.store import Store


@dataclass
class Env:
    store: Store
    clock: Clock
    pager: Pager
    seed: str  # the seed label, also the salt of generated IDs
    root_url: str = ""
    oauth_client_id: str = ""
    oauth_client_secret: str = ""
    # external session token -> what PUT /externalsession.json was asked for
    sessions: dict[str, dict] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    webhooks: Any = None  # the webhooks.Sender delivering list webhook events
