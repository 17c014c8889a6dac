from django.urls import path

from . import views

urlpatterns = [
    path("", views.security_page, name="security"),
    path("invite/", views.invite_view, name="security-invite"),
    path("keys/", views.key_create, name="security-key-create"),
    path("keys/<str:key_id>/revoke/", views.key_revoke, name="security-key-revoke"),
    path("users/<int:user_id>/role/", views.role_view, name="security-role"),
    path("users/<int:user_id>/clients/", views.clients_view, name="security-clients"),
    path("users/<int:user_id>/override/", views.override_view, name="security-override"),
    path("lockouts/<int:attempt_id>/unlock/", views.unlock_view, name="security-unlock"),
]
