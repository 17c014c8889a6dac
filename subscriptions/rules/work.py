"""Subscription rules: Contacts and Leads that join or leave a list by their field values,
on change (the "Salesforce changes" run) and retrospectively (a background run per rule).

A rule's conditions become SOQL only through ``criteria.parse``. On change, Salesforce is
asked which of a batch's changed records match: ``Id IN (...) AND (<conditions>)``, one
query per rule per batch. What a match does:

- **add** rules import the person into the list (calls of ≤1000) after ``adding.screen``
  (opted-out people are refused while "Prevent contacts or leads being added to lists when
  opted out" is on). Resubscribe is false: an unsubscribed, bounced or deleted subscriber
  stays so (consent first). "Joins a list" journeys start only when the general option
  "Trigger 'joins a list' journeys" is on.
- **remove** rules set the subscriber to Deleted where it still gets email (active,
  unconfirmed); unsubscribed and bounced stay as they are.
- When an add and a remove rule of a list both match a record, remove wins.

Only active rules on lists of connected clients act. With the account trigger on, an
Account change re-checks the account's contacts against the contact rules of every list
where a rule reads account fields. Disabled triggers stop both paths: changes are skipped
before they reach this module, and retrospective runs are refused (or stop).
"""

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from django.db.models import Q
from django.utils import timezone

from campaign_monitor import errors as cm_errors
from campaign_monitor.client import IMPORT_BATCH, CampaignMonitorClient
from campaign_monitor.models import ConnectedClient, Connection
from campaign_monitor.records import IN_SUPPRESSION_LIST, LIVE_STATES, NewSubscriber
from cmsync import jobs
from cmsync.iterables import chunks
from maintenance.models import Message
from salesforce import errors as sf_errors
from salesforce.connection import sync_user_status
from salesforce.gateway import ObjectInfo, SalesforceGateway, memo_describe
from settings_app import gates
from settings_app.models import GeneralSettings
from sync.models import SubscriberState

from ..adding import SKIP_REASONS, Candidate, screen
from ..criteria import Criteria, InvalidCriteria, parse
from ..fields import mappings
from ..models import SubscriptionRule

if TYPE_CHECKING:
    from sync.context import Context  # sync imports this module


STEP = "rules"
TASK = "subscriptions.run_rule_retrospectively"  # subscriptions/tasks.py
# A retrospective run is a job whose lifecycle lives in the rule's retro_* columns; its
# outcome's sentence goes into retro_result["error"].
RETRO = jobs.Columns(
    status="retro_status",
    heartbeat="retro_heartbeat_at",
    started=None,
    finished="retro_finished_at",
    error=None,
)
INACTIVE_STATES = ("unsubscribed", "bounced", "deleted")  # what an add rule leaves alone
BASE_FIELDS = ("Id", "Email", "Name", "HasOptedOutOfEmail")
RETRO_STALE = timedelta(minutes=10)  # a queued or running retrospective run this quiet is lost
EXAMPLES = 20  # skipped or failed addresses a retrospective result keeps
REASONS = {**SKIP_REASONS, "remove_rule": "The list's remove rule matches too (remove wins)"}
# Skip reasons worth a maintenance message (info) when a change is refused.
TOLD = ("opted_out", "invalid_email")

Report = Callable[..., None]  # Context.message's signature


# -- what a rule is evaluated with ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """A list of a connected client."""

    client_id: str
    list_id: str
    name: str


@dataclass(frozen=True, slots=True)
class Compiled:
    rule: SubscriptionRule
    criteria: Criteria
    target: Target


@dataclass(frozen=True, slots=True)
class Done:
    """What a rule did for one record."""

    record_id: str
    email: str
    result: str  # written, unchanged, skipped, failed
    note: str  # for the change's outcome, e.g. "added to Newsletter"
    reason: str = ""  # a REASONS key when skipped


