"""OAuth 2 as Campaign Monitor does it: /oauth (authorize) and /oauth/token.

There is one registered application (its client_id and secret are in info()). Authorizing
is automatic: the emulated user always approves, for the agency account. Access tokens live
1,209,600 s (14 days) of emulated time, so advancing the clock expires them too.
"""

import secrets
from urllib.parse import urlencode

from emulators.campaign_monitor.app import Reply
from emulators.campaign_monitor.env import Env

TOKEN_LIFETIME = 1_209_600
CODE_LIFETIME = 600


def _oauth_error(error: str, description: str) -> Reply:
    return Reply(400, {"error": error, "error_description": description})


def authorize(env: Env, params: dict[str, str]) -> Reply:
    """GET /oauth?client_id=&redirect_uri=&scope=&state= -> 302 to redirect_uri?code=&state=."""
    if params.get("client_id") != env.oauth_client_id:
        return _oauth_error("invalid_client", "Invalid client_id")
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri.startswith(("http://", "https://")):
        return _oauth_error("invalid_request", "Invalid redirect_uri")
    code = secrets.token_urlsafe(18)
    with env.store.write() as conn:
        conn.execute(
            "INSERT INTO oauth_codes VALUES (?, ?, ?)",
            (code, redirect_uri, env.clock.timestamp() + CODE_LIFETIME),
        )
    query = {"code": code}
    if params.get("state"):
        query["state"] = params["state"]
    joiner = "&" if "?" in redirect_uri else "?"
    location = f"{redirect_uri}{joiner}{urlencode(query)}"
    return Reply(302, raw=b"", headers={"Location": location}, content_type="text/plain")


def token(env: Env, form: dict[str, str]) -> Reply:
    """POST /oauth/token, form-encoded: an authorization code or a refresh token."""
    grant = form.get("grant_type", "")
    if grant == "authorization_code":
        return _exchange_code(env, form)
    if grant == "refresh_token":
        return _refresh(env, form.get("refresh_token", ""))
    return _oauth_error("unsupported_grant_type", "Unsupported grant_type")


def _exchange_code(env: Env, form: dict[str, str]) -> Reply:
    if (form.get("client_id"), form.get("client_secret")) != (
        env.oauth_client_id,
        env.oauth_client_secret,
    ):
        return _oauth_error("invalid_client", "Invalid client_id or client_secret")
    with env.store.write() as conn:
        row = conn.execute(
            "SELECT redirect_uri, expires FROM oauth_codes WHERE code = ?", (form.get("code"),)
        ).fetchone()
        conn.execute("DELETE FROM oauth_codes WHERE code = ?", (form.get("code"),))
        valid = row and row[0] == form.get("redirect_uri") and row[1] > env.clock.timestamp()
        if not valid:
            return _oauth_error("invalid_grant", "Specified code was invalid or expired")
        return Reply(body=_issue(env, conn))


def _refresh(env: Env, refresh_token: str) -> Reply:
    with env.store.write() as conn:
        deleted = conn.execute(
            "DELETE FROM oauth_tokens WHERE token = ? AND kind = 'refresh'", (refresh_token,)
        ).rowcount
        if not deleted:
            return _oauth_error("invalid_grant", "Specified refresh_token was invalid or expired")
        return Reply(body=_issue(env, conn))


def _issue(env: Env, conn) -> dict:
    """A new access and refresh token pair for the agency account (the first account)."""
    access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    expires = env.clock.timestamp() + TOKEN_LIFETIME
    conn.executemany(
        "INSERT INTO oauth_tokens VALUES (?, ?, (SELECT min(id) FROM accounts), ?)",
        [(access, "access", expires), (refresh, "refresh", 1e18)],  # refresh tokens never expire,
    )
    return {"access_token": access, "expires_in": TOKEN_LIFETIME, "refresh_token": refresh}


def expire_all(env: Env) -> None:
    with env.store.write() as conn:
        conn.execute(
            "UPDATE oauth_tokens SET expires = ? WHERE kind = 'access'", (env.clock.timestamp(),)
        )
