from axes.signals import user_locked_out
from django.dispatch import receiver

from campaign_monitor.signals import disconnecting

from .lockouts import audit_lockout
from .service import reset_for_disconnect


@receiver(disconnecting)
def forget_overrides_and_ownership(sender, **kwargs) -> None:
    reset_for_disconnect()


@receiver(user_locked_out)
def audit_login_lockout(sender, request, username=None, ip_address=None, **kwargs) -> None:
    audit_lockout(request, username, ip_address)
