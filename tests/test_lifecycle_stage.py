"""The lifecycle stage (RA-GUEST-001 §2.1, §2.2) at every boundary, in the property's own zone.

Every expected boundary is written by hand as a UTC instant (with the local time beside it), never computed
by the code under test: one second before it and at it. India (UTC+5:30, no DST) shows that local midnight
is not UTC midnight; New York and London show that it moves with the clocks.
"""
import dataclasses
import datetime as dt

import pytest

from bookings.lifecycle import Stage, StageInputs, lifecycle_stage, stage_of
from bookings.models import ActionSource, BookingStatus
from tests.factories import make_booking, make_guest, make_listing, make_property

UTC = dt.timezone.utc
SECOND = dt.timedelta(seconds=1)


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


# A 3-night stay in India: check-in Sun 15 Mar 2026 14:00 IST, check-out Wed 18 Mar 11:00 IST (05:30 UTC).
INDIA_STAY = StageInputs(
    status="Confirmed",
    checkin_date=dt.date(2026, 3, 15),
    checkout_date=dt.date(2026, 3, 18),
    checkin_time=dt.time(14, 0),
    checkout_time=dt.time(11, 0),
    time_zone="Asia/Kolkata",
)
CHECKED_IN = utc(2026, 3, 15, 8, 50)  # 14:20 IST on the check-in day
CHECKED_OUT = utc(2026, 3, 18, 5, 10)  # 10:40 IST on the check-out day


def stage(now: dt.datetime, base: StageInputs = INDIA_STAY, **changes) -> Stage:
    return lifecycle_stage(dataclasses.replace(base, **changes), now)


def assert_boundary(boundary: dt.datetime, before: Stage, after: Stage, base: StageInputs = INDIA_STAY, **changes):
    """`before` one second before the boundary, `after` at it (and a minute later)."""
    assert stage(boundary - SECOND, base, **changes) == before
    assert stage(boundary, base, **changes) == after
    assert stage(boundary + dt.timedelta(minutes=1), base, **changes) == after


# --- statuses that decide the stage on their own ---------------------------------------------------------


@pytest.mark.parametrize("now", [utc(2026, 1, 1), utc(2026, 3, 16, 12), utc(2027, 1, 1)])
def test_a_lead_is_pre_booking_whatever_the_dates(now):
    assert stage(now, status="Lead") == Stage.PRE_BOOKING


@pytest.mark.parametrize("now", [utc(2026, 1, 1), utc(2026, 3, 16, 12), utc(2027, 1, 1)])
def test_a_cancelled_booking_is_cancelled_whatever_the_dates(now):
    assert stage(now, status="Cancelled") == Stage.CANCELLED


