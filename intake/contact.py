"""The guest of a calendar booking completes their contact (issue 15 §2): the booking arrived from an OTA's
calendar with no phone or email, so no message could go. The guest's answer on the portal records their
consent per channel (source PORTAL, with the IP), finds a returning guest by phone, and starts the lifecycle
as a confirmation at this moment would (booking.contact_completed; EC-01 decides what is still worth sending).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from bookings.services import _publish, locked_booking
from guests.models import ConsentChannel, ConsentSource, ConsentStatus, Guest
from guests.services import set_consent
from messaging import events as ev
from operations.models import AuditLog
from portal.models import GuestPortalToken

MESSAGE_CHANNELS = (ConsentChannel.WHATSAPP, ConsentChannel.SMS, ConsentChannel.EMAIL)


@dataclass(frozen=True)
class Choices:
    """The guest's consent, channel by channel (DPDP Act 2023: each purpose asked for on its own)."""

    whatsapp: bool = True
    sms: bool = True
    email: bool = True
    marketing: bool = False  # offers and news, on the channels above: unticked unless the guest ticks it
    personalization: bool = False  # remember preferences to personalise later stays

    def granted(self, channel: str) -> bool:
        return {ConsentChannel.WHATSAPP: self.whatsapp, ConsentChannel.SMS: self.sms,
                ConsentChannel.EMAIL: self.email}[channel]


@dataclass(frozen=True)
class Contact:
    name: str
    phone: str  # E.164, a mobile (the form checks)
    email: str = ""
    guests: int = 1
    arrival_time: dt.time | None = None


@transaction.atomic
def complete_contact(booking: Booking | int, contact: Contact, choices: Choices, *, ip: str | None = None,
                     now: dt.datetime | None = None) -> Booking:
    """Idempotent: a second submission (a double tap, a reload) finds the contact complete and changes nothing."""
    now = now or timezone.now()
    booking = locked_booking(booking)
    if not booking.contact_needed:
        return booking
    if booking.status != BookingStatus.CONFIRMED:
        raise ValidationError("This booking is no longer active. Contact your host if you did not expect this.")
    placeholder = booking.guest
    guest = _guest_for(placeholder, contact)
    if guest.pk != placeholder.pk:  # a returning guest: the stay joins their history (tags, coupons, lifetime value)
        booking.guest = guest
        GuestPortalToken.objects.filter(booking=booking, guest=placeholder).update(guest=guest)
    booking.contact_needed = False
    booking.guests_planned = contact.guests
    booking.expected_arrival_time = contact.arrival_time
    booking.save(update_fields=["guest", "contact_needed", "guests_planned", "expected_arrival_time", "updated_at"])
    if guest.pk != placeholder.pk:
        _forget(placeholder)
    record_choices(guest, choices, ip=ip, now=now)
    AuditLog.objects.create(actor=f"guest:{guest.pk}", action="booking.contact_completed", object_type="Booking",
                            object_id=str(booking.pk), booking=booking, ip_address=ip, created_at=now,
                            details={"returning_guest": guest.pk != placeholder.pk})
    _publish(ev.BOOKING_CONTACT_COMPLETED, booking, now)
    return booking


def _guest_for(placeholder: Guest, contact: Contact) -> Guest:
    """The tenant's guest with this phone, else the booking's own guest row, now with the contact."""
    existing = Guest.objects.select_for_update().filter(phone=contact.phone).exclude(pk=placeholder.pk).first()
    if existing is None:
        placeholder.name, placeholder.phone = contact.name, contact.phone
        placeholder.email = contact.email
        placeholder.full_clean(validate_constraints=False)
        try:
            with transaction.atomic():
                placeholder.save(update_fields=["name", "phone", "email"])
            return placeholder
        except IntegrityError:  # the same phone completed another booking at this moment: that is the guest
            existing = Guest.objects.select_for_update().get(phone=contact.phone)
    if contact.email and not existing.email:
        existing.email = contact.email.strip().lower()
        existing.save(update_fields=["email"])
    return existing


def _forget(placeholder: Guest) -> None:
    """The calendar's stand-in guest has nothing left once its booking moved to the real guest."""
    try:
        with transaction.atomic():
            placeholder.delete()
    except ProtectedError:  # it holds another booking (the host attached one): keep it
        pass


def record_choices(guest: Guest, choices: Choices, *, ip: str | None, now: dt.datetime) -> None:
    """Every choice on the form is recorded as given, so the form's state is the guest's current consent."""
    def status(granted: bool) -> str:
        return ConsentStatus.GRANTED if granted else ConsentStatus.REVOKED

    for channel in MESSAGE_CHANNELS:
        if channel == ConsentChannel.EMAIL and not guest.email:
            continue
        granted = choices.granted(channel)
        set_consent(guest.pk, channel, status(granted), source=ConsentSource.PORTAL, ip_address=ip, now=now)
        set_consent(guest.pk, channel, status(granted and choices.marketing), source=ConsentSource.PORTAL,
                    marketing=True, ip_address=ip, now=now)
    set_consent(guest.pk, ConsentChannel.PERSONALIZATION, status(choices.personalization), source=ConsentSource.PORTAL,
                ip_address=ip, now=now)


def current_choices(guest: Guest) -> Choices:
    """The guest's consent as the form shows it: a channel with no record is allowed for transactional
    messages (GX-PV-003), marketing and personalization only when granted."""
    rows = {(c.channel, c.marketing): c.status == ConsentStatus.GRANTED for c in guest.consents.all()}
    return Choices(
        whatsapp=rows.get((ConsentChannel.WHATSAPP, False), True),
        sms=rows.get((ConsentChannel.SMS, False), True),
        email=rows.get((ConsentChannel.EMAIL, False), True),
        marketing=any(rows.get((channel, True), False) for channel in MESSAGE_CHANNELS),
        personalization=rows.get((ConsentChannel.PERSONALIZATION, False), False),
    )


@transaction.atomic
def contact_entered_by_host(booking: Booking | int, *, actor: str = "", now: dt.datetime | None = None) -> Booking:
    """The host reached the guest another way and typed the phone or email on the guest's page: the guest's
    messages start as they would from the portal form (consent as on a booking form, GX-PV-003)."""
    now = now or timezone.now()
    booking = locked_booking(booking)
    if not booking.contact_needed:
        return booking
    if booking.status != BookingStatus.CONFIRMED:
        raise ValidationError("Only a confirmed booking's messages can start.")
    guest = booking.guest
    if not guest.phone and not guest.email:
        raise ValidationError(f"Enter the guest's mobile number or email on the guest page of {guest.name} first.")
    booking.contact_needed = False
    booking.save(update_fields=["contact_needed", "updated_at"])
    AuditLog.objects.create(actor=actor or "system", action="booking.contact_completed", object_type="Booking",
                            object_id=str(booking.pk), booking=booking, created_at=now, details={"by": "host"})
    _publish(ev.BOOKING_CONTACT_COMPLETED, booking, now)
    return booking
