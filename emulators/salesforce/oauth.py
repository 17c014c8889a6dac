"""OAuth 2.0 as Salesforce's /services/oauth2/ endpoints answer it.

Grants: authorization_code (through the authorize page's Approve form), refresh_token,
client_credentials (runs as the first user), JWT bearer (RS256, verified with the key the
connected app trusts) and password. Access tokens expire (and can all be expired at once);
REST calls then get 401 INVALID_SESSION_ID.
"""

import base64
import hashlib
import hmac
import html
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt

from emulators.salesforce.identity import Identity
from emulators.salesforce.wire import Reply, Request
from emulators.salesforce.wire import html as html_reply

SESSION_SECONDS = 2 * 60 * 60
CODE_SECONDS = 15 * 60
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
HIDDEN_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
)
TRUSTED_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


@dataclass
class Session:
    user_id: str
    client_id: str
    expires: float


@dataclass
class Code:
    """An authorization code waiting to be exchanged (single use, 15 minutes)."""

    client_id: str
    redirect_uri: str
    user_id: str
    expires: float
    challenge: str = ""  # PKCE code_challenge, checked against code_verifier if given
    method: str = "S256"

    def verifies(self, verifier: str | None) -> bool:
        if not self.challenge:
            return True
        if verifier is None:
            return False
        if self.method == "plain":
            return hmac.compare_digest(verifier, self.challenge)
        digest = hashlib.sha256(verifier.encode()).digest()
        expected = base64.urlsafe_b64encode(digest).decode().rstrip("=")
        return hmac.compare_digest(expected, self.challenge)


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error, self.description, self.status = error, description, status

    def reply(self) -> Reply:
        return Reply(self.status, {"error": self.error, "error_description": self.description})


INVALID_CLIENT_ID = ("invalid_client_id", "client identifier invalid")
INVALID_CLIENT = ("invalid_client", "invalid client credentials")
AUTH_FAILURE = ("invalid_grant", "authentication failure")


