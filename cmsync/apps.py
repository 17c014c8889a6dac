from django.apps import AppConfig


class CmsyncConfig(AppConfig):
    """The project package as an app, so its system checks are registered at start-up."""

    name = "cmsync"
    verbose_name = "cmsync"

    def ready(self) -> None:
        from . import checks  # noqa: F401 (registers the checks)
