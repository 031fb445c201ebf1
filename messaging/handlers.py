"""Outbox handlers for the domain events: what the lifecycle does when a booking is confirmed or
cancelled, or a guest checks in or out (RA-GUEST-001 §2.2). Each is idempotent: unique keys and
get-or-create make a redelivered event change nothing."""
from __future__ import annotations

import datetime as dt

from bookings.models import ActionSource, Booking
from messaging import events as ev
from messaging import lifecycle
from messaging.models import OutboxMessage
from messaging.outbox import handles
from messaging.scheduler import current_config


def _booking(row: OutboxMessage) -> Booking:
    return Booking.objects.select_related("listing__property", "listing", "guest").get(pk=row.booking_id)


@handles(ev.BOOKING_CONFIRMED, batch=True)
def on_bookings_confirmed(rows: list[OutboxMessage], now: dt.datetime) -> dt.datetime | None:
    """Batch: a burst of confirmations (an OTA import, a busy evening) costs a handful of queries."""
    from portal.services import issue_portal_tokens

    bookings = list(
        Booking.objects.filter(pk__in={row.booking_id for row in rows}, status="Confirmed")  # not cancelled since
        .select_related("listing__property", "guest")
        .order_by("pk")
    )
    if not bookings:
        return None
    issue_portal_tokens(bookings)  # GX-GP-001: before the first message, which carries the link
    return _start_lifecycle(bookings, now)


def _start_lifecycle(bookings: list[Booking], now: dt.datetime) -> dt.datetime | None:
    """What a confirmation starts: tags, referral rewards and the §3.1 sequence. A calendar booking without
    the guest's contact gets only its host and system touchpoints; completing the contact runs this again."""
    reachable = [b for b in bookings if not b.contact_needed]
    # GX-PS-004: a guest who books again no longer gets the re-engagement of earlier stays.
    lifecycle.cancel_pending_for_guests(
        {b.guest_id for b in reachable}, "guest booked again", event_types=[ev.GUEST_REENGAGEMENT],
        keep_bookings={b.pk for b in reachable},
    )
    from guests import tags
    from guests.referrals import reward_referral

    tags.on_bookings_confirmed(reachable, now)  # before the confirmation renders: "Welcome back" reads the history
    for booking in reachable:
        if booking.referral_code:
            reward_referral(booking, now)
    config = current_config()
    return lifecycle.create_schedules_for(
        [(b, lifecycle.for_contact(b, _personalized(b, lifecycle.on_confirmed(b, config, now), config, now)))
         for b in bookings],
        now,
    )


@handles(ev.BOOKING_CONTACT_COMPLETED)
def on_contact_completed(rows: list[OutboxMessage], now: dt.datetime) -> dt.datetime | None:
    """Intake: the guest of a calendar booking gave their contact. The lifecycle starts as a confirmation at
    this moment would start it (what is past due goes now, 5 minutes apart; what is past check-in time, EC-01,
    is skipped); the host and system touchpoints planned at import exist already and are left alone."""
    booking = _booking(rows[0])
    if booking.status != "Confirmed" or booking.contact_needed:
        return None
    return _start_lifecycle([booking], now)


@handles(ev.BOOKING_DATES_CHANGED)
def on_dates_changed(rows: list[OutboxMessage], now: dt.datetime) -> dt.datetime | None:
    """An OTA calendar moved the stay: the portal link lives until the new check-out + 30 days, and the
    pending touchpoints follow the new dates (lifecycle.rebuild_schedules)."""
    from portal.models import GuestPortalToken
    from portal.services import TOKEN_LIFETIME_AFTER_CHECKOUT

    booking = _booking(rows[0])
    if booking.status != "Confirmed":
        return None
    GuestPortalToken.objects.filter(booking=booking, is_active=True).update(
        expires_at=booking.local_checkout_at() + TOKEN_LIFETIME_AFTER_CHECKOUT
    )
    config = current_config()
    touchpoints = _personalized(booking, lifecycle.on_confirmed(booking, config, now), config, now)
    event_types = {t.event_type for t in touchpoints} | set(lifecycle.PRE_ARRIVAL_ORDER) | {
        ev.GUEST_NOT_CHECKED_IN, ev.GUEST_CHECKOUT_REMINDER, ev.STAY_AUTO_CHECKOUT_DUE, ev.STAY_PREPARE_ARRIVAL}
    if booking.checked_in_at is not None:
        stay = lifecycle.on_checked_in(booking, config, now)
        touchpoints += stay
        event_types |= {t.event_type for t in stay} | {ev.GUEST_ADDON_OFFER, ev.GUEST_MIDSTAY_CHECK}
    event_types.discard(ev.GUEST_BOOKING_CONFIRMED)  # sent once, for the booking, not for its dates
    return lifecycle.rebuild_schedules(booking, lifecycle.for_contact(booking, touchpoints), now,
                                       event_types=event_types)


