from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "sync"
    verbose_name = "Primary sync"

    def ready(self) -> None:
        # The signal receivers connect, and each kind of run's body registers itself with the
        # runner (sync.runner.BODIES), as their modules are imported.
        from . import cm_events, primary, reactions, receivers  # noqa: F401
