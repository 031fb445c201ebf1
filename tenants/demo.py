"""The demo host "Sunset Stays" (`manage.py seed_demo`): two properties, five listings, thirty guests and
about sixty bookings spread over every lifecycle stage (RA-GUEST-001 §2.1) relative to `now`.

The bookings are history, written the way the running system would have written it: each booking, payment,
check-in, check-out and cancellation goes through the services at its own instant, in chronological order,
and the lifecycle engine (messaging.tasks.run_tenant_tick) runs between them at historical instants too
(EXACT_HISTORY says how closely). So the schedules, portal tokens, sandbox messages, coupons, turnover tasks,
room states and stock levels are the engine's own work, not rows made up here.

Re-running finds every row by a stable natural key (tenant slug, property and listing names, guest phones,
`notes="demo:<n>"` on bookings, usernames) and adds or moves nothing; the engine then only does what has come
due since the last run, as the scheduler would have. Stages are computed, so they move on with the clock.
"""
from __future__ import annotations

import datetime as dt
import importlib.util
import logging
import time
import zoneinfo
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from unittest import mock

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.db.models import Count
from django_tenants.utils import schema_context

from bookings.lifecycle import Stage, stage_of
from bookings.models import (
    ActionSource,
    Booking,
    BookingSource,
    BookingStatus,
    Listing,
    ListingAccessInfo,
    ListingType,
    PaymentMethod,
    Property,
    PropertyRecommendation,
    RecommendationCategory,
    RoomStatus,
)
from bookings.services import (
    cancel_booking,
    check_in_guest,
    check_out_guest,
    confirm_booking,
    create_booking,
    record_payment,
)
from guests.models import ConsentChannel, ConsentSource, ConsentStatus, Guest
from guests.services import set_consent
from messaging.scheduler import current_config
from messaging.tasks import run_tenant_tick
from operations.models import CleaningType, HousekeepingTask, InventoryItem, ListingConsumable, TaskStatus
from operations.services import set_room_status
from portal.models import GuestPortalToken
from portal.services import portal_url
from tenants.models import Tenant, TenantGuestExperienceConfig, TenantWorkIndex
from tenants.services import create_tenant, public_tenant

Report = Callable[[str], None]

DEMO_SLUG = "sunset"
DEMO_TENANT = {
    "slug": DEMO_SLUG,
    "name": "Sunset Stays",
    "owner_name": "Raj Malhotra",
    "coupon_prefix": "SUNSET",
    "direct_booking_url": "https://sunset.example.com/book",
}
# Demo credentials only, printed by the command: a laptop's demo, never a deployment.
ADMIN_USERNAME, ADMIN_PASSWORD = "admin", "atlas-admin-demo"
ROLE_USERS = (  # username (= auth group), first name, last name, password
    ("owner", "Raj", "Malhotra", "sunset-owner-demo"),
    ("manager", "Anita", "Fernandes", "sunset-manager-demo"),
    ("frontdesk", "Sunil", "Yadav", "sunset-frontdesk-demo"),
)
MARKER = "demo:{n}"
IST = zoneinfo.ZoneInfo("Asia/Kolkata")


# ---------------------------------------------------------------------------------------------------------
# The catalogue: properties, listings, what is nearby, what is stocked
# ---------------------------------------------------------------------------------------------------------

PROPERTIES = {
    "residency": {
        "name": "Sunset Residency, Indiranagar",
        "address": "42, 12th Main Road, HAL 2nd Stage, Indiranagar, Bengaluru 560038",
        "contact_phone": "+919876500001",
        "emergency_phone": "+919876500011",
        "time_zone": "Asia/Kolkata",
        "house_rules": (
            "No smoking indoors; the terrace has a smoking corner.\n"
            "Quiet hours 10 pm to 7 am: our neighbours are families.\n"
            "No parties or outside guests after 9 pm.\n"
            "Please switch off the AC and lights when you go out."
        ),
    },
    "shores": {
        "name": "Sunset Shores, Candolim",
        "address": "House 7/112, Escrivao Vaddo, Candolim, Bardez, Goa 403515",
        "contact_phone": "+919876500002",
        "emergency_phone": "+919876500012",
        "time_zone": "Asia/Kolkata",
        "house_rules": (
            "No smoking inside the villa or cottage.\n"
            "Rinse off the sand at the garden shower before coming in.\n"
            "Music down after 10 pm (Goa noise rules).\n"
            "Pets welcome in the cottage only, please tell us in advance."
        ),
    },
}


@dataclass(frozen=True)
class ListingSpec:
    property: str
    name: str
    listing_type: str
    checkin_time: dt.time
    checkout_time: dt.time
    nightly_rate: Decimal
    wifi: tuple[str, str]
    access: dict
    early_checkin_price: Decimal | None = None
    late_checkout_price: Decimal | None = None
    extra_cleaning_price: Decimal | None = None


LISTINGS = {
    "studio": ListingSpec(
        "residency", "Skyline Studio", ListingType.SERVICED_APARTMENT, dt.time(13, 0), dt.time(12, 0), Decimal("4200"),
        ("SunsetResidency_Studio", "skyline@2026"),
        {"access_code": "4817",
         "access_instructions": "Take the lift to the 4th floor; the keypad is left of the door."},
        early_checkin_price=Decimal("800"), late_checkout_price=Decimal("600"),
    ),
    "courtyard": ListingSpec(
        "residency", "Courtyard Room", ListingType.PRIVATE_ROOM, dt.time(14, 0), dt.time(10, 0), Decimal("2600"),
        ("SunsetResidency_Guest", "courtyard26"),
        {"access_code": "2093",
         "access_instructions": "Ground floor, through the side gate; the room faces the tulsi courtyard."},
    ),
    # Deliberately without an access code: messages and the portal fall back to "Our staff will meet you" (EC-12).
    "deluxe": ListingSpec(
        "residency", "Deluxe Room 204", ListingType.HOTEL_ROOM, dt.time(12, 0), dt.time(11, 0), Decimal("3400"),
        ("SunsetResidency_204", "room204stay"),
        {"access_code": "",
         "access_instructions": "Our front desk is open 7 am to 11 pm; after hours call the number below."},
        late_checkout_price=Decimal("500"),
    ),
    "villa": ListingSpec(
        "shores", "Casa Azul Villa", ListingType.ENTIRE_HOME, dt.time(15, 0), dt.time(11, 0), Decimal("12500"),
        ("CasaAzul", "goa-sunsets-26"),
        {"access_code": "7710",
         "access_instructions": "The key is in the blue lockbox by the gate; the code opens it."},
        early_checkin_price=Decimal("1500"), extra_cleaning_price=Decimal("900"),
    ),
    "cottage": ListingSpec(
        "shores", "Palm Cottage", ListingType.ENTIRE_HOME, dt.time(14, 0), dt.time(11, 0), Decimal("6800"),
        ("PalmCottage", "coconut-breeze"),
        {"access_code": "3356", "access_instructions": "Walk past the villa to the end of the garden path."},
        early_checkin_price=Decimal("700"), late_checkout_price=Decimal("700"),
    ),
}

