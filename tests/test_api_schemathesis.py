"""schemathesis against a live server with a Full-access key: every operation of the OpenAPI
schema, with generated input, must never answer 5xx and must match the schema."""

import subprocess
import sys
from pathlib import Path

import pytest

from security.service import create_key

pytestmark = [pytest.mark.schemathesis, pytest.mark.django_db(transaction=True)]

ST = Path(sys.executable).parent / "st"


def test_the_api_holds_to_its_schema_under_generated_input(live_server, alice):
    _, secret = create_key("schemathesis", "full", alice)
    result = subprocess.run(
        [
            str(ST),
            "run",
            f"{live_server.url}/api/v1/schema/",
            "--url",
            live_server.url,
            "--header",
            f"Authorization: Api-Key {secret}",
            "--checks",
            "not_a_server_error,response_schema_conformance,content_type_conformance",
            "--max-examples",
            "15",
            "--seed",
            "1",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    print(result.stdout[-6000:])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
