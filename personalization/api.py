"""Staff API of the personalization module: imports into bronze, a guest's profile with the decisions taken
for them, the direct-booking quote, and the semantic layer's named metrics."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from guests.models import Guest
from personalization import semantic, uses
from personalization.ingest import MAX_RECORDS_PER_BATCH, import_records, importable_sources
from personalization.models import PersonalizationDecision
from tenants.roles import sees_money

FINANCIAL = {"revenue", "adr", "avg_lifetime_value"}
# The gold profile's spend and payment columns: guest financial data, the owner's only (§10.6).
PROFILE_MONEY = {"lifetime_value", "recent_spend_per_night", "earlier_spend_per_night", "preferred_payment"}


def _require(request, perm: str, message: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied(message)


class ImportRequest(serializers.Serializer):
    source_system = serializers.RegexField(r"^[a-z0-9_.-]{1,40}$", help_text="Where the records come from, e.g. 'pms'.")
    records = serializers.ListField(child=serializers.JSONField(), max_length=MAX_RECORDS_PER_BATCH, allow_empty=False)

    def validate_records(self, records: list) -> list:
        if _has_nul(records):  # bronze keeps records as jsonb, which cannot hold \u0000
            raise serializers.ValidationError("A record contains a NUL character (\\u0000); remove it and send again.")
        return records


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class ImportGuestData(APIView):
    @extend_schema(request=ImportRequest, responses={200: dict})
    def post(self, request, source: str):
        _require(request, "personalization.import_guest_data", "Importing guest data is for managers and owners.")
        if source not in importable_sources():
            raise ValidationError({"source": [f"Unknown source. Use one of: {', '.join(importable_sources())}."]})
        body = ImportRequest(data=request.data)
        body.is_valid(raise_exception=True)
        if body.validated_data["source_system"] == "atlas":
            raise ValidationError({"source_system": ["'atlas' is reserved for our own records."]})
        result = import_records(source, body.validated_data["records"], source_system=body.validated_data["source_system"])
        return Response(result.as_dict())


class GuestProfile(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request, guest_id: int):
        _require(request, "personalization.view_guest_profile", "Personalization profiles are for managers and owners.")
        guest = get_object_or_404(Guest, pk=guest_id)
        profile = uses.profile(guest.pk)
        if profile is not None and not sees_money(request.user):
            profile = {k: v for k, v in profile.items() if k not in PROFILE_MONEY}  # §10.6: the owner's
        decisions = [
            {"use": d.use, "booking": d.booking_id, "key": d.key, "choice": d.choice, "factors": d.factors,
             "created_at": d.created_at}
            for d in PersonalizationDecision.objects.filter(guest=guest)[:100]
        ]
        return Response({"guest": guest.pk, "consent": uses.consents(guest.pk), "profile": profile,
                         "decisions": decisions})


class DirectQuote(APIView):
    @extend_schema(parameters=[OpenApiParameter("guest", int, required=True),
                               OpenApiParameter("amount", str, required=True, description="The listed price (INR)")],
                   responses={200: dict})
    def get(self, request):
        _require(request, "bookings.add_booking", "Quotes are for staff who take bookings.")
        errors = {}
        try:
            guest_id = int(request.query_params.get("guest", ""))
        except ValueError:
            errors["guest"] = "Give the guest's id as a whole number."
        try:
            amount = Decimal(request.query_params.get("amount", ""))
            if not amount.is_finite() or not Decimal("0") < amount <= Decimal("100000000"):
                raise InvalidOperation
        except InvalidOperation:
            errors["amount"] = "Give the listed price as a positive amount in rupees."
        if errors:
            raise ValidationError({field: [message] for field, message in errors.items()})
        get_object_or_404(Guest, pk=guest_id)
        return Response(uses.direct_quote(guest_id, amount))


class SemanticMetricList(APIView):
    @extend_schema(operation_id="semantic_metrics_list", responses={200: dict})
    def get(self, request):
        _require(request, "messaging.view_communicationlog", "Metrics are for managers and owners.")
        return Response({"metrics": semantic.describe()})


class SemanticMetric(APIView):
    @extend_schema(parameters=[
        OpenApiParameter("by", str, description="Comma-separated dimensions: property, month, source, segment"),
        OpenApiParameter("property", int), OpenApiParameter("from", dt.date), OpenApiParameter("to", dt.date)],
        responses={200: dict})
    def get(self, request, name: str):
        _require(request, "messaging.view_communicationlog", "Metrics are for managers and owners.")
        if name in FINANCIAL and not sees_money(request.user):
            raise PermissionDenied("Revenue figures are for owners.")
        params = request.query_params
        by = [d.strip() for d in params.get("by", "").split(",") if d.strip()]
        errors, filters = {}, {}
        if params.get("property"):
            try:
                filters["property_id"] = int(params["property"])
            except ValueError:
                errors["property"] = "Give the property's id as a whole number."
        for key, arg in (("from", "month_from"), ("to", "month_to")):
            if params.get(key):
                try:
                    filters[arg] = dt.date.fromisoformat(params[key])
                except ValueError:
                    errors[key] = "Give a date as YYYY-MM-DD."
        if errors:
            raise ValidationError({field: [message] for field, message in errors.items()})
        try:
            rows = semantic.query(name, by, **filters)
        except semantic.UnknownMetric as exc:
            raise ValidationError({"metric": [str(exc)]}) from None
        metric = semantic.METRICS[name]
        return Response({"metric": name, "label": metric.label, "unit": metric.unit, "by": by, "rows": rows})
