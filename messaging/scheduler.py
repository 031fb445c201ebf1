"""The automation scheduler (RA-GUEST-001 §9.1 AutomationSchedulerHostedService): due schedules are
re-checked, held back by quiet hours, and published to the outbox in batches locked with SKIP LOCKED."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from atlas_guest.sql import bulk_update_rows
from bookings.models import Booking, BookingStatus, ReviewRequestStatus
from messaging import events as ev
from messaging.lifecycle import MODULE_OF, PRE_ARRIVAL_ORDER
from messaging.models import AutomationSchedule, OutboxMessage, Recipient, ScheduleStatus
from messaging.quiet_hours import next_send_time
from tenants.models import TenantGuestExperienceConfig

PUBLISH, DEFER, SKIP, CANCEL = "publish", "defer", "skip", "cancel"

# Touchpoints that make no sense once the guest has arrived, or has left.
_BEFORE_ARRIVAL = frozenset(PRE_ARRIVAL_ORDER) - {ev.GUEST_BOOKING_CONFIRMED}
_DURING_STAY = frozenset(
    {ev.GUEST_SATISFACTION_CHECK, ev.GUEST_ADDON_OFFER, ev.GUEST_MIDSTAY_CHECK, ev.GUEST_CHECKOUT_REMINDER}
)
_REVIEW = frozenset({ev.GUEST_REVIEW_REQUEST, ev.GUEST_REVIEW_REMINDER})


@dataclass(frozen=True)
class Decision:
    action: str
    reason: str = ""
    due_at: dt.datetime | None = None


@dataclass
class BatchFacts:
    """What the decisions of one batch need beyond the rows themselves, fetched once per batch."""

    config: TenantGuestExperienceConfig
    reviewed_booking_ids: set[int]
    rebooked_booking_ids: set[int]
    couponed_booking_ids: set[int]
    unacknowledged_issues: set[str]


def current_config() -> TenantGuestExperienceConfig:
    return TenantGuestExperienceConfig.objects.get(tenant__schema_name=connection.schema_name)


def due_decision(schedule: AutomationSchedule, facts: BatchFacts, now: dt.datetime) -> Decision:
    booking: Booking = schedule.booking
    event = schedule.event_type
    config = facts.config
    if booking.status == BookingStatus.CANCELLED:
        return Decision(CANCEL, "booking cancelled")
    module = MODULE_OF.get(event)
    if module and not config.module_enabled(module):
        return Decision(SKIP, f"module {module} is switched off")

    reason = _no_longer_applies(schedule, booking, facts, now)
    if reason:
        return Decision(CANCEL if event == ev.GUEST_REENGAGEMENT else SKIP, reason)

    # §3.5 protects guests' nights; alerts to staff (an issue, a missing check-in) go out at any hour.
    if schedule.recipient == Recipient.GUEST and schedule.payload.get("priority") != "P0":
        send_at = next_send_time(
            now, booking.listing.property.time_zone, config.quiet_hours_end, config.quiet_hours_start
        )
        if send_at > now:
            return Decision(DEFER, "quiet hours", send_at)
    return Decision(PUBLISH)


def _no_longer_applies(schedule: AutomationSchedule, booking: Booking, facts: BatchFacts, now: dt.datetime) -> str:
    event = schedule.event_type
    if schedule.recipient == Recipient.GUEST and booking.contact_needed:
        return "the guest has not given their contact yet (calendar booking)"
    if schedule.payload.get("channel") == "EMAIL" and not booking.guest.email:
        return "the guest has no email address"  # the final review reminder is email only (§7.1)
    if event == ev.GUEST_PAYMENT_REMINDER and booking.payment_status == "Paid":
        return "paid already"
    if event in _BEFORE_ARRIVAL and booking.checked_in_at is not None:
        return "guest has checked in"
    if event in _BEFORE_ARRIVAL | _DURING_STAY and now >= booking.local_checkout_at():
        return "the stay is over"  # a backlog after an outage must not send yesterday's instructions
    if event == ev.GUEST_NOT_CHECKED_IN and booking.checked_in_at is not None:
        return "guest has checked in"  # GX-CI-002
    if event in _DURING_STAY and booking.checked_out_at is not None:
        return "guest has checked out"
    if event == ev.STAY_AUTO_CHECKOUT_DUE and booking.checked_out_at is not None:
        return "checked out already"
    if event in _REVIEW and booking.pk in facts.reviewed_booking_ids:
        return "review received"
    if event == ev.GUEST_REENGAGEMENT and booking.pk in facts.rebooked_booking_ids:
        return "guest booked again"  # EC-11
    if event == ev.GUEST_COUPON_ISSUED and booking.pk not in facts.couponed_booking_ids:
        return "no coupon was issued for this stay"
    watched = schedule.payload.get("unless_acknowledged")
    if watched and watched not in facts.unacknowledged_issues:
        return "issue acknowledged in time"
    return ""


def _batch_facts(rows: list[AutomationSchedule]) -> BatchFacts:
    def booking_ids(events) -> set[int]:
        return {row.booking_id for row in rows if row.event_type in events}

    review_ids = booking_ids(_REVIEW)
    coupon_ids = booking_ids({ev.GUEST_COUPON_ISSUED})
    reengage = [row.booking for row in rows if row.event_type == ev.GUEST_REENGAGEMENT]
    reviewed: set[int] = set()
    couponed: set[int] = set()
    if review_ids:
        from reviews.models import GuestReview

        reviewed = set(GuestReview.objects.filter(booking_id__in=review_ids).values_list("booking_id", flat=True))
    if coupon_ids:
        from coupons.models import CouponStatus, GuestCoupon

        couponed = set(
            GuestCoupon.objects.filter(source_booking_id__in=coupon_ids, status=CouponStatus.ACTIVE).values_list(
                "source_booking_id", flat=True
            )
        )
    watched = {row.payload["unless_acknowledged"] for row in rows if row.payload.get("unless_acknowledged")}
    unacknowledged: set[str] = set()
    if watched:
        from operations.services import unacknowledged_refs

        unacknowledged = unacknowledged_refs(watched)
    return BatchFacts(current_config(), reviewed, _rebooked(reengage), couponed, unacknowledged)


def _rebooked(bookings: list[Booking]) -> set[int]:
    """Bookings whose guest has booked again since (EC-11, GX-PS-004)."""
    if not bookings:
        return set()
    later = Booking.objects.filter(
        guest_id__in={b.guest_id for b in bookings}, status__in=[BookingStatus.CONFIRMED, BookingStatus.COMPLETED]
    ).values_list("guest_id", "pk", "created_at")
    by_guest: dict[int, list[tuple[int, dt.datetime]]] = {}
    for guest_id, pk, created_at in later:
        by_guest.setdefault(guest_id, []).append((pk, created_at))
    return {
        b.pk
        for b in bookings
        if any(pk != b.pk and created_at > (b.checked_out_at or b.created_at) for pk, created_at in by_guest.get(b.guest_id, []))
    }


def publish_due_schedules(now: dt.datetime | None = None, batch_size: int = 500) -> int:
    """Decide and publish one batch of due schedules in the current tenant. Returns rows handled."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(
            AutomationSchedule.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=ScheduleStatus.PENDING, due_at__lte=now)
            .select_related("booking__listing__property", "booking__guest")
            .order_by("due_at", "id")[:batch_size]
        )
        if not rows:
            return 0
        facts = _batch_facts(rows)
        outbox: list[OutboxMessage] = []
        for row in rows:
            decision = due_decision(row, facts, now)
            row.attempts += 1
            if decision.action == PUBLISH:
                row.status, row.published_at = ScheduleStatus.PUBLISHED, now
                outbox.append(
                    OutboxMessage(
                        event_type=row.event_type,
                        booking_id=row.booking_id,
                        payload={"schedule_id": row.pk},
                        available_at=now,
                        created_at=now,
                    )
                )
            elif decision.action == DEFER:
                row.due_at = decision.due_at
            else:
                row.status = ScheduleStatus.SKIPPED if decision.action == SKIP else ScheduleStatus.CANCELLED
            row.reason = decision.reason
        bulk_update_rows(AutomationSchedule, rows, ["status", "published_at", "due_at", "reason", "attempts"])
        OutboxMessage.objects.bulk_create(outbox)
        _track_review_requests([r for r in rows if r.status == ScheduleStatus.PUBLISHED])
    return len(rows)


def _track_review_requests(published: list[AutomationSchedule]) -> None:
    """§7.1: requested once the first request goes out; exhausted once the final reminder has."""
    requested = [r.booking_id for r in published if r.event_type == ev.GUEST_REVIEW_REQUEST]
    exhausted = [r.booking_id for r in published if r.event_type == ev.GUEST_REVIEW_REMINDER and r.payload.get("final")]
    if requested:
        Booking.objects.filter(pk__in=requested, review_request_status=ReviewRequestStatus.NOT_STARTED).update(
            review_request_status=ReviewRequestStatus.REQUESTED
        )
    if exhausted:
        Booking.objects.filter(pk__in=exhausted).exclude(review_request_status=ReviewRequestStatus.REVIEWED).update(
            review_request_status=ReviewRequestStatus.EXHAUSTED
        )
