from django.urls import path

from campaign_monitor.views import list_options

from . import views

urlpatterns = [
    path("now/", views.sync_now, name="sync-now"),
    path("lists/", list_options, name="sync-lists"),
    path("runs/", views.run_history, name="sync-history"),
    path("runs/<int:run_id>/", views.run_detail, name="sync-run"),
    path("runs/<int:run_id>/progress/", views.run_progress, name="sync-run-progress"),
    path("runs/<int:run_id>/cancel/", views.run_cancel, name="sync-run-cancel"),
    path("changes/endpoint/", views.outbound_endpoint, name="sync-outbound-endpoint"),
    path("outbound/<str:secret>/", views.outbound_message, name="sync-outbound"),
]
