"""Sync runs over the API: list and filter, detail, start (Sync now), cancel."""

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response

from cmsync.api import JsonSerializer, error_response
from maintenance.audit import record_action
from maintenance.models import Message

from . import preview, runner
from .models import SyncRun


class BrokerDown(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "cmsync's task queue is unreachable; the run starts once it is back."


class RunSerializer(serializers.ModelSerializer):
    """The one shape of a run: the console's live progress uses it too."""

    status_display = serializers.CharField(source="get_status_display", read_only=True)
    messages = serializers.SerializerMethodField(help_text="Its messages the caller may see.")
    preview = serializers.SerializerMethodField(
        help_text="A finished preview's changes it would make, by kind (null for other runs); "
        "GET runs/<id>/changes.csv lists each."
    )

    class Meta:
        model = SyncRun
        fields = [
            "id",
            "kind",
            "trigger",
            "status",
            "status_display",
            "full",
            "step",
            "counts",
            "created_at",
            "started_at",
            "finished_at",
            "cm_calls",
            "sf_calls",
            "sf_api_remaining",
            "sf_api_used",
            "last_error",
            "messages",
            "proposed",
            "preview",
        ]
        read_only_fields = fields

    def get_messages(self, run: SyncRun) -> int:
        """Only the messages of clients the caller may see (client ownership); counted
        with the list's own query when it came through ``with_message_counts``."""
        counted = getattr(run, "visible_messages", None)
        if counted is not None:
            return counted
        return run.messages.visible_to(self.context["request"].user).count()

    def get_preview(self, run: SyncRun) -> dict[str, int] | None:
        if run.kind != SyncRun.Kind.PREVIEW:
            return None
        return preview.totals(run)


def with_message_counts(runs: QuerySet[SyncRun], user) -> QuerySet[SyncRun]:
    """Each run with the number of its messages ``user`` may see, in the same query (a
    subquery per row shown, not a query per run)."""
    messages = (
        Message.objects.visible_to(user)
        .filter(run=OuterRef("pk"))
        .order_by()
        .values("run")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return runs.annotate(visible_messages=Coalesce(Subquery(messages), 0))


class StartSerializer(JsonSerializer):
    full = serializers.BooleanField(default=False, help_text="Ignore cursors: reconcile all.")
    dry_run = serializers.BooleanField(
        default=False,
        help_text="A preview: read and decide, write nothing, record what it would change.",
    )


@extend_schema_view(  # the list's filters: other operations refuse them (api_auth)
    list=extend_schema(
        parameters=[
            OpenApiParameter("kind", str, enum=[k for k, _ in SyncRun.Kind.choices]),
            OpenApiParameter("status", str, enum=[s for s, _ in SyncRun.Status.choices]),
            OpenApiParameter("trigger", str, enum=[t for t, _ in SyncRun.Trigger.choices]),
        ]
    )
)
class RunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = RunSerializer
    queryset = SyncRun.objects.none()  # for the schema; get_queryset filters
    lookup_value_regex = r"[0-9]{1,18}"
    permissions = {"GET": "sync.view_syncrun", "POST": "sync.add_syncrun"}

    def get_queryset(self):
        runs = SyncRun.objects.all()
        for name in ("kind", "status", "trigger"):
            if value := self.request.query_params.get(name):
                if value not in dict(getattr(SyncRun, name.capitalize()).choices):
                    raise ValidationError({name: [f"Not a {name}: {value}"]})
                runs = runs.filter(**{name: value})
        return with_message_counts(runs, self.request.user)

    @extend_schema(
        request=StartSerializer,
        responses={
            200: RunSerializer,
            201: RunSerializer,
            503: error_response("The task queue is unreachable: the run starts once it is back."),
        },
    )
    def create(self, request):
        """Sync now: 201 with a new run, or 200 with the one (of that kind) already queued or
        running. ``"dry_run": true`` starts a preview instead."""
        start = StartSerializer(data=request.data)
        start.is_valid(raise_exception=True)
        dry_run = start.validated_data["dry_run"]
        what = "Preview" if dry_run else "Sync"
        try:
            runner.ensure_ready()
        except runner.SyncUnavailable as exc:
            raise ValidationError({"non_field_errors": [str(exc)]}) from exc
        try:
            run, created = runner.request_run(
                SyncRun.Trigger.API,
                user=request.user,
                full=start.validated_data["full"],
                kind=SyncRun.Kind.PREVIEW if dry_run else SyncRun.Kind.PRIMARY,
            )
        except runner.BrokerUnavailable as exc:
            record_action(exc.run, "sync", f"{what} queued through the API (run {exc.run.pk})")
            raise BrokerDown(str(exc)) from exc
        if created:
            record_action(run, "sync", f"{what} started through the API (run {run.pk})")
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        data = RunSerializer(run, context={"request": request}).data
        return Response(data, status=code)

    @extend_schema(request=None, responses={200: RunSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a queued run, or stop a running one at its next safe point."""
        run = self.get_object()
        if not run.is_active:
            raise ValidationError({"non_field_errors": [f"Run {run.pk} is {run.status}."]})
        runner.cancel(run, user=request.user)
        record_action(run, "sync", f"Sync run {run.pk} cancelled through the API")
        run.refresh_from_db()
        return Response(RunSerializer(run, context={"request": request}).data)
