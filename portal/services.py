"""Portal access tokens (RA-GUEST-001 §8.2, GX-GP-001)."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from django.conf import settings

from bookings.models import Booking
from portal.models import GuestPortalToken
from tenants.current import current_tenant, primary_domain

TOKEN_LIFETIME_AFTER_CHECKOUT = dt.timedelta(days=30)  # NFR 6
REVIEW_WINDOW_AFTER_CHECKOUT = dt.timedelta(days=60)  # EC-08


def make_token(booking_id: int, guest_id: int, tenant_id: int) -> str:
    message = f"{booking_id}:{guest_id}:{tenant_id}".encode()
    return hmac.new(settings.PORTAL_TOKEN_SECRET.encode(), message, hashlib.sha256).hexdigest()[:32]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token(booking: Booking, tenant_id: int) -> GuestPortalToken:
    token = make_token(booking.pk, booking.guest_id, tenant_id)
    return GuestPortalToken(
        booking=booking,
        guest_id=booking.guest_id,
        token=token,
        token_hash=hash_token(token),
        expires_at=booking.local_checkout_at() + TOKEN_LIFETIME_AFTER_CHECKOUT,
    )


def issue_portal_tokens(bookings: list[Booking]) -> None:
    """Create each booking's portal token; a booking that has one keeps it (a replayed confirmation, or a
    calendar booking whose link went out before its guest, and so the booking's guest, changed)."""
    tenant_id = current_tenant().pk
    linked = set(GuestPortalToken.objects.filter(booking__in=bookings).values_list("booking_id", flat=True))
    GuestPortalToken.objects.bulk_create([_new_token(b, tenant_id) for b in bookings if b.pk not in linked],
                                         ignore_conflicts=True)


def issue_portal_token(booking: Booking) -> GuestPortalToken:
    issue_portal_tokens([booking])
    return GuestPortalToken.objects.filter(booking=booking).order_by("-created_at", "-pk").first()


def tenant_url(path: str) -> str:
    """An absolute link on the current tenant's domain: `<scheme>://<tenant domain>[:port]<path>`."""
    domain = primary_domain(current_tenant())
    port = settings.PUBLIC_URL_PORT
    host = f"{domain}:{port}" if port and port not in ("80", "443") else domain
    return f"{settings.PUBLIC_URL_SCHEME}://{host}{path}"


def portal_url(token: str, anchor: str = "") -> str:
    """The link a guest taps: `<tenant url>/guest/<token>[#anchor]`."""
    return tenant_url(f"/guest/{token}" + (f"#{anchor}" if anchor else ""))
