"""Salesforce record ids: 15-character case-sensitive ids and their 18-character safe form.

The 18-character form appends three checksum characters that encode which of the first 15
characters are upper case, so the id survives case-insensitive systems. The emulator always
hands out 18-character ids and accepts either form, as Salesforce does.
"""

import re
import threading

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_RE = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
_COUNTER_WIDTH = 10  # 3 (key prefix) + 2 (pod) + 10 = 15


def checksum(id15: str) -> str:
    """The three characters that turn a 15-character id into its 18-character form."""
    suffix = ""
    for chunk in range(3):
        flags = 0
        for bit, char in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                flags |= 1 << bit
        suffix += _SUFFIX_ALPHABET[flags]
    return suffix


def normalize(value: object) -> str | None:
    """The canonical 18-character id for a 15- or 18-character id, or None if malformed."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        return None
    head = value[:15]
    suffix = checksum(head)
    if len(value) == 18 and value[15:].upper() != suffix:
        return None
    return head + suffix


def to15(id18: str) -> str:
    return id18[:15]


def base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, rem = divmod(number, 62)
        digits.append(BASE62[rem])
    return "".join(reversed(digits)).rjust(width, "0")


def parse_base62(text: str) -> int:
    number = 0
    for char in text:
        number = number * 62 + BASE62.index(char)
    return number


class IdFactory:
    """Hands out ids per key prefix from counters, so a seed always yields the same ids."""

    def __init__(self, pod: str) -> None:
        self.pod = pod
        self._counters: dict[str, int] = {}
        self._lock = threading.Lock()

    def new(self, prefix: str) -> str:
        with self._lock:
            number = self._counters.get(prefix, 0) + 1
            self._counters[prefix] = number
        head = prefix + self.pod + base62(number, _COUNTER_WIDTH)
        return head + checksum(head)

    def block(self, prefix: str, count: int) -> list[str]:
        """`count` consecutive ids at once (bulk seeding)."""
        with self._lock:
            start = self._counters.get(prefix, 0) + 1
            self._counters[prefix] = start + count - 1
        base = prefix + self.pod
        heads = [base + base62(n, _COUNTER_WIDTH) for n in range(start, start + count)]
        return [head + checksum(head) for head in heads]

    def observe(self, existing_id: str) -> None:
        """Move a counter past an id found in storage (reopening a data_dir)."""
        prefix, number = existing_id[:3], parse_base62(existing_id[5:15])
        with self._lock:
            if number > self._counters.get(prefix, 0):
                self._counters[prefix] = number