def targets(clients: Iterable[ConnectedClient]) -> dict[str, Target]:
    """Every list of these clients by id: the only lists rules act on."""
    return {
        m["ListID"]: Target(c.client_id, m["ListID"], m.get("Name") or m["ListID"])
        for c in clients
        for m in c.lists
    }


def compile_rule(rule: SubscriptionRule, describe: Callable[[str], ObjectInfo]) -> Criteria:
    """The rule's conditions checked against Salesforce as it is now (InvalidCriteria if a
    field or value went away)."""
    try:
        criteria = parse(rule.conditions, rule.logic, describe, rule.sobject)
    except (sf_errors.RequestError, sf_errors.NotFoundError) as exc:
        raise InvalidCriteria(f"Salesforce could not describe the fields: {exc}") from exc
    if not criteria.conditions:
        raise InvalidCriteria("The rule has no conditions.")
    return criteria


def select_fields(list_id: str, sobject: str, describe: Callable[[str], ObjectInfo]) -> list[str]:
    """Id, Email, Name, opt-out and the fields the list's custom field mappings read (those
    Salesforce still has)."""
    fields = list(BASE_FIELDS)
    for name in mappings.sf_fields(list_id, sobject):
        if name.startswith("Account.") and sobject == "Contact":
            info = describe("Account").field(name.split(".", 1)[1])
            known = f"Account.{info.name}" if info else None
        else:
            info = describe(sobject).field(name) if "." not in name else None
            known = info.name if info else None
        if known and known.lower() not in {f.lower() for f in fields}:
            fields.append(known)
    return fields


def _flat(row: dict) -> dict:
    """A query row with parent fields as "Account.Name" keys, as mappings name them."""
    flat = {}
    for key, value in row.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items() if k != "attributes"})
        else:
            flat[key] = value
    return flat


def matching(
    sf: SalesforceGateway, sobject: str, criteria: Criteria, ids: list[str], fields: list[str]
) -> list[dict]:
    """The records among ``ids`` the criteria match (converted Leads never do). The id list
    and the condition are formatted apart: a condition's quoted value may hold braces."""
    return [_flat(row) for row in sf.matching_by_id(sobject, ids, fields, criteria.where())]


# -- what a match does --------------------------------------------------------------------------


def add(
    api: CampaignMonitorClient,
    general: GeneralSettings,
    target: Target,
    sobject: str,
    rows: list[dict],
    report: Report,
) -> list[Done]:
    """Import the matched people into the list (one call), after screening them."""
    candidates = [
        Candidate(
            sobject=sobject,
            id=row["Id"],
            email=(row.get("Email") or "").strip(),
            name=row.get("Name") or "",
            opted_out=bool(row.get("HasOptedOutOfEmail")),
            values=row,
        )
        for row in rows
    ]
    allowed, skipped = screen(candidates, general)
    done = [
        Done(c.id, c.email, "skipped", f"not added to {target.name}: {REASONS[why]}", why)
        for c, why in skipped
    ]
    if not allowed:
        return done
    # What the sync last read decides "new" (create-only mappings) and "stays inactive".
    states = dict(
        SubscriberState.objects.filter(
            list_id=target.list_id, email_lc__in=[c.email.lower() for c in allowed]
        ).values_list("email_lc", "state")
    )
    maps = mappings.to_cm_mappings(target.list_id)
    subscribers = [
        NewSubscriber(
            email=c.email,
            name=c.name,
            custom_fields=mappings.to_cm_fields(
                target.list_id, sobject, c.values, new=c.email.lower() not in states, mappings=maps
            ),
        )
        for c in allowed
    ]
    journeys = gates.journeys_allowed(general)
    try:
        result = api.import_subscribers(
            target.list_id,
            subscribers,
            resubscribe=False,
            queue_autoresponders=journeys,
            restart_autoresponders=journeys,
        )
    except (cm_errors.ValidationError, cm_errors.NotFoundError) as exc:
        report(
            "CM_RULE_FAILED",
            f"Could not add {len(allowed)} {sobject}(s) to {target.name} for a subscription rule",
            upstream=str(exc),
            record={"list_id": target.list_id, "emails": [c.email for c in allowed[:50]]},
            client_id=target.client_id,
            step=STEP,
        )
        return done + [
            Done(c.id, c.email, "failed", f"not added to {target.name}: {exc}") for c in allowed
        ]
    refused = {f.email.lower(): f for f in result.failures}
    for c in allowed:
        failure, state = refused.get(c.email.lower()), states.get(c.email.lower())
        if failure and failure.code == IN_SUPPRESSION_LIST and state in INACTIVE_STATES:
            # Unsubscribed from a list that unsubscribes from all the client's lists: the
            # suppression list refuses the import, as it would refuse a re-subscription.
            note = (
                f"stays {state} on {target.name} (rules never re-subscribe; the address is "
                "on the client's suppression list)"
            )
            done.append(Done(c.id, c.email, "unchanged", note))
        elif failure:
            report(
                "CM_RULE_FAILED",
                f"Could not add {c.email} ({sobject} {c.id}) to {target.name}",
                upstream=f"{failure.code}: {failure.message}",
                record={"email": c.email, "record_id": c.id, "list_id": target.list_id},
                client_id=target.client_id,
                step=STEP,
            )
            done.append(Done(c.id, c.email, "failed", f"not added to {target.name}"))
        elif state in INACTIVE_STATES:
            note = f"stays {state} on {target.name} (rules never re-subscribe)"
            done.append(Done(c.id, c.email, "unchanged", note))
        else:
            done.append(Done(c.id, c.email, "written", f"added to {target.name}"))
    return done