class OAuth:
    def __init__(self, identity: Identity, root_url: str) -> None:
        self.identity, self.root_url = identity, root_url
        self.sessions: dict[str, Session] = {}
        self.codes: dict[str, Code] = {}
        self.refresh_tokens: dict[str, tuple[str, str]] = {}  # token -> user, client
        self.session_seconds = SESSION_SECONDS
        self._lock = threading.Lock()

    # -- sessions --------------------------------------------------------------------------

    def issue(self, user_id: str, client_id: str, refresh: bool = False) -> dict[str, Any]:
        token = f"{self.identity.org_id[:15]}!{secrets.token_urlsafe(72)}"
        with self._lock:
            self.sessions[token] = Session(user_id, client_id, time.time() + self.session_seconds)
        issued_at = str(int(time.time() * 1000))
        id_url = f"{self.root_url}/id/{self.identity.org_id}/{user_id}"
        digest = hmac.new(
            self.identity.client_secret.encode(), (id_url + issued_at).encode(), hashlib.sha256
        ).digest()
        body: dict[str, Any] = {
            "access_token": token,
            "signature": base64.b64encode(digest).decode(),
            "scope": "refresh_token api id" if refresh else "api id",
            "instance_url": self.root_url,
            "id": id_url,
            "token_type": "Bearer",
            "issued_at": issued_at,
        }
        if refresh:
            refresh_token = f"5Aep{secrets.token_urlsafe(64)}"
            with self._lock:
                self.refresh_tokens[refresh_token] = (user_id, client_id)
            body["refresh_token"] = refresh_token
        return body

    def session(self, authorization: str) -> Session | None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or not token:
            return None
        with self._lock:
            found = self.sessions.get(token.strip())
            if found and found.expires < time.time():
                del self.sessions[token.strip()]
                return None
        return found

    def expire_all(self) -> int:
        with self._lock:
            count = len(self.sessions)
            self.sessions.clear()
        return count

    # -- token endpoint --------------------------------------------------------------------

    def token(self, request: Request) -> Reply:
        form = request.form()
        self.basic_credentials(request, form)
        grants = {
            "authorization_code": self.grant_code,
            "refresh_token": self.grant_refresh,
            "client_credentials": self.grant_client_credentials,
            JWT_GRANT: self.grant_jwt,
            "password": self.grant_password,
        }
        grant = grants.get(form.get("grant_type", ""))
        try:
            if grant is None:
                raise OAuthError("unsupported_grant_type", "grant type not supported")
            return Reply(200, grant(form))
        except OAuthError as error:
            return error.reply()

    @staticmethod
    def basic_credentials(request: Request, form: dict[str, str]) -> None:
        """client_id/client_secret may come as HTTP Basic auth (simple-salesforce does so)."""
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
            except ValueError:
                return
            form.setdefault("client_id", client_id)
            form.setdefault("client_secret", secret)

    def check_client(self, form: dict[str, str], secret_required: bool = True) -> None:
        if form.get("client_id") != self.identity.client_id:
            raise OAuthError(*INVALID_CLIENT_ID)
        secret = form.get("client_secret")
        if (secret_required or secret is not None) and secret != self.identity.client_secret:
            raise OAuthError(*INVALID_CLIENT)

    def grant_code(self, form: dict[str, str]) -> dict[str, Any]:
        self.check_client(form)
        with self._lock:
            found = self.codes.pop(form.get("code", ""), None)
        if found is None:
            raise OAuthError("invalid_grant", "invalid authorization code")
        if found.expires < time.time():
            raise OAuthError("invalid_grant", "expired authorization code")
        if found.client_id != form["client_id"] or found.redirect_uri != form.get("redirect_uri"):
            raise OAuthError("redirect_uri_mismatch", "redirect_uri must match configuration")
        if not found.verifies(form.get("code_verifier")):
            raise OAuthError("invalid_grant", "invalid code verifier")
        return self.issue(found.user_id, found.client_id, refresh=True)

    def grant_refresh(self, form: dict[str, str]) -> dict[str, Any]:
        self.check_client(form, secret_required=False)
        with self._lock:
            found = self.refresh_tokens.get(form.get("refresh_token", ""))
        if found is None:
            raise OAuthError("invalid_grant", "expired access/refresh token")
        return self.issue(found[0], found[1])

    def grant_client_credentials(self, form: dict[str, str]) -> dict[str, Any]:
        self.check_client(form)
        return self.issue(self.identity.users[0]["Id"], form["client_id"])

    def grant_password(self, form: dict[str, str]) -> dict[str, Any]:
        self.check_client(form)
        user = self.identity.user(username=form.get("username", ""))
        if user is None or user["password"] != form.get("password"):
            raise OAuthError(*AUTH_FAILURE)
        return self.issue(user["Id"], form["client_id"])

    def grant_jwt(self, form: dict[str, str]) -> dict[str, Any]:
        try:
            claims = jwt.decode(
                form.get("assertion", ""),
                self.identity.key.public_key(),
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_aud": False, "verify_iss": False},
            )
        except jwt.PyJWTError as exc:
            raise OAuthError("invalid_grant", "invalid assertion") from exc
        if claims.get("iss") != self.identity.client_id:
            raise OAuthError(*INVALID_CLIENT_ID)
        if claims.get("aud") not in self.audiences():
            raise OAuthError("invalid_grant", "audience is invalid")
        try:
            expires = float(claims["exp"])  # simple-salesforce sends exp as a string
        except (KeyError, TypeError, ValueError) as exc:
            raise OAuthError("invalid_grant", "invalid assertion") from exc
        if expires < time.time():
            raise OAuthError("invalid_grant", "expired authorization code")
        user = self.identity.user(username=str(claims.get("sub", "")))
        if user is None:
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")
        return self.issue(user["Id"], self.identity.client_id)

    def audiences(self) -> tuple[str, ...]:
        https_root = "https://" + self.root_url.split("://", 1)[1]
        return (*TRUSTED_AUDIENCES, self.root_url, https_root)

    def revoke(self, request: Request) -> Reply:
        token = {**request.params, **request.form()}.get("token", "")
        with self._lock:
            found = self.sessions.pop(token, None) or self.refresh_tokens.pop(token, None)
        if found is None:
            return OAuthError("unsupported_token_type", "this token type is not supported").reply()
        return Reply(200)

    # -- authorize page --------------------------------------------------------------------

    def authorize_page(self, request: Request) -> Reply:
        params = request.params
        problem = self.authorize_problem(params)
        if problem:
            return html_reply(400, _page("Error", f"<p class=error>{html.escape(problem)}</p>"))
        return html_reply(200, self.login_form(params))

    def authorize_problem(self, params: dict[str, str]) -> str:
        if params.get("client_id") != self.identity.client_id:
            return "error=invalid_client_id&error_description=client identifier invalid"
        if params.get("response_type") != "code":
            return "error=unsupported_response_type&error_description=response type not supported"
        parts = urlsplit(params.get("redirect_uri", ""))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return (
                "error=redirect_uri_mismatch&error_description=redirect_uri must match "
                "configuration"
            )
        return ""

    def authorize_submit(self, request: Request) -> Reply:
        form = request.form()
        problem = self.authorize_problem(form)
        if problem:
            return html_reply(400, _page("Error", f"<p class=error>{html.escape(problem)}</p>"))
        redirect_uri, state = form["redirect_uri"], form.get("state")
        if form.get("action") == "deny":
            query = {"error": "access_denied", "error_description": "end-user denied authorization"}
            return self.redirect(redirect_uri, query, state)
        user = self.identity.user(username=form.get("username", ""))
        if user is None or user["password"] != form.get("password"):
            message = "Please check your username and password."
            return html_reply(200, self.login_form(form, message))
        code = "aPrx" + secrets.token_urlsafe(48)
        grant = Code(
            form["client_id"],
            redirect_uri,
            user["Id"],
            time.time() + CODE_SECONDS,
            form.get("code_challenge", ""),
            form.get("code_challenge_method") or "S256",
        )
        with self._lock:
            self.codes[code] = grant

        return self.redirect(redirect_uri, {"code": code}, state)

    @staticmethod
    def redirect(uri: str, query: dict[str, str], state: str | None) -> Reply:
        if state is not None:
            query["state"] = state
        separator = "&" if "?" in uri else "?"
        return Reply(302, headers={"Location": uri + separator + urlencode(query)}, raw=b"")

    def login_form(self, params: dict[str, str], message: str = "") -> str:
        admin = self.identity.users[0]
        hidden = "".join(
            f'<input type=hidden name="{name}" value="{html.escape(params.get(name, ""))}">'
            for name in HIDDEN_FIELDS
            if name in params
        )
        error = f"<p class=error>{html.escape(message)}</p>" if message else ""
        body = f"""<p>Allow <b>cmsync</b> to access <b>{html.escape(self.identity.org_name)}</b>
({self.identity.org_id})?</p>{error}
<form method=post action="/services/oauth2/authorize">{hidden}
<label>Username <input name=username value="{html.escape(admin["Username"])}"></label>
<label>Password <input name=password type=password value="{html.escape(admin["password"])}">
</label>
<button name=action value=approve>Approve</button>
<button name=action value=deny>Deny</button></form>"""
        return _page("Log in to Salesforce (emulator)", body)

    # -- identity --------------------------------------------------------------------------

    def userinfo(self, request: Request, user_id: str | None = None) -> Reply:
        session = self.session(request.headers.get("authorization", ""))
        if session is None:
            return Reply(403, raw=b"Bad_OAuth_Token", content_type="text/plain")
        user = self.identity.user(user_id=user_id or session.user_id)
        if user is None:
            return Reply(404, raw=b"Bad_Id", content_type="text/plain")
        return Reply(200, self.describe_user(user))

    def describe_user(self, user: dict[str, Any]) -> dict[str, Any]:
        org_id, root = self.identity.org_id, self.root_url
        id_url = f"{root}/id/{org_id}/{user['Id']}"
        return {
            "id": id_url,
            "sub": id_url,
            "user_id": user["Id"],
            "organization_id": org_id,
            "username": user["Username"],
            "preferred_username": user["Username"],
            "nickname": user["Alias"],
            "display_name": user["Name"],
            "name": user["Name"],
            "given_name": user["FirstName"],
            "family_name": user["LastName"],
            "first_name": user["FirstName"],
            "last_name": user["LastName"],
            "email": user["Email"],
            "email_verified": True,
            "active": True,
            "user_type": "STANDARD",
            "locale": "en_US",
            "language": "en_US",
            "zoneinfo": "America/Los_Angeles",
            "urls": {
                "enterprise": f"{root}/services/Soap/c/{{version}}/{org_id}",
                "rest": f"{root}/services/data/v{{version}}/",
                "sobjects": f"{root}/services/data/v{{version}}/sobjects/",
                "query": f"{root}/services/data/v{{version}}/query/",
                "tooling_rest": f"{root}/services/data/v{{version}}/tooling/",
                "profile": f"{root}/{user['Id']}",
                "custom_domain": root,
            },
        }


def _page(title: str, body: str) -> str:
    return f"""<!doctype html><html lang=en><head><meta charset=utf-8>
<title>{html.escape(title)}</title><style>
body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}}
label{{display:block;margin:.6rem 0}} input{{display:block;width:100%;padding:.3rem}}
button{{margin:.8rem .4rem 0 0;padding:.4rem 1.2rem}} .error{{color:#b00}}
</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"""
