"""The subscriber lists of the connected clients with their per-list options: one shape for
the console's list page and the API."""

from dataclasses import asdict, dataclass

from .models import ConnectedClient, ListOptions

VIEW_LISTS = "campaign_monitor.view_listoptions"
CHANGE_LISTS = "campaign_monitor.change_listoptions"


@dataclass(frozen=True, slots=True)
class ListRow:
    list_id: str
    name: str
    client_id: str
    client_name: str
    prevent_member_sync: bool

    def to_dict(self) -> dict:
        return asdict(self)


def list_rows(clients: list[ConnectedClient]) -> list[ListRow]:
    """Every list of these clients (as the sync last read them), by client, then name."""
    ids = [m["ListID"] for client in clients for m in client.lists]
    prevented = set(
        ListOptions.objects.filter(list_id__in=ids, prevent_member_sync=True).values_list(
            "list_id", flat=True
        )
    )
    return [
        ListRow(m["ListID"], m.get("Name", ""), c.client_id, c.name, m["ListID"] in prevented)
        for c in clients
        for m in sorted(c.lists, key=lambda m: (m.get("Name", "").lower(), m["ListID"]))
    ]


def set_prevent_member_sync(list_id: str, value: bool) -> bool:
    """Switch "Prevent member sync" for a list (audited); returns whether it changed."""
    options = ListOptions.objects.filter(list_id=list_id).first()
    if options is None:
        if not value:
            return False  # off is the default: no row needed
        options = ListOptions(list_id=list_id)
    elif options.prevent_member_sync == value:
        return False
    options.prevent_member_sync = value
    options.save()
    return True