def remove(
    api: CampaignMonitorClient,
    target: Target,
    rows: list[dict],
    state_of: Callable[[str], str | None],
    report: Report,
) -> list[Done]:
    """Set the matched people to Deleted on the list where they still get email."""
    done = []
    for row in rows:
        email = (row.get("Email") or "").strip()
        if not email:
            note = f"not removed from {target.name}: no email"
            done.append(Done(row["Id"], "", "skipped", note, "no_email"))
            continue
        try:
            state = state_of(email)
            if state in LIVE_STATES:
                api.delete_subscriber(target.list_id, email)
        except (cm_errors.ValidationError, cm_errors.NotFoundError) as exc:
            report(
                "CM_RULE_FAILED",
                f"Could not set {email} to Deleted on {target.name} for a subscription rule",
                upstream=str(exc),
                record={"email": email, "record_id": row["Id"], "list_id": target.list_id},
                client_id=target.client_id,
                step=STEP,
            )
            done.append(Done(row["Id"], email, "failed", f"not removed from {target.name}"))
            continue
        if state in LIVE_STATES:
            done.append(Done(row["Id"], email, "written", f"set to Deleted on {target.name}"))
        elif state is None:
            done.append(Done(row["Id"], email, "unchanged", f"not on {target.name}"))
        else:
            done.append(Done(row["Id"], email, "unchanged", f"stays {state} on {target.name}"))
    return done


def _states_by_lookup(api: CampaignMonitorClient, target: Target, cache: dict):
    """A subscriber's state on the target list, by ``listsforemail`` once per email and
    client; a removal updates the cache so a second record with the email does nothing."""

    def state_of(email: str) -> str | None:
        key = (target.client_id, email.lower())
        if key not in cache:
            cache[key] = {m.list_id: m.state for m in api.lists_for_email(target.client_id, email)}
        state = cache[key].get(target.list_id)
        if state in LIVE_STATES:
            cache[key][target.list_id] = "deleted"
        return state

    return state_of


def _conflicts(adds: list[dict], removes: list[dict], target: Target) -> tuple[list, list]:
    """Remove wins: the add rule's matches without the remove rule's, and those left out."""
    removed = {row["Id"] for row in removes}
    kept = [row for row in adds if row["Id"] not in removed]
    dropped = [
        Done(
            row["Id"],
            row.get("Email") or "",
            "skipped",
            f"not added to {target.name}: its remove rule matches too",
            "remove_rule",
        )
        for row in adds
        if row["Id"] in removed
    ]
    return kept, dropped