PARKING = {
    "residency": "Two-wheeler parking in the basement; cars on 12th Main after 8 pm only.",
    "shores": "Free parking for two cars inside the gate.",
}
EMERGENCY_CONTACT = {"residency": ("Anita Fernandes", "+919876500021"), "shores": ("Joel Pereira", "+919876500022")}
MAP_URL = "https://maps.example.com/?q={}"

R = RecommendationCategory
RECOMMENDATIONS = {
    "residency": [
        (R.RESTAURANT, "Vidyarthi Bhavan", "Crisp masala dosa since 1943; expect a short queue at weekends.", "5.8"),
        (R.RESTAURANT, "Toit Brewpub", "Craft beer and wood-fired pizza on 100 Feet Road.", "1.2"),
        (R.CAFE, "Third Wave Coffee, 12th Main", "Pour-overs and a quiet corner to work.", "0.4"),
        (R.ATTRACTION, "Cubbon Park", "Morning walks under old rain trees; closed to traffic on Sundays.", "6.1"),
        (R.TRANSPORT, "Indiranagar Metro Station", "Purple Line to MG Road and Majestic.", "1.0"),
        (R.SHOPPING, "Commercial Street", "Clothes, silver and street food; bargain politely.", "6.5"),
        (R.MEDICAL, "Chinmaya Mission Hospital", "24-hour emergency department.", "1.6"),
    ],
    "shores": [
        (R.RESTAURANT, "Fisherman's Catch", "Goan fish thali and recheado prawns by the beach.", "0.6"),
        (R.CAFE, "Bean There Café", "Breakfast bowls and cold brew, open from 7 am.", "0.3"),
        (R.ATTRACTION, "Fort Aguada", "17th-century Portuguese fort and lighthouse; go at sunset.", "3.4"),
        (R.ATTRACTION, "Candolim Beach", "Wide and calm; lifeguards on duty until 6 pm.", "0.5"),
        (R.TRANSPORT, "Candolim Taxi Stand", "Pre-paid taxis to the airport (about 75 minutes).", "0.8"),
        (R.SHOPPING, "Saturday Night Market, Arpora", "Crafts, music and food stalls, Saturdays in season.", "9.5"),
        (R.MEDICAL, "Candolim Health Centre", "General physician, 9 am to 8 pm.", "1.1"),
    ],
}

# (item, unit, on hand, reorder level) per property; (item, quantity per stay) per listing.
INVENTORY = {
    "residency": [
        ("Water bottle (1 L)", "bottles", 240, 48),
        ("Toiletry kit", "kits", 120, 20),
        ("Tea & coffee kit", "kits", 90, 15),
    ],
    "shores": [
        ("Water bottle (1 L)", "bottles", 200, 40),
        ("Toiletry kit", "kits", 80, 15),
        ("Beach towel set", "sets", 40, 8),
    ],
}
CONSUMABLES = {
    "studio": [("Water bottle (1 L)", 2), ("Toiletry kit", 1), ("Tea & coffee kit", 1)],
    "courtyard": [("Water bottle (1 L)", 2), ("Toiletry kit", 1)],
    "deluxe": [("Water bottle (1 L)", 2), ("Toiletry kit", 1), ("Tea & coffee kit", 1)],
    "villa": [("Water bottle (1 L)", 6), ("Toiletry kit", 2), ("Beach towel set", 2)],
    "cottage": [("Water bottle (1 L)", 4), ("Toiletry kit", 1), ("Beach towel set", 1)],
}

# ---------------------------------------------------------------------------------------------------------
# Guests: fake numbers +91 98765 0XXXX, emails @example.com; every fifth guest gave only a phone.
# ---------------------------------------------------------------------------------------------------------

GUEST_NAMES = (
    "Aarav Sharma", "Priya Nair", "Rohan Mehta", "Ananya Iyer", "Vikram Reddy", "Kavya Menon", "Arjun Kapoor",
    "Sneha Kulkarni", "Rahul Verma", "Meera Pillai", "Aditya Rao", "Ishita Banerjee", "Karthik Subramanian",
    "Neha Gupta", "Siddharth Joshi", "Pooja Desai", "Nikhil Bhat", "Divya Krishnan", "Manish Agarwal",
    "Lakshmi Venkatesh", "Farhan Qureshi", "Tanvi Shetty", "Harpreet Singh", "Deepa Chatterjee", "Suresh Patil",
    "Fatima Sheikh", "Gaurav Saxena", "Riya D'Souza", "Amit Tiwari", "Zoya Khan",
)


def guest_phone(index: int) -> str:
    return f"+9198765{1001 + index:05d}"


def guest_email(index: int) -> str:
    if index % 5 == 3:
        return ""  # booked by phone only
    first, *rest = GUEST_NAMES[index].lower().replace("'", "").split()
    return f"{first}.{rest[-1]}@example.com"


# ---------------------------------------------------------------------------------------------------------
# The booking plan. Check-in is in days from today (property time). Kinds:
#   lead       an enquiry never confirmed (PRE_BOOKING)
#   booked     confirmed, arrival ahead (BOOKING_CONFIRMED, or PRE_ARRIVAL within 7 days)
#   cancelled  confirmed, then cancelled before arrival
#   stayed     checked in and out by staff or on the portal
#   forgotten  checked in; nobody checked the guest out, so the engine did at check-out + 1 h (GX-CO-001)
#   in_house   checked in and still there (CHECK_IN today, IN_STAY from day 2)
#   departing  in house, leaving at the listing's next check-out that is still ahead (CHECK_OUT)
# Bookings on one listing never overlap; `resolve_plan` checks it.
# ---------------------------------------------------------------------------------------------------------

