import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from maintenance.models import AlertSettings


class Command(BaseCommand):
    help = (
        "Create the first admin user if there is none. Username, password and email come from "
        "CMSYNC_ADMIN_USERNAME / CMSYNC_ADMIN_PASSWORD / CMSYNC_ADMIN_EMAIL, or the password "
        "is generated, kept in var/admin-password and printed. The new admin receives the "
        "alert emails until someone chooses other recipients on the Maintenance tab."
    )

    def handle(self, *args, **options) -> None:
        env = settings.ENV
        username = env.str("CMSYNC_ADMIN_USERNAME", default="admin")
        password = env.str("CMSYNC_ADMIN_PASSWORD", default="")
        email = env.str("CMSYNC_ADMIN_EMAIL", default="admin@cmsync.localhost").strip()
        saved = settings.VAR_DIR / "admin-password"
        users = get_user_model().objects
        if users.filter(is_superuser=True).exists():
            # An admin created before CMSYNC_ADMIN_EMAIL existed gets the address once; an
            # address already set (on Your account) is left alone.
            users.filter(username=username, is_superuser=True, email="").update(email=email)
            if not password and saved.exists():
                password = saved.read_text().strip()
            self._print(username, password or "(the password you set)")
            return
        if not password:
            password = secrets.token_urlsafe(12)
            saved.write_text(password)
            saved.chmod(0o600)
        admin = users.create_superuser(username=username, email=email, password=password)
        alerts = AlertSettings.get_solo()
        if email and not alerts.recipients.exists():
            alerts.recipients.add(admin)  # so a failed run on a fresh install reaches someone
        self.stdout.write(self.style.SUCCESS(f"Created admin user “{username}” ({email})."))
        self._print(username, password)

    def _print(self, username: str, password: str) -> None:
        self.stdout.write(f"Log in at http://127.0.0.1:8000/ as {username} / {password}")
