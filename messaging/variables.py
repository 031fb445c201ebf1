"""The standard template variables of RA-GUEST-001 §9.2, resolved from the models at send time."""
from __future__ import annotations

from bookings.models import Booking
from guests.phones import display_phone
from messaging.rendering import format_date, format_inr, format_time
from portal.services import portal_url
from tenants.current import current_tenant


def booking_variables(
    booking: Booking,
    *,
    token: str | None = None,
    coupon_code: str | None = None,
    returning_guest: bool = False,
    extra: dict | None = None,
) -> dict:
    """Only what resolves goes in: an absent value stays unresolved and is reported by the renderer."""
    guest, listing = booking.guest, booking.listing
    prop = listing.property
    tenant = current_tenant()
    access = getattr(listing, "access_info", None) if _has_access_info(listing) else None
    variables = {
        "guest_name": guest.name,
        "guest_phone": display_phone(guest.phone) if guest.phone else "",
        "property_name": prop.name,
        "property_address": prop.address,
        "listing_name": listing.name,
        "listing_type": listing.get_listing_type_display(),
        "checkin_date": format_date(booking.checkin_date),
        "checkout_date": format_date(booking.checkout_date),
        "checkin_time": format_time(listing.checkin_time),
        "checkout_time": format_time(listing.checkout_time),
        "guest_count": str(booking.guests_planned),
        "total_amount": _total(booking),
        "balance_due": format_inr(booking.balance_due) if booking.balance_due > 0 else "",
        "booking_id": str(booking.pk),
        "wifi_name": listing.wifi_name,
        "wifi_password": listing.wifi_password,
        "host_name": tenant.host_name,
        "host_phone": display_phone(prop.contact_phone),
        "house_rules": prop.house_rules,
        "returning_guest": returning_guest,
        "access_code": access.access_code if access else "",  # EC-12: blank → "Our staff will meet you"
    }
    if access and access.map_url:
        variables["map_link"] = access.map_url
    if tenant.direct_booking_url:
        variables["direct_booking_url"] = tenant.direct_booking_url
    if listing.early_checkin_price is not None:
        variables["early_checkin_price"] = format_inr(listing.early_checkin_price)
    if token:
        variables.update(
            portal_link=portal_url(token),
            checkin_portal_link=portal_url(token, "checkin"),
            review_link=portal_url(token, "review"),
            damage_report_link=portal_url(token, "damage"),
        )
    if coupon_code:
        variables["coupon_code"] = coupon_code
    if guest.referral_code:
        variables["guest_referral_code"] = guest.referral_code
        base = tenant.direct_booking_url or ""
        if base:
            variables["referral_link"] = f"{base}{'&' if '?' in base else '?'}ref={guest.referral_code}"
    variables.update(extra or {})
    return variables


def _total(booking: Booking) -> str:
    """A calendar booking has no amount (an iCal feed carries none): the guest paid the OTA, not ₹0."""
    from bookings.models import OTA_SOURCES

    if booking.final_amount == 0 and booking.source in OTA_SOURCES:
        return f"paid through {booking.get_source_display()}"
    return format_inr(booking.final_amount)


def _has_access_info(listing) -> bool:
    try:
        listing.access_info
    except Exception:  # RelatedObjectDoesNotExist: the host has not entered access details (EC-12)
        return False
    return True