def _personalized(booking: Booking, touchpoints: list, config, now: dt.datetime) -> list:
    """Personalization design, use 2: offers chosen by the guest's propensities (when switched on)."""
    if not config.personalization_enabled:
        return touchpoints
    from personalization.uses import personalize_touchpoints

    return personalize_touchpoints(booking, touchpoints, now, config)


@handles(ev.BOOKING_CANCELLED)
def on_booking_cancelled(rows: list[OutboxMessage], now: dt.datetime) -> None:
    lifecycle.cancel_pending(rows[0].booking_id, "booking cancelled")  # EC-02
    return None


@handles(ev.STAY_CHECKED_IN)
def on_checked_in(rows: list[OutboxMessage], now: dt.datetime) -> dt.datetime | None:
    from operations.services import deduct_consumables, mark_occupied

    booking = _booking(rows[0])
    mark_occupied(booking.listing_id)
    deduct_consumables(booking, now)
    lifecycle.cancel_pending(booking.pk, "guest has checked in", event_types=[ev.GUEST_NOT_CHECKED_IN])
    config = current_config()
    touchpoints = _personalized(booking, lifecycle.on_checked_in(booking, config, now), config, now)
    return lifecycle.create_schedules(booking, touchpoints, now)


@handles(ev.STAY_CHECKED_OUT)
def on_checked_out(rows: list[OutboxMessage], now: dt.datetime) -> dt.datetime | None:
    from coupons.services import issue_stay_coupon
    from operations.services import create_turnover_task, mark_vacant_dirty

    booking = _booking(rows[0])
    create_turnover_task(booking, now)  # GX-T05
    mark_vacant_dirty(booking.listing_id)
    lifecycle.cancel_pending(
        booking.pk,
        "guest has checked out",
        event_types=[ev.GUEST_CHECKOUT_REMINDER, ev.STAY_AUTO_CHECKOUT_DUE, ev.GUEST_ADDON_OFFER, ev.GUEST_MIDSTAY_CHECK,
                     ev.GUEST_SATISFACTION_CHECK],
    )
    from guests import tags
    from guests.referrals import ensure_referral_code

    tags.on_checked_out(booking, now)  # VIP
    ensure_referral_code(booking.guest_id)  # §7.7: on the first completed stay, for the post-stay messages
    config = current_config()
    touchpoints = lifecycle.on_checked_out(booking, config, now)
    if config.post_stay_enabled:
        issue_stay_coupon(booking, now)
    return lifecycle.create_schedules(booking, touchpoints, now)


@handles(ev.STAY_AUTO_CHECKOUT_DUE)
def on_auto_checkout_due(rows: list[OutboxMessage], now: dt.datetime) -> None:
    """GX-CO-001: the host has not checked the guest out by check-out time + 1 h."""
    from bookings.services import check_out_guest
    from operations.models import HostNotification, NotificationKind

    booking = _booking(rows[0])
    if booking.checked_out_at is not None:
        return None
    if booking.checked_in_at is None:
        # Nobody recorded an arrival: a no-show or a missed check-in. The host has to say which.
        HostNotification.objects.get_or_create(
            dedupe_key=f"never-checked-in:{booking.pk}",
            defaults={
                "kind": NotificationKind.NOT_CHECKED_IN,
                "title": f"Booking #{booking.pk} reached check-out without a check-in: record the stay or cancel it",
                "booking": booking,
                "created_at": now,
            },
        )
        return None
    check_out_guest(booking, via=ActionSource.AUTO, now=now)
    return None


@handles(ev.STAY_PREPARE_ARRIVAL)
def on_prepare_arrival(rows: list[OutboxMessage], now: dt.datetime) -> None:
    """Personalization design, uses 1 and 5: room setup task and proactive touches, the day before arrival."""
    from personalization.uses import prepare_arrival

    prepare_arrival(_booking(rows[0]), now)
    return None
