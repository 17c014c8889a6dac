from django.http import HttpRequest

from security.access import current_client, visible_connected_clients

# The console's tabs, in the original console's order: (url name, title, permission to see it).
# A tab appears only once what it shows works.
TABS = [
    ("sync", "Sync", "settings_app.view_syncsettings"),
    ("general", "General", "settings_app.view_generalsettings"),
    ("campaigns", "Campaigns", "settings_app.view_campaignsettings"),
    ("maintenance", "Maintenance", "auditlog.view_logentry"),
    ("security", "User security", "security.view_clientownership"),
    ("billing", "Billing", "billing.view_billingaccount"),
]


def tabs(request: HttpRequest) -> dict:
    """The tab bar, and the Campaign Monitor client switcher when several are connected."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"tabs": []}
    current = request.resolver_match.url_name if request.resolver_match else None
    context: dict[str, object] = {
        "tabs": [
            {"name": name, "title": title, "active": name == current}
            for name, title, perm in TABS
            if user.has_perm(perm)
        ]
    }
    context.update(billing_flags())
    if user.has_perm("campaign_monitor.view_connection"):
        clients = visible_connected_clients(user)
        context.update(cm_clients=clients, cm_client=current_client(request, clients))
    return context


def billing_flags() -> dict:
    """The failed-payment banner on every tab, and the Sync tab's paused-tracking notice."""
    from billing.accounts import tracking_paused
    from billing.models import BillingAccount

    return {
        "payment_failed": BillingAccount.objects.filter(payment_failed=True).exists(),
        "billing_tracking_paused": tracking_paused(),
    }
