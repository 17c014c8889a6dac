"""The org's identity: org id, users, the connected app and its trusted JWT key.

Everything derives from the seed through random.Random, so restarting with the same seed
gives the same ids, client id and secret. The RSA key cannot be derived that way with the
cryptography package, so it is generated once per process and seed and then reused.
"""

import hashlib
import random
import threading
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from emulators.salesforce import ids

_KEYS: dict[str, rsa.RSAPrivateKey] = {}
_KEYS_LOCK = threading.Lock()
_ALPHANUMERIC = ids.BASE62

PROFILES = ("System Administrator", "Standard User")
USERS = (
    {
        "Username": "admin@cmsync-demo.example",
        "FirstName": "Ada",
        "LastName": "Admin",
        "Alias": "aadmi",
        "password": "demo-admin-password",
        "profile": "System Administrator",
    },
    {
        "Username": "integration@cmsync-demo.example",
        "FirstName": "Integration",
        "LastName": "User",
        "Alias": "integ",
        "password": "demo-integration-password",
        "profile": "Standard User",
    },
    {  # an ordinary user: no access to cmsync's objects unless someone grants it
        "Username": "marketing@cmsync-demo.example",
        "FirstName": "Mia",
        "LastName": "Marketing",
        "Alias": "mmark",
        "password": "demo-marketing-password",
        "profile": "Standard User",
    },
)


def private_key(seed: str) -> rsa.RSAPrivateKey:
    with _KEYS_LOCK:
        if seed not in _KEYS:
            _KEYS[seed] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return _KEYS[seed]


@dataclass
class Identity:
    seed: str
    pod: str
    org_name: str
    client_id: str
    client_secret: str
    org_id: str = ""
    users: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_seed(cls, seed: str) -> "Identity":
        rng = random.Random(hashlib.sha256(f"sf-emulator:{seed}".encode()).hexdigest())
        pod = rng.choice("123456789") + rng.choice("abcdefghjk")
        client_id = "3MVG9" + "".join(rng.choice(_ALPHANUMERIC) for _ in range(80))
        secret = "".join(rng.choice("0123456789ABCDEF") for _ in range(64))
        name = "cmsync Demo" if seed == "demo" else f"cmsync Emulated Org ({seed})"
        return cls(seed, pod, name, client_id, secret)

    def assign_ids(self, idf: ids.IdFactory) -> None:
        self.org_id = idf.new("00D")
        self.users = [
            {
                **user,
                "Id": idf.new("005"),
                "Email": user["Username"],
                "Name": f"{user['FirstName']} {user['LastName']}",
            }
            for user in USERS
        ]

    @property
    def key(self) -> rsa.RSAPrivateKey:
        return private_key(self.seed)

    def private_key_pem(self) -> str:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def public_key_pem(self) -> str:
        return (
            self.key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def user(self, user_id: str = "", username: str = "") -> dict[str, Any] | None:
        for user in self.users:
            if user["Id"] == user_id or user["Username"].lower() == username.lower():
                return user
        return None
