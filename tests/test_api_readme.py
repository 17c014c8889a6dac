"""The README's curl examples, run as written against a live server with a real key."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from security.service import create_key
from settings_app.models import SyncSettings

pytestmark = pytest.mark.django_db(transaction=True)

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_examples() -> str:
    text = README.read_text()
    block = text.split("<!-- api-examples")[1]
    return re.search(r"```sh\n(.*?)```", block, re.S).group(1)


def test_the_readme_curl_examples_work(live_server, alice, world):
    _, key = create_key("readme", "full", alice)
    script = readme_examples().replace(
        "export CMSYNC_URL=http://127.0.0.1:8000 CMSYNC_KEY=paste-your-key-here",
        f"export CMSYNC_URL={live_server.url} CMSYNC_KEY={key}",
    )
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    outputs, text, decoder = [], result.stdout.strip(), json.JSONDecoder()
    while text:  # curl prints the bodies back to back
        value, end = decoder.raw_decode(text)
        outputs.append(value)
        text = text[end:].strip()
    runs, started, changed, messages = outputs
    assert runs["count"] == 0
    assert started["status"] == "queued" and started["trigger"] == "api"
    assert changed["days_to_keep"] == 90
    assert SyncSettings.get_solo().days_to_keep == 90
    assert messages["count"] == 0
