"""Coupon redemption on a direct booking (RA-GUEST-001 §7.3, GX-T08, EC-09, EC-10). Atomic: the coupon row
is locked, so two bookings racing for a one-use coupon cannot both get it."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from bookings.models import Booking, BookingSource
from bookings.services import locked_booking
from coupons.models import CouponRedemption, CouponStatus, GuestCoupon
from messaging.rendering import format_inr
from tenants.current import current_tenant

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Quote:
    coupon: GuestCoupon
    total: Decimal
    discount: Decimal

    @property
    def final(self) -> Decimal:
        return self.total - self.discount


def discount_for(coupon: GuestCoupon, total: Decimal) -> Decimal:
    if coupon.discount_type == "PERCENT":
        return (total * coupon.discount_value / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    return min(coupon.discount_value, total)


def _refuse(message: str) -> None:
    raise ValidationError({"coupon_code": message})


def check_coupon(code: str, *, guest_id: int, total: Decimal, source: str, now: dt.datetime | None = None,
                 lock: bool = False) -> Quote:
    """The discount a coupon gives on a booking, or a ValidationError in words the guest can act on."""
    now = now or timezone.now()
    code = (code or "").strip().upper()
    if not code:
        _refuse("Enter a coupon code.")
    coupons = GuestCoupon.objects.select_for_update() if lock else GuestCoupon.objects
    coupon = coupons.filter(coupon_code=code, deleted_at__isnull=True).first()
    if coupon is None:
        prefix = current_tenant().coupon_prefix
        if not code.startswith(prefix):
            _refuse(f"This coupon code is for a different host. Codes of {current_tenant().host_name} start with {prefix}.")
        _refuse("We don't recognise this coupon code. Check it for typos.")
    if source != BookingSource.DIRECT:
        _refuse("Coupons apply to direct bookings only.")
    if coupon.guest_id != guest_id:
        _refuse("This coupon belongs to another guest.")
    if coupon.status == CouponStatus.REVOKED:
        _refuse("This coupon has been withdrawn by the host.")
    if coupon.status == CouponStatus.EXPIRED or coupon.valid_until <= now:
        _refuse("This coupon has expired")  # EC-10, the spec's words
    if coupon.status == CouponStatus.USED or coupon.times_used >= coupon.max_uses:
        _refuse("This coupon has already been used.")
    if coupon.valid_from > now:
        _refuse(f"This coupon can be used from {coupon.valid_from:%d %b %Y}.")
    if coupon.min_booking_amount is not None and total < coupon.min_booking_amount:
        _refuse(f"Minimum booking amount {format_inr(coupon.min_booking_amount)} required for this coupon")  # EC-09
    return Quote(coupon=coupon, total=total, discount=discount_for(coupon, total))


@transaction.atomic
def redeem_coupon(booking: Booking | int, code: str, *, now: dt.datetime | None = None) -> Booking:
    """GX-T08: apply the coupon to the booking: discount and final amount set, the coupon's use counted
    (USED once its uses are spent), a redemption row kept. A booking takes one coupon."""
    now = now or timezone.now()
    booking = locked_booking(booking)
    if booking.applied_coupon_id:
        _refuse("This booking already has a coupon.")
    quote = check_coupon(code, guest_id=booking.guest_id, total=booking.total_amount, source=booking.source, now=now, lock=True)
    coupon = quote.coupon
    GuestCoupon.objects.filter(pk=coupon.pk).update(
        times_used=F("times_used") + 1,
        status=CouponStatus.USED if coupon.times_used + 1 >= coupon.max_uses else CouponStatus.ACTIVE,
    )
    CouponRedemption.objects.create(coupon=coupon, booking=booking, discount_amount=quote.discount, redeemed_at=now)
    booking.applied_coupon = coupon
    booking.discount_amount, booking.final_amount = quote.discount, quote.final
    booking.save(update_fields=["applied_coupon", "discount_amount", "final_amount", "updated_at"])
    return booking


def expire_coupons(now: dt.datetime | None = None) -> int:
    """The daily job: active coupons past their validity become EXPIRED."""
    now = now or timezone.now()
    return GuestCoupon.objects.filter(status=CouponStatus.ACTIVE, valid_until__lte=now).update(status=CouponStatus.EXPIRED)


def clean_up_coupons(now: dt.datetime | None = None) -> tuple[int, int]:
    """§10.3 retention: expired coupons are soft-deleted 6 months after expiry, hard-deleted after a year."""
    now = now or timezone.now()
    soft = GuestCoupon.objects.filter(
        status=CouponStatus.EXPIRED, deleted_at__isnull=True, valid_until__lte=now - dt.timedelta(days=182)
    ).update(deleted_at=now)
    hard, _ = GuestCoupon.objects.filter(
        status=CouponStatus.EXPIRED, valid_until__lte=now - dt.timedelta(days=365), redemptions__isnull=True
    ).delete()
    return soft, hard
