"""Direct-booking coupons (RA-GUEST-001 §7.3)."""
from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from guests.models import Guest
from tenants.models import DiscountType


class CouponStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    USED = "USED", "Used"
    EXPIRED = "EXPIRED", "Expired"
    REVOKED = "REVOKED", "Revoked"


class GuestCoupon(models.Model):
    guest = models.ForeignKey(Guest, on_delete=models.CASCADE, related_name="coupons")
    source_booking = models.ForeignKey(
        "bookings.Booking", null=True, blank=True, on_delete=models.SET_NULL, related_name="issued_coupons"
    )
    coupon_code = models.CharField(max_length=20, unique=True)
    discount_type = models.CharField(max_length=10, choices=DiscountType.choices, default=DiscountType.PERCENT)
    discount_value = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(0)])
    min_booking_amount = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    valid_from = models.DateTimeField(default=timezone.now)
    valid_until = models.DateTimeField()
    max_uses = models.PositiveIntegerField(default=1)
    times_used = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=CouponStatus.choices, default=CouponStatus.ACTIVE)
    # Why it was issued: "stay", "referrer", "referee" (RA-GUEST-001 §7.3, §7.7).
    reason = models.CharField(max_length=20, default="stay")
    created_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True, help_text="Soft-deleted by the retention job (§10.3).")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(discount_value__gt=0), name="coupon_value_positive"),
            models.CheckConstraint(
                condition=~Q(discount_type="PERCENT") | Q(discount_value__lte=100), name="coupon_percent_max_100"
            ),
            models.CheckConstraint(condition=Q(max_uses__gte=1), name="coupon_max_uses_gte_1"),
            models.CheckConstraint(condition=Q(times_used__lte=F("max_uses")), name="coupon_uses_within_max"),
            models.CheckConstraint(condition=Q(valid_until__gt=F("valid_from")), name="coupon_valid_window"),
            models.CheckConstraint(
                condition=Q(min_booking_amount__isnull=True) | Q(min_booking_amount__gte=0), name="coupon_min_amount_gte_0"
            ),
            # One stay coupon per source booking, however often stay.checked_out is delivered.
            models.UniqueConstraint(
                fields=["source_booking", "reason"], condition=Q(source_booking__isnull=False), name="coupon_one_per_booking_reason"
            ),
        ]

    def __str__(self) -> str:
        return self.coupon_code


class CouponRedemption(models.Model):
    coupon = models.ForeignKey(GuestCoupon, on_delete=models.PROTECT, related_name="redemptions")
    booking = models.OneToOneField("bookings.Booking", on_delete=models.PROTECT, related_name="coupon_redemption")
    discount_amount = models.DecimalField(max_digits=12, decimal_places=2)
    redeemed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(discount_amount__gte=0), name="redemption_discount_gte_0")]
