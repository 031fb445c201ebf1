"""Staff API for guests: profiles (§10.6: frontdesk, managers and owners), lifetime value (owner: money),
the data export and anonymization (owner only, §10.4–§10.5)."""
from __future__ import annotations

from django.core.validators import EmailValidator
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from atlas_guest.api import IsOwner, RolePermissions
from guests.models import Guest
from guests.selectors import lifetime_value
from tenants.roles import sees_money


class SeesFinancials(BasePermission):
    """§10.6: revenue and spend are guest financial data: owner only."""

    message = "Only the owner can see a guest's revenue."

    def has_permission(self, request, view) -> bool:
        return sees_money(request.user)


class LifetimeValueSerializer(serializers.Serializer):
    """§7.5, one guest. Money as an exact decimal string."""

    guest_id = serializers.IntegerField()
    name = serializers.CharField()
    total_stays = serializers.IntegerField()
    total_revenue = serializers.DecimalField(max_digits=14, decimal_places=2)
    average_stay_nights = serializers.FloatField(allow_null=True)
    average_rating = serializers.FloatField(allow_null=True)
    first_stay = serializers.DateField(allow_null=True)
    last_stay = serializers.DateField(allow_null=True)
    days_since_last_stay = serializers.IntegerField(allow_null=True)
    direct_percent = serializers.FloatField(allow_null=True)
    ota_percent = serializers.FloatField(allow_null=True)


class GuestLifetimeValue(APIView):
    """GET /api/guests/{id}/lifetime-value: the §7.5 metrics, computed at query time."""

    permission_classes = [IsAuthenticated, SeesFinancials]

    @extend_schema(responses=LifetimeValueSerializer)
    def get(self, request: Request, guest_id: int) -> Response:
        guest = get_object_or_404(Guest, pk=guest_id)
        value = {"guest_id": guest.pk, "name": guest.name, **lifetime_value(guest.pk)}
        return Response(LifetimeValueSerializer(value).data)


class GuestExportSerializer(serializers.Serializer):
    """GX-PV-002: what the export holds (each part as the privacy module writes it; no message bodies)."""

    guest = serializers.DictField()
    bookings = serializers.ListField(child=serializers.DictField())
    reviews = serializers.ListField(child=serializers.DictField())
    tags = serializers.ListField(child=serializers.DictField())
    coupons = serializers.ListField(child=serializers.DictField())
    consents = serializers.ListField(child=serializers.DictField())
    communication_log = serializers.ListField(child=serializers.DictField())
    personalization = serializers.DictField()


class GuestExport(APIView):
    """GET /api/guests/{id}/export: everything held about the guest as JSON (GX-PV-002)."""

    permission_classes = [IsAuthenticated, IsOwner]

    @extend_schema(responses=GuestExportSerializer)
    def get(self, request: Request, guest_id: int) -> Response:
        from guests.privacy import export_guest
        from operations.models import AuditLog

        get_object_or_404(Guest, pk=guest_id)
        AuditLog.objects.create(actor=f"user:{request.user.pk}", action="guest.exported", object_type="Guest",
                                object_id=str(guest_id), ip_address=request.META.get("REMOTE_ADDR"))
        response = Response(export_guest(guest_id))
        response["Content-Disposition"] = f'attachment; filename="guest-{guest_id}.json"'
        return response


PHONE_TAKEN = "Another guest already has this phone number. Search for them instead."


class GuestSerializer(serializers.ModelSerializer):
    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="tag")
    # A plain string in the schema: an anonymized guest's email is a hash (§10.5); writes are still checked.
    email = serializers.CharField(max_length=254, required=False, allow_blank=True,
                                  help_text="An email address; for an anonymized guest, a hash (§10.5).")

    class Meta:
        model = Guest
        fields = ("id", "name", "phone", "email", "referral_code", "tags", "created_at")
        read_only_fields = ("referral_code", "created_at")

    def validate_email(self, value: str) -> str:
        if value:
            EmailValidator(message="Enter a valid email address, e.g. name@example.com.")(value)
        return value

    def validate_phone(self, value: str) -> str:
        from guests.phones import normalize_phone

        value = normalize_phone(value) if value else value
        taken = Guest.objects.filter(phone=value).exclude(pk=getattr(self.instance, "pk", None))
        if value and taken.exists():  # one guest per phone (the model's constraint), said on the field
            raise serializers.ValidationError(PHONE_TAKEN)
        return value

    def save(self, **kwargs):
        try:
            with transaction.atomic():  # a concurrent write can still take the phone between check and insert
                return super().save(**kwargs)
        except IntegrityError:
            raise serializers.ValidationError({"phone": [PHONE_TAKEN]}) from None


class GuestViewSet(viewsets.ModelViewSet):
    """Guest profiles: frontdesk, managers and owners of this tenant (§10.6)."""

    serializer_class = GuestSerializer
    permission_classes = [RolePermissions]
    queryset = Guest.objects.prefetch_related("tags").order_by("name", "pk")
    http_method_names = ["get", "post", "patch", "head", "options"]

    @extend_schema(parameters=[OpenApiParameter("q", str, description="Part of the name, phone or email")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        queryset = super().get_queryset()
        q = self.request.query_params.get("q", "").strip()
        if "\x00" in q:  # PostgreSQL refuses NUL in text; a search cannot contain one anyway
            raise ValidationError({"q": ["The search contains a NUL character."]})
        return queryset.filter(Q(name__icontains=q) | Q(phone__contains=q) | Q(email__icontains=q)) if q else queryset

    @extend_schema(request=None, responses=GuestSerializer)
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated, IsOwner])
    def anonymize(self, request: Request, pk=None) -> Response:
        """§10.5: name → "Deleted Guest", phone and email → hashes; bookings stay, so totals still add up."""
        from guests.privacy import anonymize_guest

        guest = anonymize_guest(self.get_object().pk, actor=f"user:{request.user.pk}")
        return Response(GuestSerializer(Guest.objects.prefetch_related("tags").get(pk=guest.pk)).data)
