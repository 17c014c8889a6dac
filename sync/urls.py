from django.urls import path

from . import views

urlpatterns = [
    path("now/", views.sync_now, name="sync-now"),
    path("runs/", views.run_history, name="sync-history"),
    path("runs/<int:run_id>/", views.run_detail, name="sync-run"),
    path("runs/<int:run_id>/progress/", views.run_progress, name="sync-run-progress"),
]