DIRECT, AIRBNB, BDC = BookingSource.DIRECT, BookingSource.AIRBNB, BookingSource.BOOKING_COM


@dataclass(frozen=True)
class PlannedBooking:
    n: int
    listing: str
    guest: int
    checkin: int | None  # None: `departing`, resolved from now
    nights: int
    source: str
    party: int
    kind: str


P = PlannedBooking
PLAN = (
    P(1, "studio", 1, -240, 4, BDC, 2, "stayed"),
    P(2, "studio", 2, -120, 3, AIRBNB, 2, "stayed"),
    P(3, "studio", 7, -75, 2, DIRECT, 1, "stayed"),
    P(4, "studio", 0, -40, 3, DIRECT, 2, "stayed"),
    P(5, "studio", 8, -12, 4, BDC, 3, "forgotten"),
    P(6, "studio", 9, None, 3, AIRBNB, 2, "departing"),
    P(7, "studio", 10, 4, 2, DIRECT, 2, "booked"),
    P(8, "studio", 0, 8, 3, DIRECT, 2, "booked"),
    P(9, "studio", 11, 15, 3, BDC, 1, "booked"),
    P(10, "studio", 25, 20, 3, AIRBNB, 2, "booked"),
    P(11, "studio", 19, 24, 2, DIRECT, 1, "lead"),
    P(12, "studio", 12, 30, 2, DIRECT, 2, "lead"),
    P(13, "studio", 7, 36, 4, AIRBNB, 2, "booked"),
    P(14, "studio", 1, 45, 5, DIRECT, 3, "booked"),
    P(15, "courtyard", 3, -280, 3, DIRECT, 2, "stayed"),
    P(16, "courtyard", 3, -150, 2, DIRECT, 2, "stayed"),
    P(17, "courtyard", 17, -20, 3, AIRBNB, 2, "stayed"),
    P(18, "courtyard", 18, -8, 2, DIRECT, 2, "cancelled"),
    P(19, "courtyard", 19, -5, 2, BDC, 1, "stayed"),
    P(20, "courtyard", 20, None, 2, DIRECT, 1, "departing"),
    P(21, "courtyard", 21, 2, 3, DIRECT, 2, "booked"),
    P(22, "courtyard", 16, 6, 2, DIRECT, 2, "booked"),
    P(23, "courtyard", 22, 10, 2, AIRBNB, 1, "booked"),
    P(24, "courtyard", 28, 13, 3, AIRBNB, 2, "booked"),
    P(25, "courtyard", 23, 20, 4, DIRECT, 3, "cancelled"),
    P(26, "courtyard", 12, 26, 3, BDC, 2, "booked"),
    P(27, "courtyard", 24, 35, 2, DIRECT, 2, "lead"),
    P(28, "courtyard", 15, 40, 2, DIRECT, 1, "booked"),
    P(29, "deluxe", 4, -260, 2, DIRECT, 2, "stayed"),
    P(30, "deluxe", 4, -130, 2, DIRECT, 2, "stayed"),
    P(31, "deluxe", 29, -6, 3, DIRECT, 2, "stayed"),
    P(32, "deluxe", 4, -2, 4, DIRECT, 2, "in_house"),
    P(33, "deluxe", 5, 3, 2, BDC, 2, "booked"),
    P(34, "deluxe", 14, 6, 3, BDC, 2, "booked"),
    P(35, "deluxe", 13, 12, 2, DIRECT, 1, "booked"),
    P(36, "deluxe", 6, 17, 3, DIRECT, 2, "booked"),
    P(37, "deluxe", 11, 21, 3, AIRBNB, 2, "booked"),
    P(38, "deluxe", 26, 25, 3, AIRBNB, 2, "lead"),
    P(39, "deluxe", 27, 30, 3, DIRECT, 2, "booked"),
    P(40, "villa", 1, -360, 4, AIRBNB, 4, "stayed"),
    P(41, "cottage", 2, -110, 3, DIRECT, 4, "stayed"),
    P(42, "villa", 15, -15, 4, DIRECT, 2, "stayed"),
    P(43, "villa", 16, -4, 3, AIRBNB, 4, "stayed"),
    P(44, "villa", 3, 0, 3, DIRECT, 3, "in_house"),
    P(45, "villa", 26, 5, 4, DIRECT, 4, "booked"),
    P(46, "villa", 27, 14, 3, BDC, 3, "booked"),
    P(47, "villa", 8, 19, 4, DIRECT, 4, "booked"),
    P(48, "villa", 6, 25, 2, DIRECT, 2, "cancelled"),
    P(49, "villa", 2, 30, 5, DIRECT, 4, "booked"),
    P(50, "villa", 28, 40, 4, DIRECT, 4, "booked"),
    P(51, "villa", 13, 50, 4, BDC, 3, "booked"),
    P(52, "cottage", 23, -7, 5, BDC, 2, "stayed"),
    P(53, "cottage", 24, -1, 4, DIRECT, 2, "in_house"),
    P(54, "cottage", 17, 6, 3, DIRECT, 2, "booked"),
    P(55, "cottage", 29, 9, 2, AIRBNB, 2, "booked"),
    P(56, "cottage", 18, 13, 4, BDC, 2, "booked"),
    P(57, "cottage", 20, 21, 3, DIRECT, 2, "lead"),
    P(58, "cottage", 14, 30, 3, DIRECT, 2, "booked"),
    P(59, "cottage", 21, 38, 3, AIRBNB, 2, "booked"),
    P(60, "cottage", 9, 50, 7, BDC, 2, "booked"),
)
del P

ARRIVES = frozenset({"stayed", "forgotten", "in_house", "departing"})
LEAVES = frozenset({"stayed"})
LATE_ARRIVAL = 31  # this guest arrives 3 h late, so the host sees a "not checked in" alert (GX-CI-002)
CONVERSION_DELAY = dt.timedelta(hours=20)  # a direct lead confirmed the next day
# The engine replays the last ten days tick by tick, at every instant it has work due (what a demo shows close
# up: arrivals, stays, departures, the auto check-out). Ticking like that through a year costs about a
# second per stay, so older history runs the engine only around the steps that need it (keep_pace_with):
# older messages go out at those instants rather than exactly when due, and nothing is decided differently.
EXACT_HISTORY = dt.timedelta(days=10)
ON_THE_WAY = dt.timedelta(minutes=20)  # longer than the WhatsApp → SMS fallback of check-in instructions (10 min)


