"""Connecting cmsync to a Campaign Monitor account, choosing its clients, disconnecting.

The console's views and the ``connect_campaign_monitor`` command both go through here, so
they make the same checks and leave the same audit entries.
"""

from collections.abc import Iterable

from django.db import transaction

from . import errors
from .client import ApiKey, CampaignMonitorClient
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
        return f"Could not reach Campaign Monitor at {base_url}. Check the address and network."
    if isinstance(exc, errors.RateLimitedError):
        return "Campaign Monitor is limiting requests right now. Try again in a few minutes."
    if isinstance(exc, errors.ServerError):
        return "Campaign Monitor had a problem answering. Try again in a few minutes."
    return f"Campaign Monitor refused the request: {exc}"


def _read_clients(api: CampaignMonitorClient) -> list[Client]:
    try:
        clients = api.clients()
    except errors.CampaignMonitorError as exc:
        raise ConnectError(explain(exc, api.base_url)) from exc
    if not clients:
        raise ConnectError("This Campaign Monitor account has no clients to connect.")
    return clients


def account_type_of(clients: list[Client]) -> str:
    """Agency accounts list several clients; a direct account (or a client key) lists one."""
    if len(clients) > 1:
        return Connection.AccountType.AGENCY
    return Connection.AccountType.DIRECT


def connect(
    *,
    base_url: str,
    user=None,
    api_key: str = "",
    tokens: OAuthTokens | None = None,
) -> Connection:
    """Check the credentials against the API, then store them (encrypted) with the clients.

    Nothing is stored unless Campaign Monitor accepted the credentials. A direct account's
    only client is connected at once; an agency's clients wait for the admin's choice.
    """
    credentials = ApiKey(api_key) if api_key else tokens
    if credentials is None:
        raise ConnectError("Enter an API key.")
    api = CampaignMonitorClient(credentials, base_url=base_url, retries=1)
    clients = _read_clients(api)
    account_type = account_type_of(clients)
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
        ConnectedClient.objects.bulk_create(
            ConnectedClient(connection=connection, client_id=c.client_id, name=c.name)
            for c in clients
        )
    if account_type == Connection.AccountType.DIRECT:
        choose_clients(connection, [clients[0].client_id])
    return connection


def choose_clients(connection: Connection, client_ids: Iterable[str]) -> list[ConnectedClient]:
    """Connect exactly these clients (reading their lists) and disconnect the others."""
    chosen = set(client_ids)
    rows = list(connection.clients.all())
    unknown = chosen - {row.client_id for row in rows}
    if unknown:
        raise ConnectError(f"Not a client of this account: {', '.join(sorted(unknown))}")
    if not chosen:
        raise ConnectError("Choose at least one client to connect.")
    api = connection.api(retries=1)
    try:
        lists = {
            row.client_id: [{"ListID": m.list_id, "Name": m.name} for m in api.lists(row.client_id)]
            for row in rows
            if row.client_id in chosen
        }
    except errors.CampaignMonitorError as exc:
        raise ConnectError(explain(exc, connection.base_url)) from exc
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
