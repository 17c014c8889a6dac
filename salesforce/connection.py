"""Connecting console users to Salesforce, the sync user, and cmsync's schema in the org.

The console's views and the commands both go through here: the same checks, the same audit
entries.
"""

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from cmsync import endpoints

from . import auth, errors, layouts, permissions, schema, tabs
from .gateway import SalesforceGateway
from .models import SalesforceConnection, SalesforceSettings

log = logging.getLogger(__name__)


def explain(exc: errors.SalesforceError) -> str:
    """An admin-facing sentence for what went wrong."""
    if isinstance(exc, errors.NetworkError):
        return f"{exc.message}. Check the address and the network."
    if isinstance(exc, errors.InsecureEndpointError):
        return exc.message
    if isinstance(exc, errors.AuthenticationError):
        return f"Salesforce refused the credentials: {exc.message}"
    if isinstance(exc, errors.LimitExceededError):
        return "The org's daily API requests are used up. Try again when they reset."
    return f"Salesforce refused the request: {exc}"


def _identity(tokens: auth.Tokens) -> dict:
    """Who the tokens belong to, asked at the instance the token endpoint named. Anything
    but Salesforce's answer there reads as unreachable, so a token endpoint cannot turn
    instance_url into a probe of other hosts' ports."""
    unreachable = errors.NetworkError(
        f"Could not reach Salesforce at {endpoints.host(tokens.instance_url)}"
    )
    try:
        gateway = SalesforceGateway(tokens.instance_url, tokens.access_token, retries=1)
        identity = gateway.identity()
    except (errors.InsecureEndpointError, errors.LimitExceededError):
        raise
    except (errors.SalesforceError, ValueError) as exc:
        raise unreachable from exc
    if not isinstance(identity, dict):
        raise unreachable
    return identity


def connect(
    user,
    auth_type: str,
    login_url: str,
    tokens: auth.Tokens,
    *,
    client_id: str,
    client_secret: str = "",
    username: str = "",
    private_key: str = "",
    password: str = "",
) -> SalesforceConnection:
    """Store ``user``'s connection once Salesforce has said who the tokens belong to.

    The first connection also becomes the sync user's.
    """
    identity = _identity(tokens)
    with transaction.atomic():
        SalesforceConnection.objects.filter(user=user).delete()
        connection = SalesforceConnection.objects.create(
            user=user,
            auth_type=auth_type,
            login_url=login_url,
            instance_url=tokens.instance_url,
            client_id=client_id,
            client_secret=client_secret,
            username=username,
            private_key=private_key,
            password=password,
            refresh_token=tokens.refresh_token,
            access_token=tokens.access_token,
            org_id=identity.get("organization_id", ""),
            sf_user_id=identity.get("user_id", ""),
            sf_username=identity.get("preferred_username", ""),
            sf_name=identity.get("name", ""),
        )
        settings = SalesforceSettings.get_solo()
        first = settings.sync_user_id is None
        if first:
            settings.sync_user = user
            settings.save()
    if first:
        set_sync_user(user)  # again, outside the transaction: it may call Salesforce
    return connection


def connect_client_credentials(
    user, login_url: str, client_id: str, client_secret: str
) -> SalesforceConnection:
    tokens = auth.client_credentials(login_url, client_id, client_secret)
    return connect(
        user,
        SalesforceConnection.AuthType.CLIENT_CREDENTIALS,
        login_url,
        tokens,
        client_id=client_id,
        client_secret=client_secret,
    )


def connect_jwt(
    user, login_url: str, client_id: str, username: str, private_key: str
) -> SalesforceConnection:
    tokens = auth.jwt_bearer(login_url, client_id, username, private_key)
    return connect(
        user,
        SalesforceConnection.AuthType.JWT,
        login_url,
        tokens,
        client_id=client_id,
        username=username,
        private_key=private_key,
    )


def connect_password(
    user, login_url: str, client_id: str, client_secret: str, username: str, password: str
) -> SalesforceConnection:
    """Legacy: OAuth's username-password flow. Prefer JWT bearer or client credentials."""
    tokens = auth.password_login(login_url, client_id, client_secret, username, password)
    return connect(
        user,
        SalesforceConnection.AuthType.PASSWORD,
        login_url,
        tokens,
        client_id=client_id,
        client_secret=client_secret,
        username=username,
        password=password,
    )


def disconnect(user) -> bool:
    """Forget ``user``'s Salesforce connection. Nothing in Salesforce changes."""
    deleted, _ = SalesforceConnection.objects.filter(user=user).delete()
    return bool(deleted)