# -- on change ----------------------------------------------------------------------------------


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def reads_account(rule: SubscriptionRule) -> bool:
    return any(str(c.get("field", "")).startswith("Account.") for c in rule.conditions)


def _active_rules(ctx: "Context", describe, general: GeneralSettings) -> list[Compiled]:
    """Active rules of connected lists; those reading account fields only with the account
    trigger on (the General option's meaning)."""
    lists = targets(ctx.clients)
    rules = SubscriptionRule.objects.filter(active=True, list_id__in=list(lists))
    compiled = []
    for rule in rules:
        if reads_account(rule) and not gates.accounts_watched(general):
            continue
        try:
            compiled.append(Compiled(rule, compile_rule(rule, describe), lists[rule.list_id]))
        except InvalidCriteria as exc:
            _invalid(ctx, rule, lists[rule.list_id], str(exc))
    return compiled


def _invalid(ctx: "Context", rule: SubscriptionRule, target: Target, why: str) -> None:
    """One warning per rule and run: the rule is skipped until it is corrected."""
    said = Message.objects.filter(code="RULE_INVALID", run=ctx.run, record__rule_id=rule.pk)
    if not said.exists():
        ctx.message(
            "RULE_INVALID",
            f"The rule '{rule.get_action_display()}' of {target.name} was skipped: {why}",
            record={"rule_id": rule.pk, "list_id": rule.list_id, "action": rule.action},
            client_id=target.client_id,
            severity=Message.Severity.WARNING,
            step=STEP,
        )


def apply_to_changes(ctx: "Context", general: GeneralSettings, changes: list) -> None:
    """Evaluate the active rules against a batch of handled changes, act on the matches,
    and add what the rules did to each change's outcome."""
    ctx.count(STEP)
    accounts_on = gates.accounts_watched(general)
    live = [c for c in changes if not c.deleted and (c.sobject != "Account" or accounts_on)]
    if not live or not SubscriptionRule.objects.filter(active=True).exists():
        _say_for_accounts(live, {}, [], reads_account=False)
        return
    describe = ctx.describe
    compiled = _active_rules(ctx, describe, general)
    groups: dict[tuple[str, str], list[Compiled]] = defaultdict(list)
    for item in compiled:
        groups[(item.rule.list_id, item.rule.sobject)].append(item)
    reads_account = {
        key for key, items in groups.items() if any(i.criteria.uses_account for i in items)
    }
    account_ids = _unique(c.record_id for c in live if c.sobject == "Account")
    by_account = ctx.sf.contacts_of_accounts(account_ids) if account_ids and reads_account else {}
    changed = {
        sobject: _unique(c.record_id for c in live if c.sobject == sobject)
        for sobject in ("Contact", "Lead")
    }
    lookups: dict = {}
    done: list[Done] = []
    for (list_id, sobject), items in groups.items():
        ids = changed[sobject]
        if (list_id, sobject) in reads_account:
            ids = _unique([*ids, *by_account])
        if ids:
            done += _apply_group(ctx, general, items, ids, describe, lookups)
    _count(ctx, done)
    _say(ctx, live, done)
    _say_for_accounts(live, by_account, done, reads_account=bool(reads_account))