# ---------------------------------------------------------------------------------------------------------
# From plan to dated steps (pure: no database, so the plan can be checked at any `now`)
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    at: dt.datetime
    n: int
    action: str  # book, confirm, pay, check_in, check_out, cancel, clean
    amount: Decimal | None = None
    method: str = ""
    via: str = ""


@dataclass
class DatedBooking:
    plan: PlannedBooking
    checkin_date: dt.date
    checkout_date: dt.date
    total: Decimal
    steps: list[Step] = field(default_factory=list)

    @property
    def marker(self) -> str:
        return MARKER.format(n=self.plan.n)

    @property
    def booked_at(self) -> dt.datetime:
        return self.steps[0].at


def local_instant(date: dt.date, time_of_day: dt.time, minutes: int = 0) -> dt.datetime:
    """A wall-clock time at the properties (both in India), in UTC, shifted by elapsed minutes."""
    start = dt.datetime.combine(date, time_of_day, tzinfo=IST).astimezone(dt.timezone.utc)
    return start + dt.timedelta(minutes=minutes)


def resolve_plan(now: dt.datetime) -> list[DatedBooking]:
    """Date every planned booking relative to `now` and list what happened to it, up to `now` only."""
    today = now.astimezone(IST).date()
    dated = [_dated(plan, today, now) for plan in PLAN]
    check_no_overlaps(dated)
    for booking in dated:
        booking.steps = [step for step in _steps(booking, today, now) if step.at <= now]
    return dated


def _dated(plan: PlannedBooking, today: dt.date, now: dt.datetime) -> DatedBooking:
    spec = LISTINGS[plan.listing]
    if plan.checkin is None:
        checkout = _next_departure_date(spec, today, now)
        checkin = checkout - dt.timedelta(days=plan.nights)
    else:
        checkin = today + dt.timedelta(days=plan.checkin)
        checkout = checkin + dt.timedelta(days=plan.nights)
    return DatedBooking(plan, checkin, checkout, spec.nightly_rate * plan.nights)


def _next_departure_date(spec: ListingSpec, today: dt.date, now: dt.datetime) -> dt.date:
    """Today while the guest can still be in (the engine checks out an hour after check-out time), else
    tomorrow. The guest is in CHECK_OUT from 12 h before check-out time (§2.1): with check-out at 10:00 and
    12:00 that covers 22:00 to about 12:45 property time; seeded later in the day, both are still IN_STAY."""
    leaves_today = local_instant(today, spec.checkout_time, minutes=45)
    return today if now < leaves_today else today + dt.timedelta(days=1)


def check_no_overlaps(dated: list[DatedBooking]) -> None:
    by_listing: dict[str, list[DatedBooking]] = {}
    for booking in dated:
        by_listing.setdefault(booking.plan.listing, []).append(booking)
    for listing, bookings in by_listing.items():
        bookings.sort(key=lambda b: b.checkin_date)
        for before, after in zip(bookings, bookings[1:]):
            if after.checkin_date < before.checkout_date:
                raise ValueError(f"demo bookings {before.marker} and {after.marker} overlap on {listing}")


def _steps(booking: DatedBooking, today: dt.date, now: dt.datetime) -> Iterator[Step]:
    plan, spec = booking.plan, LISTINGS[booking.plan.listing]
    n = plan.n
    booked_at = _booked_at(booking, today)
    # Direct enquiries often start as leads and are confirmed the next day, once the advance is agreed.
    converted = (
        plan.kind != "lead" and plan.source == DIRECT and n % 4 == 0 and booked_at + CONVERSION_DELAY < now
    )
    yield Step(booked_at, n, "book", via="lead" if plan.kind == "lead" or converted else "confirmed")
    if plan.kind == "lead":
        return
    confirmed_at = booked_at + CONVERSION_DELAY if converted else booked_at
    if converted:
        yield Step(confirmed_at, n, "confirm")
    yield from _advance_payments(booking, confirmed_at)
    if plan.kind == "cancelled":
        yield Step(_cancelled_at(booking, confirmed_at, now), n, "cancel")
        return
    if plan.kind not in ARRIVES:
        return
    arrived_at = _arrival(booking, spec, now)
    yield Step(arrived_at, n, "check_in", via=ActionSource.PORTAL if n % 3 == 0 else ActionSource.STAFF)
    yield from _balance_payment(booking, arrived_at + dt.timedelta(minutes=5))
    if plan.kind in LEAVES:
        left_at = local_instant(booking.checkout_date, spec.checkout_time, minutes=-(25, 50, 80, 35)[n % 4])
        yield Step(left_at, n, "check_out", via=ActionSource.PORTAL if n % 4 == 0 else ActionSource.STAFF)
        yield Step(left_at + dt.timedelta(hours=2), n, "clean")
    elif plan.kind == "forgotten":
        auto_checkout_at = local_instant(booking.checkout_date, spec.checkout_time, minutes=60)
        yield Step(auto_checkout_at + dt.timedelta(hours=2), n, "clean")


def _booked_at(booking: DatedBooking, today: dt.date) -> dt.datetime:
    """Leads arrived in the last few days; other bookings 4 to 48 days before arrival, always before today."""
    n = booking.plan.n
    if booking.plan.kind == "lead":
        day = today - dt.timedelta(days=1 + n % 4)
    else:
        lead_days = 4 + (n * 11) % 45
        day = min(booking.checkin_date - dt.timedelta(days=lead_days), today - dt.timedelta(days=1 + n % 3))
    return local_instant(day, dt.time(9 + (n * 5) % 12, (n * 17) % 60))


def _cancelled_at(booking: DatedBooking, confirmed_at: dt.datetime, now: dt.datetime) -> dt.datetime:
    """Half-way to arrival, or a few hours ago when that is still ahead."""
    halfway = confirmed_at + (local_instant(booking.checkin_date, dt.time(0)) - confirmed_at) / 2
    return min(halfway, max(confirmed_at + dt.timedelta(hours=1), now - dt.timedelta(hours=3)))


