from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "sync"
    verbose_name = "Primary sync"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects the signal receivers)
