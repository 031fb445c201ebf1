"""The tenant's guest-experience metrics (RA-GUEST-001 §11.1). Each is one named query over a period
[start, end), so the dashboard, the API and the weekly trend all compute it the same way."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, Sum

from bookings.models import Booking, BookingSource, BookingStatus
from coupons.models import CouponStatus, GuestCoupon
from messaging.lifecycle import PRE_ARRIVAL_ORDER
from messaging.models import CommunicationLog, LogStatus
from operations.models import Incident, MaintenanceTicket
from reviews.models import GuestReview


@dataclass(frozen=True)
class Value:
    value: float | None  # None: nothing to measure in the period
    unit: str  # "%", "hours", "stars", "count"
    detail: dict | None = None


def _percent(part: int, whole: int) -> float | None:
    return round(part * 100.0 / whole, 1) if whole else None


def pre_arrival_response_rate(start: dt.datetime, end: dt.datetime) -> Value:
    """% of pre-arrival messages the provider reported DELIVERED or READ."""
    logs = CommunicationLog.objects.filter(event_type__in=PRE_ARRIVAL_ORDER, created_at__gte=start, created_at__lt=end)
    totals = logs.aggregate(n=Count("pk"), reached=Count("pk", filter=Q(status__in=[LogStatus.DELIVERED, LogStatus.READ])))
    return Value(_percent(totals["reached"], totals["n"]), "%")


def issue_resolution_time(start: dt.datetime, end: dt.datetime) -> Value:
    """Average hours from a guest's report to its resolution (tickets and incidents reported by guests)."""
    took = ExpressionWrapper(F("resolved_at") - F("created_at"), output_field=DurationField())
    durations, count = dt.timedelta(0), 0
    for model in (MaintenanceTicket, Incident):
        row = model.objects.filter(created_by__startswith="guest:", resolved_at__gte=start, resolved_at__lt=end).aggregate(
            total=Sum(took), n=Count("pk"))
        durations += row["total"] or dt.timedelta(0)
        count += row["n"]
    return Value(round(durations.total_seconds() / 3600 / count, 1) if count else None, "hours")


def guest_satisfaction(start: dt.datetime, end: dt.datetime) -> Value:
    avg = GuestReview.objects.filter(submitted_at__gte=start, submitted_at__lt=end).aggregate(a=Avg("overall_rating"))["a"]
    return Value(round(avg, 2) if avg is not None else None, "stars")


def review_response_rate(start: dt.datetime, end: dt.datetime) -> Value:
    """% of the period's check-outs that have a review."""
    left = Booking.objects.filter(checked_out_at__gte=start, checked_out_at__lt=end)
    totals = left.aggregate(n=Count("pk"), reviewed=Count("review"))
    return Value(_percent(totals["reviewed"], totals["n"]), "%")


def repeat_booking_rate(start: dt.datetime, end: dt.datetime) -> Value:
    """% of guests with a stay completed in the period who have 2 or more completed stays."""
    guests = (
        Booking.objects.filter(status=BookingStatus.COMPLETED).values("guest_id")
        .annotate(stays=Count("pk"), recent=Count("pk", filter=Q(checked_out_at__gte=start, checked_out_at__lt=end)))
        .filter(recent__gt=0)
    )
    totals = {"n": 0, "repeat": 0}
    for row in guests:
        totals["n"] += 1
        totals["repeat"] += row["stays"] >= 2
    return Value(_percent(totals["repeat"], totals["n"]), "%")


def _booked(start, end):
    return Booking.objects.filter(confirmed_at__gte=start, confirmed_at__lt=end).exclude(status=BookingStatus.LEAD)


def direct_booking_share(start: dt.datetime, end: dt.datetime) -> Value:
    totals = _booked(start, end).aggregate(n=Count("pk"), direct=Count("pk", filter=Q(source=BookingSource.DIRECT)))
    return Value(_percent(totals["direct"], totals["n"]), "%")


def ota_to_direct_conversions(start: dt.datetime, end: dt.datetime) -> Value:
    """Guests whose first booking came through an OTA and who booked direct in the period (count, and % of
    the period's direct bookers)."""
    direct_guests = set(_booked(start, end).filter(source=BookingSource.DIRECT).values_list("guest_id", flat=True))
    first_source: dict[int, str] = {}
    for guest_id, source in (
        Booking.objects.filter(guest_id__in=direct_guests).exclude(status=BookingStatus.LEAD)
        .order_by("guest_id", "created_at", "pk").values_list("guest_id", "source")
    ):
        first_source.setdefault(guest_id, source)
    converted = sum(1 for source in first_source.values() if source != BookingSource.DIRECT)
    return Value(converted, "count", {"percent_of_direct_bookers": _percent(converted, len(direct_guests))})


def coupon_redemption_rate(start: dt.datetime, end: dt.datetime) -> Value:
    issued = GuestCoupon.objects.filter(created_at__gte=start, created_at__lt=end)
    totals = issued.aggregate(n=Count("pk"), used=Count("pk", filter=Q(status=CouponStatus.USED)))
    return Value(_percent(totals["used"], totals["n"]), "%")


def referral_bookings(start: dt.datetime, end: dt.datetime) -> Value:
    totals = _booked(start, end).exclude(referral_code__isnull=True).exclude(referral_code="").aggregate(
        n=Count("pk"), revenue=Sum("final_amount"))
    return Value(totals["n"], "count", {"revenue": str(totals["revenue"] or 0)})


def self_check_in_rate(start: dt.datetime, end: dt.datetime) -> Value:
    """% of check-ins the guest did on the portal rather than staff."""
    checked_in = Booking.objects.filter(checked_in_at__gte=start, checked_in_at__lt=end)
    totals = checked_in.aggregate(n=Count("pk"), portal=Count("pk", filter=Q(checked_in_via="PORTAL")))
    return Value(_percent(totals["portal"], totals["n"]), "%")


TENANT_METRICS: dict[str, tuple[str, Callable[[dt.datetime, dt.datetime], Value]]] = {
    "pre_arrival_response_rate": ("Pre-arrival response rate", pre_arrival_response_rate),
    "issue_resolution_time": ("Issue resolution time", issue_resolution_time),
    "guest_satisfaction": ("Guest satisfaction rating", guest_satisfaction),
    "review_response_rate": ("Review response rate", review_response_rate),
    "repeat_booking_rate": ("Repeat booking %", repeat_booking_rate),
    "direct_booking_share": ("Direct booking conversion %", direct_booking_share),
    "ota_to_direct_conversions": ("OTA-to-direct conversions", ota_to_direct_conversions),
    "coupon_redemption_rate": ("Coupon redemption rate", coupon_redemption_rate),
    "referral_bookings": ("Referral bookings", referral_bookings),
    "self_check_in_rate": ("Self check-in rate", self_check_in_rate),
}


def weekly_trend(name: str, end: dt.datetime, weeks: int = 8) -> list[tuple[dt.datetime, Value]]:
    """The metric for each of the `weeks` weeks before `end`, oldest first."""
    _label, metric = TENANT_METRICS[name]
    starts = [end - dt.timedelta(weeks=weeks - i) for i in range(weeks)]
    return [(start, metric(start, start + dt.timedelta(weeks=1))) for start in starts]

