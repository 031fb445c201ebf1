"""Staff API for guests (the rest of the staff API comes with the back-office issue)."""
from __future__ import annotations

from decimal import Decimal

from django.shortcuts import get_object_or_404
from django.db.models import Q
from rest_framework import serializers, viewsets
from rest_framework.permissions import BasePermission, IsAuthenticated

from atlas_guest.api import RolePermissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from guests.models import Guest
from guests.selectors import lifetime_value


class SeesFinancials(BasePermission):
    """§10.6: revenue and spend are guest financial data: owner only."""

    message = "Only the owner can see a guest's revenue."

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("bookings.view_financials")


class GuestLifetimeValue(APIView):
    """GET /api/guests/{id}/lifetime-value: the §7.5 metrics, computed at query time."""

    permission_classes = [IsAuthenticated, SeesFinancials]

    def get(self, request: Request, guest_id: int) -> Response:
        guest = get_object_or_404(Guest, pk=guest_id)
        value = {k: str(v) if isinstance(v, Decimal) else v for k, v in lifetime_value(guest.pk).items()}  # money exact
        return Response({"guest_id": guest.pk, "name": guest.name, **value})


class IsOwner(BasePermission):
    """§10.4: the export is for the owner only."""

    message = "Only the owner can export a guest's data."

    def has_permission(self, request, view) -> bool:
        return request.user.groups.filter(name="owner").exists() or request.user.is_superuser


class GuestExport(APIView):
    """GET /api/guests/{id}/export: everything held about the guest as JSON (GX-PV-002)."""

    permission_classes = [IsAuthenticated, IsOwner]

    def get(self, request: Request, guest_id: int) -> Response:
        from guests.privacy import export_guest
        from operations.models import AuditLog

        get_object_or_404(Guest, pk=guest_id)
        AuditLog.objects.create(actor=f"user:{request.user.pk}", action="guest.exported", object_type="Guest",
                                object_id=str(guest_id), ip_address=request.META.get("REMOTE_ADDR"))
        response = Response(export_guest(guest_id))
        response["Content-Disposition"] = f'attachment; filename="guest-{guest_id}.json"'
        return response


class GuestSerializer(serializers.ModelSerializer):
    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="tag")

    class Meta:
        model = Guest
        fields = ("id", "name", "phone", "email", "referral_code", "tags", "created_at")
        read_only_fields = ("referral_code", "created_at")

    def validate_phone(self, value: str) -> str:
        from guests.phones import normalize_phone

        return normalize_phone(value) if value else value


class GuestViewSet(viewsets.ModelViewSet):
    """Guest profiles: frontdesk, managers and owners of this tenant (§10.6)."""

    serializer_class = GuestSerializer
    permission_classes = [RolePermissions]
    queryset = Guest.objects.prefetch_related("tags").order_by("name", "pk")
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        queryset = super().get_queryset()
        q = self.request.query_params.get("q", "").strip()
        return queryset.filter(Q(name__icontains=q) | Q(phone__contains=q) | Q(email__icontains=q)) if q else queryset
