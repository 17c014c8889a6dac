from django.urls import path

from . import field_views

urlpatterns = [
    path("", field_views.fields, name="subscriptions-fields"),
    path("<int:pk>/", field_views.edit, name="subscriptions-field-edit"),
    path("<int:pk>/delete/", field_views.delete, name="subscriptions-field-delete"),
]