def _apply_group(
    ctx: "Context", general, items: list[Compiled], ids, describe, lookups
) -> list[Done]:
    """One list's rules for one object (an add and/or a remove rule) on these records."""
    target, sobject = items[0].target, items[0].rule.sobject
    fields = select_fields(target.list_id, sobject, describe)
    matched = {}
    for item in items:
        try:
            matched[item.rule.adds] = matching(ctx.sf, sobject, item.criteria, ids, fields)
        except (sf_errors.RequestError, sf_errors.NotFoundError) as exc:
            _invalid(ctx, item.rule, target, f"Salesforce refused its query: {exc}")
            return []
    ctx.count(STEP, read=sum(len(rows) for rows in matched.values()))
    removes = matched.get(False, [])
    adds, done = _conflicts(matched.get(True, []), removes, target)
    done += remove(ctx.cm, target, removes, _states_by_lookup(ctx.cm, target, lookups), ctx.message)
    for rows in chunks(adds, IMPORT_BATCH):
        done += add(ctx.cm, general, target, sobject, rows, ctx.message)
    for item in done:
        if item.reason in TOLD:
            ctx.message(
                "RULE_NOT_ADDED",
                f"{sobject} {item.record_id} ({item.email or 'no email'}) was not added to "
                f"{target.name}: {REASONS[item.reason]}",
                record={
                    "record_id": item.record_id,
                    "email": item.email,
                    "list_id": target.list_id,
                },
                client_id=target.client_id,
                severity=Message.Severity.INFO,
                step=STEP,
            )
    return done


def _count(ctx: "Context", done: list[Done]) -> None:
    results = Counter(item.result for item in done)
    ctx.count(
        STEP,
        written=results["written"],
        unchanged=results["unchanged"],
        failed=results["failed"],
        skipped=results["skipped"],
    )


def _say(ctx: "Context", live: list, done: list[Done]) -> None:
    """Add what rules did for a changed Contact or Lead to its change's outcome."""
    notes = defaultdict(list)
    for item in done:
        notes[item.record_id].append(item.note)
    for change in live:
        if change.sobject != "Account" and notes.get(change.record_id):
            said = "; ".join(notes[change.record_id])
            change.outcome = f"{change.outcome}; rules: {said}"[:200]


def _say_for_accounts(live: list, by_account: dict, done: list[Done], *, reads_account) -> None:
    """An Account change's outcome: what rules did for its contacts."""
    for change in live:
        if change.sobject != "Account":
            continue
        if not reads_account:
            change.outcome = "account changed: no active subscription rule reads account fields"
            continue
        contacts = {cid for cid, account in by_account.items() if account == change.record_id}
        if not contacts:
            change.outcome = "account changed: it has no contacts"
            continue
        results = Counter(item.result for item in done if item.record_id in contacts)
        what = f"{results['written']} change(s) in Campaign Monitor"
        for result in ("unchanged", "skipped", "failed"):
            if results[result]:
                what += f", {results[result]} {result}"
        change.outcome = f"account changed: rules checked {len(contacts)} contact(s): {what}"[:200]


# -- retrospectively ----------------------------------------------------------------------------


class RetroRefused(jobs.Refused):
    """Why a retrospective run cannot start or go on, in words for the admin."""


def request_retrospective(rule: SubscriptionRule, *, send: bool = True) -> None:
    """Queue a retrospective run of the rule (RetroRefused says why not). Without ``send``
    the caller runs it itself (``run_retrospective``) instead of a worker."""
    general = GeneralSettings.get_solo()
    if refusal := gates.retrospective_refusal(general, "request"):
        raise RetroRefused(refusal)
    if not rule.active:
        raise RetroRefused("The rule is inactive: activate it before running it retrospectively.")
    if refusal := gates.account_rule_refusal(general, reads_account(rule), "request"):
        raise RetroRefused(refusal)
    now = timezone.now()
    busy = [SubscriptionRule.RetroStatus.QUEUED, SubscriptionRule.RetroStatus.RUNNING]
    lost = Q(retro_status__in=busy) & (
        Q(retro_heartbeat_at__lt=now - RETRO_STALE)
        | Q(retro_heartbeat_at=None, retro_requested_at__lt=now - RETRO_STALE)
    )
    free = SubscriptionRule.objects.filter(pk=rule.pk).filter(~Q(retro_status__in=busy) | lost)
    queued = free.update(
        retro_status=SubscriptionRule.RetroStatus.QUEUED,
        retro_requested_at=now,
        retro_heartbeat_at=None,
        retro_finished_at=None,
        retro_result={},
    )
    if not queued:
        raise RetroRefused("A retrospective run of this rule is already queued or running.")
    if send:
        jobs.enqueue(TASK, rule.pk)


