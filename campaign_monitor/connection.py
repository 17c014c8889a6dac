"""Connecting cmsync to a Campaign Monitor account, choosing its clients, disconnecting.

The console's views and the ``connect_campaign_monitor`` command both go through here, so
they make the same checks and leave the same audit entries.
"""

from collections.abc import Iterable

from django.db import transaction

from cmsync import endpoints

from . import errors
from .client import ApiKey, CampaignMonitorClient, check_endpoint, unreachable
from .models import ConnectedClient, Connection
from .records import Client, OAuthTokens
from .signals import disconnecting


class ConnectError(Exception):
    """Why connecting failed, in words for the admin."""


def explain(exc: errors.CampaignMonitorError, base_url: str) -> str:
    """An admin-facing sentence for what went wrong."""
    if isinstance(exc, errors.AuthenticationError):
        return (
            "Campaign Monitor did not accept these credentials. Check the API key (Account "
            "settings → API keys in Campaign Monitor) and that its user has full access."
        )
    if isinstance(exc, errors.NetworkError):
        host = endpoints.host(base_url)
        return f"Could not reach Campaign Monitor at {host}. Check the address and the network."
    if isinstance(exc, errors.InsecureEndpointError):
        return str(exc)
    if isinstance(exc, errors.RateLimitedError):
        return "Campaign Monitor is limiting requests right now. Try again in a few minutes."
    if isinstance(exc, errors.ServerError):
        return "Campaign Monitor had a problem answering. Try again in a few minutes."
    return f"Campaign Monitor refused the request: {exc}"


def _read_clients(api: CampaignMonitorClient) -> list[Client]:
    """The account's clients: the first call with new credentials. An answer that is not
    Campaign Monitor's (no JSON with its error Code, or not a list of clients) reads as if
    nothing answered, so Connect never tells an open port from a closed one."""
    try:
        clients = api.clients()
    except errors.CampaignMonitorError as exc:
        if exc.code is None and not isinstance(exc, errors.InsecureEndpointError):
            exc = unreachable(api.base_url)
        raise ConnectError(explain(exc, api.base_url)) from exc
    except (TypeError, KeyError, ValueError, AttributeError) as exc:
        raise ConnectError(explain(unreachable(api.base_url), api.base_url)) from exc
    if not clients:
        raise ConnectError("This Campaign Monitor account has no clients to connect.")
    return clients


def account_type_of(clients: list[Client]) -> str:
    """Agency accounts list several clients; a direct account (or a client key) lists one."""
    if len(clients) > 1:
        return Connection.AccountType.AGENCY
    return Connection.AccountType.DIRECT


def _read_lists(api: CampaignMonitorClient, client_ids: Iterable[str]) -> dict[str, list]:
    try:
        return {
            client_id: [{"ListID": m.list_id, "Name": m.name} for m in api.lists(client_id)]
            for client_id in client_ids
        }
    except errors.CampaignMonitorError as exc:
        raise ConnectError(explain(exc, api.base_url)) from exc


def _check_choice(chosen: set[str], known: set[str]) -> None:
    if not chosen:
        raise ConnectError("Choose at least one client to connect.")
    if unknown := chosen - known:
        raise ConnectError(f"Not a client of this account: {', '.join(sorted(unknown))}")


def connect(
    *,
    base_url: str,
    user=None,
    api_key: str = "",
    tokens: OAuthTokens | None = None,
    client_ids: Iterable[str] | str | None = None,
) -> Connection:
    """Check the credentials against the API, then store them (encrypted) with the clients.

    Nothing is stored unless Campaign Monitor accepted the credentials and every chosen
    client is one of the account's. A direct account's only client is connected at once;
    an agency's clients are those in ``client_ids`` ("all" for every one), or wait for the
    admin's choice when it is None.
    """
    credentials = ApiKey(api_key) if api_key else tokens
    if credentials is None:
        raise ConnectError("Enter an API key.")
    try:
        base_url = check_endpoint(base_url)
    except errors.InsecureEndpointError as exc:
        raise ConnectError(str(exc)) from exc
    api = CampaignMonitorClient(credentials, base_url=base_url, retries=1)
    clients = _read_clients(api)
    account_type = account_type_of(clients)
    if account_type == Connection.AccountType.DIRECT:
        client_ids = [clients[0].client_id]
    elif client_ids == "all":
        client_ids = [c.client_id for c in clients]
    chosen = set(client_ids or ())
    if client_ids is not None:
        _check_choice(chosen, {c.client_id for c in clients})
    lists = _read_lists(api, chosen)
    with transaction.atomic():
        Connection.objects.all().delete()
        connection = Connection.objects.create(
            base_url=base_url,
            auth_type=Connection.AuthType.API_KEY if api_key else Connection.AuthType.OAUTH,
            account_type=account_type,
            api_key=api_key,
            access_token=tokens.access_token if tokens else "",
            refresh_token=tokens.refresh_token if tokens else "",
            token_expires_at=tokens.expires_at if tokens else None,
            connected_by=user,
        )
        for c in clients:
            ConnectedClient.objects.create(
                connection=connection,
                client_id=c.client_id,
                name=c.name,
                connected=c.client_id in chosen,
                lists=lists.get(c.client_id, []),
            )
    return connection


def choose_clients(connection: Connection, client_ids: Iterable[str]) -> list[ConnectedClient]:
    """Connect exactly these clients (reading their lists) and disconnect the others."""
    chosen = set(client_ids)
    rows = list(connection.clients.all())
    _check_choice(chosen, {row.client_id for row in rows})
    lists = _read_lists(connection.api(retries=1), chosen)
    with transaction.atomic():
        for row in rows:
            row.connected = row.client_id in chosen
            row.lists = lists.get(row.client_id, row.lists)
            row.save()  # one save per row, so each change gets its own audit entry
    return [row for row in rows if row.connected]


def disconnect(user=None) -> bool:
    """Disconnect Campaign Monitor: stop what depends on it, then forget the credentials.

    Receivers of ``disconnecting`` stop scheduled, queued and running syncs and reset user
    overrides and client ownership. Nothing in Campaign Monitor or Salesforce is changed.
    Returns False when there was nothing to disconnect.
    """
    connection = Connection.current()
    if connection is None:
        return False
    with transaction.atomic():
        disconnecting.send(sender=Connection, connection=connection, user=user)
        connection.delete()
    return True
