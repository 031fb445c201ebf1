"""Guest tags (RA-GUEST-001 §7.4): additive, applied when their condition first holds, never removed by
the system (GX-PS-003). Counts run across all of the tenant's properties (EC-14)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils import timezone

from guests.models import GuestTag, SystemTag, TagAppliedBy

VIP_MIN_STAYS = 5
VIP_MIN_SPEND = Decimal("50000")
HIGH_RATED_MIN_STARS = 4
ISSUE_REPORTER_MIN = 2


def apply_tag(guest_id: int, tag: str, *, value: str = "", by: str = TagAppliedBy.SYSTEM,
              now: dt.datetime | None = None) -> bool:
    """Add a tag unless the guest has it; returns whether it was added."""
    _, created = GuestTag.objects.get_or_create(
        guest_id=guest_id, tag=tag, defaults={"value": value, "applied_by": by, "applied_at": now or timezone.now()}
    )
    return created


def on_bookings_confirmed(bookings: list, now: dt.datetime) -> None:
    """RETURNING_GUEST (a completed stay before this one, GX-T07), DIRECT_BOOKER (a direct booking),
    OTA_CONVERTED (first booking through an OTA, this one direct). A batch costs three queries."""
    from bookings.models import Booking, BookingSource, BookingStatus

    guest_ids = {b.guest_id for b in bookings}
    returning = set(
        Booking.objects.filter(guest_id__in=guest_ids, status=BookingStatus.COMPLETED).values_list("guest_id", flat=True)
    )
    direct = {b.guest_id for b in bookings if b.source == BookingSource.DIRECT}
    first_source: dict[int, str] = {}
    for guest_id, source in (
        Booking.objects.filter(guest_id__in=direct).exclude(status=BookingStatus.LEAD)
        .order_by("guest_id", "created_at", "pk").values_list("guest_id", "source")
    ):
        first_source.setdefault(guest_id, source)
    converted = {g for g in direct if first_source.get(g, BookingSource.DIRECT) != BookingSource.DIRECT}
    tags = [(g, SystemTag.RETURNING_GUEST) for g in returning] + [(g, SystemTag.DIRECT_BOOKER) for g in direct]
    tags += [(g, SystemTag.OTA_CONVERTED) for g in converted]
    GuestTag.objects.bulk_create(
        [GuestTag(guest_id=g, tag=tag, applied_by=TagAppliedBy.SYSTEM, applied_at=now) for g, tag in tags],
        ignore_conflicts=True,
    )


def on_checked_out(booking, now: dt.datetime) -> list[str]:
    """VIP: 5+ completed stays or more than ₹50,000 spent."""
    from bookings.models import Booking, BookingStatus

    totals = Booking.objects.filter(guest_id=booking.guest_id, status=BookingStatus.COMPLETED).aggregate(
        stays=Count("pk"), spend=Sum("final_amount")
    )
    if totals["stays"] >= VIP_MIN_STAYS or (totals["spend"] or 0) > VIP_MIN_SPEND:
        return [SystemTag.VIP] if apply_tag(booking.guest_id, SystemTag.VIP, now=now) else []
    return []


def on_review_submitted(guest_id: int, now: dt.datetime) -> list[str]:
    """HIGH_RATED: every review the guest left is 4 stars or more."""
    from reviews.models import GuestReview

    ratings = GuestReview.objects.filter(guest_id=guest_id).aggregate(n=Count("pk"), low=Count("pk", filter=Q(overall_rating__lt=HIGH_RATED_MIN_STARS)))
    if ratings["n"] and not ratings["low"]:
        return [SystemTag.HIGH_RATED] if apply_tag(guest_id, SystemTag.HIGH_RATED, now=now) else []
    return []


def on_issue_reported(guest_id: int, now: dt.datetime) -> list[str]:
    """ISSUE_REPORTER: on the guest's second report, across stays."""
    from operations.models import Incident, MaintenanceTicket

    created_by = f"guest:{guest_id}"
    reports = MaintenanceTicket.objects.filter(created_by=created_by).count() + Incident.objects.filter(created_by=created_by).count()
    if reports >= ISSUE_REPORTER_MIN:
        return [SystemTag.ISSUE_REPORTER] if apply_tag(guest_id, SystemTag.ISSUE_REPORTER, now=now) else []
    return []
