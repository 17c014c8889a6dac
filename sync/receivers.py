from django.db.models.signals import post_save
from django.dispatch import receiver

from campaign_monitor.signals import disconnecting
from settings_app.models import SyncSettings

from . import runner


@receiver(disconnecting)
def stop_syncs(sender, **kwargs) -> None:
    """Disconnecting Campaign Monitor stops queued runs and the running one."""
    runner.cancel_all()


@receiver(post_save, sender=SyncSettings)
def reschedule(sender, created: bool = False, **kwargs) -> None:
    """A changed frequency takes effect at once: store the new next-run time. (A row created
    with the defaults changes nothing; the dispatcher computes a missing time itself.)"""
    if not created:
        runner.reschedule()