def test_a_naive_now_is_refused_rather_than_guessed():
    with pytest.raises(ValueError, match="timezone-aware"):
        lifecycle_stage(INDIA_STAY, dt.datetime(2026, 3, 10, 12, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        lifecycle_stage(dataclasses.replace(INDIA_STAY, status="Lead"), dt.datetime(2026, 3, 10, 12, 0))


# --- BOOKING_CONFIRMED → PRE_ARRIVAL: 00:00 local of check-in date − 7 days --------------------------------


def test_pre_arrival_begins_at_local_midnight_seven_days_before_checkin_in_india():
    # 00:00 IST on Sun 8 Mar 2026 == 18:30 UTC on Sat 7 Mar.
    assert_boundary(utc(2026, 3, 7, 18, 30), Stage.BOOKING_CONFIRMED, Stage.PRE_ARRIVAL)


def test_pre_arrival_boundary_does_not_depend_on_the_zone_now_is_written_in():
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    assert stage(dt.datetime(2026, 3, 7, 23, 59, 59, tzinfo=ist)) == Stage.BOOKING_CONFIRMED
    assert stage(dt.datetime(2026, 3, 8, 0, 0, tzinfo=ist)) == Stage.PRE_ARRIVAL
    # The same instants written in New York time (EST, UTC−5): 13:29:59 and 13:30 on 7 Mar.
    new_york = dt.timezone(dt.timedelta(hours=-5))
    assert stage(dt.datetime(2026, 3, 7, 13, 29, 59, tzinfo=new_york)) == Stage.BOOKING_CONFIRMED
    assert stage(dt.datetime(2026, 3, 7, 13, 30, tzinfo=new_york)) == Stage.PRE_ARRIVAL


def test_a_booking_confirmed_well_ahead_stays_booking_confirmed():
    assert stage(utc(2026, 1, 20, 9, 0)) == Stage.BOOKING_CONFIRMED


def test_pre_arrival_follows_a_custom_offset():
    # Three days: 00:00 IST on Thu 12 Mar == 18:30 UTC on Wed 11 Mar.
    assert_boundary(utc(2026, 3, 11, 18, 30), Stage.BOOKING_CONFIRMED, Stage.PRE_ARRIVAL, pre_arrival_days=3)
    # Fourteen days: 00:00 IST on Sun 1 Mar == 18:30 UTC on Sat 28 Feb.
    assert_boundary(utc(2026, 2, 28, 18, 30), Stage.BOOKING_CONFIRMED, Stage.PRE_ARRIVAL, pre_arrival_days=14)


def test_a_guest_not_checked_in_after_checkin_time_is_still_pre_arrival():
    # Check-in time is 14:00 IST == 08:30 UTC on the 15th; nobody has checked in.
    assert stage(utc(2026, 3, 15, 8, 30)) == Stage.PRE_ARRIVAL
    assert stage(utc(2026, 3, 15, 18, 0)) == Stage.PRE_ARRIVAL  # 23:30 IST
    assert stage(utc(2026, 3, 16, 6, 0)) == Stage.PRE_ARRIVAL  # next morning


# --- CHECK_IN → IN_STAY: 00:00 local of the day after check-in ---------------------------------------------


def test_check_in_lasts_until_local_midnight_after_checking_in_in_india():
    assert stage(CHECKED_IN, checked_in_at=CHECKED_IN) == Stage.CHECK_IN
    # 00:00 IST on Mon 16 Mar == 18:30 UTC on Sun 15 Mar.
    assert_boundary(utc(2026, 3, 15, 18, 30), Stage.CHECK_IN, Stage.IN_STAY, checked_in_at=CHECKED_IN)


def test_a_late_evening_check_in_is_day_one_of_the_property_zone_not_of_utc():
    # New York, check-in 21:30 EDT on 15 Mar == 01:30 UTC on the 16th: UTC's date is already the 16th, but
    # day two begins at 00:00 EDT on the 16th == 04:00 UTC.
    new_york = dataclasses.replace(INDIA_STAY, time_zone="America/New_York")
    checked_in = utc(2026, 3, 16, 1, 30)
    assert stage(checked_in, new_york, checked_in_at=checked_in) == Stage.CHECK_IN
    assert_boundary(utc(2026, 3, 16, 4, 0), Stage.CHECK_IN, Stage.IN_STAY, new_york, checked_in_at=checked_in)


def test_a_check_in_time_written_in_another_zone_means_the_same_instant():
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    checked_in = dt.datetime(2026, 3, 15, 14, 20, tzinfo=ist)
    assert_boundary(utc(2026, 3, 15, 18, 30), Stage.CHECK_IN, Stage.IN_STAY, checked_in_at=checked_in)


# --- IN_STAY → CHECK_OUT: 12 hours before the check-out datetime -------------------------------------------


def test_check_out_begins_twelve_hours_before_checkout_time_in_india():
    # Check-out 11:00 IST on 18 Mar == 05:30 UTC; twelve hours earlier is 17:30 UTC on 17 Mar (23:00 IST).
    assert_boundary(utc(2026, 3, 17, 17, 30), Stage.IN_STAY, Stage.CHECK_OUT, checked_in_at=CHECKED_IN)


def test_check_out_lasts_past_checkout_time_until_the_guest_checks_out():
    assert stage(utc(2026, 3, 18, 9, 0), checked_in_at=CHECKED_IN) == Stage.CHECK_OUT  # 14:30 IST
    assert stage(utc(2026, 3, 20, 9, 0), checked_in_at=CHECKED_IN) == Stage.CHECK_OUT


def test_a_one_night_stay_goes_from_check_in_to_check_out_without_in_stay():
    # Check-out 11:00 IST on the 16th: the window opens 23:00 IST on the 15th (17:30 UTC), before day two.
    one_night = dataclasses.replace(INDIA_STAY, checkout_date=dt.date(2026, 3, 16), checked_in_at=CHECKED_IN)
    assert_boundary(utc(2026, 3, 15, 17, 30), Stage.CHECK_IN, Stage.CHECK_OUT, one_night)
    assert stage(utc(2026, 3, 15, 18, 30), one_night) == Stage.CHECK_OUT


# --- CHECK_OUT → POST_STAY → REPEAT / DORMANT ---------------------------------------------------------------


def test_checking_out_starts_post_stay_at_once():
    assert stage(CHECKED_OUT, checked_in_at=CHECKED_IN, checked_out_at=CHECKED_OUT) == Stage.POST_STAY
    # Even before the check-out window would have opened (an early departure).
    early = utc(2026, 3, 16, 6, 0)
    assert stage(early, checked_in_at=CHECKED_IN, checked_out_at=early) == Stage.POST_STAY


def test_post_stay_lasts_ninety_days_then_a_one_time_guest_is_dormant():
    # 10:40 IST on 18 Mar + 90 days == 05:10 UTC on Tue 16 Jun 2026.
    assert_boundary(
        utc(2026, 6, 16, 5, 10), Stage.POST_STAY, Stage.DORMANT,
        checked_in_at=CHECKED_IN, checked_out_at=CHECKED_OUT, completed_stays=1,
    )


def test_post_stay_lasts_ninety_days_then_a_guest_with_two_stays_is_repeat():
    assert_boundary(
        utc(2026, 6, 16, 5, 10), Stage.POST_STAY, Stage.REPEAT,
        checked_in_at=CHECKED_IN, checked_out_at=CHECKED_OUT, completed_stays=2,
    )
    long_after = utc(2027, 6, 1)
    assert stage(long_after, checked_in_at=CHECKED_IN, checked_out_at=CHECKED_OUT, completed_stays=5) == Stage.REPEAT


def test_a_completed_booking_without_a_checkout_timestamp_counts_from_the_checkout_datetime():
    # Check-out 11:00 IST on 18 Mar == 05:30 UTC; + 90 days == 05:30 UTC on 16 Jun.
    completed = dataclasses.replace(INDIA_STAY, status="Completed")
    assert stage(utc(2026, 3, 18, 5, 30), completed) == Stage.POST_STAY
    assert_boundary(utc(2026, 6, 16, 5, 30), Stage.POST_STAY, Stage.DORMANT, completed, completed_stays=1)
    assert_boundary(utc(2026, 6, 16, 5, 30), Stage.POST_STAY, Stage.REPEAT, completed, completed_stays=2)


# --- clock changes: local midnight and "12 hours" in zones with DST --------------------------------------------

NEW_YORK = dataclasses.replace(INDIA_STAY, time_zone="America/New_York")  # DST began 02:00 on Sun 8 Mar 2026
LONDON = dataclasses.replace(INDIA_STAY, time_zone="Europe/London")  # BST began 01:00 UTC on Sun 29 Mar 2026


def test_pre_arrival_midnight_before_the_clock_change_uses_winter_time():
    # Check-in Thu 12 Mar (EDT); pre-arrival from 00:00 EST on Thu 5 Mar == 05:00 UTC (not 04:00).
    assert_boundary(utc(2026, 3, 5, 5, 0), Stage.BOOKING_CONFIRMED, Stage.PRE_ARRIVAL, NEW_YORK,
                    checkin_date=dt.date(2026, 3, 12), checkout_date=dt.date(2026, 3, 14))


def test_pre_arrival_midnight_after_the_clock_change_uses_summer_time():
    # Check-in Fri 20 Mar; pre-arrival from 00:00 EDT on Fri 13 Mar == 04:00 UTC.
    assert_boundary(utc(2026, 3, 13, 4, 0), Stage.BOOKING_CONFIRMED, Stage.PRE_ARRIVAL, NEW_YORK,
                    checkin_date=dt.date(2026, 3, 20), checkout_date=dt.date(2026, 3, 22))


def test_in_stay_begins_at_local_midnight_on_the_night_the_clocks_go_forward_in_new_york():
    # Checked in 16:00 EST on Sat 7 Mar (21:00 UTC); day two begins 00:00 EST on Sun 8 Mar == 05:00 UTC.
    checked_in = utc(2026, 3, 7, 21, 0)
    assert_boundary(utc(2026, 3, 8, 5, 0), Stage.CHECK_IN, Stage.IN_STAY, NEW_YORK,
                    checkin_date=dt.date(2026, 3, 7), checkout_date=dt.date(2026, 3, 10), checked_in_at=checked_in)


def test_in_stay_begins_at_local_midnight_after_the_clocks_went_forward_in_new_york():
    # Checked in 15:00 EDT on Sun 8 Mar (19:00 UTC), a 23-hour day; day two begins 00:00 EDT on 9 Mar
    # == 04:00 UTC, not 24 hours after the day began (05:00 UTC).
    checked_in = utc(2026, 3, 8, 19, 0)
    assert_boundary(utc(2026, 3, 9, 4, 0), Stage.CHECK_IN, Stage.IN_STAY, NEW_YORK,
                    checkin_date=dt.date(2026, 3, 8), checkout_date=dt.date(2026, 3, 11), checked_in_at=checked_in)


def test_in_stay_begins_at_local_midnight_in_london_summer_time():
    # Checked in 15:00 BST on Sun 29 Mar (14:00 UTC); day two begins 00:00 BST on 30 Mar == 23:00 UTC on 29 Mar.
    checked_in = utc(2026, 3, 29, 14, 0)
    assert_boundary(utc(2026, 3, 29, 23, 0), Stage.CHECK_IN, Stage.IN_STAY, LONDON,
                    checkin_date=dt.date(2026, 3, 29), checkout_date=dt.date(2026, 4, 1), checked_in_at=checked_in)


def test_check_out_window_is_twelve_real_hours_when_the_clocks_go_forward_that_night():
    # Check-out 11:00 EDT on Sun 8 Mar == 15:00 UTC; twelve hours earlier is 03:00 UTC (22:00 EST on the 7th),
    # the instant the check-out reminder is scheduled for (messaging.lifecycle), not 23:00 EST.
    assert_boundary(utc(2026, 3, 8, 3, 0), Stage.IN_STAY, Stage.CHECK_OUT, NEW_YORK,
                    checkin_date=dt.date(2026, 3, 5), checkout_date=dt.date(2026, 3, 8),
                    checked_in_at=utc(2026, 3, 5, 19, 0))


def test_check_out_window_is_twelve_real_hours_when_the_clocks_go_back_that_night():
    # Check-out 11:00 EST on Sun 1 Nov == 16:00 UTC; twelve hours earlier is 04:00 UTC (00:00 EDT).
    assert_boundary(utc(2026, 11, 1, 4, 0), Stage.IN_STAY, Stage.CHECK_OUT, NEW_YORK,
                    checkin_date=dt.date(2026, 10, 29), checkout_date=dt.date(2026, 11, 1),
                    checked_in_at=utc(2026, 10, 29, 19, 0))


# --- stage_of: the same function fed from a stored booking ----------------------------------------------------


def test_stage_of_reads_a_stored_booking_in_its_property_zone(tenant):
    listing = make_listing(make_property(time_zone="Asia/Kolkata"), checkin_time=dt.time(14, 0),
                           checkout_time=dt.time(11, 0))
    booking = make_booking(listing=listing, checkin_date=dt.date(2026, 3, 15), checkout_date=dt.date(2026, 3, 18))
    booking.refresh_from_db()

    assert stage_of(booking, utc(2026, 3, 7, 18, 30) - SECOND) == Stage.BOOKING_CONFIRMED
    assert stage_of(booking, utc(2026, 3, 7, 18, 30)) == Stage.PRE_ARRIVAL
    assert stage_of(booking, utc(2026, 3, 11, 18, 30) - SECOND, pre_arrival_days=3) == Stage.BOOKING_CONFIRMED

    booking.checked_in_at, booking.checked_in_via = CHECKED_IN, ActionSource.PORTAL
    booking.save()
    booking.refresh_from_db()
    assert stage_of(booking, utc(2026, 3, 15, 18, 30) - SECOND) == Stage.CHECK_IN
    assert stage_of(booking, utc(2026, 3, 15, 18, 30)) == Stage.IN_STAY
    assert stage_of(booking, utc(2026, 3, 17, 17, 30)) == Stage.CHECK_OUT


def test_stage_of_counts_the_guests_completed_stays_for_repeat(tenant):
    listing = make_listing(make_property(time_zone="Asia/Kolkata"))

    def completed_stay(guest, checkin: dt.date):
        checked_in = dt.datetime.combine(checkin, dt.time(9, 0), tzinfo=UTC)
        return make_booking(guest=guest, listing=listing, checkin_date=checkin, status=BookingStatus.COMPLETED,
                            checked_in_at=checked_in, checked_in_via=ActionSource.STAFF,
                            checked_out_at=checked_in + dt.timedelta(days=3), checked_out_via=ActionSource.STAFF)

    once = completed_stay(make_guest(), dt.date(2026, 1, 10))
    twice_guest = make_guest()
    completed_stay(twice_guest, dt.date(2025, 11, 1))
    twice = completed_stay(twice_guest, dt.date(2026, 1, 10))
    # Checked out 09:00 UTC on 13 Jan; + 90 days == 09:00 UTC on 13 Apr 2026.
    ninety_days_on = utc(2026, 4, 13, 9, 0)
    for booking in (once, twice):
        booking.refresh_from_db()
        assert stage_of(booking, ninety_days_on - SECOND) == Stage.POST_STAY
    assert stage_of(once, ninety_days_on) == Stage.DORMANT
    assert stage_of(twice, ninety_days_on) == Stage.REPEAT


def test_a_completed_booking_without_a_checkout_timestamp_ends_post_stay_like_one_checked_out_at_checkout_time():
    # Check-out 11:00 EST on Sat 7 Mar == 16:00 UTC; the clocks change before the 90 days are up, and both
    # ways of knowing the departure must still give the same instant: 16:00 UTC on Fri 5 Jun 2026.
    stay = dataclasses.replace(NEW_YORK, checkin_date=dt.date(2026, 3, 4), checkout_date=dt.date(2026, 3, 7),
                               completed_stays=1)
    without_timestamp = dataclasses.replace(stay, status="Completed")
    with_timestamp = dataclasses.replace(
        stay, checked_in_at=utc(2026, 3, 4, 20, 0), checked_out_at=utc(2026, 3, 7, 16, 0)
    )
    for inputs in (without_timestamp, with_timestamp):
        assert_boundary(utc(2026, 6, 5, 16, 0), Stage.POST_STAY, Stage.DORMANT, inputs)
