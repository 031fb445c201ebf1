"""Every write on a booking. Each state change and the event reporting it commit together (transactional
outbox), and the lifecycle rules react to the event, never to the caller."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings.models import ActionSource, Booking, BookingStatus, Payment, PaymentStatus
from messaging import events as ev
from messaging.outbox import publish
from messaging.wakeups import note_due


def locked_booking(booking: Booking | int) -> Booking:
    """The booking's row, locked for the rest of the transaction: every write on one booking serializes here."""
    pk = booking.pk if isinstance(booking, Booking) else booking
    return Booking.objects.select_for_update(of=("self",)).select_related("listing__property", "guest").get(pk=pk)


def _publish(event_type: str, booking: Booking, now: dt.datetime, **payload) -> None:
    publish(event_type, booking=booking, payload=payload, now=now)
    note_due(now, now)  # last: the tenant's wake-up row is always the last lock a transaction takes


class DuplicateBooking(ValidationError):
    """A booking with this source and external reference exists already (an OTA feed, a file or an API retry
    bringing the same stay again). `existing` is that booking."""

    def __init__(self, existing: Booking):
        self.existing = existing
        super().__init__(
            {"external_reference": f"Booking #{existing.pk} already has the {existing.source} reference "
                                   f"“{existing.external_reference}”."}
        )


def existing_external_booking(source: str, external_reference: str, listing_id: int | None = None) -> Booking | None:
    """The booking a source's reference already made (unique per source, and per listing), if any."""
    if not external_reference:
        return None
    found = Booking.objects.filter(source=source, external_reference=external_reference).first()
    if found is None and listing_id is not None:
        found = Booking.objects.filter(listing_id=listing_id, external_reference=external_reference).first()
    return found


def create_booking(*, confirm: bool = True, now: dt.datetime | None = None, **fields) -> Booking:
    """Validate and store a booking: a lead, or confirmed at once (publishing `booking.confirmed`). A booking
    whose (source, external reference) exists raises DuplicateBooking, also when a concurrent request stored
    it first (the unique constraints decide)."""
    now = now or timezone.now()
    if fields.get("referral_code"):  # §7.7: `?ref=` from the referral link; not the guest's own
        from guests.referrals import referrer_for

        guest_id = fields["guest"].pk if "guest" in fields else fields.get("guest_id")
        fields["referral_code"] = referrer_for(fields["referral_code"], guest_id).referral_code
    booking = Booking(status=BookingStatus.LEAD, created_at=now, **fields)
    if confirm:
        booking.status, booking.confirmed_at = BookingStatus.CONFIRMED, now
    # The database enforces the check constraints and foreign keys; clean() gives the human messages of the
    # constraints without a query each, and related objects handed in as instances need no existence check.
    given = [name for name in ("guest", "listing") if name in fields]
    booking.full_clean(exclude=given, validate_constraints=False)
    if booking.external_reference:
        existing = existing_external_booking(booking.source, booking.external_reference, booking.listing_id)
        if existing is not None:
            raise DuplicateBooking(existing)
    try:
        with transaction.atomic():
            booking.save()
            if confirm:
                _publish(ev.BOOKING_CONFIRMED, booking, now)
    except IntegrityError:
        existing = existing_external_booking(booking.source, booking.external_reference, booking.listing_id)
        if existing is None:
            raise
        raise DuplicateBooking(existing) from None
    return booking


@transaction.atomic
def change_booking_dates(booking: Booking | int, *, checkin_date: dt.date, checkout_date: dt.date,
                         now: dt.datetime | None = None) -> tuple[Booking, bool]:
    """Move a stay (an OTA calendar moved it). Its pending touchpoints are rebuilt for the new dates by the
    `booking.dates_changed` handler; what was sent stays sent. Returns (booking, whether the dates moved)."""
    now = now or timezone.now()
    booking = locked_booking(booking)
    if (booking.checkin_date, booking.checkout_date) == (checkin_date, checkout_date):
        return booking, False
    if booking.status in (BookingStatus.CANCELLED, BookingStatus.COMPLETED):
        raise ValidationError(f"A {booking.get_status_display().lower()} booking's dates cannot change.")
    if checkout_date <= checkin_date:
        raise ValidationError({"checkout_date": "Check-out must be after check-in."})
    if booking.checked_in_at is not None and checkin_date != booking.checkin_date:
        raise ValidationError("The guest has checked in: only the check-out date can change now.")
    before = {"checkin_date": booking.checkin_date.isoformat(), "checkout_date": booking.checkout_date.isoformat()}
    booking.checkin_date, booking.checkout_date = checkin_date, checkout_date
    booking.save(update_fields=["checkin_date", "checkout_date", "updated_at"])
    _publish(ev.BOOKING_DATES_CHANGED, booking, now, before=before)
    return booking, True


