"""Lifecycle rules: which touchpoints a booking gets, and when (RA-GUEST-001 §3.1, §4.3, §5.1, §6, §7).

Every rule creates AutomationSchedule rows with the key `{BookingId}:{EventType}:{Seq}` (GX-PA-006); the
key is unique in the database, so a duplicate event creates nothing twice (GX-T10). Whether a touchpoint
still applies when it comes due (paid already? checked in?) is decided by `due_decision`, at that time.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Q

from messaging import events as ev
from messaging.models import AutomationSchedule, Recipient, ScheduleStatus

SAME_DAY_SPACING = dt.timedelta(minutes=5)  # GX-PA-003
NOT_CHECKED_IN_AFTER = dt.timedelta(hours=2)  # GX-CI-002
AUTO_CHECKOUT_AFTER = dt.timedelta(hours=1)  # GX-CO-001
CHECKOUT_REMINDER_BEFORE = dt.timedelta(hours=12)  # §6.1
SATISFACTION_CHECK_AFTER = dt.timedelta(hours=20)  # §5.1
ADDON_OFFER_MIN_NIGHTS = 3  # §5.1 #4
ADDON_OFFER_LOCAL_TIME = dt.time(10, 0)  # day 2 of the stay, mid-morning
MIDSTAY_MIN_NIGHTS = 5  # §5.1 #5
REVIEW_REQUEST_AFTER = dt.timedelta(hours=2)  # §7.1
REVIEW_REMINDER_AFTER = dt.timedelta(hours=48)
REVIEW_FINAL_AFTER = dt.timedelta(days=7)
COUPON_AFTER = dt.timedelta(hours=24)  # §7.3
REENGAGEMENT_AFTER = (dt.timedelta(days=30), dt.timedelta(days=90))  # §7.6
ANNIVERSARY_LOCAL_TIME = dt.time(10, 0)

# Which module flag (NFR 15) switches each touchpoint.
MODULE_OF = {
    ev.GUEST_BOOKING_CONFIRMED: "pre_arrival",
    ev.GUEST_WELCOME: "pre_arrival",
    ev.GUEST_PAYMENT_REMINDER: "pre_arrival",
    ev.GUEST_HOUSE_RULES: "pre_arrival",
    ev.GUEST_CHECKIN_INSTRUCTIONS: "pre_arrival",
    ev.GUEST_LOCATION: "pre_arrival",
    ev.GUEST_EARLY_CHECKIN_OFFER: "pre_arrival",
    ev.GUEST_ID_VERIFICATION: "pre_arrival",
    ev.GUEST_NOT_CHECKED_IN: "check_in",
    ev.GUEST_SATISFACTION_CHECK: "in_stay",
    ev.GUEST_ADDON_OFFER: "in_stay",
    ev.GUEST_PROACTIVE_WIFI: "check_in",
    ev.GUEST_PROACTIVE_LATE_CHECKOUT: "in_stay",
    ev.GUEST_MIDSTAY_CHECK: "in_stay",
    ev.GUEST_CHECKOUT_REMINDER: "check_out",
    ev.GUEST_REVIEW_REQUEST: "post_stay",
    ev.GUEST_REVIEW_REMINDER: "post_stay",
    ev.GUEST_COUPON_ISSUED: "post_stay",
    ev.GUEST_REENGAGEMENT: "post_stay",
}

# Pre-arrival touchpoints, in §3.1 order: when already due at confirmation they go out in this order,
# 5 minutes apart (GX-PA-003).
PRE_ARRIVAL_ORDER = (
    ev.GUEST_BOOKING_CONFIRMED,
    ev.GUEST_WELCOME,
    ev.GUEST_PAYMENT_REMINDER,
    ev.GUEST_HOUSE_RULES,
    ev.GUEST_CHECKIN_INSTRUCTIONS,
    ev.GUEST_LOCATION,
    ev.GUEST_EARLY_CHECKIN_OFFER,
    ev.GUEST_ID_VERIFICATION,
)
# Still worth sending when a same-day booking is confirmed after check-in time: the guest needs them to get in.
NEEDED_AFTER_CHECKIN_TIME = frozenset({ev.GUEST_BOOKING_CONFIRMED, ev.GUEST_CHECKIN_INSTRUCTIONS, ev.GUEST_LOCATION})


@dataclass
class Touchpoint:
    event_type: str
    due_at: dt.datetime
    sequence: int = 1
    recipient: str = Recipient.GUEST
    payload: dict = field(default_factory=dict)

    def key(self, booking_id: int) -> str:
        return f"{booking_id}:{self.event_type}:{self.sequence}"


def _local(date: dt.date, time: dt.time, tz) -> dt.datetime:
    return dt.datetime.combine(date, time, tzinfo=tz).astimezone(dt.timezone.utc)


def on_confirmed(booking, config, now: dt.datetime) -> list[Touchpoint]:
    """§3.1, §4.3, §6.1, §6.3: everything known at confirmation."""
    checkin_at = booking.local_checkin_at().astimezone(dt.timezone.utc)
    checkout_at = booking.local_checkout_at().astimezone(dt.timezone.utc)
    days = dt.timedelta(days=1)
    listing = booking.listing

    pre_arrival = [
        Touchpoint(ev.GUEST_BOOKING_CONFIRMED, now),
        Touchpoint(ev.GUEST_WELCOME, checkin_at - config.welcome_offset_days * days),
        Touchpoint(ev.GUEST_HOUSE_RULES, checkin_at - config.house_rules_offset_days * days),
        Touchpoint(ev.GUEST_CHECKIN_INSTRUCTIONS, checkin_at - config.checkin_instructions_offset_days * days),
        Touchpoint(ev.GUEST_LOCATION, checkin_at - config.checkin_instructions_offset_days * days),
    ]
    if booking.payment_status != "Paid":
        pre_arrival.append(Touchpoint(ev.GUEST_PAYMENT_REMINDER, checkin_at - config.payment_reminder_offset_days * days))
    if listing.supports_early_checkin:
        pre_arrival.append(Touchpoint(ev.GUEST_EARLY_CHECKIN_OFFER, checkin_at - days))
    if config.id_verification_enabled:
        pre_arrival.append(Touchpoint(ev.GUEST_ID_VERIFICATION, checkin_at - days))
    pre_arrival.sort(key=lambda t: PRE_ARRIVAL_ORDER.index(t.event_type))

    touchpoints = _space_out_due_now(pre_arrival, now, checkin_at)
    touchpoints += [
        Touchpoint(ev.GUEST_NOT_CHECKED_IN, checkin_at + NOT_CHECKED_IN_AFTER, recipient=Recipient.HOST),
        Touchpoint(ev.GUEST_CHECKOUT_REMINDER, checkout_at - CHECKOUT_REMINDER_BEFORE),
        Touchpoint(ev.STAY_AUTO_CHECKOUT_DUE, checkout_at + AUTO_CHECKOUT_AFTER, recipient=Recipient.SYSTEM),
    ]
    if config.personalizes("room_setup") or config.personalizes("proactive"):
        # Personalization: the room is set up and proactive touches planned the day before (or now, if later).
        touchpoints.append(
            Touchpoint(ev.STAY_PREPARE_ARRIVAL, max(now, checkin_at - days), recipient=Recipient.SYSTEM)
        )
    return touchpoints


def _space_out_due_now(ordered: list[Touchpoint], now: dt.datetime, checkin_at: dt.datetime) -> list[Touchpoint]:
    """GX-PA-003 / EC-01: what is already due goes out now, 5 minutes apart in §3.1 order; what would only
    arrive after check-in time is skipped, except what the guest needs to get in."""
    slot = now
    kept: list[Touchpoint] = []
    for touchpoint in ordered:
        if touchpoint.due_at > now:
            kept.append(touchpoint)
            continue
        if slot >= checkin_at and touchpoint.event_type not in NEEDED_AFTER_CHECKIN_TIME:
            continue
        touchpoint.due_at = slot
        slot += SAME_DAY_SPACING
        kept.append(touchpoint)
    return kept


def on_checked_in(booking, config, now: dt.datetime) -> list[Touchpoint]:
    """§4.3, §5.1: the in-stay touchpoints, timed from the actual check-in."""
    checked_in_at = booking.checked_in_at
    nights = booking.nights
    touchpoints = [Touchpoint(ev.GUEST_SATISFACTION_CHECK, checked_in_at + SATISFACTION_CHECK_AFTER)]
    if nights >= ADDON_OFFER_MIN_NIGHTS:
        day_two = booking.checkin_date + dt.timedelta(days=1)
        touchpoints.append(Touchpoint(ev.GUEST_ADDON_OFFER, _local(day_two, ADDON_OFFER_LOCAL_TIME, booking.tz)))
    if nights >= MIDSTAY_MIN_NIGHTS:
        checkout_at = booking.local_checkout_at().astimezone(dt.timezone.utc)
        touchpoints.append(Touchpoint(ev.GUEST_MIDSTAY_CHECK, checked_in_at + (checkout_at - checked_in_at) / 2))
    return touchpoints


def on_checked_out(booking, config, now: dt.datetime) -> list[Touchpoint]:
    """§6.3, §7.1, §7.3, §7.6."""
    out = booking.checked_out_at
    anniversary_date = _next_year(booking.checkin_date)
    return [
        Touchpoint(ev.GUEST_REVIEW_REQUEST, out + REVIEW_REQUEST_AFTER),
        Touchpoint(ev.GUEST_REVIEW_REMINDER, out + REVIEW_REMINDER_AFTER, sequence=1),
        Touchpoint(ev.GUEST_REVIEW_REMINDER, out + REVIEW_FINAL_AFTER, sequence=2, payload={"channel": "EMAIL", "final": True}),
        Touchpoint(ev.GUEST_COUPON_ISSUED, out + COUPON_AFTER),
        Touchpoint(ev.GUEST_REENGAGEMENT, out + REENGAGEMENT_AFTER[0], sequence=1, payload={"campaign": "30D"}),
        Touchpoint(ev.GUEST_REENGAGEMENT, out + REENGAGEMENT_AFTER[1], sequence=2, payload={"campaign": "90D"}),
        Touchpoint(
            ev.GUEST_REENGAGEMENT,
            _local(anniversary_date, ANNIVERSARY_LOCAL_TIME, booking.tz),
            sequence=3,
            payload={"campaign": "ANNIVERSARY"},
        ),
    ]


def _next_year(date: dt.date) -> dt.date:
    try:
        return date.replace(year=date.year + 1)
    except ValueError:  # 29 February
        return date.replace(year=date.year + 1, day=28)


def create_schedules(booking, touchpoints: list[Touchpoint], now: dt.datetime) -> dt.datetime | None:
    """Insert the touchpoints; keys that exist already are left alone. Returns the earliest due time."""
    return create_schedules_for([(booking, touchpoints)], now)


def create_schedules_for(plans: list[tuple[object, list[Touchpoint]]], now: dt.datetime) -> dt.datetime | None:
    rows = [
        AutomationSchedule(
            booking_id=booking.pk,
            event_type=t.event_type,
            sequence=t.sequence,
            recipient=t.recipient,
            due_at=t.due_at,
            idempotency_key=t.key(booking.pk),
            payload=t.payload,
            created_at=now,
        )
        for booking, touchpoints in plans
        for t in touchpoints
    ]
    if not rows:
        return None
    AutomationSchedule.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
    return min(row.due_at for row in rows)


def for_contact(booking, touchpoints: list[Touchpoint]) -> list[Touchpoint]:
    """A calendar booking whose guest has not given their contact yet gets its host and system touchpoints
    only: the guest's own are planned when the contact arrives (booking.contact_completed)."""
    if not booking.contact_needed:
        return touchpoints
    return [t for t in touchpoints if t.recipient != Recipient.GUEST]


