from django.dispatch import receiver

from campaign_monitor.signals import disconnecting

from .service import reset_for_disconnect


@receiver(disconnecting)
def forget_overrides_and_ownership(sender, **kwargs) -> None:
    reset_for_disconnect()
