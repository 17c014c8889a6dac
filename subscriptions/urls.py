from django.urls import include, path

# Per-list pages, linked from the Sync tab's list page (/sync/lists/).
urlpatterns = [
    path("<str:list_id>/import/", include("subscriptions.import_urls")),
    path("<str:list_id>/rules/", include("subscriptions.rule_urls")),
    path("<str:list_id>/fields/", include("subscriptions.field_urls")),
]