def set_sync_user(user) -> str:
    """Make ``user`` the sync user and give its Salesforce user cmsync's integration
    permission set, if that is installed. Returns what the admin must do when that could
    not be done (empty when nothing)."""
    settings = SalesforceSettings.get_solo()
    settings.sync_user = user
    settings.save()
    connection = settings.sync_connection()
    if connection is None or connection.revoked_at or not connection.sf_user_id:
        return ""
    try:
        gateway = connection.gateway(retries=1)
        permissions.assign_integration(gateway, connection.sf_user_id)
        settings.permissions_missing = permissions.status(
            gateway, connection.sf_user_id, _shown_tabs(tabs.status(gateway))
        )
        settings.save(update_fields=["permissions_missing"])
    except errors.SalesforceError as exc:
        log.warning("Could not give the new sync user cmsync's permission set: %s", exc)
        return (
            f"cmsync could not give {connection.sf_username or 'the sync user'} its permission "
            f"set in Salesforce ({explain(exc)}). Press Install components on the Maintenance "
            "tab, or assign the cmsync_Integration permission set to that user in Salesforce."
        )
    return ""


def test_connection(connection: SalesforceConnection) -> dict:
    """Sign in with the stored credentials and read who we are and the API allowance."""
    gateway = connection.gateway(retries=1)
    identity = gateway.identity()
    limits = gateway.limits().get("DailyApiRequests", {})
    if connection.revoked_at is None and connection.last_error:
        connection.last_error = ""
        connection.save(update_fields=["last_error"])
    return {
        "username": identity.get("preferred_username", ""),
        "org_id": identity.get("organization_id", ""),
        "api_max": limits.get("Max"),
        "api_remaining": limits.get("Remaining"),
    }


def usable_connection(user) -> SalesforceConnection | None:
    """For schema and component work: the sync user's connection, else ``user``'s own;
    None when neither is there or it was revoked."""
    connection = SalesforceSettings.get_solo().sync_connection()
    connection = connection or SalesforceConnection.objects.filter(user=user).first()
    return connection if connection and not connection.revoked_at else None


@dataclass(frozen=True)
class SyncUserStatus:
    user: object
    connection: SalesforceConnection | None
    problem: str  # empty when the sync can use the connection


def sync_user_status() -> SyncUserStatus:
    settings = SalesforceSettings.get_solo()
    user = settings.sync_user
    if user is None:
        return SyncUserStatus(
            None, None, "No sync user is set: the sync cannot write to Salesforce."
        )
    connection = settings.sync_connection()
    if connection is None:
        problem = f"{user} has no Salesforce connection: the sync cannot write to Salesforce."
    elif connection.revoked_at:
        problem = (
            f"{user}'s Salesforce connection was revoked ({connection.last_error}). "
            "Connect again, or set the sync user to someone connected."
        )
    else:
        problem = ""
    return SyncUserStatus(user, connection, problem)


def check_schema(connection: SalesforceConnection, *, install: bool = False) -> list[str]:
    """Read (and with ``install`` create) cmsync's schema and the permission sets that let
    the sync user use it; remember what is missing. Returns the missing schema parts and
    grants."""
    gateway = connection.gateway(retries=1)
    settings = SalesforceSettings.get_solo()
    if install and (schema.install(gateway) + _grant(gateway, settings)):
        settings.schema_installed_at = timezone.now()
    if install:
        _follow_show_tabs(gateway)
    _remember(settings, gateway)
    return settings.schema_missing + settings.permissions_missing


def _sync_user_sf_id(settings: SalesforceSettings) -> str:
    """The sync user's Salesforce user id: the permission set goes to it, whoever installs."""
    connection = settings.sync_connection()
    return connection.sf_user_id if connection is not None else ""


def _grant(gateway, settings: SalesforceSettings) -> list[str]:
    sync_user = _sync_user_sf_id(settings)
    return permissions.install(gateway, [sync_user] if sync_user else [])


def _remember(settings: SalesforceSettings, gateway) -> None:
    settings.schema_missing = [c.full_name for c in schema.missing(gateway)]
    settings.layouts_missing = (
        [f"{c.layout}: {c.label}" for c in layouts.missing(gateway)]
        if not settings.schema_missing
        else [f"{c.layout}: {c.label}" for c in layouts.components()]
    )
    tab_states = tabs.status(gateway)
    settings.permissions_missing = permissions.status(
        gateway, _sync_user_sf_id(settings), _shown_tabs(tab_states)
    )
    settings.tabs_installed = [s.tab.object_name for s in tab_states if s.installed]
    settings.schema_checked_at = timezone.now()
    settings.save()


def install_components(connection: SalesforceConnection, console_url: str) -> list[str]:
    """cmsync's objects and fields, the permission sets that let the sync user (and readers)
    use them, then its buttons, fields and related lists on layouts, then its tabs as Show
    tabs says (on: added and made visible through the permission sets; off: any left in the
    org removed)."""
    gateway = connection.gateway(retries=1)
    settings = SalesforceSettings.get_solo()
    added = schema.install(gateway)
    added += _grant(gateway, settings)
    added += [f"{c.layout}: {c.label}" for c in layouts.install(gateway, console_url)]
    added += _follow_show_tabs(gateway)
    if added:
        settings.schema_installed_at = timezone.now()
    _remember(settings, gateway)
    return added


