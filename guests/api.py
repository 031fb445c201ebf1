"""Staff API for guests (the rest of the staff API comes with the back-office issue)."""
from __future__ import annotations

from decimal import Decimal

from django.shortcuts import get_object_or_404
from rest_framework.permissions import BasePermission, IsAuthenticated
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
