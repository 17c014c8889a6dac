from django.urls import include, path

# Per-list pages, linked from the Sync tab's list page (/sync/lists/).
urlpatterns = [
    path("<str:list_id>/import/", include("subscriptions.imports.urls")),
    path("<str:list_id>/rules/", include("subscriptions.rules.urls")),
    path("<str:list_id>/fields/", include("subscriptions.fields.urls")),
]
