from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from campaign_monitor.models import Connection, ListOptions
from campaign_monitor.signals import disconnecting
from salesforce.models import SalesforceConnection, SalesforceSettings

from . import dispatch, runner, webhooks


@receiver(disconnecting)
def stop_syncs(sender, **kwargs) -> None:
    """Disconnecting Campaign Monitor stops queued runs and the running one."""
    runner.cancel_all()


@receiver(disconnecting)
def remove_webhooks(sender, connection, **kwargs) -> None:
    """Disconnecting removes cmsync's list webhooks while the credentials still exist."""
    webhooks.remove_all(connection)


@receiver(post_save, sender=ListOptions)
def follow_list_options(sender, instance: ListOptions, **kwargs) -> None:
    """ "Prevent member sync" switched on removes the list's webhook; off puts it back."""
    list_id = instance.list_id
    transaction.on_commit(lambda: webhooks.reconcile_now(only={list_id}))


@receiver(post_delete, sender=Connection)
@receiver(post_delete, sender=SalesforceConnection)
@receiver(post_save, sender=SalesforceSettings)
def reschedule_on_connection_change(sender, **kwargs) -> None:
    """Disconnecting either side clears the next scheduled run (nothing would run then);
    choosing a sync user brings it back. After the commit, so the change is what is read."""
    transaction.on_commit(dispatch.follow_readiness)
