"""RA-GUEST-001 §4–§7: check-in, in-stay, check-out and post-stay (GX-T05, GX-T06, EC-02, EC-07, EC-11)."""
import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from bookings.models import BookingStatus, Listing, ReviewRequestStatus, RoomStatus
from bookings.services import cancel_booking, check_in_guest, check_out_guest
from coupons.models import GuestCoupon
from messaging import events as ev
from messaging.models import CommunicationLog, OutboxMessage, SandboxMessage, ScheduleStatus
from operations.models import CleaningType, HostNotification, HousekeepingTask, InventoryItem, ListingConsumable
from reviews.models import GuestReview
from tests.lifecycle.conftest import schedules_of

UTC = dt.timezone.utc
CONFIRMED_AT = dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
ARRIVED_AT = dt.datetime(2026, 3, 15, 9, 0, tzinfo=UTC)  # 14:30 IST on check-in day
LEFT_AT = dt.datetime(2026, 3, 18, 5, 30, tzinfo=UTC)  # 11:00 IST on check-out day


def stayed(book, tick, nights=3, **kw):
    booking = book(nights=nights, **kw)
    tick(CONFIRMED_AT)
    check_in_guest(booking, now=ARRIVED_AT)
    tick(ARRIVED_AT)
    return booking


def test_ec_02_cancelling_cancels_every_pending_touchpoint(book, tick):
    booking = book()
    tick(CONFIRMED_AT)
    cancel_booking(booking, now=CONFIRMED_AT + dt.timedelta(hours=2))
    tick(CONFIRMED_AT + dt.timedelta(hours=2))
    statuses = {key: s.status for key, s in schedules_of(booking).items()}
    assert statuses.pop("guest.booking_confirmed:1") == ScheduleStatus.PUBLISHED
    assert set(statuses.values()) == {ScheduleStatus.CANCELLED}
    tick(dt.datetime(2026, 3, 20, tzinfo=UTC))
    assert SandboxMessage.objects.filter(booking=booking).count() == 1  # only the confirmation ever went out


def test_ec_07_second_check_in_tap_changes_nothing(book, tick):
    booking = book()
    tick(CONFIRMED_AT)
    first, changed = check_in_guest(booking, via="PORTAL", now=ARRIVED_AT)
    again, changed_again = check_in_guest(booking, via="PORTAL", now=ARRIVED_AT + dt.timedelta(minutes=1))
    assert (changed, changed_again) == (True, False)
    assert again.checked_in_at == ARRIVED_AT
    assert OutboxMessage.objects.filter(booking=booking, event_type=ev.STAY_CHECKED_IN).count() == 1


def test_check_in_schedules_in_stay_touchpoints_and_updates_operations(book, tick):
    booking = book(nights=5, checkin=dt.date(2026, 3, 15))
    item = InventoryItem.objects.create(property=booking.listing.property, name="Water bottle", quantity_on_hand=40)
    ListingConsumable.objects.create(listing=booking.listing, item=item, quantity_per_stay=4)
    tick(CONFIRMED_AT)
    check_in_guest(booking, now=ARRIVED_AT)
    tick(ARRIVED_AT)
    publish_again = OutboxMessage.objects.get(event_type=ev.STAY_CHECKED_IN)
    OutboxMessage.objects.filter(pk=publish_again.pk).update(status="PENDING")  # redelivery
    tick(ARRIVED_AT + dt.timedelta(minutes=1))

    s = schedules_of(booking)
    assert s["guest.satisfaction_check:1"].due_at == ARRIVED_AT + dt.timedelta(hours=20)
    assert s["guest.addon_offer:1"].due_at == dt.datetime(2026, 3, 16, 4, 30, tzinfo=UTC)  # day 2, 10:00 IST
    # midpoint between the actual arrival and check-out (20 Mar 11:00 IST = 05:30 UTC)
    assert s["guest.midstay_check:1"].due_at == dt.datetime(2026, 3, 17, 19, 15, tzinfo=UTC)
    assert s["guest.not_checked_in:1"].status == ScheduleStatus.CANCELLED
    assert Listing.objects.get(pk=booking.listing_id).room_status == RoomStatus.OCCUPIED
    item.refresh_from_db()
    assert item.quantity_on_hand == 36  # deducted once, though the event came twice


def test_short_stays_get_no_upsell_or_midstay_check(book, tick):
    booking = stayed(book, tick, nights=2)
    assert {"guest.addon_offer:1", "guest.midstay_check:1"}.isdisjoint(schedules_of(booking))


