"""Every path that adds Salesforce people to a Campaign Monitor list (the import wizard, the
"add" subscription rules) screens them here first, so the general option "Prevent contacts or
leads being added to lists when opted out" and the address checks hold everywhere alike."""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from settings_app.models import GeneralSettings

# Why a person is not added; the wizard's preview and results show these words.
SKIP_REASONS = {
    "opted_out": "Email Opt Out is ticked and adding opted-out people is prevented",
    "no_email": "No email address",
    "invalid_email": "The email address is not valid",
    "duplicate_email": "Another record in this import has the same email",
}
# One @, no spaces, a dotted domain without empty labels: what Campaign Monitor accepts.
EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+$")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A Contact or Lead about to be added, with the Salesforce field values read for it."""

    sobject: str
    id: str
    email: str
    name: str = ""
    opted_out: bool = False
    values: dict = field(default_factory=dict, hash=False, compare=False)


def valid_email(email: str) -> bool:
    return bool(EMAIL.match(email or ""))


def screen(
    candidates: Iterable[Candidate],
    general: GeneralSettings | None = None,
    *,
    seen: set[str] | None = None,
) -> tuple[list[Candidate], list[tuple[Candidate, str]]]:
    """Split into those who may be added and those skipped, with a SKIP_REASONS key each.

    Duplicates: the first record with an email is kept (callers order by what should win,
    e.g. most recently modified first). ``seen`` (lower-case emails, updated in place) lets
    a caller screen a long stream chunk by chunk and still find duplicates across chunks.
    """
    general = general or GeneralSettings.get_solo()
    allowed, skipped = [], []
    seen = set() if seen is None else seen
    for candidate in candidates:
        email = (candidate.email or "").strip()
        if not email:
            skipped.append((candidate, "no_email"))
        elif not valid_email(email):
            skipped.append((candidate, "invalid_email"))
        elif email.lower() in seen:
            skipped.append((candidate, "duplicate_email"))
        elif candidate.opted_out and general.prevent_opted_out_in_lists:
            seen.add(email.lower())
            skipped.append((candidate, "opted_out"))
        else:
            seen.add(email.lower())
            allowed.append(candidate)
    return allowed, skipped