@transaction.atomic
def confirm_booking(booking: Booking | int, *, now: dt.datetime | None = None) -> Booking:
    """Lead → Confirmed; publishes `booking.confirmed` once. Confirming a confirmed booking changes nothing."""
    now = now or timezone.now()
    booking = locked_booking(booking)
    if booking.status == BookingStatus.CONFIRMED:
        return booking
    if booking.status != BookingStatus.LEAD:
        raise ValidationError(f"A {booking.get_status_display().lower()} booking cannot be confirmed.")
    booking.status, booking.confirmed_at = BookingStatus.CONFIRMED, now
    booking.save(update_fields=["status", "confirmed_at", "updated_at"])
    _publish(ev.BOOKING_CONFIRMED, booking, now)
    return booking


@transaction.atomic
def cancel_booking(booking: Booking | int, *, reason: str = "", now: dt.datetime | None = None) -> Booking:
    """EC-02: a cancelled booking's pending touchpoints are all cancelled (by the event's handler)."""
    now = now or timezone.now()
    booking = locked_booking(booking)
    if booking.status == BookingStatus.CANCELLED:
        return booking
    if booking.checked_in_at is not None:
        raise ValidationError("A booking cannot be cancelled after the guest has checked in. Check the guest out instead.")
    booking.status, booking.cancelled_at = BookingStatus.CANCELLED, now
    booking.save(update_fields=["status", "cancelled_at", "updated_at"])
    _publish(ev.BOOKING_CANCELLED, booking, now, reason=reason[:200])
    return booking


@transaction.atomic
def check_in_guest(booking: Booking | int, *, via: str = ActionSource.STAFF, now: dt.datetime | None = None) -> tuple[Booking, bool]:
    """Log the check-in and publish `stay.checked_in`. Idempotent (EC-07): a second tap changes nothing and
    publishes nothing. Returns (booking, whether this call checked the guest in)."""
    now = now or timezone.now()
    booking = locked_booking(booking)
    if booking.checked_in_at is not None:
        return booking, False
    if booking.status != BookingStatus.CONFIRMED:
        raise ValidationError(f"Only a confirmed booking can be checked in; this one is {booking.get_status_display().lower()}.")
    booking.checked_in_at, booking.checked_in_via = now, via
    booking.save(update_fields=["checked_in_at", "checked_in_via", "updated_at"])
    _publish(ev.STAY_CHECKED_IN, booking, now, via=via)
    return booking, True


@transaction.atomic
def check_out_guest(booking: Booking | int, *, via: str = ActionSource.STAFF, now: dt.datetime | None = None) -> tuple[Booking, bool]:
    """Log the check-out, complete the booking and publish `stay.checked_out` once, whether the host or the
    auto-checkout timer (GX-CO-001) gets there first. Returns (booking, whether this call checked out)."""
    now = now or timezone.now()
    booking = locked_booking(booking)
    if booking.checked_out_at is not None:
        return booking, False
    if booking.checked_in_at is None:
        raise ValidationError("The guest has not checked in yet. Check the guest in first, or cancel the booking.")
    booking.checked_out_at, booking.checked_out_via = now, via
    booking.status = BookingStatus.COMPLETED
    booking.save(update_fields=["checked_out_at", "checked_out_via", "status", "updated_at"])
    _publish(ev.STAY_CHECKED_OUT, booking, now, via=via)
    return booking, True


@transaction.atomic
def record_payment(booking: Booking | int, *, amount: Decimal, method: str = "UPI", reference: str = "",
                   now: dt.datetime | None = None) -> Payment:
    """Store a payment and bring the booking's received amount and payment status up to date."""
    now = now or timezone.now()
    booking = locked_booking(booking)
    payment = Payment(booking=booking, amount=amount, method=method, reference=reference, received_at=now)
    payment.full_clean()
    payment.save()
    booking.amount_received += amount
    booking.payment_status = PaymentStatus.PAID if booking.amount_received >= booking.final_amount else PaymentStatus.PARTIAL
    booking.save(update_fields=["amount_received", "payment_status", "updated_at"])
    return payment


# --- Intake: a PMS export's history (issue 15 §3) ---------------------------------------------------------------

HISTORY_STATUSES = (BookingStatus.COMPLETED, BookingStatus.CANCELLED)


def record_past_booking(*, status: str, now: dt.datetime | None = None, **fields) -> Booking:
    """Store a stay the host's PMS holds as completed or cancelled: validated and unique by (source, external
    reference) as in create_booking, but no event is published, so a stay that is over or off sends nothing."""
    if status not in HISTORY_STATUSES:
        raise ValueError(f"record_past_booking stores completed or cancelled stays, not {status!r}.")
    now = now or timezone.now()
    booking = Booking(status=status, created_at=now, **fields)
    if status == BookingStatus.CANCELLED:
        booking.cancelled_at = booking.cancelled_at or now
    booking.full_clean(exclude=[name for name in ("guest", "listing") if name in fields], validate_constraints=False)
    existing = existing_external_booking(booking.source, booking.external_reference, booking.listing_id)
    if existing is not None:
        raise DuplicateBooking(existing)
    try:
        with transaction.atomic():
            booking.save()
    except IntegrityError:
        existing = existing_external_booking(booking.source, booking.external_reference, booking.listing_id)
        if existing is None:
            raise
        raise DuplicateBooking(existing) from None
    return booking