@dataclass
class Tally:
    """What a retrospective run did, as stored in ``retro_result``."""

    matched: int = 0
    results: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    examples: list = field(default_factory=list)

    def take(self, done: list[Done]) -> None:
        for item in done:
            self.results[item.result] += 1
            if item.result == "skipped":
                self.skipped[item.reason] += 1
            if item.result in ("skipped", "failed") and len(self.examples) < EXAMPLES:
                self.examples.append({"email": item.email, "note": item.note})

    def as_dict(self, error: str = "") -> dict:
        return {
            "matched": self.matched,
            "written": self.results["written"],
            "unchanged": self.results["unchanged"],
            "failed": self.results["failed"],
            "skipped": dict(self.skipped),
            "examples": self.examples,
            "error": error,
        }


def _report(code: str, summary: str, **kwargs) -> None:
    """Context.message for a retrospective run: a maintenance message with no sync run."""
    Message.objects.create(
        code=code,
        severity=kwargs.get("severity", Message.Severity.ERROR),
        step=kwargs.get("step", STEP),
        client_id=kwargs.get("client_id", ""),
        summary=summary[:300],
        upstream_message=kwargs.get("upstream", ""),
        record=kwargs.get("record") or {},
    )


# How a retrospective run's ending exception becomes its status and sentence.
LADDER: list[jobs.Rule] = [
    (jobs.Refused, jobs.Status.FAILED, jobs.said),
    (
        (cm_errors.CampaignMonitorError, sf_errors.SalesforceError),
        jobs.Status.FAILED,
        lambda e: f"The run stopped: {e}",
    ),
]


def run_retrospective(rule_id: int) -> str:
    """Apply one rule to every existing record that matches it, then store what it did.
    Safe to call twice: only a queued (or abandoned) run is claimed."""
    Status = jobs.Status
    if jobs.claim(SubscriptionRule, rule_id, RETRO_STALE, RETRO) is None:
        rule = SubscriptionRule.objects.filter(pk=rule_id).first()
        return rule.retro_status if rule else "gone"
    rule = SubscriptionRule.objects.get(pk=rule_id)
    tally, error = Tally(), ""
    status: str = Status.SUCCEEDED
    try:
        _retrospective(rule, tally)
    except Exception as exc:  # a bug must still leave a finished result
        status, error = jobs.outcome(exc, LADDER, f"Retrospective run of rule {rule_id}")
    if status == Status.SUCCEEDED and tally.results["failed"]:
        status = Status.PARTIAL
    # Finished whatever its state now (a run taken over meanwhile is finished twice).
    jobs.finish(
        SubscriptionRule, rule_id, status, error, RETRO, where={}, retro_result=tally.as_dict(error)
    )
    return status


def _retrospective(rule: SubscriptionRule, tally: Tally) -> None:
    general = GeneralSettings.get_solo()
    if refusal := gates.retrospective_refusal(general, "start"):
        raise RetroRefused(refusal)
    if not rule.active:
        raise RetroRefused("The rule is inactive: nothing was done.")
    if refusal := gates.account_rule_refusal(general, reads_account(rule), "start"):
        raise RetroRefused(refusal)
    connection = Connection.current()
    if connection is None:
        raise RetroRefused("Campaign Monitor is not connected.")
    status = sync_user_status()
    if status.problem:
        raise RetroRefused(status.problem)
    target = targets(connection.connected_clients()).get(rule.list_id)
    if target is None:
        raise RetroRefused("The list is not a list of a connected Campaign Monitor client.")
    assert status.connection is not None  # no problem comes with a connection
    api, sf = connection.api(), status.connection.gateway()
    describe = memo_describe(sf)
    try:
        criteria = compile_rule(rule, describe)
    except InvalidCriteria as exc:
        raise RetroRefused(f"The rule cannot be evaluated: {exc}") from exc
    if rule.adds:
        _retro_add(rule, criteria, target, api, sf, describe, general, tally)
    else:
        _retro_remove(rule, criteria, target, api, sf, tally)