DATES_CHANGED = "dates changed"


def rebuild_schedules(booking, touchpoints: list[Touchpoint], now: dt.datetime, *, event_types: set[str]) -> dt.datetime | None:
    """The stay moved: pending touchpoints of these types take their new due times, those the new plan no
    longer has are cancelled, and new ones are created. What was sent, skipped or cancelled for another reason
    is left as it is (a moved stay does not repeat its confirmation). Returns the earliest due time."""
    planned = {t.key(booking.pk): t for t in touchpoints if t.event_type in event_types}
    rows = list(
        AutomationSchedule.objects.select_for_update()
        .filter(booking_id=booking.pk, event_type__in=event_types)
        .filter(Q(status=ScheduleStatus.PENDING) | Q(status=ScheduleStatus.CANCELLED, reason=DATES_CHANGED))
    )
    known = set(AutomationSchedule.objects.filter(idempotency_key__in=planned).values_list("idempotency_key", flat=True))
    due: list[dt.datetime] = []
    for row in rows:
        touchpoint = planned.get(row.idempotency_key)
        if touchpoint is None:
            row.status, row.reason = ScheduleStatus.CANCELLED, DATES_CHANGED
        else:
            row.status, row.reason, row.due_at = ScheduleStatus.PENDING, "", touchpoint.due_at
            due.append(touchpoint.due_at)
    AutomationSchedule.objects.bulk_update(rows, ["status", "reason", "due_at"])
    created = create_schedules(booking, [t for key, t in planned.items() if key not in known], now)
    return min([*due, *([created] if created else [])], default=None)


def cancel_pending_for_guests(guest_ids: set[int], reason: str, *, event_types: list[str], keep_bookings: set[int]) -> int:
    return (
        AutomationSchedule.objects.filter(
            booking__guest_id__in=guest_ids, status=ScheduleStatus.PENDING, event_type__in=event_types
        )
        .exclude(booking_id__in=keep_bookings)
        .update(status=ScheduleStatus.CANCELLED, reason=reason[:200])
    )


def cancel_pending(booking_id: int, reason: str, *, event_types: list[str] | None = None) -> int:
    """EC-02 and friends: pending touchpoints of a booking stop."""
    pending = AutomationSchedule.objects.filter(booking_id=booking_id, status=ScheduleStatus.PENDING)
    if event_types is not None:
        pending = pending.filter(event_type__in=event_types)
    return pending.update(status=ScheduleStatus.CANCELLED, reason=reason[:200])
