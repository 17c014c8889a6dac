from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from cmsync.api import JsonSerializer
from security.access import visible_connected_clients

from .lists import CHANGE_LISTS, VIEW_LISTS, ListRow, list_rows, set_prevent_member_sync
from .models import ConnectedClient


class ClientSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConnectedClient
        fields = ["client_id", "name", "lists"]
        read_only_fields = fields


class ClientViewSet(viewsets.ReadOnlyModelViewSet):
    """The connected Campaign Monitor clients the caller may see (client ownership)."""

    serializer_class = ClientSerializer
    queryset = ConnectedClient.objects.none()  # for the schema; get_queryset filters
    permissions = {"GET": "campaign_monitor.view_connection"}
    lookup_field = "client_id"
    pagination_class = None

    def get_queryset(self):
        ids = [c.pk for c in visible_connected_clients(self.request.user)]
        return ConnectedClient.objects.filter(pk__in=ids)


class SubscriberListSerializer(serializers.Serializer):
    """A list of a connected client with its options: the console's list page shows the same."""

    list_id = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    client_id = serializers.CharField(read_only=True)
    client_name = serializers.CharField(read_only=True)
    prevent_member_sync = serializers.BooleanField(
        help_text="No CM_List_Membership__c records are created or updated for this list."
    )


class SubscriberListChangeSerializer(JsonSerializer):
    prevent_member_sync = serializers.BooleanField(required=False)


class ListViewSet(viewsets.ViewSet):
    """The subscriber lists of the connected clients the caller may see (client ownership),
    with their per-list options."""

    serializer_class = SubscriberListSerializer
    permissions = {"GET": VIEW_LISTS, "PATCH": CHANGE_LISTS}
    lookup_field = "list_id"
    lookup_value_regex = r"[^/]+"

    def _rows(self) -> list[ListRow]:
        return list_rows(visible_connected_clients(self.request.user))

    def _row(self, list_id: str) -> ListRow:
        row = next((r for r in self._rows() if r.list_id == list_id), None)
        if row is None:
            raise NotFound("No list of a connected client has this id.")
        return row

    @extend_schema(responses={200: SubscriberListSerializer(many=True)})
    def list(self, request):
        """Every list of the connected clients the caller may see, with its options."""
        return Response([row.to_dict() for row in self._rows()])

    @extend_schema(responses={200: SubscriberListSerializer})
    def retrieve(self, request, list_id: str):
        """One list and its options."""
        return Response(self._row(list_id).to_dict())

    @extend_schema(
        request=SubscriberListChangeSerializer, responses={200: SubscriberListSerializer}
    )
    def partial_update(self, request, list_id: str):
        """Switch "Prevent member sync" for a list (audited under the caller's name)."""
        self._row(list_id)
        change = SubscriberListChangeSerializer(data=request.data)
        change.is_valid(raise_exception=True)
        if "prevent_member_sync" in change.validated_data:
            set_prevent_member_sync(list_id, change.validated_data["prevent_member_sync"])
        return Response(self._row(list_id).to_dict())