def _arrival(booking: DatedBooking, spec: ListingSpec, now: dt.datetime) -> dt.datetime:
    """Around check-in time; a guest arriving today before check-in time has had an early check-in."""
    n = booking.plan.n
    minutes = 200 if n == LATE_ARRIVAL else (-40, 10, 35, 70, 95, 110)[n % 6]
    arrival = local_instant(booking.checkin_date, spec.checkin_time, minutes)
    if arrival <= now - dt.timedelta(minutes=10):
        return arrival
    earliest = local_instant(booking.checkin_date, dt.time(0, 5))
    early = (now - dt.timedelta(minutes=40)).replace(second=0, microsecond=0)
    return min(max(earliest, early - dt.timedelta(minutes=early.minute % 5)), now - dt.timedelta(minutes=1))


def _advance_payments(booking: DatedBooking, confirmed_at: dt.datetime) -> Iterator[Step]:
    """OTAs collect in full at booking; direct guests pay in full, pay a 30 % advance, or pay on arrival."""
    n, at = booking.plan.n, confirmed_at + dt.timedelta(minutes=7)
    if booking.plan.source != DIRECT:
        yield Step(at, n, "pay", booking.total, PaymentMethod.OTA)
    elif n % 3 == 0:
        yield Step(at, n, "pay", booking.total, PaymentMethod.UPI)
    elif n % 3 == 1:
        yield Step(at, n, "pay", _advance(booking.total), PaymentMethod.UPI)


def _balance_payment(booking: DatedBooking, at: dt.datetime) -> Iterator[Step]:
    n = booking.plan.n
    if booking.plan.source != DIRECT or n % 3 == 0:
        return
    paid = _advance(booking.total) if n % 3 == 1 else Decimal("0")
    yield Step(at, n, "pay", booking.total - paid, PaymentMethod.CASH if n % 2 else PaymentMethod.UPI)


def _advance(total: Decimal) -> Decimal:
    return (total * Decimal("0.3")).quantize(Decimal("1"))


# ---------------------------------------------------------------------------------------------------------
# Booking intake (issue 15): a listing whose bookings come from its Airbnb calendar (intake/demo.py's sample
# feed, served on the platform's domain while `make run` runs). Of its two reservations, one guest has completed
# their contact on the portal; the other is still "contact needed".
# ---------------------------------------------------------------------------------------------------------

CALENDAR_LISTING = ListingSpec(
    "residency", "Garden Loft", ListingType.PRIVATE_ROOM, dt.time(14, 0), dt.time(11, 0), Decimal("3100"),
    ("SunsetResidency_Loft", "gardenloft26"),
    {"access_code": "5530", "access_instructions": "Up the garden stairs behind the main building."},
)
CALENDAR_GUEST = ("Nandini Rao", "+919876501099", "nandini.rao@example.com")  # completed her contact

# ---------------------------------------------------------------------------------------------------------
# Seeding
# ---------------------------------------------------------------------------------------------------------


@dataclass
class SeedResult:
    tenant_created: bool
    admin_created: bool
    admin_urls: dict[str, str]  # display name -> URL; the platform's first
    portal: tuple[str, str] | None  # (whose booking, link)
    stages: dict[str, int]  # lifecycle stage -> bookings, in §2.1 order
    roles_applied: bool
    calendar: dict[str, str] = field(default_factory=dict)  # what to open for the calendar listing


def seed_demo(now: dt.datetime, report: Report = print) -> SeedResult:
    """Create (or find) everything; see the module docstring. `report` gets one line per step."""
    with schema_context(settings.PUBLIC_SCHEMA_NAME):  # tenants and the platform admin live in public
        platform = public_tenant()
        report(f"Public tenant served at {platform.get_primary_domain().domain}: ready.")
        admin_created = ensure_platform_admin()
        report(f"Platform superuser {ADMIN_USERNAME!r}: {'created' if admin_created else 'already there'}.")
        tenant, tenant_created = ensure_demo_tenant()
        report(f"Tenant {tenant.name} (schema {tenant.schema_name!r}): "
               f"{'created and migrated' if tenant_created else 'already there'}.")
        admin_urls = {"Platform": admin_url(platform), tenant.name: admin_url(tenant)}

    with schema_context(tenant.schema_name), _ticks_run_here(), _unresolved_variables_counted() as unresolved:
        with transaction.atomic():  # all or nothing: a failed first run leaves no half-written history behind
            listings = ensure_catalogue(now)
            report(f"Catalogue: {Property.objects.count()} properties, {len(listings)} listings, "
                   f"{PropertyRecommendation.objects.count()} recommendations, "
                   f"{InventoryItem.objects.count()} stock items.")
            dated = resolve_plan(now)
            guests = ensure_guests(dated, now)
            report(f"Guests: {len(guests)}.")
            write_history(tenant.schema_name, dated, listings, guests, now, report)
            calendar = ensure_calendar_listing(now, report)
            ensure_personalization(guests, now, report)
        for names, count in unresolved.items():
            report(f"Note: {count} messages went out with unresolved template variables ({names}).")
        roles_applied = ensure_staff_users()
        permissions = "role permissions applied" if roles_applied else "no tenants.roles yet, so no permissions"
        report(f"Staff users {', '.join(user[0] for user in ROLE_USERS)}: ready ({permissions}).")
        stages = stage_counts(now)
        portal = portal_link(now)
    return SeedResult(
        tenant_created=tenant_created,
        admin_created=admin_created,
        admin_urls=admin_urls,
        portal=portal,
        stages=stages,
        roles_applied=roles_applied,
        calendar=calendar,
    )


