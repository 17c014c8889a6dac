"""OAuth 2.0 with Salesforce: the web-server flow (an admin connects their own user), JWT
bearer and client credentials for server-to-server, and the username-password flow as a legacy
option. Plain token-endpoint calls: simple-salesforce has no authorization-code support."""

import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import jwt
import requests

from . import errors

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str
    instance_url: str
    refresh_token: str = ""
    identity_url: str = ""


def check_url(url: str) -> str:
    """Tokens only travel over HTTPS, except to an emulator on this machine."""
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOCAL_HOSTS):
        return url.rstrip("/")
    raise errors.AuthenticationError(f"Salesforce addresses must use HTTPS, not {url!r}")


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


def _token(login_url: str, data: dict, auth: tuple | None = None) -> Tokens:
    url = f"{check_url(login_url)}/services/oauth2/token"
    try:
        response = requests.post(url, data=data, auth=auth, timeout=30)
    except requests.RequestException as exc:
        raise errors.NetworkError(f"Could not reach Salesforce at {login_url}") from exc
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or "access_token" not in body:
        message = body.get("error_description") or body.get("error") or response.reason
        raise errors.AuthenticationError(str(message), code=body.get("error", ""), status=401)
    return Tokens(
        access_token=body["access_token"],
        instance_url=check_url(body["instance_url"]),
        refresh_token=body.get("refresh_token", ""),
        identity_url=body.get("id", ""),
    )


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