def test_gx_ci_002_not_checked_in_alert_goes_to_the_host(book, tick):
    booking = book()
    tick(CONFIRMED_AT)
    tick(dt.datetime(2026, 3, 15, 10, 30, tzinfo=UTC))
    alert = CommunicationLog.objects.get(event_type=ev.GUEST_NOT_CHECKED_IN)
    assert (alert.recipient, alert.status) == ("HOST", "SENT")
    sent = SandboxMessage.objects.get(log=alert)
    assert sent.to == booking.listing.property.contact_phone
    assert f"has not checked in for booking #{booking.pk}" in sent.body


def test_gx_ci_002_not_checked_in_alert_skipped_when_checked_in(book, tick):
    stayed(book, tick)
    tick(dt.datetime(2026, 3, 15, 10, 30, tzinfo=UTC))
    assert not CommunicationLog.objects.filter(event_type=ev.GUEST_NOT_CHECKED_IN).exists()


def test_checkout_reminder_carries_checklist_and_damage_link(book, tick):
    booking = stayed(book, tick)
    tick(dt.datetime(2026, 3, 17, 17, 30, tzinfo=UTC))  # 12 h before 11:00 IST check-out = 23:00 IST: quiet
    assert not CommunicationLog.objects.filter(event_type=ev.GUEST_CHECKOUT_REMINDER).exists()
    tick(dt.datetime(2026, 3, 18, 2, 30, tzinfo=UTC))  # 08:00 IST: the window opens
    body = SandboxMessage.objects.get(event_type=ev.GUEST_CHECKOUT_REMINDER).body
    assert "✅ Return all keys/remotes" in body
    assert f"/guest/{booking.portal_tokens.get().token}#damage" in body


def test_gx_t05_checkout_creates_turnover_task_review_reengagement_and_coupon(book, tick):
    booking = stayed(book, tick)
    check_out_guest(booking, now=LEFT_AT)
    tick(LEFT_AT)

    task = HousekeepingTask.objects.get(booking=booking)
    assert (task.listing_id, task.cleaning_type) == (booking.listing_id, CleaningType.TURNOVER)
    s = schedules_of(booking)
    assert s["guest.review_request:1"].due_at == LEFT_AT + dt.timedelta(hours=2)
    assert s["guest.review_reminder:1"].due_at == LEFT_AT + dt.timedelta(hours=48)
    assert s["guest.review_reminder:2"].due_at == LEFT_AT + dt.timedelta(days=7)
    assert s["guest.coupon_issued:1"].due_at == LEFT_AT + dt.timedelta(hours=24)
    assert s["guest.reengagement:1"].due_at == LEFT_AT + dt.timedelta(days=30)
    assert s["guest.reengagement:2"].due_at == LEFT_AT + dt.timedelta(days=90)
    assert s["guest.reengagement:3"].due_at == dt.datetime(2027, 3, 15, 4, 30, tzinfo=UTC)  # anniversary, 10:00 IST
    coupon = GuestCoupon.objects.get(guest=booking.guest, source_booking=booking)
    assert coupon.coupon_code.startswith("ALPHA10-") and len(coupon.coupon_code) == len("ALPHA10-") + 6
    assert Listing.objects.get(pk=booking.listing_id).room_status == RoomStatus.VACANT_DIRTY
    booking.refresh_from_db()
    assert booking.status == BookingStatus.COMPLETED


def test_gx_t06_review_request_sent_two_hours_after_checkout(book, tick):
    booking = stayed(book, tick)
    check_out_guest(booking, now=LEFT_AT)
    tick(LEFT_AT)
    tick(LEFT_AT + dt.timedelta(hours=2))
    log = CommunicationLog.objects.get(event_type=ev.GUEST_REVIEW_REQUEST)
    assert (log.channel, log.status) == ("WHATSAPP", "SENT")
    token = booking.portal_tokens.get()
    assert f"/guest/{token.token}#review" in SandboxMessage.objects.get(log=log).body
    assert token.is_active and token.expires_at > LEFT_AT + dt.timedelta(days=29)
    booking.refresh_from_db()
    assert booking.review_request_status == ReviewRequestStatus.REQUESTED


