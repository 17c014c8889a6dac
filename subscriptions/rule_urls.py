from django.urls import path

from . import rule_views

# Included at /lists/<list_id>/rules/ (subscriptions/urls.py).
urlpatterns = [
    path("", rule_views.rules_page, name="subscriptions-rules"),
    path("<str:action>/", rule_views.rule_edit, name="subscriptions-rule"),
    path("<str:action>/delete/", rule_views.rule_delete, name="subscriptions-rule-delete"),
    path(
        "<str:action>/retrospective/",
        rule_views.rule_retrospective,
        name="subscriptions-rule-retrospective",
    ),
]
