"""Reads about guests that several callers need."""
from __future__ import annotations

import datetime as dt

from django.db.models import (
    Avg, Count, DecimalField, ExpressionWrapper, F, FloatField, Func, IntegerField, Max, Min, OuterRef, Q, QuerySet, Subquery,
    Sum, Value,
)
from django.db.models.functions import Cast, Coalesce, NullIf
from django.utils import timezone

from guests.models import Guest

COMPLETED = Q(bookings__status="Completed")
BOOKED = Q(bookings__status__in=["Confirmed", "Completed"])


def with_lifetime_value(guests: QuerySet[Guest], today: dt.date | None = None) -> QuerySet[Guest]:
    """RA-GUEST-001 §7.5, computed at query time in one query for any number of guests: the booking
    aggregates come from one join, the rating from a per-guest subquery (no fan-out between the two)."""
    from reviews.models import GuestReview

    today = today or timezone.localdate()
    # date - date is a whole number of days in PostgreSQL; Django would make it an interval.
    nights = Func(F("bookings__checkout_date"), F("bookings__checkin_date"), template="(%(expressions)s)",
                  arg_joiner=" - ", output_field=IntegerField())
    avg_rating = (
        GuestReview.objects.filter(guest_id=OuterRef("pk")).values("guest_id").annotate(avg=Avg("overall_rating")).values("avg")
    )
    return guests.annotate(
        total_stays=Count("bookings", filter=COMPLETED),
        total_revenue=Coalesce(Sum("bookings__final_amount", filter=COMPLETED), Value(0), output_field=DecimalField()),
        average_stay_nights=Avg(nights, filter=COMPLETED, output_field=FloatField()),
        average_rating=Subquery(avg_rating, output_field=FloatField()),
        first_stay=Min("bookings__checkin_date", filter=COMPLETED),
        last_stay=Max("bookings__checkin_date", filter=COMPLETED),
        last_checkout=Max("bookings__checkout_date", filter=COMPLETED),
        bookings_made=Count("bookings", filter=BOOKED),
        direct_bookings=Count("bookings", filter=BOOKED & Q(bookings__source="Direct")),
    ).annotate(
        direct_share=ExpressionWrapper(
            Cast("direct_bookings", FloatField()) * 100.0 / NullIf(F("bookings_made"), 0), output_field=FloatField()
        ),
    )


def days_since_last_stay(guest: Guest, today: dt.date | None = None) -> int | None:
    today = today or timezone.localdate()
    return (today - guest.last_checkout).days if getattr(guest, "last_checkout", None) else None


def lifetime_value(guest_id: int, today: dt.date | None = None) -> dict:
    """One guest's §7.5 metrics as a plain dict (admin page, staff API)."""
    guest = with_lifetime_value(Guest.objects.filter(pk=guest_id), today).get()
    booked = guest.bookings_made or 0
    return {
        "total_stays": guest.total_stays,
        "total_revenue": guest.total_revenue,
        "average_stay_nights": round(guest.average_stay_nights, 2) if guest.average_stay_nights is not None else None,
        "average_rating": round(guest.average_rating, 2) if guest.average_rating is not None else None,
        "first_stay": guest.first_stay,
        "last_stay": guest.last_stay,
        "days_since_last_stay": days_since_last_stay(guest, today),
        "direct_percent": round(guest.direct_bookings * 100 / booked, 1) if booked else None,
        "ota_percent": round((booked - guest.direct_bookings) * 100 / booked, 1) if booked else None,
    }
