"""Maintenance messages and the audit log over the API."""

from auditlog.models import LogEntry
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from cmsync.api import JsonSerializer
from sync import runner
from sync.models import SyncRun

from .audit import AREAS, record_action
from .codes import CODES
from .models import Message
from .views import _messages_for


class MessageSerializer(serializers.ModelSerializer):
    title = serializers.SerializerMethodField()
    fix = serializers.SerializerMethodField()
    retryable = serializers.BooleanField(read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "code",
            "title",
            "severity",
            "summary",
            "upstream_message",
            "fix",
            "client_id",
            "run",
            "step",
            "record",
            "retryable",
            "retry_requested",
            "created_at",
        ]
        read_only_fields = fields

    def get_title(self, message) -> str:
        return CODES[message.code].title

    def get_fix(self, message) -> str:
        return CODES[message.code].fix


MAX_ID = 2**63 - 1  # the database's integer range


class IdsSerializer(JsonSerializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), min_length=1, max_length=1000
    )


@extend_schema_view(  # the list's filters: other operations refuse them (api_auth)
    list=extend_schema(
        parameters=[
            OpenApiParameter("code", str, enum=sorted(CODES)),
            OpenApiParameter("severity", str, enum=[s for s, _ in Message.Severity.choices]),
            OpenApiParameter("client", str),
            OpenApiParameter("run", {"type": "integer", "minimum": 0, "maximum": MAX_ID}),
        ]
    )
)
class MessageViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = MessageSerializer
    queryset = Message.objects.none()  # for the schema; get_queryset filters
    lookup_value_regex = r"[0-9]{1,18}"
    permissions = {
        "GET": "maintenance.view_message",
        "DELETE": "maintenance.delete_message",
        "POST": "maintenance.retry_message",
    }

    def get_queryset(self):
        messages = _messages_for(self.request)
        params = self.request.query_params
        if (code := params.get("code")) is not None:
            if code not in CODES:
                raise ValidationError({"code": [f"Unknown code: {code}"]})
            messages = messages.filter(code=code)
        if (severity := params.get("severity")) is not None:
            if severity not in Message.Severity.values:
                raise ValidationError({"severity": [f"Unknown severity: {severity}"]})
            messages = messages.filter(severity=severity)
        if client := params.get("client"):
            messages = messages.filter(client_id=client)
        if (run := params.get("run")) is not None:
            if not (run.isascii() and run.isdigit()) or int(run) > MAX_ID:
                raise ValidationError({"run": ["A run id (a whole number)."]})
            messages = messages.filter(run_id=int(run))
        return messages

    @extend_schema(request=IdsSerializer, responses={202: MessageSerializer(many=True)})
    @action(detail=False, methods=["post"], pagination_class=None)  # a list, not a page
    def retry(self, request):
        """Write these messages' records again: the next run (started now) does it first."""
        ids = IdsSerializer(data=request.data)
        ids.is_valid(raise_exception=True)
        chosen = [m for m in self.get_queryset().filter(pk__in=ids.validated_data["ids"])]
        retryable = [m.pk for m in chosen if m.retryable]
        if not retryable:
            raise ValidationError({"ids": ["None of these messages can be retried."]})
        Message.objects.filter(pk__in=retryable).update(retry_requested=True)
        try:
            runner.ensure_ready()
            run, _ = runner.request_run(SyncRun.Trigger.API, user=request.user)
            record_action(run, "sync", f"Retry of {len(retryable)} records (sync run {run.pk})")
        except (runner.SyncUnavailable, runner.BrokerUnavailable):
            pass  # they are retried by the next run that can start
        data = MessageSerializer(Message.objects.filter(pk__in=retryable), many=True).data
        return Response(data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=IdsSerializer, responses={204: None})
    @action(detail=False, methods=["post"], url_path="delete", pagination_class=None)
    def delete_many(self, request):
        """Delete several messages at once."""
        if not request.user.has_perm("maintenance.delete_message"):
            self.permission_denied(request)
        ids = IdsSerializer(data=request.data)
        ids.is_valid(raise_exception=True)
        self.get_queryset().filter(pk__in=ids.validated_data["ids"]).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditEntrySerializer(serializers.ModelSerializer):
    user = serializers.CharField(
        source="actor.get_username", default=None, allow_null=True, read_only=True
    )
    area = serializers.SerializerMethodField()
    action = serializers.SerializerMethodField()
    changes = serializers.SerializerMethodField()

    class Meta:
        model = LogEntry
        fields = [
            "id",
            "timestamp",
            "user",
            "remote_addr",
            "area",
            "action",
            "object_repr",
            "changes",
        ]
        read_only_fields = fields

    def get_area(self, entry) -> str:
        return (entry.additional_data or {}).get("area", "")

    def get_action(self, entry) -> str:
        data = entry.additional_data or {}
        return data.get("action") or entry.get_action_display()

    def get_changes(self, entry) -> dict:
        return entry.changes_dict


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("area", str, enum=sorted(AREAS)),
            OpenApiParameter("user", str),
        ]
    )
)
class AuditViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit log, newest first."""

    serializer_class = AuditEntrySerializer
    queryset = LogEntry.objects.none()  # for the schema; get_queryset filters
    lookup_value_regex = r"[0-9]{1,18}"
    permissions = {"GET": "auditlog.view_logentry"}

    def get_queryset(self):
        entries = LogEntry.objects.select_related("actor").order_by("-timestamp", "-id")
        if (area := self.request.query_params.get("area")) is not None:
            if area not in AREAS:
                raise ValidationError({"area": [f"Unknown area: {area}"]})
            entries = entries.filter(additional_data__area=area)
        if user := self.request.query_params.get("user"):
            entries = entries.filter(actor__username=user)
        return entries
