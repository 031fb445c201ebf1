"""Staff API: the §11.1 metrics, the same named queries as the dashboard."""
from __future__ import annotations

import datetime as dt

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from insights.metrics import TENANT_METRICS
from insights.views import FINANCIAL
from tenants.roles import sees_money


class MetricValueSerializer(serializers.Serializer):
    label = serializers.CharField()
    value = serializers.FloatField(allow_null=True, help_text="null: nothing to measure in the period")
    unit = serializers.CharField()
    detail = serializers.DictField(allow_null=True, required=False)


class MetricsSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    metrics = serializers.DictField(child=MetricValueSerializer(),
                                    help_text="By metric name (§11.1); the money metrics for the owner only (§10.6).")


class Metrics(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("days", int, description="Period length ending now (1–366, default 28)")],
        responses=MetricsSerializer,
    )
    def get(self, request):
        if not request.user.has_perm("messaging.view_communicationlog"):
            raise PermissionDenied("Metrics are for managers and owners.")
        try:
            days = int(request.query_params.get("days", 28))
        except ValueError:
            raise ValidationError({"days": "Give the period as a whole number of days."}) from None
        if not 1 <= days <= 366:
            raise ValidationError({"days": "The period must be between 1 and 366 days."})
        end = timezone.now()
        start = end - dt.timedelta(days=days)
        money_shown = sees_money(request.user)
        results = {}
        for name, (label, metric) in TENANT_METRICS.items():
            if name in FINANCIAL and not money_shown:
                continue
            value = metric(start, end)
            results[name] = {"label": label, "value": value.value, "unit": value.unit, "detail": value.detail}
        return Response({"start": start, "end": end, "metrics": results})


class PlatformMetrics(APIView):
    """§11.2 on the platform's domain, for the Atlas admin only."""

    @extend_schema(parameters=[OpenApiParameter("days", int, description="Period length ending now (1–366, default 30)")])
    def get(self, request):
        from insights.platform import platform_metrics

        if not request.user.is_superuser:
            raise PermissionDenied("Platform metrics are for the Atlas admin.")
        try:
            days = int(request.query_params.get("days", 30))
        except ValueError:
            raise ValidationError({"days": ["Give the period as a whole number of days."]}) from None
        if not 1 <= days <= 366:
            raise ValidationError({"days": ["The period must be between 1 and 366 days."]})
        end = timezone.now()
        start = end - dt.timedelta(days=days)
        return Response({"start": start, "end": end, "metrics": platform_metrics(start, end)})
