from django.urls import path

from . import views

urlpatterns = [
    path("general/", views.general_settings, name="general"),
    path("campaigns/", views.campaign_settings, name="campaigns"),
    path("settings/confirm/<str:change_id>/", views.confirm_settings, name="settings-confirm"),
]