def ensure_calendar_listing(now: dt.datetime, report: Report) -> dict[str, str]:
    """The Airbnb-calendar listing, its feed read as the poll reads it (the same code, from the sample's bytes
    instead of over HTTP, since nothing serves it while seeding), and one guest's contact completed."""
    from intake.contact import Choices, Contact, complete_contact
    from intake.demo import DEMO_FEED_PATH, demo_airbnb_feed
    from intake.fetch import Fetched
    from intake.ical import parse_calendar
    from intake.models import CalendarFeed, FeedSource
    from intake.services import add_feed, booking_link, stay_url
    from intake.sync import Read, record_read

    listing = _ensure_listing(CALENDAR_LISTING, Property.objects.get(name=PROPERTIES["residency"]["name"]))
    _ensure_access_info(listing, CALENDAR_LISTING)
    url = f"http://localhost:{settings.PUBLIC_URL_PORT}{DEMO_FEED_PATH}"
    feed = CalendarFeed.objects.filter(listing=listing).first() or add_feed(
        listing, source=FeedSource.AIRBNB, url=url, now=now)
    body = demo_airbnb_feed(now.astimezone(IST).date())
    feed = record_read(Read(feed, Fetched(False, body), parse_calendar(body, listing.property.tz)), now)
    bookings = list(Booking.objects.filter(listing=listing, status=BookingStatus.CONFIRMED).order_by("checkin_date"))
    if len(bookings) == 2 and bookings[1].contact_needed:
        name, phone, email = CALENDAR_GUEST
        complete_contact(bookings[1], Contact(name=name, phone=phone, email=email, guests=2), Choices(), now=now)
    run_tenant_tick(connection.schema_name, now)  # the confirmations and the completed contact, as the cluster would
    bookings = list(Booking.objects.filter(listing=listing, status=BookingStatus.CONFIRMED).order_by("checkin_date"))
    report(f"Calendar: {listing.name} reads its Airbnb calendar ({feed.reservations_count} reservations, "
           f"{feed.blocks_count} block); {sum(b.contact_needed for b in bookings)} booking waits for the guest's contact.")
    waiting = next((b for b in bookings if b.contact_needed), None)
    return {"listing": listing.name, "stay_link": stay_url(listing),
            **({"contact_needed": booking_link(waiting)} if waiting else {})}


@contextmanager
def _ticks_run_here() -> Iterator[None]:
    """The seed runs the engine itself, at historical instants. A tick requested from the task queue would
    run at the real clock (racing ahead of the history being written) or pile up in the queue, so writes
    made while seeding request none."""
    with mock.patch("messaging.tasks.request_tick", lambda schema_name: None):
        yield


