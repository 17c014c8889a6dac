"""A list's subscription rules, custom field mappings and imports over the API
(/api/v1/lists/<list_id>/...). Changes are validated by the console's own forms (the rule
form with ``criteria.parse`` against Salesforce's describe, the mapping form against the
list's custom fields and the sync user's describe), so the API and the console can never
disagree about what may be saved. Only lists of connected clients the caller may see exist
here (client ownership); any other list is 404."""

from django.db import IntegrityError, transaction
from django.db.models import Count
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from cmsync.api import JsonSerializer
from maintenance.audit import record_action
from salesforce import errors as sf_errors
from salesforce.connection import explain, usable_connection
from salesforce.gateway import memo_describe
from security.access import visible_connected_clients
from settings_app.models import GeneralSettings

from .criteria import MAX_CONDITIONS, OPERATORS
from .fields import views as field_views
from .fields.forms import FieldMappingForm
from .imports import views as import_views
from .imports import work as imports
from .models import FieldMapping, ImportFailure, ImportJob, SubscriptionRule
from .rules import views as rule_views
from .rules import work as rules
from .rules.forms import RuleForm

LIST_ID = OpenApiParameter(
    "list_id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="A subscriber list of a connected client (Campaign Monitor's ListID).",
)
RULE_ACTION = OpenApiParameter(
    "action",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    enum=SubscriptionRule.Action.values,
    description="The rule: one per action and list.",
)
FAILURES_SHOWN = import_views.FAILURES_PER_PAGE


def _target(user, list_id: str) -> rules.Target:
    """The list, if it belongs to a connected client this user may see (else 404)."""
    found = rules.targets(visible_connected_clients(user)).get(list_id)
    if found is None:
        raise NotFound("No list of a connected client you can see has this id.")
    return found


def _form_errors(form) -> dict:
    errors = {name: list(messages) for name, messages in form.errors.items()}
    if "__all__" in errors:
        errors["non_field_errors"] = errors.pop("__all__")
    return errors


class ListScoped:
    """Every view here is about one list: found (or 404) once the caller is allowed in."""

    target: rules.Target

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.target = _target(request.user, kwargs["list_id"])


# -- subscription rules -------------------------------------------------------------------------


class ConditionSerializer(JsonSerializer):
    field = serializers.CharField(
        help_text="A field of the rule's object as Salesforce names it (LeadSource); contact "
        "rules may test the account's fields as Account.<field>."
    )
    operator = serializers.CharField(default="equals", help_text=f"One of: {', '.join(OPERATORS)}.")
    value = serializers.CharField(
        default="",
        allow_blank=True,
        help_text="Compared as a value of the field's type, never read as SOQL; ignored by "
        "is_blank and is_not_blank.",
    )


class RuleSerializer(serializers.ModelSerializer):
    """One rule as the console's rules page shows it, with its last retrospective run."""

    action_display = serializers.CharField(source="get_action_display", read_only=True)
    sobject = serializers.CharField(read_only=True)
    conditions = ConditionSerializer(many=True, read_only=True)
    retro_status = serializers.ChoiceField(
        # A retrospective run has no Cancel: its states are the job states but Cancelled.
        choices=[c for c in SubscriptionRule.RetroStatus.choices if c[0] != "cancelled"],
        allow_blank=True,
        read_only=True,
        help_text="The last retrospective run; empty when it never ran.",
    )

    class Meta:
        model = SubscriptionRule
        fields = [
            "list_id",
            "action",
            "action_display",
            "sobject",
            "conditions",
            "logic",
            "active",
            "created_at",
            "updated_at",
            "retro_status",
            "retro_requested_at",
            "retro_finished_at",
            "retro_result",
        ]
        read_only_fields = fields


class RuleChangeSerializer(JsonSerializer):
    """What PUT replaces (PATCH: any of it). Checked by the console's rule form."""

    conditions = ConditionSerializer(
        many=True, help_text=f"At most {MAX_CONDITIONS}, numbered from 1 for the custom logic."
    )
    logic = serializers.CharField(
        default="",
        allow_blank=True,
        help_text="Empty: every condition must hold. Otherwise condition numbers with AND, OR, "
        "NOT and parentheses, e.g. 1 AND (2 OR 3).",
    )
    active = serializers.BooleanField(default=True)

    def validate_conditions(self, conditions: list) -> list:
        if len(conditions) > MAX_CONDITIONS:
            raise ValidationError(f"Use at most {MAX_CONDITIONS} conditions.")
        return conditions


class RuleCreateSerializer(RuleChangeSerializer):
    action = serializers.ChoiceField(choices=SubscriptionRule.Action.choices)


def _rule_form_data(changes: dict) -> dict:
    """The console form's data: one row (field_n, operator_n, value_n) per condition."""
    data = {"logic": changes["logic"], "active": changes["active"]}
    for number, condition in enumerate(changes["conditions"], start=1):
        # PATCH leaves out the defaults; the form reads a missing operator as equals.
        data[f"field_{number}"] = condition.get("field", "")
        data[f"operator_{number}"] = condition.get("operator", "")
        data[f"value_{number}"] = condition.get("value", "")
    return data


def _rule_errors(form: RuleForm) -> dict:
    """The form's errors with its rows as "Condition n: ..." under ``conditions``."""
    errors: dict[str, list[str]] = {}
    for name, messages in _form_errors(form).items():
        part, _, number = name.rpartition("_")
        if part in ("field", "operator", "value") and number.isdigit():
            errors.setdefault("conditions", []).extend(f"Condition {number}: {m}" for m in messages)
        else:
            errors.setdefault(name, []).extend(messages)
    return errors


def checked_rule_form(user, sobject: str, changes: dict) -> RuleForm:
    """The console's rule form, filled and valid, with fields from Salesforce's describe;
    ValidationError (400) with the form's errors, or why Salesforce cannot be asked."""
    connection = usable_connection(user)
    if connection is None:
        raise ValidationError(
            {"non_field_errors": ["Connect to Salesforce to check the fields of conditions."]}
        )
    describe = memo_describe(connection.gateway(retries=1))
    try:
        form = RuleForm(_rule_form_data(changes), describe=describe, sobject=sobject)
        valid = form.is_valid()
    except sf_errors.SalesforceError as exc:
        raise ValidationError(
            {"non_field_errors": [f"Salesforce could not check the fields: {explain(exc)}"]}
        ) from exc
    if not valid:
        raise ValidationError(_rule_errors(form))
    return form


@extend_schema(parameters=[LIST_ID])
class RuleViewSet(ListScoped, viewsets.ViewSet):
    """A list's subscription rules: at most one per action (add or remove, contact or lead)."""

    serializer_class = RuleSerializer
    lookup_field = "action"
    lookup_value_regex = r"[^/]+"
    permissions = {
        "GET": rule_views.VIEW,
        "POST": rule_views.ADD,
        "PUT": rule_views.CHANGE,
        "PATCH": rule_views.CHANGE,
        "DELETE": rule_views.DELETE,
    }

    def _rule(self, action_name: str) -> SubscriptionRule:
        found = None
        if action_name in SubscriptionRule.Action.values:
            found = SubscriptionRule.objects.filter(
                list_id=self.target.list_id, action=action_name
            ).first()
        if found is None:
            raise NotFound("This list has no such rule.")
        return found

    def _save(self, rule: SubscriptionRule, changes: dict) -> SubscriptionRule:
        """Save as the console's rule page saves (audited under the caller's name)."""
        form = checked_rule_form(self.request.user, rule.sobject, changes)
        rule.conditions = form.conditions
        rule.logic = form.cleaned_data["logic"]
        rule.active = form.cleaned_data["active"]
        rule.save()
        return rule

    @extend_schema(responses={200: RuleSerializer(many=True)})
    def list(self, request, list_id: str):
        """The list's rules (none to four)."""
        found = SubscriptionRule.objects.filter(list_id=self.target.list_id)
        return Response(RuleSerializer(found, many=True).data)

    @extend_schema(request=RuleCreateSerializer, responses={201: RuleSerializer})
    def create(self, request, list_id: str):
        """Add the rule for an action; 400 when the list already has it (change it instead)."""
        changes = RuleCreateSerializer(data=request.data)
        changes.is_valid(raise_exception=True)
        action_name = changes.validated_data["action"]
        taken = {"action": ["This list already has this rule: change it with PUT or PATCH."]}
        if SubscriptionRule.objects.filter(list_id=list_id, action=action_name).exists():
            raise ValidationError(taken)
        rule = SubscriptionRule(list_id=list_id, action=action_name)
        try:
            with transaction.atomic():
                self._save(rule, changes.validated_data)
        except IntegrityError:  # added meanwhile
            raise ValidationError(taken) from None
        return Response(RuleSerializer(rule).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[RULE_ACTION], responses={200: RuleSerializer})
    def retrieve(self, request, list_id: str, action: str):
        """One rule."""
        return Response(RuleSerializer(self._rule(action)).data)

    @extend_schema(
        parameters=[RULE_ACTION], request=RuleChangeSerializer, responses={200: RuleSerializer}
    )
    def update(self, request, list_id: str, action: str):
        """Replace the rule's conditions, logic and active."""
        rule = self._rule(action)
        changes = RuleChangeSerializer(data=request.data)
        changes.is_valid(raise_exception=True)
        return Response(RuleSerializer(self._save(rule, changes.validated_data)).data)

    @extend_schema(
        parameters=[RULE_ACTION], request=RuleChangeSerializer, responses={200: RuleSerializer}
    )
    def partial_update(self, request, list_id: str, action: str):
        """Change some of conditions, logic and active; the rule is checked as a whole."""
        rule = self._rule(action)
        changes = RuleChangeSerializer(data=request.data, partial=True)
        changes.is_valid(raise_exception=True)
        stored = {"conditions": rule.conditions, "logic": rule.logic, "active": rule.active}
        return Response(RuleSerializer(self._save(rule, stored | changes.validated_data)).data)

    @extend_schema(parameters=[RULE_ACTION], responses={204: None})
    def destroy(self, request, list_id: str, action: str):
        self._rule(action).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(parameters=[RULE_ACTION], request=None, responses={202: RuleSerializer})
    @action(
        detail=True,
        methods=["post"],
        permissions={"GET": rule_views.VIEW, "POST": rule_views.CHANGE},
    )
    def retrospective(self, request, list_id: str, action: str):
        """Apply the rule to every existing record, in the background, as the console's
        button does; 400 with the reason when it is refused (triggers disabled, inactive,
        already queued or running). The result appears in retro_status and retro_result."""
        rule = self._rule(action)
        try:
            rules.request_retrospective(rule)
        except rules.RetroRefused as exc:
            raise ValidationError({"non_field_errors": [str(exc)]}) from exc
        record_action(rule, "sync", f"Retrospective run of “{rule}” requested through the API")
        rule.refresh_from_db()
        return Response(RuleSerializer(rule).data, status=status.HTTP_202_ACCEPTED)


# -- custom field mappings ----------------------------------------------------------------------


class FieldMappingSerializer(serializers.ModelSerializer):
    class Meta:
        model = FieldMapping
        fields = [
            "id",
            "list_id",
            "cm_key",
            "cm_type",
            "direction",
            "contact_field",
            "lead_field",
            "default_value",
            "create_only",
        ]
        read_only_fields = fields


class FieldMappingChangeSerializer(JsonSerializer):
    """What PUT replaces (PATCH: any of it). Checked by the console's mapping form."""

    cm_key = serializers.CharField(
        help_text="One of the list's custom fields, with its brackets: [website]."
    )
    direction = serializers.CharField(
        help_text=f"One of: {', '.join(FieldMapping.Direction.values)}."
    )
    contact_field = serializers.CharField(
        default="", allow_blank=True, help_text="A Contact field; empty: not mapped."
    )
    lead_field = serializers.CharField(
        default="", allow_blank=True, help_text="A Lead field; empty: not mapped."
    )
    default_value = serializers.CharField(
        default="", allow_blank=True, help_text="Used when the value it comes from is blank."
    )
    create_only = serializers.BooleanField(default=False)


@extend_schema(parameters=[LIST_ID])
class FieldMappingViewSet(ListScoped, viewsets.ViewSet):
    """A list's custom field mappings, checked against the fields as Campaign Monitor and
    Salesforce describe them now."""

    serializer_class = FieldMappingSerializer
    lookup_value_regex = r"[0-9]{1,18}"
    permissions = {
        "GET": field_views.VIEW,
        "POST": field_views.ADD,
        "PUT": field_views.CHANGE,
        "PATCH": field_views.CHANGE,
        "DELETE": field_views.DELETE,
    }

    def _mapping(self, pk: str) -> FieldMapping:
        found = FieldMapping.objects.filter(list_id=self.target.list_id, pk=int(pk)).first()
        if found is None:
            raise NotFound("This list has no such mapping.")
        return found

    def _save(self, changes: dict, instance: FieldMapping | None = None) -> FieldMapping:
        """Save through the console's mapping form (audited under the caller's name)."""
        list_id = self.target.list_id
        sources, problems = field_views._sources(list_id)
        if problems:
            raise ValidationError({"non_field_errors": problems})
        form = FieldMappingForm(changes, list_id=list_id, instance=instance, **sources)
        if not form.is_valid():
            raise ValidationError(_form_errors(form))
        try:
            with transaction.atomic():
                return form.save()
        except IntegrityError:  # the same field mapped meanwhile
            raise ValidationError(
                {"cm_key": ["This field is already mapped; change that mapping."]}
            ) from None

    @extend_schema(responses={200: FieldMappingSerializer(many=True)})
    def list(self, request, list_id: str):
        """The list's mappings, one per custom field at most."""
        found = FieldMapping.objects.filter(list_id=self.target.list_id)
        return Response(FieldMappingSerializer(found, many=True).data)

    @extend_schema(request=FieldMappingChangeSerializer, responses={201: FieldMappingSerializer})
    def create(self, request, list_id: str):
        """Map a custom field; impossible pairs (types, read-only fields) are refused."""
        changes = FieldMappingChangeSerializer(data=request.data)
        changes.is_valid(raise_exception=True)
        mapping = self._save(changes.validated_data)
        return Response(FieldMappingSerializer(mapping).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: FieldMappingSerializer})
    def retrieve(self, request, list_id: str, pk: str):
        return Response(FieldMappingSerializer(self._mapping(pk)).data)

    @extend_schema(request=FieldMappingChangeSerializer, responses={200: FieldMappingSerializer})
    def update(self, request, list_id: str, pk: str):
        mapping = self._mapping(pk)
        changes = FieldMappingChangeSerializer(data=request.data)
        changes.is_valid(raise_exception=True)
        return Response(FieldMappingSerializer(self._save(changes.validated_data, mapping)).data)

    @extend_schema(request=FieldMappingChangeSerializer, responses={200: FieldMappingSerializer})
    def partial_update(self, request, list_id: str, pk: str):
        """Change part of a mapping; the mapping is checked as a whole."""
        mapping = self._mapping(pk)
        changes = FieldMappingChangeSerializer(data=request.data, partial=True)
        changes.is_valid(raise_exception=True)
        stored = {
            name: getattr(mapping, name) for name in FieldMappingChangeSerializer().fields.keys()
        }
        saved = self._save(stored | changes.validated_data, mapping)
        return Response(FieldMappingSerializer(saved).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, list_id: str, pk: str):
        self._mapping(pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


# -- imports ----------------------------------------------------------------------------------


class ImportFailureSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportFailure
        fields = ["id", "kind", "record_id", "email", "code", "message"]
        read_only_fields = fields


class ImportJobSerializer(serializers.ModelSerializer):
    """An import as its result page shows it (without the failures)."""

    status_display = serializers.CharField(source="get_status_display", read_only=True)
    source_description = serializers.SerializerMethodField()
    options = serializers.SerializerMethodField()
    created_by = serializers.CharField(
        source="created_by.get_username", default=None, allow_null=True, read_only=True
    )
    failure_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "list_id",
            "client_id",
            "status",
            "status_display",
            "source",
            "source_description",
            "campaign_id",
            "campaign_name",
            "member_statuses",
            "conditions",
            "logic",
            "mapping",
            "refresh",
            "restart_journeys",
            "clear_blanks",
            "options",
            "scheduled_for",
            "created_at",
            "created_by",
            "started_at",
            "finished_at",
            "totals",
            "last_error",
            "failure_count",
        ]
        read_only_fields = fields

    def get_source_description(self, job) -> str:
        return imports.describe_source(job)

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_options(self, job) -> dict:
        """What was in force when it ran, or what the general options allow now."""
        if "general" not in self.context:  # read once for a whole page of imports
            self.context["general"] = GeneralSettings.get_solo()
        return (job.totals or {}).get("options") or imports.options_in_force(
            job, self.context["general"]
        )


