from django.urls import path

from . import views

# Under /lists/<list_id>/import/ (subscriptions/urls.py): every view receives list_id.
urlpatterns = [
    path("", views.import_start, name="subscriptions-import"),
    path("history/", views.import_history, name="subscriptions-import-history"),
    path("<int:job_id>/", views.import_result, name="subscriptions-import-result"),
    path("<int:job_id>/source/", views.import_source, name="subscriptions-import-source"),
    path("<int:job_id>/people/", views.import_people, name="subscriptions-import-people"),
    path("<int:job_id>/mapping/", views.import_mapping, name="subscriptions-import-mapping"),
    path("<int:job_id>/options/", views.import_options, name="subscriptions-import-options"),
    path("<int:job_id>/preview/", views.import_preview, name="subscriptions-import-preview"),
    path("<int:job_id>/discard/", views.import_discard, name="subscriptions-import-discard"),
    path("<int:job_id>/cancel/", views.import_cancel, name="subscriptions-import-cancel"),
]
