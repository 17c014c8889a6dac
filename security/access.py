"""Which connected clients a user may see and act on (client ownership)."""

from .models import ClientOwnership


def visible_clients(user) -> set[str] | None:
    """The client ids this user is limited to, or None for every client."""
    owned = set(ClientOwnership.objects.filter(user=user).values_list("client_id", flat=True))
    return owned or None