class ImportJobDetailSerializer(ImportJobSerializer):
    failures = serializers.SerializerMethodField(
        help_text=f"The first {FAILURES_SHOWN} addresses skipped or refused (failure_count "
        "says how many in all)."
    )

    class Meta(ImportJobSerializer.Meta):
        fields = [*ImportJobSerializer.Meta.fields, "failures"]
        read_only_fields = fields

    @extend_schema_field(ImportFailureSerializer(many=True))
    def get_failures(self, job) -> list:
        failures = ImportFailureSerializer(job.failures.all()[:FAILURES_SHOWN], many=True)
        return failures.data  # type: ignore[return-value]  # a list (many=True); stubs: a dict


@extend_schema(parameters=[LIST_ID])
class ImportJobViewSet(
    ListScoped, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The list's imports (the wizard's drafts too), newest first. Read-only but for cancel."""

    queryset = ImportJob.objects.none()  # for the schema; get_queryset filters
    lookup_value_regex = r"[0-9]{1,18}"
    permissions = {"GET": import_views.VIEW}

    def get_serializer_class(self):
        return ImportJobSerializer if self.action == "list" else ImportJobDetailSerializer

    def get_queryset(self):
        jobs = ImportJob.objects.filter(
            list_id=self.target.list_id, client_id=self.target.client_id
        )
        wanted = self.request.query_params.get("status")
        if self.action == "list" and wanted is not None:
            if wanted not in ImportJob.Status.values:
                raise ValidationError({"status": [f"Not a status: {wanted}"]})
            jobs = jobs.filter(status=wanted)
        jobs = jobs.select_related("created_by").annotate(failure_count=Count("failures"))
        return jobs.order_by("-created_at", "-id")  # a GROUP BY leaves Meta.ordering out

    @extend_schema(parameters=[OpenApiParameter("status", str, enum=ImportJob.Status.values)])
    def list(self, request, *args, **kwargs):
        """The list's imports, newest first, paginated; filter with ?status=."""
        return super().list(request, *args, **kwargs)

    def retrieve(self, request, *args, **kwargs):
        """One import with its totals and the first addresses skipped or refused."""
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(request=None, responses={200: ImportJobDetailSerializer})
    @action(
        detail=True,
        methods=["post"],
        permissions={"GET": import_views.VIEW, "POST": import_views.CHANGE},
    )
    def cancel(self, request, list_id: str, pk: str):
        """Cancel a scheduled, queued or running import (a running one stops after its
        current batch), as the console's Cancel does; audited."""
        job = self.get_object()
        if not imports.cancel(job):
            raise ValidationError(
                {
                    "non_field_errors": [
                        f"Import {job.pk} is {job.get_status_display().lower()}: only "
                        "scheduled, queued or running imports can be cancelled."
                    ]
                }
            )
        return Response(self.get_serializer(self.get_queryset().get(pk=job.pk)).data)
