from django.contrib.auth import get_user_model
from rest_framework import serializers, viewsets

from .roles import role_of


class UserSerializer(serializers.ModelSerializer):
    email = serializers.CharField(read_only=True)  # empty for API keys: not always an address
    role = serializers.SerializerMethodField()
    api_key = serializers.SerializerMethodField()

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "email", "is_active", "role", "api_key"]
        read_only_fields = fields

    def get_role(self, user) -> str:
        return role_of(user)

    def get_api_key(self, user) -> bool:
        """True for the user an API key acts as."""
        return hasattr(user, "integration_key")


class UserViewSet(viewsets.ReadOnlyModelViewSet):
    """Console users and API keys, with their roles."""

    serializer_class = UserSerializer
    permissions = {"GET": "security.view_clientownership"}
    # The role (groups) and the API key of every user shown, in two queries, not two per user.
    queryset = (
        get_user_model()
        .objects.select_related("integration_key")
        .prefetch_related("groups")
        .order_by("username")
    )
    lookup_value_regex = r"[0-9]{1,18}"
