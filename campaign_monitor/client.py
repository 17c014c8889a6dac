"""The Campaign Monitor API v3.3 client: the only code in cmsync that speaks to it.

One ``requests.Session`` per client: a timeout on every call, retries with backoff on 429
and 5xx (honouring ``Retry-After`` and ``X-RateLimit-Reset``), none on other 4xx. An expired
OAuth token (401, Code 121) is refreshed once and the call retried. Paged endpoints are
generators that hold one page at a time.
"""

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from itertools import islice
from typing import Any
from urllib.parse import urlencode

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from cmsync import endpoints
from cmsync.logs import log_calls

from . import errors
from .records import (
    EVENT_KINDS,
    SUBSCRIBER_STATES,
    Campaign,
    CampaignSummary,
    Client,
    ClientDetails,
    CustomField,
    ImportResult,
    ListDetails,
    ListMembership,
    ListsAndSegments,
    MailingList,
    NewSubscriber,
    OAuthTokens,
    Page,
    Parser,
    Person,
    PlannedCampaign,
    Recipient,
    Subscriber,
    SuppressedAddress,
    TrackingEvent,
    Webhook,
    format_date,
    offset_from_system_date,
    required_date,
)
from .timezones import zone_for

log = logging.getLogger(__name__)
# How many of the account's clients are asked for their time zone (agencies can have many).
ZONE_CANDIDATES = 5

DEFAULT_BASE_URL = "https://api.createsend.com/api/v3.3"
PAGE_SIZE = 1000
IMPORT_BATCH = 1000  # the API refuses more per call (Code 209)
PARTIAL_IMPORT = 210
EXPIRED_TOKEN = 121
MAX_RETRY_WAIT = 60.0  # seconds; a longer Retry-After fails the call instead of stalling a worker
USER_AGENT = "cmsync (Campaign Monitor for Salesforce)"


class ApiKey:
    """HTTP Basic with the key as the username; Campaign Monitor ignores the password."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __repr__(self) -> str:  # never print the key
        return "ApiKey(…)"


class _Retry(Retry):
    """urllib3's Retry, also honouring Campaign Monitor's X-RateLimit-Reset (seconds)."""

    def get_retry_after(self, response) -> float | None:
        wait = super().get_retry_after(response)
        if wait is None:
            reset = response.headers.get("X-RateLimit-Reset")
            try:
                wait = float(reset) if reset is not None else None
            except ValueError:
                wait = None
        return None if wait is None else min(wait, MAX_RETRY_WAIT)


def build_session(retries: int = 4, backoff: float = 0.5) -> requests.Session:
    retry = _Retry(
        total=retries,
        connect=retries,
        read=2,
        status=retries,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=None,  # every write cmsync makes is safe to repeat (upserts, states)
        backoff_factor=backoff,
        backoff_max=30,
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    session.mount("https://", HTTPAdapter(max_retries=retry))
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
    session.hooks["response"].append(log_calls("campaign_monitor"))
    return session


def root_url(base_url: str) -> str:
    """https://api.createsend.com for https://api.createsend.com/api/v3.3 (OAuth lives there)."""
    return base_url.rstrip("/").rsplit("/api/", 1)[0]


def authorize_url(
    client_id: str, redirect_uri: str, scope: str, state: str, base_url: str = DEFAULT_BASE_URL
) -> str:
    query = urlencode(
        {
            "type": "web_server",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": state,
        }
    )
    return f"{root_url(base_url)}/oauth?{query}"


def check_endpoint(base_url: str) -> str:
    """``base_url`` when credentials may go there (HTTPS; plain HTTP only to this machine with
    ALLOW_INSECURE_LOOPBACK); else InsecureEndpointError."""
    try:
        return endpoints.check(base_url, "Campaign Monitor")
    except endpoints.EndpointRefused as exc:
        raise errors.InsecureEndpointError(str(exc)) from exc


def unreachable(base_url: str) -> errors.NetworkError:
    return errors.NetworkError(f"Could not reach Campaign Monitor at {endpoints.host(base_url)}")