def _beat(rule: SubscriptionRule, tally: Tally) -> None:
    """Show progress; stop if triggers were disabled or the rule switched off meanwhile."""
    jobs.beat(SubscriptionRule, rule.pk, RETRO, where={}, retro_result=tally.as_dict())
    if refusal := gates.retrospective_refusal(GeneralSettings.get_solo(), "during"):
        raise RetroRefused(refusal)
    if not SubscriptionRule.objects.filter(pk=rule.pk, active=True).exists():
        raise RetroRefused("The rule was deactivated or deleted during the run: it stopped there.")


def _remover(rule: SubscriptionRule, describe) -> Criteria | None:
    """The active remove rule of the same list and object, if any (remove wins)."""
    action = rule.action.replace("add_", "remove_")
    others = SubscriptionRule.objects.filter(list_id=rule.list_id, action=action, active=True)
    other = others.first()
    if other is None:
        return None
    try:
        return compile_rule(other, describe)
    except InvalidCriteria as exc:
        raise RetroRefused(
            f"The list's remove rule cannot be evaluated ({exc}); correct it first, as "
            "records it matches must not be added."
        ) from exc


def _retro_add(rule, criteria, target, api, sf, describe, general, tally: Tally) -> None:
    """Matching records, most recently modified first, imported in batches of 1000."""
    sobject = rule.sobject
    fields = select_fields(target.list_id, sobject, describe)
    remover = _remover(rule, describe)
    matches = sf.matching_newest_first(sobject, fields, criteria.where())
    seen: set[str] = set()  # screen() drops duplicates within a batch; this across batches
    for rows in chunks(map(_flat, matches), IMPORT_BATCH):
        _beat(rule, tally)
        tally.matched += len(rows)
        removes = matching(sf, sobject, remover, [r["Id"] for r in rows], ["Id"]) if remover else []
        rows, dropped = _conflicts(rows, removes, target)
        fresh = []
        for row in rows:
            email = (row.get("Email") or "").strip().lower()
            if email and email in seen:
                note = f"not added to {target.name}: {REASONS['duplicate_email']}"
                dropped.append(Done(row["Id"], email, "skipped", note, "duplicate_email"))
            else:
                fresh.append(row)
        tally.take(dropped)
        tally.take(add(api, general, target, sobject, fresh, _report))
        seen.update((r.get("Email") or "").strip().lower() for r in fresh)


def _state_by_email(states: dict[str, str]) -> Callable[[str], str | None]:
    """A subscriber's state by email, whatever the email's case."""
    return lambda email: states.get(email.lower())


def _retro_remove(rule, criteria, target, api, sf, tally: Tally) -> None:
    """Page the list's active and unconfirmed subscribers, ask Salesforce which of their
    emails belong to matching records, then set those to Deleted (after reading: deleting
    while paging would shift the pages)."""
    sobject, where = rule.sobject, criteria.where()
    found: dict[str, tuple[dict, str]] = {}  # email (lower case) → (record, state)
    for state in LIVE_STATES:
        for page in api.subscriber_pages(target.list_id, state):
            _beat(rule, tally)
            emails = [s.email for s in page.records]
            for row in sf.matching_by_email(sobject, emails, where):
                found.setdefault((row.get("Email") or "").lower(), (row, state))
    tally.matched = len(found)
    for batch in chunks(found.values(), IMPORT_BATCH):
        _beat(rule, tally)
        states = {row["Email"].lower(): state for row, state in batch}
        rows = [row for row, _ in batch]
        tally.take(remove(api, target, rows, _state_by_email(states), _report))
