from django.urls import path

from . import views

urlpatterns = [
    path("app/", views.app_view, name="sf-app"),
    path("connect/", views.connect_view, name="sf-connect"),
    path("callback/", views.callback_view, name="sf-callback"),
    path("test/", views.test_view, name="sf-test"),
    path("disconnect/", views.disconnect_view, name="sf-disconnect"),
    path("sync-user/", views.sync_user_view, name="sf-sync-user"),
    path("schema/", views.schema_view, name="sf-schema"),
]
