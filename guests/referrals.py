"""Direct-booking referrals (RA-GUEST-001 §7.7): a code per guest after the first completed stay, stored on
the bookings made with it, and a reward for both guests."""
from __future__ import annotations

import datetime as dt
import secrets

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from guests.models import Guest

ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes


def to_base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def ensure_referral_code(guest_id: int) -> str:
    """`{GuestId base36}-{4 random}`, made once (on the first completed stay) and kept for good."""
    guest = Guest.objects.get(pk=guest_id)
    if guest.referral_code:
        return guest.referral_code
    for _ in range(5):
        code = f"{to_base36(guest.pk)}-" + "".join(secrets.choice(ALPHABET) for _ in range(4))
        try:
            with transaction.atomic():
                if Guest.objects.filter(pk=guest.pk, referral_code__isnull=True).update(referral_code=code):
                    return code
                return Guest.objects.get(pk=guest.pk).referral_code
        except IntegrityError:
            continue
    raise RuntimeError("could not make a unique referral code")


def referrer_for(code: str, guest_id: int) -> Guest:
    """The guest whose code this is, or a ValidationError (unknown code, or the guest's own)."""
    code = (code or "").strip().lower()
    referrer = Guest.objects.filter(referral_code=code).first()
    if referrer is None:
        raise ValidationError({"referral_code": "This referral code is not valid. Check the link you were sent."})
    if referrer.pk == guest_id:
        raise ValidationError({"referral_code": "You cannot use your own referral code."})
    return referrer


def reward_referral(booking, now: dt.datetime) -> None:
    """Both guests get a direct-booking coupon worth the tenant's referral discount; once per booking."""
    from coupons.services import issue_coupon
    from tenants.current import current_tenant
    from tenants.models import TenantGuestExperienceConfig

    try:
        referrer = referrer_for(booking.referral_code, booking.guest_id)
    except ValidationError:
        return  # checked when the booking was made; a code withdrawn since earns nothing
    config = TenantGuestExperienceConfig.objects.get(tenant_id=current_tenant().pk)
    kind = config.referral_discount_type
    if config.referrer_discount_value > 0:
        issue_coupon(referrer.pk, booking, reason="referrer", discount_type=kind, value=config.referrer_discount_value, now=now)
    if config.referee_discount_value > 0:
        issue_coupon(booking.guest_id, booking, reason="referee", discount_type=kind, value=config.referee_discount_value, now=now)
