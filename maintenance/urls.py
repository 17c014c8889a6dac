from django.urls import path

from . import views

urlpatterns = [
    path("", views.maintenance, name="maintenance"),
    path("messages/", views.message_list, name="maintenance-messages"),
    path("messages/export/", views.message_export, name="maintenance-messages-export"),
    path("audit/export/", views.audit_export, name="maintenance-audit-export"),
    path("messages/action/", views.message_action, name="maintenance-message-action"),
    path("messages/delete/", views.message_delete, name="maintenance-messages-delete"),
    path("codes/<str:code>/", views.code_help, name="maintenance-code"),
    path("reset/", views.reset_view, name="maintenance-reset"),
    path("alerts/", views.alerts_view, name="maintenance-alerts"),
    path("components/", views.components_view, name="maintenance-components"),
    path("components/remove/", views.remove_components_view, name="maintenance-remove"),
    path("components/readers/", views.readers_view, name="maintenance-readers"),
]
