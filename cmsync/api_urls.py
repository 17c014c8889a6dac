"""/api/v1/: every app's endpoints, the OpenAPI schema and its docs page."""

from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import IsAuthenticated
from rest_framework.routers import DefaultRouter

from billing.api import InvoiceList
from campaign_monitor.api import ClientViewSet, ListViewSet
from maintenance.api import AuditViewSet, MessageViewSet
from security.api import UserViewSet
from settings_app.api import CampaignSettingsView, GeneralSettingsView, SyncSettingsView
from subscriptions.api import FieldMappingViewSet, ImportJobViewSet, RuleViewSet
from sync.api import RunViewSet

router = DefaultRouter()
router.include_root_view = False
router.register("clients", ClientViewSet, basename="client")
router.register("lists", ListViewSet, basename="list")
LIST = r"lists/(?P<list_id>[^/]+)"  # a list's own resources
router.register(f"{LIST}/rules", RuleViewSet, basename="list-rule")
router.register(f"{LIST}/field-mappings", FieldMappingViewSet, basename="list-field-mapping")
router.register(f"{LIST}/imports", ImportJobViewSet, basename="list-import")
router.register("runs", RunViewSet, basename="run")
router.register("messages", MessageViewSet, basename="message")
router.register("audit", AuditViewSet, basename="audit")
router.register("users", UserViewSet, basename="user")

urlpatterns = [
    path("settings/sync/", SyncSettingsView.as_view(), name="api-sync-settings"),
    path("settings/general/", GeneralSettingsView.as_view(), name="api-general-settings"),
    path("settings/campaigns/", CampaignSettingsView.as_view(), name="api-campaign-settings"),
    path("billing/invoices/", InvoiceList.as_view(), name="api-invoices"),
    path("", include(router.urls)),
    # Anyone logged in (any role) or holding an API key reads the schema and its docs; nobody
    # else learns the API's shape. The split view serves Swagger UI's start-up script as a file
    # of its own, so the Content-Security-Policy needs no inline scripts.
    path(
        "schema/",
        SpectacularAPIView.as_view(permission_classes=[IsAuthenticated]),
        name="api-schema",
    ),
    path(
        "docs/",
        # Swagger UI's stylesheet draws its icons as data: images.
        csp_update({"img-src": ["data:"]})(
            SpectacularSwaggerSplitView.as_view(
                url_name="api-schema", permission_classes=[IsAuthenticated]
            )
        ),
        name="api-docs",
    ),
]