def _token_request(base_url: str, data: dict, timeout: float = 20) -> OAuthTokens:
    """POST to the token endpoint of ``base_url`` and nowhere else: no redirects, since a 307
    would repeat the secret or refresh token in ``data`` to wherever it points."""
    url = f"{root_url(check_endpoint(base_url))}/oauth/token"
    try:
        response = requests.post(
            url,
            data=data,
            timeout=timeout,
            allow_redirects=False,
            hooks={"response": log_calls("campaign_monitor")},
        )
    except requests.RequestException as exc:
        log.warning("Campaign Monitor OAuth at %s: %s", endpoints.host(url), type(exc).__name__)
        raise unreachable(base_url) from exc
    body = _json(response)
    if not isinstance(body, dict):
        raise unreachable(base_url)  # not Campaign Monitor: said as if nothing answered
    if response.status_code != 200 or "access_token" not in body:
        if not body.get("error"):
            raise unreachable(base_url)
        raise errors.AuthenticationError(
            body.get("error_description") or "Campaign Monitor refused the OAuth request",
            status=response.status_code,
        )
    expires_in = body.get("expires_in")
    return OAuthTokens(
        access_token=body["access_token"],
        refresh_token=body.get("refresh_token", ""),
        expires_at=datetime.now(UTC) + timedelta(seconds=int(expires_in)) if expires_in else None,
    )


def exchange_code(
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    code: str,
    base_url: str = DEFAULT_BASE_URL,
) -> OAuthTokens:
    """Trade the code from the OAuth redirect for access and refresh tokens."""
    data = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "client_secret": client_secret,
        "redirect_uri": redirect_uri,
        "code": code,
    }
    return _token_request(base_url, data)


def _parse_rows(rows: list, parser: Parser, tz: tzinfo) -> tuple[list, list]:
    """Parse each row; a malformed one is set aside with the reason instead of failing all."""
    records, rejected = [], []
    for row in rows:
        try:
            records.append(parser(row, tz))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            rejected.append((row, f"{type(exc).__name__}: {exc}"))
    return records, rejected


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None  # 404s and some errors have empty or non-JSON bodies


