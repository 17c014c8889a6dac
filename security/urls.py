from django.urls import path

from . import views

urlpatterns = [
    path("", views.security_page, name="security"),
    path("invite/", views.invite_view, name="security-invite"),
    path("keys/", views.key_create, name="security-key-create"),
    path("keys/<uuid:key_id>/revoke/", views.key_revoke, name="security-key-revoke"),
    path("users/<int:user_id>/role/", views.role_view, name="security-role"),
    path("users/<int:user_id>/clients/", views.clients_view, name="security-clients"),
    path("users/<int:user_id>/override/", views.override_view, name="security-override"),
    path("users/<int:user_id>/deactivate/", views.deactivate_view, name="security-deactivate"),
    path("users/<int:user_id>/reactivate/", views.reactivate_view, name="security-reactivate"),
    path(
        "users/<int:user_id>/invitation/resend/",
        views.invitation_resend,
        name="security-invitation-resend",
    ),
    path(
        "users/<int:user_id>/invitation/revoke/",
        views.invitation_revoke,
        name="security-invitation-revoke",
    ),
    path("lockouts/<int:attempt_id>/unlock/", views.unlock_view, name="security-unlock"),
]
