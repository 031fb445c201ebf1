"""Coupon writes (RA-GUEST-001 §7.3)."""
from __future__ import annotations

import datetime as dt
import secrets

from django.db import IntegrityError, transaction

from bookings.models import Booking, BookingStatus
from coupons.models import GuestCoupon
from tenants.current import current_tenant
from tenants.models import TenantGuestExperienceConfig

# No look-alikes: 0/O, 1/I/L are left out so a code read aloud or typed from a screenshot works.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
STAY_REASON = "stay"


def _months_later(moment: dt.datetime, months: int) -> dt.datetime:
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    for day in (moment.day, 30, 29, 28):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise ValueError("unreachable")


def coupon_code(prefix: str, value) -> str:
    shown = int(value) if value == int(value) else value
    return f"{prefix}{shown}-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))


def stay_qualifies(booking: Booking) -> bool:
    """GX-PS-002: a stay of at least one night, not cancelled, rated 3+ or not rated."""
    if booking.status == BookingStatus.CANCELLED or booking.nights < 1:
        return False
    review = getattr(booking, "review", None) if hasattr(booking, "review") else None
    return review is None or review.overall_rating >= 3


def issue_stay_coupon(booking: Booking, now: dt.datetime) -> GuestCoupon | None:
    """One coupon per qualifying stay, with the tenant's configured value, validity and uses."""
    if not stay_qualifies(booking):
        return None
    config = TenantGuestExperienceConfig.objects.get(tenant_id=current_tenant().pk)  # fresh: the host may have just changed it
    value = config.coupon_discount_value
    if config.personalization_enabled:  # dynamic pricing, within the host's bounds (personalization design)
        from personalization.uses import coupon_value

        value = coupon_value(booking, value, config, now)
    return issue_coupon(booking.guest_id, booking, reason=STAY_REASON, discount_type=config.coupon_discount_type,
                        value=value, now=now, config=config)


def issue_coupon(guest_id: int, source_booking: Booking, *, reason: str, discount_type: str, value, now: dt.datetime,
                 config: TenantGuestExperienceConfig | None = None) -> GuestCoupon:
    """A coupon for a guest, once per source booking and reason (a replayed event changes nothing)."""
    existing = GuestCoupon.objects.filter(source_booking=source_booking, reason=reason).first()
    if existing:
        return existing
    tenant = current_tenant()
    config = config or TenantGuestExperienceConfig.objects.get(tenant_id=tenant.pk)
    for _ in range(5):  # a clash among 31^6 codes is rare; try again rather than fail the stay
        try:
            with transaction.atomic():
                return GuestCoupon.objects.create(
                    guest_id=guest_id,
                    source_booking=source_booking,
                    coupon_code=coupon_code(tenant.coupon_prefix, value),
                    discount_type=discount_type,
                    discount_value=value,
                    min_booking_amount=config.coupon_min_booking_amount,
                    valid_from=now,
                    valid_until=_months_later(now, config.coupon_validity_months),
                    max_uses=config.coupon_max_uses if reason == STAY_REASON else 1,
                    reason=reason,
                    created_at=now,
                )
        except IntegrityError:
            existing = GuestCoupon.objects.filter(source_booking=source_booking, reason=reason).first()
            if existing:
                return existing
    raise RuntimeError("could not generate a unique coupon code")