class CampaignMonitorClient:
    def __init__(
        self,
        credentials: ApiKey | OAuthTokens,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | tuple[float, float] = (5, 30),
        retries: int = 4,
        backoff: float = 0.5,
        page_size: int = PAGE_SIZE,
        on_token_refresh: Callable[[OAuthTokens], None] | None = None,
    ) -> None:
        self.credentials = credentials
        self.page_size = page_size
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.on_token_refresh = on_token_refresh
        self.session = build_session(retries, backoff)
        self.calls = 0  # API calls made, retries included only once
        self._tz: tzinfo | None = None
        # A preview's recorder (sync/preview.py): a call that is not a read goes to it, with
        # (method, path, JSON body), instead of to Campaign Monitor; it answers for the API.
        self.recorder: Callable[[str, str, Any], Any] | None = None
        # Called with write=True/False before each call: a run's heartbeat and its fence.
        self.guard: Callable[[bool], None] | None = None

    # -- plumbing ---------------------------------------------------------------------------

    def _authorize(self, kwargs: dict) -> None:
        if isinstance(self.credentials, ApiKey):
            kwargs["auth"] = (self.credentials.key, "x")
        else:
            kwargs["headers"] = {"Authorization": f"Bearer {self.credentials.access_token}"}

    def request(self, method: str, path: str, **kwargs) -> Any:
        """Call the API and return its decoded JSON body, or raise a CampaignMonitorError."""
        if self.recorder is not None and method != "GET":
            return self.recorder(method, path, kwargs.get("json"))
        url = f"{check_endpoint(self.base_url)}/{path}"
        for attempt in (1, 2):
            if self.guard is not None:
                self.guard(method != "GET")
            self._authorize(kwargs)
            self.calls += 1
            try:
                response = self.session.request(method, url, timeout=self.timeout, **kwargs)
            except requests.RequestException as exc:
                host = endpoints.host(self.base_url)
                log.warning("Campaign Monitor at %s: %s", host, type(exc).__name__)
                raise unreachable(self.base_url) from exc
            body = _json(response)
            code = body.get("Code") if isinstance(body, dict) else None
            if response.status_code == 401 and code == EXPIRED_TOKEN and attempt == 1:
                if self._refresh_token():
                    continue
            return self._check(response, body, code)
        raise AssertionError("unreachable")

    def _refresh_token(self) -> bool:
        if not isinstance(self.credentials, OAuthTokens) or not self.credentials.refresh_token:
            return False
        data = {"grant_type": "refresh_token", "refresh_token": self.credentials.refresh_token}
        self.credentials = _token_request(self.base_url, data)
        log.info("Campaign Monitor OAuth token refreshed")
        if self.on_token_refresh:
            self.on_token_refresh(self.credentials)
        return True

    def _check(self, response: requests.Response, body: Any, code: int | None) -> Any:
        status = response.status_code
        if status < 300:
            return body
        message = (body.get("Message") if isinstance(body, dict) else None) or response.reason
        message = str(message).strip()
        if status == 400:
            result_data = body.get("ResultData") if isinstance(body, dict) else None
            raise errors.ValidationError(message, status=status, code=code, result_data=result_data)
        if status in (401, 403):
            kind = errors.ExpiredTokenError if code == EXPIRED_TOKEN else errors.AuthenticationError
            raise kind(message, status=status, code=code)
        if status == 404:
            raise errors.NotFoundError(f"Not found: {response.request.path_url}", status=status)
        if status == 429:
            raise errors.RateLimitedError(message, status=status, code=code)
        if status >= 500:
            raise errors.ServerError(message, status=status, code=code)
        raise errors.CampaignMonitorError(message, status=status, code=code)

    def get(self, path: str, params: dict | None = None) -> Any:
        return self.request("GET", path, params=params)

    @property
    def tz(self) -> tzinfo:
        """The account's time zone, found once (with ``systemdate``): every date the API
        shows or takes is local to it."""
        if self._tz is None:
            self.system_date()
        assert self._tz is not None  # system_date() found it
        return self._tz

    def _zone_agreeing_with(self, offset: timezone, utc_now: datetime) -> tzinfo:
        """The real zone (daylight saving and all) named by the TimeZone of one of the
        account's clients whose offset now is the one ``systemdate`` shows. Failing that,
        the offset alone: right until the zone's next daylight saving change."""
        try:
            for client in self.clients()[:ZONE_CANDIDATES]:
                label = self.client_details(client.client_id).time_zone
                zone = zone_for(label)
                if zone and utc_now.astimezone(zone).utcoffset() == offset.utcoffset(None):
                    return zone
        except errors.CampaignMonitorError as exc:
            log.warning("Campaign Monitor's time zone could not be read: %s", exc)
        log.warning(
            "No client's time zone matches Campaign Monitor's current offset %s; dates are "
            "read with that offset, which daylight saving changes can make wrong",
            offset,
        )
        return offset

    def _read(self, path: str, parser: Parser, params: dict | None = None) -> list:
        tz = self.tz
        return [parser(row, tz) for row in self.get(path, params)]

    def pages(
        self, path: str, parser: Parser, params: dict | None = None, *, ordered_by: str = ""
    ) -> Iterator[Page]:
        """Walk every page of a paged endpoint, one page in memory at a time."""
        tz = self.tz
        number = 1
        while True:
            envelope = self.get(
                path, {**(params or {}), "page": number, "pagesize": self.page_size}
            )
            records, rejected = _parse_rows(envelope["Results"], parser, tz)
            page = Page(
                records=records,
                rejected=rejected,
                number=int(envelope["PageNumber"]),
                pages=int(envelope["NumberOfPages"]),
                total=int(envelope["TotalNumberOfRecords"]),
                ordered_by=str(envelope.get("ResultsOrderedBy", "")).lower(),
                direction=str(envelope.get("OrderDirection", "")).lower(),
            )
            if ordered_by and page.ordered_by != ordered_by.lower():
                raise errors.CampaignMonitorError(
                    f"{path} came back ordered by “{page.ordered_by}”, not “{ordered_by}”"
                )
            yield page
            if page.is_last or not (page.records or page.rejected):
                return
            number += 1

    def _records(self, pages: Iterator[Page]) -> Iterator:
        for page in pages:
            yield from page.records

    def _since(self, since: datetime | None) -> dict:
        return {"date": format_date(since, self.tz)} if since else {}

    # -- account and clients ----------------------------------------------------------------

    def system_date(self) -> datetime:
        """The account's current time; the first call also finds the account's time zone."""
        now = datetime.now(UTC)
        value = self.get("systemdate.json")["SystemDate"]
        if self._tz is None:
            self._tz = self._zone_agreeing_with(offset_from_system_date(value, now), now)
        return required_date(value, self._tz, "SystemDate")

    def clients(self) -> list[Client]:
        return [Client.from_api(row) for row in self.get("clients.json")]

    def client_details(self, client_id: str) -> ClientDetails:
        return ClientDetails.from_api(self.get(f"clients/{client_id}.json"))

    def lists(self, client_id: str) -> list[MailingList]:
        return [MailingList.from_api(row) for row in self.get(f"clients/{client_id}/lists.json")]

    def lists_for_email(self, client_id: str, email: str) -> list[ListMembership]:
        """Every list of the client the address is on, in any state."""
        params = {"email": email}
        return self._read(
            f"clients/{client_id}/listsforemail.json", ListMembership.from_api, params
        )

    def list_details(self, list_id: str) -> ListDetails:
        return ListDetails.from_api(self.get(f"lists/{list_id}.json"))

    def custom_fields(self, list_id: str) -> list[CustomField]:
        return [CustomField.from_api(row) for row in self.get(f"lists/{list_id}/customfields.json")]

    def external_session(
        self, email: str, client_id: str, integrator_id: str, url: str = "/"
    ) -> str:
        """A URL that signs ``email`` in to Campaign Monitor (PUT /externalsession.json)."""
        body = {
            "Email": email,
            "Chrome": "all",
            "Url": url,
            "IntegratorID": integrator_id,
            "ClientID": client_id,
        }
        return self.request("PUT", "externalsession.json", json=body)["SessionUrl"]

    def people(self, client_id: str) -> list[Person]:
        return [Person.from_api(row) for row in self.get(f"clients/{client_id}/people.json")]

    # -- list webhooks ----------------------------------------------------------------------

    def webhooks(self, list_id: str) -> list[Webhook]:
        return [Webhook.from_api(row) for row in self.get(f"lists/{list_id}/webhooks.json")]

    def create_webhook(
        self, list_id: str, url: str, events: Iterable[str], payload_format: str = "json"
    ) -> str:
        """Register a webhook on the list; its WebhookID."""
        body = {"Events": list(events), "Url": url, "PayloadFormat": payload_format}
        return self.request("POST", f"lists/{list_id}/webhooks.json", json=body)

    def delete_webhook(self, list_id: str, webhook_id: str) -> None:
        self.request("DELETE", f"lists/{list_id}/webhooks/{webhook_id}.json")

    def activate_webhook(self, list_id: str, webhook_id: str) -> None:
        self.request("PUT", f"lists/{list_id}/webhooks/{webhook_id}/activate.json")

    # -- subscribers ------------------------------------------------------------------------

    def suppression_pages(self, client_id: str) -> Iterator[Page]:
        """The client's whole suppression list, by email (it has no date filter)."""
        params = {"orderfield": "email", "orderdirection": "asc"}
        path = f"clients/{client_id}/suppressionlist.json"
        return self.pages(path, SuppressedAddress.from_api, params, ordered_by="email")

    def subscriber_pages(
        self, list_id: str, state: str, since: datetime | None = None
    ) -> Iterator[Page]:
        """Subscribers who entered ``state`` on or after ``since``, oldest change first."""
        if state not in SUBSCRIBER_STATES:
            raise ValueError(f"Unknown subscriber state “{state}”")
        params = {
            **self._since(since),
            "orderfield": "date",
            "orderdirection": "asc",
            "includetrackingpreference": "true",
        }
        path = f"lists/{list_id}/{state}.json"
        return self.pages(path, Subscriber.from_api, params, ordered_by="date")

    def subscribers(
        self, list_id: str, state: str, since: datetime | None = None
    ) -> Iterator[Subscriber]:
        return self._records(self.subscriber_pages(list_id, state, since))

    def add_subscriber(
        self,
        list_id: str,
        subscriber: NewSubscriber,
        *,
        resubscribe: bool = False,
        restart_autoresponders: bool = False,
    ) -> str:
        """Add, or update if present. Without ``resubscribe`` an inactive one stays inactive."""
        body = {
            **subscriber.to_api(),
            "Resubscribe": resubscribe,
            "RestartSubscriptionBasedAutoresponders": restart_autoresponders,
        }
        return self.request("POST", f"subscribers/{list_id}.json", json=body)

    def update_subscriber(
        self,
        list_id: str,
        current_email: str,
        subscriber: NewSubscriber,
        *,
        resubscribe: bool = False,
        restart_autoresponders: bool = False,
    ) -> None:
        body = {
            **subscriber.to_api(),
            "Resubscribe": resubscribe,
            "RestartSubscriptionBasedAutoresponders": restart_autoresponders,
        }
        params = {"email": current_email}
        self.request("PUT", f"subscribers/{list_id}.json", params=params, json=body)

    def import_subscribers(
        self,
        list_id: str,
        subscribers: Iterable[NewSubscriber],
        *,
        resubscribe: bool = False,
        queue_autoresponders: bool = False,
        restart_autoresponders: bool = False,
    ) -> ImportResult:
        """Import in calls of at most 1000; per-address failures come back in the result."""
        result = ImportResult()
        batches = iter(subscribers)
        while batch := list(islice(batches, IMPORT_BATCH)):
            body = {
                "Subscribers": [s.to_api() for s in batch],
                "Resubscribe": resubscribe,
                "QueueSubscriptionBasedAutoresponders": queue_autoresponders,
                "RestartSubscriptionBasedAutoresponders": restart_autoresponders,
            }
            try:
                data = self.request("POST", f"subscribers/{list_id}/import.json", json=body)
            except errors.ValidationError as exc:
                if exc.code != PARTIAL_IMPORT or not exc.result_data:
                    raise
                data = exc.result_data
            result.add(data)
        return result

    def unsubscribe(self, list_id: str, email: str) -> None:
        body = {"EmailAddress": email}
        self.request("POST", f"subscribers/{list_id}/unsubscribe.json", json=body)

    def delete_subscriber(self, list_id: str, email: str) -> None:
        """Moves the subscriber to Deleted; Campaign Monitor keeps the record."""
        self.request("DELETE", f"subscribers/{list_id}.json", params={"email": email})

    # -- campaigns --------------------------------------------------------------------------

    def campaign_pages(self, client_id: str, sent_from: date | None = None) -> Iterator[Page]:
        """Sent campaigns, oldest first; ``sent_from`` is a day in the account's time zone."""
        params = {"orderdirection": "asc"}
        if sent_from:
            if isinstance(sent_from, datetime):
                sent_from = sent_from.astimezone(self.tz).date()
            params["sentfromdate"] = sent_from.isoformat()
        path = f"clients/{client_id}/campaigns.json"
        return self.pages(path, Campaign.from_api, params, ordered_by="sentdate")

    def sent_campaigns(self, client_id: str, sent_from: date | None = None) -> Iterator[Campaign]:
        return self._records(self.campaign_pages(client_id, sent_from))

    def scheduled_campaigns(self, client_id: str) -> list[PlannedCampaign]:
        return self._read(f"clients/{client_id}/scheduled.json", PlannedCampaign.from_api)

    def draft_campaigns(self, client_id: str) -> list[PlannedCampaign]:
        return self._read(f"clients/{client_id}/drafts.json", PlannedCampaign.from_api)

    def campaign_summary(self, campaign_id: str) -> CampaignSummary:
        return CampaignSummary.from_api(self.get(f"campaigns/{campaign_id}/summary.json"))

    def campaign_lists_and_segments(self, campaign_id: str) -> ListsAndSegments:
        return ListsAndSegments.from_api(self.get(f"campaigns/{campaign_id}/listsandsegments.json"))

    def recipient_pages(self, campaign_id: str) -> Iterator[Page]:
        """Everyone a campaign went to. The API has no date filter here."""
        params = {"orderfield": "email", "orderdirection": "asc"}
        path = f"campaigns/{campaign_id}/recipients.json"
        return self.pages(path, Recipient.from_api, params, ordered_by="email")

    def recipients(self, campaign_id: str) -> Iterator[Recipient]:
        return self._records(self.recipient_pages(campaign_id))

    def event_pages(
        self, campaign_id: str, kind: str, since: datetime | None = None
    ) -> Iterator[Page]:
        """Opens, clicks, unsubscribes, bounces or spam complaints on or after ``since``."""
        if kind not in EVENT_KINDS:
            raise ValueError(f"Unknown tracking event kind “{kind}”")
        params = {**self._since(since), "orderfield": "date", "orderdirection": "asc"}
        path = f"campaigns/{campaign_id}/{kind}.json"
        return self.pages(path, TrackingEvent.parser(kind), params, ordered_by="date")

    def events(
        self, campaign_id: str, kind: str, since: datetime | None = None
    ) -> Iterator[TrackingEvent]:
        return self._records(self.event_pages(campaign_id, kind, since))

    def opens(self, campaign_id: str, since: datetime | None = None) -> Iterator[TrackingEvent]:
        return self.events(campaign_id, "opens", since)

    def clicks(self, campaign_id: str, since: datetime | None = None) -> Iterator[TrackingEvent]:
        return self.events(campaign_id, "clicks", since)

    def unsubscribes(
        self, campaign_id: str, since: datetime | None = None
    ) -> Iterator[TrackingEvent]:
        return self.events(campaign_id, "unsubscribes", since)

    def bounces(self, campaign_id: str, since: datetime | None = None) -> Iterator[TrackingEvent]:
        return self.events(campaign_id, "bounces", since)
