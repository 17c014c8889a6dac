"""Template hygiene a reader of the console would notice."""

from pathlib import Path

import pytest

TEMPLATES = sorted((Path(__file__).resolve().parent.parent / "templates").rglob("*.html"))


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.name))
def test_no_comment_spans_lines(template):
    """Django's {# #} comments end at the line's end: one left open is printed on the page
    (a multi-line comment needs {% comment %})."""
    for number, line in enumerate(template.read_text().splitlines(), 1):
        opened = line.count("{#")
        assert opened == line.count("#}"), (
            f"{template.name}:{number} opens a comment it does not close"
        )
