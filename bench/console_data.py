"""A console with data in it, for the console benchmark (bench/console.py) and the query-count
tests (tests/test_query_counts.py): both emulators connected, then as many rows as asked of
every kind a console page or an API list shows (runs, maintenance messages, people, invitations,
API keys, lockouts, lists, rules, field mappings, imports, Salesforce changes, audit entries).

``ConsoleData.add(n)`` adds n more of each, so a test can load a page with 1 row, add 29 and
load it again; the benchmark adds a few hundred (and 5,000 messages).
"""

from datetime import timedelta
from itertools import cycle

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from campaign_monitor.connection import connect as connect_cm
from campaign_monitor.models import ConnectedClient, ListOptions
from maintenance.codes import CODES
from maintenance.models import Message
from salesforce.connection import check_schema, connect_client_credentials
from salesforce.models import SalesforceSettings
from security import service
from security.models import ClientOwnership, UserOverride
from security.roles import FULL, LIMITED, STANDARD, set_role
from subscriptions.models import FieldMapping, ImportJob, SubscriptionRule
from sync.models import SalesforceChange, SyncRun

STEPS = ("discover", "subscribers", "opt_out", "campaigns", "tracking")
PASSWORD = "bench-password-1"
ROLES = cycle((FULL, STANDARD, LIMITED))
ACTIONS = [a for a, _ in SubscriptionRule.Action.choices]


