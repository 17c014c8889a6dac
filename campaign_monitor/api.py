from rest_framework import serializers, viewsets

from .models import ConnectedClient
from .views import visible_connected_clients


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
