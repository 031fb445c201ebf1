"""Staff API: validate a coupon for a booking quote (GX-T08, EC-09, EC-10). Coupons are financial: owner only."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings.models import BookingSource
from coupons.redemption import check_coupon
from guests.api import SeesFinancials


class CouponQuoteRequest(serializers.Serializer):
    code = serializers.CharField(max_length=40)
    guest = serializers.IntegerField()
    total = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    source = serializers.ChoiceField(choices=BookingSource.choices, default=BookingSource.DIRECT)


class CouponQuote(serializers.Serializer):
    code = serializers.CharField()
    discount = serializers.DecimalField(max_digits=12, decimal_places=2)
    final = serializers.DecimalField(max_digits=12, decimal_places=2)


class ValidateCoupon(APIView):
    permission_classes = [IsAuthenticated, SeesFinancials]

    @extend_schema(request=CouponQuoteRequest, responses=CouponQuote)
    def post(self, request):
        incoming = CouponQuoteRequest(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        quote = check_coupon(data["code"], guest_id=data["guest"], total=data["total"], source=data["source"])
        return Response(CouponQuote({"code": quote.coupon.coupon_code, "discount": quote.discount, "final": quote.final}).data)