def test_review_reminders_stop_once_reviewed_and_exhaust_after_the_final_email(book, tick):
    reviewed = stayed(book, tick)
    silent = book(nights=3, listing=None)
    tick(CONFIRMED_AT)
    check_in_guest(silent, now=ARRIVED_AT)
    for b in (reviewed, silent):
        check_out_guest(b, now=LEFT_AT)
    tick(LEFT_AT + dt.timedelta(hours=2))
    GuestReview.objects.create(booking=reviewed, guest=reviewed.guest, property=reviewed.listing.property, overall_rating=5)
    tick(LEFT_AT + dt.timedelta(days=7))

    assert schedules_of(reviewed)["guest.review_reminder:1"].status == ScheduleStatus.SKIPPED
    assert schedules_of(reviewed)["guest.review_reminder:2"].reason == "review received"
    final = CommunicationLog.objects.get(booking=silent, idempotency_key=f"{silent.pk}:guest.review_reminder:2")
    assert final.channel == "EMAIL"  # §7.1 step 3: the final reminder is an email
    silent.refresh_from_db()
    assert silent.review_request_status == ReviewRequestStatus.EXHAUSTED


def test_ec_11_reengagement_cancelled_when_the_guest_books_again(book, tick):
    booking = stayed(book, tick)
    check_out_guest(booking, now=LEFT_AT)
    tick(LEFT_AT)
    rebooked_at = LEFT_AT + dt.timedelta(days=10)
    book(guest=booking.guest, checkin=dt.date(2026, 5, 1), now=rebooked_at)
    tick(rebooked_at)
    reengagements = [s for key, s in schedules_of(booking).items() if key.startswith("guest.reengagement")]
    assert {s.status for s in reengagements} == {ScheduleStatus.CANCELLED}
    assert not CommunicationLog.objects.filter(event_type=ev.GUEST_REENGAGEMENT).exists()


def test_ec_11_reengagement_rechecked_when_due(book, tick):
    """Even without the booking handler's cancellation, a due re-engagement checks for a newer booking."""
    from tests.factories import make_booking

    booking = stayed(book, tick)
    check_out_guest(booking, now=LEFT_AT)
    tick(LEFT_AT)
    make_booking(guest=booking.guest, checkin_date=dt.date(2026, 6, 1), created_at=LEFT_AT + dt.timedelta(days=3))
    tick(LEFT_AT + dt.timedelta(days=30, hours=1))
    first = schedules_of(booking)["guest.reengagement:1"]
    assert (first.status, first.reason) == (ScheduleStatus.CANCELLED, "guest booked again")


def test_gx_co_001_auto_checkout_publishes_checked_out_once(book, tick):
    booking = stayed(book, tick)
    tick(dt.datetime(2026, 3, 18, 6, 30, tzinfo=UTC))  # check-out 11:00 IST + 1 h
    booking.refresh_from_db()
    assert (booking.checked_out_via, booking.status) == ("AUTO", BookingStatus.COMPLETED)
    _, changed = check_out_guest(booking, now=dt.datetime(2026, 3, 18, 7, 0, tzinfo=UTC))  # the host, late
    assert changed is False
    assert OutboxMessage.objects.filter(booking=booking, event_type=ev.STAY_CHECKED_OUT).count() == 1
    assert HousekeepingTask.objects.filter(booking=booking).count() == 1


def test_manual_checkout_first_makes_the_auto_checkout_skip(book, tick):
    booking = stayed(book, tick)
    check_out_guest(booking, now=LEFT_AT)
    tick(LEFT_AT)
    tick(dt.datetime(2026, 3, 18, 6, 30, tzinfo=UTC))
    assert schedules_of(booking)["stay.auto_checkout_due:1"].status == ScheduleStatus.CANCELLED
    assert OutboxMessage.objects.filter(booking=booking, event_type=ev.STAY_CHECKED_OUT).count() == 1


def test_auto_checkout_without_check_in_asks_the_host(book, tick):
    booking = book()
    tick(CONFIRMED_AT)
    tick(dt.datetime(2026, 3, 18, 6, 30, tzinfo=UTC))
    booking.refresh_from_db()
    assert booking.checked_out_at is None
    assert HostNotification.objects.filter(booking=booking, kind="NOT_CHECKED_IN").count() == 1


def test_check_out_before_check_in_is_refused_with_a_clear_message(book):
    booking = book()
    with pytest.raises(ValidationError, match="has not checked in yet"):
        check_out_guest(booking, now=ARRIVED_AT)


def test_final_email_reminder_is_skipped_for_a_guest_without_email(book, tick):
    from tests.factories import make_guest

    booking = stayed(book, tick, guest=make_guest(email=""))
    check_out_guest(booking, now=LEFT_AT)
    tick(LEFT_AT)
    tick(LEFT_AT + dt.timedelta(days=7))
    final = schedules_of(booking)["guest.review_reminder:2"]
    assert (final.status, final.reason) == (ScheduleStatus.SKIPPED, "the guest has no email address")
    assert not HostNotification.objects.filter(booking=booking, kind="ALL_CHANNELS_FAILED").exists()