def removal_counts(connection: SalesforceConnection) -> dict[str, int]:
    """How many records each of cmsync's objects holds: they go with a removal."""
    gateway = connection.gateway(retries=1)
    counts = {}
    for name in schema.OBJECT_ORDER:
        try:
            counts[name] = gateway.count(f"SELECT COUNT() FROM {name}")
        except errors.RequestError:
            counts[name] = 0  # not installed
    return counts


def remove_components(connection: SalesforceConnection, *, layouts_only: bool) -> list[str]:
    """Take cmsync's items off the layouts; unless ``layouts_only``, delete its permission
    sets (and their assignments) and its schema too."""
    gateway = connection.gateway(retries=1)
    removed = [f"{c.layout}: {c.label}" for c in layouts.remove(gateway)]
    if not layouts_only:
        removed += [f"Tab: {t.label}" for t in tabs.remove(gateway)]
        removed += permissions.remove(gateway)
        removed += schema.remove(gateway)
    _remember(SalesforceSettings.get_solo(), gateway)
    return removed


# -- Show tabs ---------------------------------------------------------------------------------


def _show_tabs_on() -> bool:
    from settings_app.models import GeneralSettings

    return GeneralSettings.get_solo().show_tabs


def _shown_tabs(states: list[tabs.TabStatus]) -> list[str]:
    """The tabs cmsync's permission sets must make visible: its tabs in the org while Show
    tabs is on. With it off there are none (deleting a tab deletes its tab settings)."""
    return [s.tab.object_name for s in states if s.installed] if _show_tabs_on() else []


def _follow_show_tabs(gateway) -> list[str]:
    """Add cmsync's tabs when Show tabs is on, remove them when it is off. Returns what
    changed, as the Maintenance tab's component lists say it."""
    changed, granted = _apply_show_tabs(gateway)
    return changed + granted


def _apply_show_tabs(gateway) -> tuple[list[str], list[str]]:
    """(the tabs added or removed, the tab settings added). With Show tabs on, the tabs are
    created, then made visible (Default On) to the holders of both permission sets: a tab
    created through the API is hidden from every user until then."""
    if _show_tabs_on():
        added = [f"Tab: {t.label}" for t in tabs.install(gateway)]
        names = [t.object_name for t in tabs.components()]
        return added, permissions.show_tabs(gateway, names)
    return [f"Tab removed (Show tabs is off): {t.label}" for t in tabs.remove(gateway)], []


@dataclass(frozen=True)
class TabsChange:
    message: str
    done: bool  # False: the org was not changed now; the next Install does it


def apply_show_tabs(user) -> TabsChange:
    """After Show tabs was switched: add or remove cmsync's tabs in Salesforce now, through
    ``user``'s usable connection, audited like any component change. When that cannot happen
    (no permission to manage components, no connection, cmsync's objects not installed,
    Salesforce unreachable) the setting stays as saved and the next Install follows it."""
    from maintenance.audit import record_action
    from settings_app.models import GeneralSettings

    show = GeneralSettings.get_solo().show_tabs
    later = "The tabs follow at the next Install of Salesforce components (Maintenance tab)."
    if not user.has_perm("salesforce.change_salesforcesettings"):
        return TabsChange(
            f"Managing Salesforce components needs the Full access role. {later}", False
        )
    connection = usable_connection(user)
    if connection is None:
        return TabsChange(f"Salesforce is not connected, so its tabs are unchanged. {later}", False)
    try:
        gateway = connection.gateway(retries=1)
        changed, granted = _apply_show_tabs(gateway)
        _remember(SalesforceSettings.get_solo(), gateway)
    except errors.SalesforceError as exc:
        if exc.code == "SCHEMA_NOT_INSTALLED":
            return TabsChange(
                "cmsync's objects are not installed in Salesforce: the tabs are added when "
                "the components are installed (Maintenance tab).",
                False,
            )
        return TabsChange(f"{explain(exc).rstrip('.')}. {later}", False)
    if changed:
        done = "Added" if show else "Removed"
        names = ", ".join(name.partition(": ")[2] for name in changed)
        record_action(
            SalesforceSettings.get_solo(),
            "maintenance",
            f"{done} Salesforce tabs (Show tabs {'on' if show else 'off'}): {names}",
        )
    elif granted:
        record_action(
            SalesforceSettings.get_solo(),
            "maintenance",
            f"Made Salesforce tabs visible (Show tabs on): {', '.join(granted)}",
        )
    labels = ", ".join(t.label for t in tabs.components())
    if show:
        return TabsChange(f"The Campaign Monitor tabs are in Salesforce: {labels}.", True)
    return TabsChange(f"The Campaign Monitor tabs were removed from Salesforce: {labels}.", True)
