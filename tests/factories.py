"""Plain factory functions for tests: each makes a valid row with sensible defaults, overridable."""
from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from bookings.models import Booking, BookingStatus, Listing, ListingAccessInfo, Property
from guests.models import Guest

_seq = itertools.count(1)


def make_property(**kw) -> Property:
    n = next(_seq)
    fields = {
        "name": f"Sunset Villa {n}",
        "address": "12 MG Road, Bengaluru 560001",
        "contact_phone": "+919876500000",
        "time_zone": "Asia/Kolkata",
        "house_rules": "No smoking indoors. Quiet hours after 10 pm.",
    }
    fields.update(kw)
    return Property.objects.create(**fields)


def make_listing(property: Property | None = None, **kw) -> Listing:
    n = next(_seq)
    fields = {
        "property": property or make_property(),
        "name": f"Deluxe Room {200 + n}",
        "checkin_time": dt.time(14, 0),
        "checkout_time": dt.time(11, 0),
        "wifi_name": "SunsetVilla_5G",
        "wifi_password": "welcome2026",
    }
    fields.update(kw)
    return Listing.objects.create(**fields)


def make_access_info(listing: Listing, **kw) -> ListingAccessInfo:
    fields = {"listing": listing, "access_code": "4521", "map_url": "https://maps.example.com/sunset"}
    fields.update(kw)
    return ListingAccessInfo.objects.create(**fields)


def make_guest(**kw) -> Guest:
    n = next(_seq)
    fields = {"name": f"Priya Sharma {n}", "phone": f"+9198765{n % 100000:05d}", "email": f"guest{n}@example.com"}
    fields.update(kw)
    return Guest.objects.create(**fields)


def make_booking(*, guest: Guest | None = None, listing: Listing | None = None, **kw) -> Booking:
    checkin = kw.pop("checkin_date", dt.date(2026, 3, 15))
    fields = {
        "guest": guest or make_guest(),
        "listing": listing or make_listing(),
        "status": BookingStatus.CONFIRMED,
        "checkin_date": checkin,
        "checkout_date": kw.pop("checkout_date", checkin + dt.timedelta(days=3)),
        "guests_planned": 2,
        "total_amount": Decimal("8500"),
        "discount_amount": Decimal("0"),
        "final_amount": Decimal("8500"),
    }
    fields.update(kw)
    if "final_amount" not in kw:
        fields["final_amount"] = fields["total_amount"] - fields["discount_amount"]
    return Booking.objects.create(**fields)
