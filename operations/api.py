"""Staff API for tickets and incidents (read, acknowledge, resolve through the services)."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from atlas_guest.api import RolePermissions
from operations import services
from operations.models import Incident, MaintenanceTicket, WorkStatus

ISSUE_FIELDS = ("id", "listing", "booking", "severity", "status", "description", "created_by", "created_at",
                "acknowledged_at", "resolved_at")


class TicketSerializer(serializers.ModelSerializer):
    class Meta:
        model = MaintenanceTicket
        fields = (*ISSUE_FIELDS, "ticket_type")


class IncidentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Incident
        fields = (*ISSUE_FIELDS, "incident_type")


class _IssueViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [RolePermissions]
    changes_rows = ("acknowledge", "resolve")  # POSTs that change an issue (RolePermissions)

    @extend_schema(parameters=[OpenApiParameter("status", str, enum=WorkStatus.values)])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        queryset = self.queryset.order_by("-created_at")
        status = self.request.query_params.get("status")
        if status and status not in WorkStatus.values:
            raise ValidationError({"status": [f"Use one of: {', '.join(WorkStatus.values)}."]})
        return queryset.filter(status=status) if status else queryset

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        issue = self.get_object()
        services.acknowledge_issue(issue)
        issue.refresh_from_db()
        return Response(self.get_serializer(issue).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        issue = self.get_object()
        services.resolve_issue(issue)
        issue.refresh_from_db()
        return Response(self.get_serializer(issue).data)


class TicketViewSet(_IssueViewSet):
    queryset = MaintenanceTicket.objects.all()
    serializer_class = TicketSerializer


class IncidentViewSet(_IssueViewSet):
    queryset = Incident.objects.all()
    serializer_class = IncidentSerializer