class ConsoleData:
    """cmsync connected to the emulators' agency account (first client; the list pages use
    its first list), with rows added by ``add``."""

    def __init__(self, admin: AbstractBaseUser, cm_info: dict, sf_info: dict) -> None:
        self.admin = admin
        agency = next(a for a in cm_info["accounts"] if a["type"] == "agency")
        client = agency["clients"][0]
        self.client_id = client["ClientID"]
        self.list_id = client["lists"][0]["ListID"]
        connect_cm(base_url=cm_info["base_url"], api_key=agency["api_key"], client_ids="all")
        oauth = sf_info["oauth"]
        connection = connect_client_credentials(
            admin, sf_info["login_url"], oauth["client_id"], oauth["client_secret"]
        )
        check_schema(connection, install=True)
        self.added = 0
        self.people = 0
        # Every seeded person's password, hashed once (hashing each would take minutes).
        self.password = make_password(PASSWORD)
        self.run: SyncRun | None = None  # the run whose page shows the messages
        self.job: ImportJob | None = None
        self.user: AbstractBaseUser | None = None  # a person the security forms are about

    def add(self, count: int, messages: int | None = None, people: int | None = None) -> None:
        """``count`` more rows of every kind; ``messages`` (default ``count``) more
        maintenance messages spread over the runs (the first run has at least ``count``);
        ``people`` (default ``count``) more people, invitations, API keys and lockouts."""
        start, self.added = self.added, self.added + count
        runs = self._runs(start, count)
        self.run = self.run or runs[0]
        self._messages(start, messages if messages is not None else count, runs)
        self._people(self.people, people if people is not None else count)
        self.people += people if people is not None else count
        self._lists(start, count)
        self._imports(start, count)
        self._changes(start, count)
        self._audited_changes()

    def _audited_changes(self) -> None:
        """The newest audit entries name other rows (the sync user changed and back), as
        after an admin's work."""
        settings_row = SalesforceSettings.get_solo()
        for user in (self.user, self.admin):
            settings_row.sync_user = user
            settings_row.save()

    def _runs(self, start: int, count: int) -> list[SyncRun]:
        now = timezone.now()
        runs = []
        for n in range(start, start + count):
            began = now - timedelta(hours=n + 1)
            counts = {step: {"read": n, "written": n // 2, "failed": n % 3} for step in STEPS}
            runs.append(
                SyncRun(
                    kind=SyncRun.Kind.CHANGES if n % 4 == 3 else SyncRun.Kind.PRIMARY,
                    trigger=SyncRun.Trigger.MANUAL if n % 2 else SyncRun.Trigger.SCHEDULE,
                    status=SyncRun.Status.PARTIAL if n % 3 else SyncRun.Status.SUCCEEDED,
                    active=None,
                    requested_by=self.admin if n % 2 else None,
                    created_at=began,
                    started_at=began,
                    finished_at=began + timedelta(minutes=3),
                    step=STEPS[-1],
                    counts=counts,
                    cm_calls=10 + n,
                    sf_calls=20 + n,
                )
            )
        return SyncRun.objects.bulk_create(runs)

    def _messages(self, start: int, count: int, runs: list[SyncRun]) -> None:
        codes = cycle(sorted(CODES))
        first = self.run
        rows = []
        for n in range(count):
            run = first if n < len(runs) or not runs else runs[n % len(runs)]
            rows.append(
                Message(
                    code=next(codes),
                    run=run,
                    client_id=self.client_id,
                    step="opt_out",
                    summary=f"Contact {start + n} could not be written",
                    upstream_message="FIELD_CUSTOM_VALIDATION_EXCEPTION: no",
                    record={
                        "sobject": "Contact",
                        "operation": "update",
                        "fields": {"Id": f"003{start + n:015d}", "HasOptedOutOfEmail": True},
                    },
                )
            )
        Message.objects.bulk_create(rows)

    def _people(self, start: int, count: int) -> None:
        """Users with roles (each owning a client, with a Campaign Monitor override),
        pending invitations, API keys and lockouts."""
        users = get_user_model()
        for n in range(start, start + count):
            user = users.objects.create_user(f"user{n}", f"user{n}@example.com", first_name=f"U{n}")
            user.password = self.password
            user.save(update_fields=["password"])
            set_role(user, next(ROLES))
            self.user = self.user or user
            ClientOwnership.objects.create(user=user, client_id=self.client_id)
            UserOverride.objects.create(
                user=user, client_id=self.client_id, person_email=f"user{n}@example.com"
            )
            service.invite(f"invited{n}@example.com", STANDARD, self.admin)
            service.create_key(f"integration {n}", "read", self.admin)
            AccessAttempt.objects.create(
                username=f"user{n}",
                ip_address="127.0.0.2",
                user_agent="bench",
                failures_since_start=settings.LOGIN_FAILURE_LIMIT,
                get_data="",
                post_data="",
                http_accept="",
                path_info="/accounts/login/",
            )

    def _lists(self, start: int, count: int) -> None:
        """More lists on the first client (as Campaign Monitor would list them), each with
        options and a rule; field mappings and rules on the first list."""
        client = ConnectedClient.objects.get(client_id=self.client_id)
        numbers = range(start, start + count)
        extra = [{"ListID": f"bench-list-{n}", "Name": f"Bench list {n}"} for n in numbers]
        client.lists = [*client.lists, *extra]
        client.save(update_fields=["lists"])
        if start == 0:  # the first list's rule pages show one
            SubscriptionRule.objects.create(
                list_id=self.list_id,
                action=SubscriptionRule.Action.ADD_CONTACT,
                conditions=[{"field": "LeadSource", "operator": "equals", "value": "Web"}],
            )
        # (bulk: saving one by one would reconcile each list's webhook with Campaign Monitor)
        ListOptions.objects.bulk_create(
            ListOptions(list_id=row["ListID"], prevent_member_sync=bool(n % 2))
            for n, row in enumerate(extra, start)
        )
        for n, row in enumerate(extra, start):
            SubscriptionRule.objects.create(
                list_id=row["ListID"],
                action=ACTIONS[n % 4],
                conditions=[{"field": "LeadSource", "operator": "equals", "value": f"Web {n}"}],
            )
            FieldMapping.objects.create(
                list_id=self.list_id,
                cm_key=f"[Field{n}]",
                cm_type="Text",
                contact_field="Title",
                lead_field="Title",
                direction=FieldMapping.Direction.choices[n % 2][0],
            )

    def _imports(self, start: int, count: int) -> None:
        jobs = ImportJob.objects.bulk_create(
            ImportJob(
                list_id=self.list_id,
                client_id=self.client_id,
                created_by=self.admin,
                source=ImportJob.Source.choices[n % len(ImportJob.Source.choices)][0],
                # The first one a draft: the wizard's steps show it (finished ones go to
                # their result).
                status=ImportJob.Status.SUCCEEDED if n else ImportJob.Status.DRAFT,
                totals={"read": n, "imported": n},
            )
            for n in range(start, start + count)
        )
        self.job = self.job or jobs[0]

    def _changes(self, start: int, count: int) -> None:
        """Salesforce changes on the first run (its page lists them)."""
        SalesforceChange.objects.bulk_create(
            SalesforceChange(
                run=self.run,
                sobject="Contact",
                record_id=f"003{n:015d}",
                email=f"person{n}@example.com",
                source=SalesforceChange.Source.OUTBOUND if n % 2 else SalesforceChange.Source.POLL,
                opted_out=bool(n % 2),
                batch=f"batch-{n // 10}",
                processed_at=timezone.now(),
                outcome="Unsubscribed from 2 lists",
            )
            for n in range(start, start + count)
        )
