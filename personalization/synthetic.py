"""Synthetic guest data with signal, at scale (`manage.py generate_guest_data`, bench/personalization.py).

Each guest gets a hidden persona (business, family, leisure, luxury). The persona drives everything about
them: how often and how long they stay, how far ahead they book, which add-ons they take, what they tell us
they like, what they post about. So the gold scores computed from behaviour can be checked against the
persona: a business traveller's late check-out propensity should come out higher than a family's.

Guests and their consents go into our own tables (as if they had booked with us); their history and the
external sources go into bronze as a PMS import would (source system "pms"), with COPY. Fake contact data
only: phones +91 98765 XXXXX and +91 98764 XXXXX, emails @example.com.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import sys
import uuid
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

PERSONAS = {
    # share, mean stays, nights (min, max), lead days (min, max), add-on take rates, ADR range
    "business": dict(share=0.30, stays=7, nights=(1, 3), lead=(0, 10), adr=(3500, 6000),
                     addons={"LATE_CHECKOUT": 0.45, "EARLY_CHECKIN": 0.30, "EXTRA_CLEANING": 0.05, "AIRPORT_TRANSFER": 0.30},
                     room={"temperature": ["20", "21"], "lighting": ["bright"], "pillow": ["firm"], "noise": ["quiet"],
                           "bed": ["queen"]},
                     service={"transport": ["airport_pickup"], "dining": ["quick breakfast"], "amenities": ["desk lamp"]},
                     topics=["coffee", "transport"], wifi=0.08, channel={"DIRECT": 0.5, "BOOKING.COM": 0.4, "AIRBNB": 0.1}),
    "family": dict(share=0.25, stays=3, nights=(3, 7), lead=(30, 120), adr=(4000, 7000),
                   addons={"LATE_CHECKOUT": 0.10, "EARLY_CHECKIN": 0.15, "EXTRA_CLEANING": 0.40, "AIRPORT_TRANSFER": 0.05},
                   room={"bed": ["twin", "king"], "floor": ["low"], "temperature": ["24"], "accessibility": ["step-free"]},
                   service={"dining": ["kid-friendly"], "amenities": ["crib", "extra towels"], "activities": ["sightseeing"]},
                   topics=["sightseeing", "nature"], wifi=0.02, channel={"DIRECT": 0.3, "BOOKING.COM": 0.2, "AIRBNB": 0.5}),
    "leisure": dict(share=0.35, stays=4, nights=(2, 5), lead=(7, 60), adr=(2500, 5000),
                    addons={"LATE_CHECKOUT": 0.25, "EARLY_CHECKIN": 0.10, "EXTRA_CLEANING": 0.10, "AIRPORT_TRANSFER": 0.05},
                    room={"view": ["garden", "hills"], "lighting": ["dim"], "pillow": ["soft"]},
                    service={"dining": ["local cuisine"], "activities": ["sightseeing", "trekking"], "shopping": ["markets"]},
                    topics=["sightseeing", "food", "shopping"], wifi=0.03, channel={"DIRECT": 0.2, "BOOKING.COM": 0.3, "AIRBNB": 0.5}),
    "luxury": dict(share=0.10, stays=6, nights=(2, 6), lead=(14, 90), adr=(9000, 18000),
                   addons={"LATE_CHECKOUT": 0.35, "EARLY_CHECKIN": 0.30, "EXTRA_CLEANING": 0.15, "AIRPORT_TRANSFER": 0.50},
                   room={"view": ["sea"], "bed": ["king"], "pillow": ["memory foam"], "temperature": ["22"]},
                   service={"spa": ["deep tissue"], "dining": ["fine dining"], "dietary": ["no nuts"], "transport": ["chauffeur"]},
                   topics=["food", "shopping"], wifi=0.04, channel={"DIRECT": 0.6, "BOOKING.COM": 0.3, "AIRBNB": 0.1}),
}
PLATFORMS = ["instagram", "facebook", "x", "tripadvisor"]
TIERS = [("bronze", 0), ("silver", 2), ("gold", 5), ("platinum", 9)]  # tier from stays
PAYMENTS = {"business": ["CARD", "UPI"], "family": ["UPI", "CASH"], "leisure": ["UPI"], "luxury": ["CARD"]}
BRONZE_COLUMNS = "(record, source_system, batch_id, ingested_at, record_key, record_hash)"
SYSTEM = "pms"


@dataclass
class Generated:
    guests: int
    stays: int
    bookings: int
    records: dict
    personas: dict  # guest id -> persona (kept by the caller to check the signal; never stored)


def _phone(n: int) -> str:
    return f"+91{98765 if n < 100_000 else 98764}{n % 100_000:05d}"


def _weighted(rng: random.Random, weights: dict) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def generate(guests: int, *, seed: int = 7, today: dt.date | None = None, chunk: int = 5000,
             progress: bool = True, stays_per_guest: float = 5.0) -> Generated:
    """Write `guests` guests with their history into the current tenant schema."""
    if guests > 200_000:
        raise ValueError("At most 200,000 guests (the fake phone ranges hold that many).")
    rng = random.Random(seed)
    today = today or timezone.now().date()
    now = timezone.now()
    properties = _ensure_properties()
    scale = stays_per_guest / sum(p["share"] * p["stays"] for p in PERSONAS.values())
    counts = {"stays": 0, "bookings": 0}
    records: dict[str, int] = {}
    personas: dict[int, str] = {}
    batch = uuid.uuid4()
    start_id = _next_guest_id()
    done = 0
    while done < guests:
        size = min(chunk, guests - done)
        ids = list(range(start_id + done, start_id + done + size))
        with transaction.atomic():
            _copy_guests(ids, rng, now, personas)
            rows = _history(ids, rng, personas, properties, today, scale, counts)
            for source, source_rows in rows.items():
                _copy_bronze(source, source_rows, batch, now)
                records[source] = records.get(source, 0) + len(source_rows)
        done += size
        if progress:
            _bar(done, guests)
    if progress:
        sys.stderr.write("\n")
    with connection.cursor() as cursor:  # COPY with explicit ids: move the sequence past them
        cursor.execute("SELECT setval(pg_get_serial_sequence('guests_guest', 'id'), (SELECT max(id) FROM guests_guest))")
    return Generated(guests, counts["stays"], counts["bookings"], records, personas)


def _bar(done: int, total: int) -> None:
    width = 30
    filled = int(width * done / total)
    sys.stderr.write(f"\r  generating guests [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,}")
    sys.stderr.flush()


def _ensure_properties() -> list[tuple[int, list[str]]]:
    from bookings.models import Listing, ListingType, Property

    existing = list(Property.objects.order_by("pk")[:5])
    names = ["Coastal Retreat", "Hillside Homestay", "City Suites", "Lakeview Cottages", "Heritage Haveli"]
    for name in names[len(existing):]:
        prop = Property.objects.create(name=f"{name} (synthetic)", address="1 Example Road, Goa 403001",
                                       contact_phone="+919876500000")
        existing.append(prop)
        for i in range(8):
            Listing.objects.create(property=prop, name=f"Room {101 + i}",
                                   listing_type=[ListingType.PRIVATE_ROOM, ListingType.ENTIRE_HOME][i % 2],
                                   checkin_time=dt.time(14), checkout_time=dt.time(11))
    result = []
    for prop in existing:
        types = sorted(set(prop.listings.values_list("listing_type", flat=True))) or ["PRIVATE_ROOM"]
        result.append((prop.pk, types))
    return result


def _next_guest_id() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) + 1 FROM guests_guest")
        return cursor.fetchone()[0]


def _copy_guests(ids: list[int], rng: random.Random, now: dt.datetime, personas: dict) -> None:
    raw = connection.cursor().cursor
    names = ["Aarav", "Diya", "Kabir", "Meera", "Rohan", "Ananya", "Vikram", "Isha", "Arjun", "Sara"]
    surnames = ["Rao", "Iyer", "Sharma", "Menon", "Gupta", "Das", "Khan", "Nair", "Bose", "Patel"]
    shares = {name: p["share"] for name, p in PERSONAS.items()}
    with raw.copy("COPY guests_guest (id, name, phone, email, created_at) FROM STDIN") as copy:
        for gid in ids:
            personas[gid] = _weighted(rng, shares)
            copy.write_row((gid, f"{rng.choice(names)} {rng.choice(surnames)}", _phone(gid), f"guest{gid}@example.com",
                            now))
    with raw.copy("COPY guests_guestconsent (guest_id, channel, marketing, status, source, granted_at, updated_at) "
                  "FROM STDIN") as copy:
        for gid in ids:
            if rng.random() < 0.7:  # seven in ten said yes to personalization
                copy.write_row((gid, "PERSONALIZATION", False, "GRANTED", "BOOKING_FORM", now, now))


def _history(ids, rng, personas, properties, today, scale, counts) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {s: [] for s in (
        "booking_history", "stay_history", "room_preferences", "service_preferences", "social_media_activity",
        "loyalty_program", "feedback_reviews", "payment_methods", "special_requests", "guest_profiles")}
    for gid in ids:
        persona = PERSONAS[personas[gid]]
        who = {"phone": _phone(gid)}
        home_property, types = properties[gid % len(properties)]
        stays = max(0, int(rng.expovariate(1 / (persona["stays"] * scale)) + 0.5))
        if gid % 10 == 0:
            rows["guest_profiles"].append({**who, "guest_ref": f"P{gid}", "city": rng.choice(["Pune", "Mumbai", "Delhi"]),
                                           "country": "IN"})
        for n in range(stays):
            prop, ptypes = (home_property, types) if rng.random() < 0.7 else properties[rng.randrange(len(properties))]
            nights = rng.randint(*persona["nights"])
            checkin = today - dt.timedelta(days=rng.randint(nights + 1, 1095))
            checkout = checkin + dt.timedelta(days=nights)
            lead = rng.randint(*persona["lead"])
            adr = rng.randint(*persona["adr"])
            ref = f"B{gid}-{n}"
            booking = {**who, "booking_ref": ref, "property_id": prop, "listing_type": rng.choice(ptypes),
                       "channel": _weighted(rng, persona["channel"]), "status": "completed",
                       "booked_at": f"{checkin - dt.timedelta(days=lead)}T10:00:00+05:30", "checkin": str(checkin),
                       "checkout": str(checkout), "amount": adr * nights}
            rows["booking_history"].append(booking)
            counts["bookings"] += 1
            if rng.random() < 0.08:  # one booking in twelve is cancelled: no stay
                booking["status"] = "cancelled"
                continue
            addons = sorted(code for code, rate in persona["addons"].items() if rng.random() < rate)
            issues = ["WIFI"] if rng.random() < persona["wifi"] else []
            rows["stay_history"].append({**who, "booking_ref": ref, "property_id": prop, "checkin": str(checkin),
                                         "checkout": str(checkout), "spend_total": adr * nights + 800 * len(addons),
                                         "addons": addons, "issues": issues, "early_departure": rng.random() < 0.03})
            counts["stays"] += 1
            for code in addons:
                if rng.random() < 0.5:
                    rows["special_requests"].append({**who, "request_ref": f"R{ref}-{code}", "booking_ref": ref,
                                                     "request_type": code, "category": "addon",
                                                     "requested_at": f"{checkin}T09:00:00+05:30"})
            if rng.random() < 0.5:
                rating = max(1, min(5, round(rng.gauss(4.4 if not issues else 3.2, 0.7))))
                rows["feedback_reviews"].append({**who, "review_ref": f"V{ref}", "booking_ref": ref, "property_id": prop,
                                                 "rating": rating, "cleanliness": max(1, min(5, rating + rng.choice([-1, 0, 0, 1]))),
                                                 "submitted_at": f"{checkout}T12:00:00+05:30"})
            if rng.random() < 0.6:
                rows["payment_methods"].append({**who, "payment_ref": f"Y{ref}",
                                                "method_type": rng.choice(PAYMENTS[personas[gid]]),
                                                "used_at": f"{checkin}T10:00:00+05:30"})
        if rng.random() < 0.8:
            prefs = {k: rng.choice(v) for k, v in persona["room"].items() if rng.random() < 0.8}
            if prefs:
                rows["room_preferences"].append({**who, **prefs, "observed_at": f"{today}T00:00:00+05:30"})
        if rng.random() < 0.6:
            prefs = {k: rng.choice(v) for k, v in persona["service"].items() if rng.random() < 0.8}
            if prefs:
                rows["service_preferences"].append({**who, **prefs, "observed_at": f"{today}T00:00:00+05:30"})
        for k in range(int(rng.expovariate(1 / 2))):
            rows["social_media_activity"].append({**who, "activity_id": f"S{gid}-{k}", "platform": rng.choice(PLATFORMS),
                                                  "activity_type": rng.choice(["post", "mention", "review"]),
                                                  "topic": rng.choice(persona["topics"]),
                                                  "sentiment": round(rng.uniform(-0.2, 1.0), 2),
                                                  "occurred_at": f"{today - dt.timedelta(days=rng.randint(1, 700))}T12:00:00Z"})
        if stays and rng.random() < 0.4:
            tier = [name for name, least in TIERS if stays >= least][-1]
            rows["loyalty_program"].append({**who, "member_id": f"M{gid}", "tier": tier, "points": stays * 1200,
                                            "as_of": str(today)})
    return rows


_KEY = {"booking_history": "booking_ref", "stay_history": "booking_ref", "social_media_activity": "activity_id",
        "loyalty_program": "member_id", "feedback_reviews": "review_ref", "payment_methods": "payment_ref",
        "special_requests": "request_ref", "guest_profiles": "guest_ref"}


def _copy_bronze(source: str, rows: list[dict], batch: uuid.UUID, now: dt.datetime) -> None:
    if not rows:
        return
    raw = connection.cursor().cursor
    key_field = _KEY.get(source)
    with raw.copy(f"COPY bronze_{source} {BRONZE_COLUMNS} FROM STDIN") as copy:
        for record in rows:
            text = json.dumps(record, sort_keys=True)
            digest = hashlib.md5(text.encode()).hexdigest()
            copy.write_row((text, SYSTEM, batch, now, record[key_field] if key_field else digest, digest))
