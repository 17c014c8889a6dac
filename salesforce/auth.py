"""OAuth 2.0 with Salesforce: the web-server flow (an admin connects their own user), JWT
bearer and client credentials for server-to-server, and the username-password flow as a legacy
option. Plain token-endpoint calls: simple-salesforce has no authorization-code support."""

import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jwt
import requests

from cmsync import endpoints
from cmsync.logs import log_calls

from . import errors

log = logging.getLogger(__name__)

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str
    instance_url: str
    refresh_token: str = ""
    identity_url: str = ""


def check_url(url: str) -> str:
    """Tokens only travel over HTTPS; plain HTTP only to an emulator on this machine, and only
    when ALLOW_INSECURE_LOOPBACK is on."""
    try:
        return endpoints.check(url, "Salesforce")
    except endpoints.EndpointRefused as exc:
        raise errors.InsecureEndpointError(str(exc)) from exc


def authorize_url(login_url: str, client_id: str, redirect_uri: str, state: str) -> str:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "scope": "api refresh_token",
        }
    )
    return f"{check_url(login_url)}/services/oauth2/authorize?{query}"


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _token(login_url: str, data: dict, auth: tuple | None = None) -> Tokens:
    """POST to the token endpoint of ``login_url`` and nowhere else: no redirects, since a
    307 would repeat the secrets in ``data`` to wherever it points."""
    url = f"{check_url(login_url)}/services/oauth2/token"
    unreachable = errors.NetworkError(f"Could not reach Salesforce at {endpoints.host(url)}")
    try:
        response = requests.post(
            url,
            data=data,
            auth=auth,
            timeout=30,
            allow_redirects=False,
            hooks={"response": log_calls("salesforce")},
        )
    except requests.RequestException as exc:
        log.warning("Salesforce token endpoint %s: %s", endpoints.host(url), type(exc).__name__)
        raise unreachable from exc
    body = _json(response)
    if not isinstance(body, dict):
        raise unreachable  # not Salesforce: said as if nothing answered (no port oracle)
    if response.status_code == 200 and body.get("access_token") and body.get("instance_url"):
        return Tokens(
            access_token=body["access_token"],
            instance_url=check_url(body["instance_url"]),
            refresh_token=body.get("refresh_token", ""),
            identity_url=body.get("id", ""),
        )
    if body.get("error"):  # OAuth's refusal: invalid_client, invalid_grant, ...
        message = body.get("error_description") or body["error"]
        raise errors.AuthenticationError(str(message), code=str(body["error"]), status=401)
    log.warning(
        "Salesforce token endpoint %s answered %s", endpoints.host(url), response.status_code
    )
    raise unreachable


def exchange_code(
    login_url: str, client_id: str, client_secret: str, redirect_uri: str, code: str
) -> Tokens:
    data = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "client_secret": client_secret,
        "redirect_uri": redirect_uri,
        "code": code,
    }
    return _token(login_url, data)


def refresh(login_url: str, client_id: str, client_secret: str, refresh_token: str) -> Tokens:
    data = {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
    }
    return _token(login_url, data)


def client_credentials(login_url: str, client_id: str, client_secret: str) -> Tokens:
    data = {"grant_type": "client_credentials"}
    return _token(login_url, data, auth=(client_id, client_secret))


def jwt_bearer(login_url: str, client_id: str, username: str, private_key: str) -> Tokens:
    claims = {"iss": client_id, "sub": username, "aud": login_url, "exp": int(time.time()) + 180}
    assertion = jwt.encode(claims, private_key, algorithm="RS256")
    return _token(login_url, {"grant_type": JWT_GRANT, "assertion": assertion})


def password_login(
    login_url: str, client_id: str, client_secret: str, username: str, password: str
) -> Tokens:
    """Legacy: the OAuth username-password flow (not SOAP login, which v65 removed)."""
    data = {
        "grant_type": "password",
        "client_id": client_id,
        "client_secret": client_secret,
        "username": username,
        "password": password,
    }
    return _token(login_url, data)