@contextmanager
def _unresolved_variables_counted() -> Iterator[Counter]:
    """The renderer warns once per message with an unresolved variable; over a year of history that is a
    wall of identical lines, so while seeding they are counted and reported once."""
    counts: Counter = Counter()

    class CountUnresolved(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            if record.msg.startswith("template variables not resolved"):
                counts[record.getMessage().partition(": ")[2]] += 1
                return False
            return True

    renderer_log, counter = logging.getLogger("messaging.rendering"), CountUnresolved()
    renderer_log.addFilter(counter)
    try:
        yield counts
    finally:
        renderer_log.removeFilter(counter)


def ensure_platform_admin() -> bool:
    User = get_user_model()
    if User.objects.filter(username=ADMIN_USERNAME).exists():
        return False
    User.objects.create_superuser(ADMIN_USERNAME, "admin@example.com", ADMIN_PASSWORD)
    return True


def ensure_demo_tenant() -> tuple[Tenant, bool]:
    tenant = Tenant.objects.filter(slug=DEMO_SLUG).first()
    if tenant is not None:
        return tenant, False
    return create_tenant(**DEMO_TENANT), True


def admin_url(tenant: Tenant) -> str:
    domain = tenant.get_primary_domain().domain
    port = settings.PUBLIC_URL_PORT
    host = f"{domain}:{port}" if port and port not in ("80", "443") else domain
    return f"{settings.PUBLIC_URL_SCHEME}://{host}/admin/"


# --- catalogue ------------------------------------------------------------------------------------------


def ensure_catalogue(now: dt.datetime) -> dict[str, Listing]:
    properties = {key: _ensure_property(fields, now) for key, fields in PROPERTIES.items()}
    listings = {key: _ensure_listing(spec, properties[spec.property]) for key, spec in LISTINGS.items()}
    for key, prop in properties.items():
        _ensure_recommendations(prop, RECOMMENDATIONS[key])
        _ensure_inventory(prop, INVENTORY[key])
    for key, listing in listings.items():
        _ensure_access_info(listing, LISTINGS[key])
        _ensure_consumables(listing, CONSUMABLES[key])
    return listings


def _ensure_property(fields: dict, now: dt.datetime) -> Property:
    prop = Property.objects.filter(name=fields["name"]).first()
    if prop is None:
        # Listed before the oldest demo stay, so the history reads in order in the admin.
        prop = Property(**fields, created_at=now - dt.timedelta(days=450))
        prop.full_clean()
        prop.save()
    return prop


def _ensure_listing(spec: ListingSpec, prop: Property) -> Listing:
    listing = Listing.objects.filter(property=prop, name=spec.name).first()
    if listing is None:
        listing = Listing(
            property=prop,
            name=spec.name,
            listing_type=spec.listing_type,
            checkin_time=spec.checkin_time,
            checkout_time=spec.checkout_time,
            wifi_name=spec.wifi[0],
            wifi_password=spec.wifi[1],
            supports_early_checkin=spec.early_checkin_price is not None,
            early_checkin_price=spec.early_checkin_price,
            late_checkout_price=spec.late_checkout_price,
            extra_cleaning_price=spec.extra_cleaning_price,
        )
        listing.full_clean()
        listing.save()
    return listing


def _property_key(listing: Listing) -> str:
    return next(key for key, fields in PROPERTIES.items() if fields["name"] == listing.property.name)


def _ensure_access_info(listing: Listing, spec: ListingSpec) -> None:
    if ListingAccessInfo.objects.filter(listing=listing).exists():
        return
    key = _property_key(listing)
    contact_name, contact_phone = EMERGENCY_CONTACT[key]
    info = ListingAccessInfo(
        listing=listing,
        parking_instructions=PARKING[key],
        emergency_contact_name=contact_name,
        emergency_contact_phone=contact_phone,
        map_url=MAP_URL.format(listing.property.name.replace(" ", "+").replace(",", "")),
        **spec.access,
    )
    info.full_clean()
    info.save()


def _ensure_recommendations(prop: Property, rows: list[tuple]) -> None:
    for order, (category, name, description, distance) in enumerate(rows, start=1):
        PropertyRecommendation.objects.get_or_create(
            property=prop,
            name=name,
            defaults={
                "category": category,
                "description": description,
                "distance_km": Decimal(distance),
                "map_url": MAP_URL.format(name.replace(" ", "+").replace(",", "")),
                "phone": f"+9198765{9000 + order:05d}" if category in (R.RESTAURANT, R.MEDICAL) else "",
                "sort_order": order * 10,
            },
        )


def _ensure_inventory(prop: Property, rows: list[tuple]) -> None:
    for name, unit, on_hand, reorder_level in rows:
        InventoryItem.objects.get_or_create(
            property=prop,
            name=name,
            defaults={"unit": unit, "quantity_on_hand": on_hand, "reorder_level": reorder_level},
        )


def _ensure_consumables(listing: Listing, rows: list[tuple[str, int]]) -> None:
    for item_name, per_stay in rows:
        item = InventoryItem.objects.get(property=listing.property, name=item_name)
        ListingConsumable.objects.get_or_create(listing=listing, item=item, defaults={"quantity_per_stay": per_stay})


# --- guests ---------------------------------------------------------------------------------------------


def ensure_guests(dated: list[DatedBooking], now: dt.datetime) -> dict[int, Guest]:
    """One guest per phone, on file from their first enquiry. Two guests in three ticked "WhatsApp offers" on
    the booking form; marketing messages (coupons, add-on offers, re-engagement) reach only them (§10.7)."""
    first_contact: dict[int, dt.datetime] = {}
    for booking in dated:
        if booking.steps:
            at = booking.booked_at - dt.timedelta(minutes=5)
            first_contact[booking.plan.guest] = min(at, first_contact.get(booking.plan.guest, at))
    guests = {}
    for index, name in enumerate(GUEST_NAMES):
        guest = Guest.objects.filter(phone=guest_phone(index)).first()
        if guest is None:
            guest = Guest(name=name, phone=guest_phone(index), email=guest_email(index),
                          created_at=first_contact.get(index, now))
            guest.full_clean()
            guest.save()
            if index % 3 != 2:
                set_consent(guest.pk, ConsentChannel.WHATSAPP, ConsentStatus.GRANTED, source=ConsentSource.BOOKING_FORM,
                            marketing=True, now=guest.created_at)
        guests[index] = guest
    return guests


# --- personalization ------------------------------------------------------------------------------------

DEMO_PREFERENCES = [
    {"temperature": "22", "pillow": "firm", "noise": "quiet"},
    {"bed": "twin", "floor": "low"},
    {"view": "sea", "lighting": "dim", "pillow": "soft"},
]
DEMO_SERVICES = [{"dining": "vegetarian", "transport": "airport_pickup"}, {"amenities": "crib"}, {"spa": "yes"}]


def ensure_personalization(guests: dict[int, Guest], now: dt.datetime, report: Report) -> None:
    """Switch the module on, record the personalization consent of two guests in three, import a few stated
    preferences as a PMS would, and refresh the medallion: the admin and the API show real profiles."""
    from personalization.ingest import import_records
    from personalization.models import BronzeRoomPreferences
    from personalization.refresh import refresh

    TenantGuestExperienceConfig.objects.filter(tenant__schema_name=connection.schema_name).update(
        personalization_enabled=True)
    for index, guest in guests.items():
        if index % 3 != 1:
            set_consent(guest.pk, ConsentChannel.PERSONALIZATION, ConsentStatus.GRANTED,
                        source=ConsentSource.BOOKING_FORM, now=guest.created_at)
    if not BronzeRoomPreferences.objects.exists():  # a second run imports nothing twice
        chosen = [g for i, g in sorted(guests.items()) if i % 2 == 0]
        import_records("room_preferences", [{"phone": g.phone, **DEMO_PREFERENCES[i % 3]} for i, g in enumerate(chosen)],
                       source_system="pms", now=now)
        import_records("service_preferences", [{"phone": g.phone, **DEMO_SERVICES[i % 3]} for i, g in enumerate(chosen)],
                       source_system="pms", now=now)
    result = refresh(full=True, now=now)
    report(f"Personalization: {result.guests_refreshed} guest profiles refreshed (bronze → silver → gold).")


# --- history --------------------------------------------------------------------------------------------


def write_history(schema: str, dated: list[DatedBooking], listings: dict[str, Listing], guests: dict[int, Guest],
                  now: dt.datetime, report: Report) -> None:
    """Perform the missing bookings' steps in time order, the engine keeping pace (see EXACT_HISTORY)."""
    existing = set(Booking.objects.filter(notes__startswith="demo:").values_list("notes", flat=True))
    missing = {b.plan.n: b for b in dated if b.marker not in existing}
    steps = sorted((step for b in missing.values() for step in b.steps), key=lambda s: (s.at, s.n))
    engine, booking_ids, started = EngineReplay(schema), {}, time.monotonic()
    checkpoints = {len(steps) * q // 4 for q in (1, 2, 3)}
    for done, step in enumerate(steps, start=1):
        if step.at >= now - EXACT_HISTORY:
            engine.run_until(step.at)
            perform(step, missing[step.n], booking_ids, listings, guests)
        else:
            engine.keep_pace_with(step, lambda: perform(step, missing[step.n], booking_ids, listings, guests))
        engine.clock = step.at
        if done in checkpoints:
            report(f"  … history written up to {step.at.astimezone(IST):%d %b %Y} ({done}/{len(steps)} steps)")
    engine.run_until(now)
    engine.tick(now)  # and at `now` itself, so the summary below sees what the running system would
    if missing:
        report(f"Bookings: {len(missing)} created through the services in {len(steps)} steps; the lifecycle engine "
               f"ticked {engine.ticks} times along the way ({time.monotonic() - started:.1f} s).")
    else:
        ticks = f"{engine.ticks} tick" + ("s" if engine.ticks != 1 else "")
        report(f"Bookings: all {len(dated)} already there; the lifecycle engine caught up to now ({ticks}).")


class EngineReplay:
    """Runs the tenant's lifecycle tick (messaging.tasks.run_tenant_tick) at historical instants, never
    earlier than the last step or tick (`clock`)."""

    def __init__(self, schema: str) -> None:
        self.schema, self.ticks = schema, 0
        self.clock = dt.datetime.min.replace(tzinfo=dt.timezone.utc)

    def tick(self, at: dt.datetime) -> dict:
        self.ticks += 1
        self.clock = max(self.clock, at)
        return run_tenant_tick(self.schema, at)

    def next_due(self) -> dt.datetime | None:
        """When the tenant next has work: the engine keeps it in the public wake-up index after every write."""
        index = TenantWorkIndex.objects.filter(tenant__schema_name=self.schema)
        return index.values_list("next_due_at", flat=True).first()

    def run_until(self, until: dt.datetime) -> None:
        """A tick at every instant up to `until` when work is due, as the scheduler's 30 s poll would have."""
        while (due := self.next_due()) is not None and due <= until:
            totals = self.tick(due)
            if not any(totals.values()) and self.next_due() == due:
                raise RuntimeError(f"the lifecycle engine made no progress at {due:%Y-%m-%d %H:%M} in {self.schema}")

    def catch_up(self, at: dt.datetime) -> None:
        """One tick at `at` for everything due by then, as a scheduler that had been asleep would do."""
        at = max(at, self.clock)
        due = self.next_due()
        if due is not None and due <= at:
            self.tick(at)

    def keep_pace_with(self, step: Step, perform_step: Callable[[], None]) -> None:
        """Older history (see EXACT_HISTORY): the engine runs only where a step needs it."""
        if step.action == "check_in":
            self.catch_up(step.at - ON_THE_WAY)  # instructions go out, and their SMS fallback, before arrival
            self.run_until(step.at)
        elif step.action == "check_out":
            self.catch_up(step.at)  # in-stay messages and the check-out reminder, while the guest is there
        perform_step()
        if step.action in ("book", "confirm", "check_out"):
            self.catch_up(step.at)  # the confirmation at once; the turnover task and coupon at check-out


def perform(step: Step, booking: DatedBooking, booking_ids: dict[int, int], listings: dict[str, Listing],
            guests: dict[int, Guest]) -> None:
    """One step, through the service that does it in the product."""
    pk = booking_ids.get(step.n)
    match step.action:
        case "book":
            plan = booking.plan
            created = create_booking(
                confirm=step.via == "confirmed",
                now=step.at,
                guest=guests[plan.guest],
                listing=listings[plan.listing],
                source=plan.source,
                checkin_date=booking.checkin_date,
                checkout_date=booking.checkout_date,
                guests_planned=plan.party,
                total_amount=booking.total,
                notes=booking.marker,
            )
            booking_ids[step.n] = created.pk
        case "confirm":
            confirm_booking(pk, now=step.at)
        case "pay":
            reference = f"{step.method}-DEMO-{step.n:03d}-{step.at:%y%m%d%H%M}"
            record_payment(pk, amount=step.amount, method=step.method, reference=reference, now=step.at)
        case "check_in":
            check_in_guest(pk, via=step.via, now=step.at)
        case "check_out":
            check_out_guest(pk, via=step.via, now=step.at)
        case "cancel":
            cancel_booking(pk, reason="Plans changed", now=step.at)
        case "clean":
            finish_turnover(pk, step.at)
        case _:
            raise ValueError(f"unknown demo step {step.action!r}")


def finish_turnover(booking_id: int, at: dt.datetime) -> None:
    """Housekeeping cleans the room a couple of hours after the guest leaves (operations has no service for
    finishing a task yet). The room is clean again unless the next guest is already in."""
    task = HousekeepingTask.objects.filter(
        booking_id=booking_id, cleaning_type=CleaningType.TURNOVER, status=TaskStatus.PENDING
    ).first()
    if task is None:
        return
    task.status, task.completed_at = TaskStatus.DONE, max(at, task.due_at)
    task.save(update_fields=["status", "completed_at"])
    if Listing.objects.filter(pk=task.listing_id, room_status=RoomStatus.VACANT_DIRTY).exists():
        set_room_status(task.listing_id, RoomStatus.VACANT_CLEAN)


# --- staff ----------------------------------------------------------------------------------------------


def ensure_staff_users() -> bool:
    """owner, manager and frontdesk, each in the auth group of the same name. Returns whether the groups
    got their permissions (tenants.roles, when present)."""
    User = get_user_model()
    for username, first_name, last_name, password in ROLE_USERS:
        group, _ = Group.objects.get_or_create(name=username)
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first_name, "last_name": last_name, "email": f"{username}@sunset.example.com",
                      "is_staff": True},
        )
        if created:
            user.set_password(password)
            user.save(update_fields=["password"])
        user.groups.add(group)
    return apply_role_permissions()


