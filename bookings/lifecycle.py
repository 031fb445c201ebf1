"""The guest lifecycle stage (RA-GUEST-001 §2.1). Computed, never stored (GX-LC-001).

`lifecycle_stage` is a pure function of booking state, timestamps, the property's time zone and `now`;
`stage_of` reads those inputs off a booking.
"""
from __future__ import annotations

import datetime as dt
import enum
import zoneinfo
from dataclasses import dataclass

POST_STAY_DAYS = 90  # §2.1: post-stay lasts 90 days after check-out, then the guest is dormant
CHECK_OUT_WINDOW = dt.timedelta(hours=12)  # §2.1: check-out stage begins 12 h before check-out time
DEFAULT_PRE_ARRIVAL_DAYS = 7  # §2.1: pre-arrival begins T-7 days (the tenant's welcome offset)


class Stage(str, enum.Enum):
    PRE_BOOKING = "PRE_BOOKING"
    BOOKING_CONFIRMED = "BOOKING_CONFIRMED"
    PRE_ARRIVAL = "PRE_ARRIVAL"
    CHECK_IN = "CHECK_IN"
    IN_STAY = "IN_STAY"
    CHECK_OUT = "CHECK_OUT"
    POST_STAY = "POST_STAY"
    REPEAT = "REPEAT"
    # Outside §2.1's loop, named so a caller never has to guess: a cancelled booking, and a post-stay
    # guest who neither came back nor answered re-engagement within 90 days.
    CANCELLED = "CANCELLED"
    DORMANT = "DORMANT"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


@dataclass(frozen=True)
class StageInputs:
    status: str  # BookingStatus value: Lead / Confirmed / Cancelled / Completed
    checkin_date: dt.date
    checkout_date: dt.date
    checkin_time: dt.time
    checkout_time: dt.time
    time_zone: str
    checked_in_at: dt.datetime | None = None
    checked_out_at: dt.datetime | None = None
    completed_stays: int = 0  # the guest's completed stays with this tenant, this one included
    pre_arrival_days: int = DEFAULT_PRE_ARRIVAL_DAYS


def lifecycle_stage(inputs: StageInputs, now: dt.datetime) -> Stage:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    tz = zoneinfo.ZoneInfo(inputs.time_zone)
    if inputs.status == "Lead":
        return Stage.PRE_BOOKING
    if inputs.status == "Cancelled":
        return Stage.CANCELLED

    # Durations (12 h, 90 days) are elapsed time: Python adds a timedelta to a zoned datetime on the wall clock,
    # which is an hour off across a clock change, so they are added in UTC (as the messaging schedules are).
    now = now.astimezone(dt.timezone.utc)
    checkout_at = dt.datetime.combine(inputs.checkout_date, inputs.checkout_time, tzinfo=tz).astimezone(dt.timezone.utc)
    if inputs.checked_out_at is not None or inputs.status == "Completed":
        left_at = (inputs.checked_out_at or checkout_at).astimezone(dt.timezone.utc)
        if now < left_at + dt.timedelta(days=POST_STAY_DAYS):
            return Stage.POST_STAY
        return Stage.REPEAT if inputs.completed_stays >= 2 else Stage.DORMANT

    if inputs.checked_in_at is not None:
        if now >= checkout_at - CHECK_OUT_WINDOW:
            return Stage.CHECK_OUT
        # §2.2: in-stay begins when day 2 of the stay begins, 00:00 local after the check-in day.
        day_two = dt.datetime.combine(
            inputs.checked_in_at.astimezone(tz).date() + dt.timedelta(days=1), dt.time(0, 0), tzinfo=tz
        )
        return Stage.IN_STAY if now >= day_two else Stage.CHECK_IN

    pre_arrival_from = dt.datetime.combine(
        inputs.checkin_date - dt.timedelta(days=inputs.pre_arrival_days), dt.time(0, 0), tzinfo=tz
    )
    return Stage.PRE_ARRIVAL if now >= pre_arrival_from else Stage.BOOKING_CONFIRMED


def stage_inputs(booking, *, completed_stays: int | None = None, pre_arrival_days: int = DEFAULT_PRE_ARRIVAL_DAYS) -> StageInputs:
    listing = booking.listing
    if completed_stays is None:
        completed_stays = booking.guest.bookings.filter(status="Completed").count()
    return StageInputs(
        status=booking.status,
        checkin_date=booking.checkin_date,
        checkout_date=booking.checkout_date,
        checkin_time=listing.checkin_time,
        checkout_time=listing.checkout_time,
        time_zone=listing.property.time_zone,
        checked_in_at=booking.checked_in_at,
        checked_out_at=booking.checked_out_at,
        completed_stays=completed_stays,
        pre_arrival_days=pre_arrival_days,
    )


def stage_of(booking, now: dt.datetime, **kwargs) -> Stage:
    return lifecycle_stage(stage_inputs(booking, **kwargs), now)
