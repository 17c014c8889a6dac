"""Deterministic names, IDs and keys: the same seed always yields the same accounts.

IDs are 32 hex characters like the real API's; API keys are 48 hex characters like the
sample client key. Both are hashes of the seed and the object's place, so restarting the
emulator with the same seed hands out the same credentials.
"""

import hashlib
from dataclasses import dataclass, field


def hex_id(seed: str, *parts: object) -> str:
    return hashlib.md5(":".join(["cm-emulator", seed, *map(str, parts)]).encode()).hexdigest()


def api_key(seed: str, *parts: object) -> str:
    text = ":".join(["cm-emulator-key", seed, *map(str, parts)])
    return hashlib.sha256(text.encode()).hexdigest()[:48]


@dataclass(frozen=True)
class ClientSpec:
    name: str
    contact: str
    country: str
    list_names: tuple[str, str]


@dataclass(frozen=True)
class AccountSpec:
    name: str
    type: str  # "agency" | "direct"
    clients: tuple[ClientSpec, ...] = field(default_factory=tuple)


ACCOUNTS = (
    AccountSpec(
        "Harbour Digital",
        "agency",
        (
            ClientSpec(
                "Northwind Traders", "Nancy Davolio", "Australia", ("Newsletter", "Customers")
            ),
            ClientSpec("Globex Outdoor", "Hank Scorpio", "New Zealand", ("Adventures", "Members")),
            ClientSpec(
                "Initech Software", "Bill Lumbergh", "United States of America", ("Product", "Beta")
            ),
        ),
    ),
    AccountSpec(
        "Bluebird Bakery",
        "direct",
        (ClientSpec("Bluebird Bakery", "Zoë Ångström", "Australia", ("Regulars", "Wholesale")),),
    ),
)

# The custom fields every emulated list has. Keys equal the field names, so the bracket-less
# key a subscriber record shows ("website") matches the definition's key ("[website]").
CUSTOM_FIELDS = (
    ("website", "Text", ()),
    ("interests", "MultiSelectMany", ("Baking", "Cycling", "Hiking", "Music", "Travel")),
    ("age", "Number", ()),
    ("birthday", "Date", ()),
    # Values are Campaign Monitor's country names (countries.json), not checked on write.
    ("Country", "Country", ()),
)


def oauth_app(seed: str) -> tuple[str, str]:
    """The one registered OAuth application: (client_id, client_secret)."""
    client_id = str(100000 + int(hex_id(seed, "oauth-app")[:8], 16) % 900000)
    return client_id, api_key(seed, "oauth-secret")