def apply_role_permissions() -> bool:
    """Role permissions live in tenants.roles (its own module, maybe not written yet): use it if it is there."""
    if importlib.util.find_spec("tenants.roles") is None:
        return False
    from tenants import roles

    ensure_roles = getattr(roles, "ensure_roles", None)
    if ensure_roles is None:
        return False
    ensure_roles()
    return True


# --- summary --------------------------------------------------------------------------------------------


def stage_counts(now: dt.datetime) -> dict[str, int]:
    """Bookings per lifecycle stage at `now`, in §2.1 order (GX-LC-001: computed, never stored); DORMANT
    only when there is one."""
    pre_arrival_days = current_config().welcome_offset_days
    completed = dict(
        Booking.objects.filter(status=BookingStatus.COMPLETED)
        .values("guest")
        .annotate(n=Count("id"))
        .values_list("guest", "n")
    )
    counts = Counter(
        stage_of(b, now, completed_stays=completed.get(b.guest_id, 0), pre_arrival_days=pre_arrival_days).value
        for b in Booking.objects.select_related("listing__property")
    )
    return {stage.value: counts[stage.value] for stage in Stage if counts[stage.value] or stage != Stage.DORMANT}


def portal_link(now: dt.datetime) -> tuple[str, str] | None:
    """A guest portal link to try: a guest in stay, else one checking in or arriving soon."""
    pre_arrival_days = current_config().welcome_offset_days
    tokens = (
        GuestPortalToken.objects.filter(is_active=True, token__isnull=False, booking__status=BookingStatus.CONFIRMED)
        .select_related("booking__listing__property", "booking__guest")
        .order_by("booking__checkin_date", "booking_id")
    )
    by_stage: dict[Stage, GuestPortalToken] = {}
    for token in tokens:
        # Past stays do not count for a confirmed booking's stage: no query per booking for them.
        stage = stage_of(token.booking, now, completed_stays=0, pre_arrival_days=pre_arrival_days)
        by_stage.setdefault(stage, token)
    for stage in (Stage.IN_STAY, Stage.CHECK_IN, Stage.PRE_ARRIVAL):
        if stage in by_stage:
            token = by_stage[stage]
            booking = token.booking
            who = f"{booking.guest.name}, {stage.label.lower()} at {booking.listing.name}"
            return who, portal_url(token.token)
    return None
