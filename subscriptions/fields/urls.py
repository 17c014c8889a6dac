from django.urls import path

from . import views

urlpatterns = [
    path("", views.fields, name="subscriptions-fields"),
    path("<int:pk>/", views.edit, name="subscriptions-field-edit"),
    path("<int:pk>/delete/", views.delete, name="subscriptions-field-delete"),
]
