"""Which connected clients a user may see and act on (client ownership), and the one the
user is looking at; every page and API view asks here."""

from django.http import HttpRequest

from campaign_monitor.models import ConnectedClient

from .models import ClientOwnership

SESSION_CLIENT = "cm_client_id"  # the client chosen in the console's client switcher


def visible_clients(user) -> set[str] | None:
    """The client ids this user is limited to, or None for every client."""
    owned = set(ClientOwnership.objects.filter(user=user).values_list("client_id", flat=True))
    return owned or None


def visible_connected_clients(user) -> list[ConnectedClient]:
    """Connected clients this user may see (client ownership)."""
    clients = ConnectedClient.objects.filter(connected=True)
    owned = visible_clients(user)
    if owned is not None:
        clients = clients.filter(client_id__in=owned)
    return list(clients)


def current_client(
    request: HttpRequest, clients: list[ConnectedClient] | None = None
) -> ConnectedClient | None:
    """The connected client the user is looking at: their choice, or the first one."""
    if clients is None:
        clients = visible_connected_clients(request.user)
    chosen = request.session.get(SESSION_CLIENT)
    return next((c for c in clients if c.client_id == chosen), clients[0] if clients else None)
