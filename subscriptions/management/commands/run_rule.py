"""Run a subscription rule retrospectively in this process (debugging; no worker needed)."""

from django.core.management.base import BaseCommand, CommandError

from subscriptions.models import SubscriptionRule
from subscriptions.rules import work as rules


class Command(BaseCommand):
    help = "Apply a subscription rule to every existing matching record, now, in this process."

    def add_arguments(self, parser) -> None:
        parser.add_argument("rule_id", type=int)

    def handle(self, *args, rule_id: int, **options) -> None:
        rule = SubscriptionRule.objects.filter(pk=rule_id).first()
        if rule is None:
            raise CommandError(f"There is no subscription rule {rule_id}.")
        try:
            rules.request_retrospective(rule, send=False)  # refused as in the console
        except rules.RetroRefused as exc:
            raise CommandError(str(exc)) from exc
        status = rules.run_retrospective(rule_id)
        rule.refresh_from_db()
        self.stdout.write(f"{status}: {rule.retro_result}")
