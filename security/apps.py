from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SecurityConfig(AppConfig):
    name = "security"
    verbose_name = "User security"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects the signal receivers)
        from .roles import ensure_roles

        # After every migrate (and every test-database flush): groups and their permissions.
        post_migrate.connect(ensure_roles, sender=self)
