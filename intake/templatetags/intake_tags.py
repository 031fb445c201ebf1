"""The back office's front page: how many calendar bookings wait for their guest's contact, and how many
calendar links are failing (issue 15), so the host sees both without looking for them."""
from __future__ import annotations

from django import template
from django.db.models import Q

from atlas_guest.admin_base import on_tenant_domain

register = template.Library()


@register.simple_tag(takes_context=True)
def intake_waiting(context) -> dict:
    user = getattr(context.get("request"), "user", None)
    if not on_tenant_domain() or user is None or not user.has_perm("bookings.view_booking"):
        return {}
    from bookings.models import Booking, BookingStatus
    from intake.models import CalendarFeed

    return {
        "contact_needed": Booking.objects.filter(contact_needed=True, status=BookingStatus.CONFIRMED).count(),
        "failing_feeds": CalendarFeed.objects.filter(Q(is_active=True) & ~Q(last_error="")).count(),
    }
