from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from salesforce import errors
from salesforce.connection import (
    connect_client_credentials,
    connect_jwt,
    connect_password,
    explain,
    set_sync_user,
)


def console_user(username: str | None):
    """The named console user, or the first superuser."""
    users = get_user_model().objects
    user = (
        users.filter(username=username).first()
        if username
        else users.filter(is_superuser=True).order_by("pk").first()
    )
    if user is None:
        raise CommandError(f"No console user “{username}”." if username else "No admin user yet.")
    return user


class Command(BaseCommand):
    help = (
        "Connect cmsync to Salesforce server-to-server (client credentials, or JWT bearer with "
        "--jwt-key and --username; --password for the legacy username-password flow) and make "
        "it the sync user's connection."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--login-url", required=True, help="e.g. https://acme.my.salesforce.com"
        )
        parser.add_argument("--client-id", required=True, help="the connected app's consumer key")
        parser.add_argument("--client-secret", default="", help="for client credentials")
        parser.add_argument("--jwt-key", type=Path, help="PEM private key file, for JWT bearer")
        parser.add_argument("--username", default="", help="Salesforce username (JWT, --password)")
        parser.add_argument(
            "--password",
            default="",
            help="legacy: the OAuth username-password flow (with --client-secret and --username)",
        )
        parser.add_argument(
            "--user", help="console user the connection belongs to (default: admin)"
        )

    def handle(self, *args, **options) -> None:
        user = console_user(options["user"])
        login_url = options["login_url"].rstrip("/")
        try:
            if options["jwt_key"]:
                if not options["username"]:
                    raise CommandError("--jwt-key needs --username.")
                key = options["jwt_key"].read_text()
                connection = connect_jwt(
                    user, login_url, options["client_id"], options["username"], key
                )
            elif options["password"]:
                if not (options["username"] and options["client_secret"]):
                    raise CommandError("--password needs --username and --client-secret.")
                connection = connect_password(
                    user,
                    login_url,
                    options["client_id"],
                    options["client_secret"],
                    options["username"],
                    options["password"],
                )
            elif options["client_secret"]:
                connection = connect_client_credentials(
                    user, login_url, options["client_id"], options["client_secret"]
                )
            else:
                raise CommandError("Give --client-secret, or --jwt-key with --username.")
        except OSError as exc:
            raise CommandError(f"Cannot read the key file: {exc}") from exc
        except errors.SalesforceError as exc:
            raise CommandError(explain(exc)) from exc
        problem = set_sync_user(user)
        if problem:
            self.stderr.write(problem)
        self.stdout.write(
            f"Connected {user} to Salesforce as {connection.sf_username} "
            f"({connection.instance_url}); {user} is now the sync user."
        )
