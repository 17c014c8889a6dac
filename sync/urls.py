from django.urls import path

from . import views

urlpatterns = [
    path("", views.sync_tab, name="sync"),
    path("now/", views.sync_now, name="sync-now"),
    path("preview/", views.sync_preview, name="sync-preview"),
    path("lists/", views.list_options, name="sync-lists"),
    path("runs/", views.run_history, name="sync-history"),
    path("runs/<int:run_id>/", views.run_detail, name="sync-run"),
    path("runs/<int:run_id>/progress/", views.run_progress, name="sync-run-progress"),
    path("runs/<int:run_id>/changes.csv", views.run_changes_csv, name="sync-run-changes-csv"),
    path("runs/<int:run_id>/cancel/", views.run_cancel, name="sync-run-cancel"),
    path("changes/endpoint/", views.outbound_endpoint, name="sync-outbound-endpoint"),
    path("outbound/<str:secret>/", views.outbound_message, name="sync-outbound"),
]
