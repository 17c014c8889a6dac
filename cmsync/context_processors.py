from django.http import HttpRequest

# The console's tabs, in the original console's order: (url name, title, permission to see it).
# A tab appears only once what it shows works.
TABS = [
    ("sync", "Sync", "settings_app.view_syncsettings"),
    ("general", "General", "settings_app.view_generalsettings"),
    ("campaigns", "Campaigns", "settings_app.view_campaignsettings"),
    ("maintenance", "Maintenance", "auditlog.view_logentry"),
]


def tabs(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"tabs": []}
    current = request.resolver_match.url_name if request.resolver_match else None
    return {
        "tabs": [
            {"name": name, "title": title, "active": name == current}
            for name, title, perm in TABS
            if user.has_perm(perm)
        ]
    }
