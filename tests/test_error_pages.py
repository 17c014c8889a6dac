"""The console's 403, 404 and 500 pages sit in its frame with a plain sentence of why; the
API keeps its JSON error shape; a refused request is one line in the server log."""

import logging

import pytest
from django.test import Client

from security.service import create_key

pytestmark = pytest.mark.django_db


def test_a_refused_page_names_the_role_it_needs_inside_the_console(bob_client):
    response = bob_client.get("/maintenance/reset/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "This needs the Full access role." in page
    assert 'aria-label="Console"' in page and ">Maintenance</a>" in page  # the tab bar
    assert "Log out" in page


def test_a_missing_page_says_so_inside_the_console(alice_client):
    response = alice_client.get("/no/such/page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "does not exist" in page
    assert 'aria-label="Console"' in page and ">User security</a>" in page


def test_a_missing_record_says_so_too(alice_client):
    response = alice_client.get("/sync/runs/999999/")
    assert response.status_code == 404
    assert "does not exist" in response.content.decode()


def test_logged_out_the_404_page_offers_the_login(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert 'aria-label="Console"' not in page and "/accounts/login/" in page


def test_the_api_keeps_its_json_errors(alice):
    client = Client()
    missing = client.get("/api/v1/no-such-thing/")
    assert missing.status_code == 404
    assert missing.json()["error"]["status"] == 404
    limited = create_key("reader", "read", alice)[1]
    refused = client.post(
        "/api/v1/runs/", content_type="application/json", HTTP_AUTHORIZATION=f"Api-Key {limited}"
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["status"] == 403


def test_a_server_error_is_a_styled_page_that_says_it_was_logged(alice_client, monkeypatch):
    from sync import views

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "get_object_or_404", broken)
    alice_client.raise_request_exception = False
    response = alice_client.get("/sync/runs/1/")
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong" in page and "logged" in page and "boom" not in page
    assert 'aria-label="Console"' in page


def test_a_refused_request_is_one_line_in_the_log(bob_client, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert bob_client.get("/maintenance/reset/").status_code == 403
    lines = [r for r in caplog.records if r.name == "django.request"]
    assert len(lines) == 1
    assert caplog.text.count("\n") == 1, caplog.text
    assert "Forbidden (Permission denied): /maintenance/reset/" in caplog.text
    assert "Traceback" not in caplog.text
