"""Personas, as in healthchecks' hc/test.py: alice may change everything, bob and carol may
read the console, mallory is logged in but may see nothing."""

import pytest
from django.contrib.auth.models import Permission

PASSWORD = "correct horse battery staple"

VIEW_PERMS = [
    "settings_app.view_syncsettings",
    "settings_app.view_generalsettings",
    "settings_app.view_campaignsettings",
    "settings_app.view_memberstatusmapping",
    "auditlog.view_logentry",
]
CHANGE_PERMS = [
    "settings_app.change_syncsettings",
    "settings_app.change_generalsettings",
    "settings_app.change_campaignsettings",
    "settings_app.change_memberstatusmapping",
]


def make_user(django_user_model, username: str, perms: list[str]):
    user = django_user_model.objects.create_user(
        username=username, email=f"{username}@example.com", password=PASSWORD
    )
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


@pytest.fixture
def alice(django_user_model):
    return make_user(django_user_model, "alice", VIEW_PERMS + CHANGE_PERMS)


@pytest.fixture
def bob(django_user_model):
    return make_user(django_user_model, "bob", VIEW_PERMS)


@pytest.fixture
def carol(django_user_model):
    return make_user(django_user_model, "carol", VIEW_PERMS)


@pytest.fixture
def mallory(django_user_model):
    return make_user(django_user_model, "mallory", [])


def _client_for(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(client, alice):
    return _client_for(client, alice)


@pytest.fixture
def carol_client(client, carol):
    return _client_for(client, carol)


@pytest.fixture
def mallory_client(client, mallory):
    return _client_for(client, mallory)
