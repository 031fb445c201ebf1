"""What the portal shows when (RA-GUEST-001 §8.1). A pure function of the booking and `now`, read in the
property's time zone: the page and the actions ask the same questions, so a button is never shown for an
action that would then be refused, nor the other way round."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bookings.lifecycle import Stage, stage_of
from bookings.models import AddonCode, Booking, BookingStatus
from operations.services import ADDON_PRICE_FIELD, AFTER_CHECKOUT_WINDOW

CHECKIN_DETAILS_BEFORE = dt.timedelta(hours=24)  # GX-CI-001: access code etc. within 24 h of check-in

# §5.4: the add-ons offered, each only when the listing has a price for it.
STAY_ADDONS = (AddonCode.LATE_CHECKOUT, AddonCode.EXTRA_CLEANING)


@dataclass(frozen=True)
class Sections:
    stage: Stage
    local_now: dt.datetime
    checkin_at: dt.datetime  # local, the listing's check-in time on the check-in date
    checkout_at: dt.datetime
    cancelled: bool
    checked_in: bool
    checked_out: bool
    checkin_details: bool  # access code, directions, WiFi, parking (else the placeholder)
    checkin_button: bool  # "I have checked in": check-in day, until checked in
    recommendations: bool
    report_issue: bool
    checkout_day: bool  # checklist and damage report
    after_checkout: bool  # invoice, review, coupon
    addon_codes: tuple[str, ...]  # add-ons that may be requested now

    @property
    def in_stay(self) -> bool:
        return self.checked_in and not self.checked_out


def sections_for(booking: Booking, now: dt.datetime) -> Sections:
    tz = booking.tz
    local_now = now.astimezone(tz)
    today = local_now.date()
    checkin_at, checkout_at = booking.local_checkin_at(), booking.local_checkout_at()
    # Past stays only decide REPEAT vs DORMANT, 90 days after check-out: later than any portal link lives.
    stage = stage_of(booking, now, completed_stays=0)
    cancelled = booking.status == BookingStatus.CANCELLED
    live = not cancelled and booking.status != BookingStatus.LEAD
    checked_in = booking.checked_in_at is not None
    checked_out = booking.checked_out_at is not None or booking.status == BookingStatus.COMPLETED
    in_stay = checked_in and not checked_out
    return Sections(
        stage=stage,
        local_now=local_now,
        checkin_at=checkin_at,
        checkout_at=checkout_at,
        cancelled=cancelled,
        checked_in=checked_in,
        checked_out=checked_out,
        checkin_details=live and not checked_out and now >= checkin_at - CHECKIN_DETAILS_BEFORE,
        checkin_button=live and not checked_in and today == booking.checkin_date,
        recommendations=in_stay,
        # EC-13: also for 24 h after check-out (the service has the last word and makes it an incident).
        report_issue=checked_in and (
            booking.checked_out_at is None or now <= booking.checked_out_at + AFTER_CHECKOUT_WINDOW
        ),
        # The check-out stage begins 12 h before check-out time (§2.1), when the reminder with the damage
        # link goes out; the check-out day itself counts whole.
        checkout_day=live and (today == booking.checkout_date or stage == Stage.CHECK_OUT),
        after_checkout=checked_out,
        addon_codes=_addon_codes(booking, now, live=live, in_stay=in_stay, checked_in=checked_in, checkin_at=checkin_at),
    )


def _addon_codes(booking: Booking, now: dt.datetime, *, live: bool, in_stay: bool, checked_in: bool,
                 checkin_at: dt.datetime) -> tuple[str, ...]:
    listing = booking.listing
    codes = [code for code in STAY_ADDONS if in_stay and getattr(listing, ADDON_PRICE_FIELD[code]) is not None]
    if (live and not checked_in and now < checkin_at and listing.supports_early_checkin
            and listing.early_checkin_price is not None):
        codes.append(AddonCode.EARLY_CHECKIN)
    return tuple(codes)
