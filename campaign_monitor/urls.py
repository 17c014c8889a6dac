from django.urls import path

from sync.views import cm_webhook

from . import views

urlpatterns = [
    path("connect/", views.connect_view, name="cm-connect"),
    path("connect/oauth/", views.oauth_start, name="cm-oauth-start"),
    path("connect/oauth/callback/", views.oauth_callback, name="cm-oauth-callback"),
    path("clients/", views.clients_view, name="cm-clients"),
    path("disconnect/", views.disconnect_view, name="cm-disconnect"),
    path("switch-client/", views.switch_client, name="cm-switch-client"),
    path("open/", views.open_campaign_monitor, name="cm-open"),
    path("webhook/<str:secret>/", cm_webhook, name="cm-webhook"),
]
