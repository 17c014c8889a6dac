import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create the first admin user if there is none. Username and password come from "
        "CMSYNC_ADMIN_USERNAME / CMSYNC_ADMIN_PASSWORD, or the password is generated, kept "
        "in var/admin-password and printed."
    )

    def handle(self, *args, **options) -> None:
        env = settings.ENV
        username = env.str("CMSYNC_ADMIN_USERNAME", default="admin")
        password = env.str("CMSYNC_ADMIN_PASSWORD", default="")
        saved = settings.VAR_DIR / "admin-password"
        users = get_user_model().objects
        if users.filter(is_superuser=True).exists():
            if not password and saved.exists():
                password = saved.read_text().strip()
            self._print(username, password or "(the password you set)")
            return
        if not password:
            password = secrets.token_urlsafe(12)
            saved.write_text(password)
            saved.chmod(0o600)
        users.create_superuser(username=username, email="", password=password)
        self.stdout.write(self.style.SUCCESS(f"Created admin user {username!r}."))
        self._print(username, password)

    def _print(self, username: str, password: str) -> None:
        self.stdout.write(f"Log in at http://127.0.0.1:8000/ as {username} / {password}")
