from django.urls import path

from . import views

# Included at /lists/<list_id>/rules/ (subscriptions/urls.py).
urlpatterns = [
    path("", views.rules_page, name="subscriptions-rules"),
    path("<str:action>/", views.rule_edit, name="subscriptions-rule"),
    path("<str:action>/delete/", views.rule_delete, name="subscriptions-rule-delete"),
    path(
        "<str:action>/retrospective/",
        views.rule_retrospective,
        name="subscriptions-rule-retrospective",
    ),
]
