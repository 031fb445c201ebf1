"""RA-GUEST-001 §3: the pre-arrival sequence (GX-T01, GX-T02, GX-T10, EC-01, EC-05)."""
import datetime as dt

from bookings.services import record_payment
from messaging import events as ev
from messaging.delivery import deliver_due
from messaging.models import CommunicationLog, OutboxMessage, SandboxMessage, ScheduleStatus
from messaging.outbox import dispatch_outbox, publish
from messaging.scheduler import publish_due_schedules
from portal.models import GuestPortalToken
from tests.lifecycle.conftest import schedules_of

UTC = dt.timezone.utc
CONFIRMED_AT = dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC)  # 11:30 IST


def test_gx_t01_confirmation_schedules_the_pre_arrival_sequence(book, tick):
    booking = book(checkin=dt.date(2026, 3, 15))  # check-in 14:00 IST = 08:30 UTC
    tick(CONFIRMED_AT)

    s = schedules_of(booking)
    assert s["guest.welcome:1"].due_at == dt.datetime(2026, 3, 8, 8, 30, tzinfo=UTC)  # T-7d
    assert s["guest.payment_reminder:1"].due_at == dt.datetime(2026, 3, 12, 8, 30, tzinfo=UTC)  # T-3d, unpaid
    assert s["guest.house_rules:1"].due_at == dt.datetime(2026, 3, 13, 8, 30, tzinfo=UTC)  # T-2d
    assert s["guest.checkin_instructions:1"].due_at == dt.datetime(2026, 3, 14, 8, 30, tzinfo=UTC)  # 24 h before
    assert s["guest.location:1"].due_at == dt.datetime(2026, 3, 14, 8, 30, tzinfo=UTC)
    assert s["guest.not_checked_in:1"].due_at == dt.datetime(2026, 3, 15, 10, 30, tzinfo=UTC)  # check-in + 2 h
    assert s["guest.checkout_reminder:1"].due_at == dt.datetime(2026, 3, 17, 17, 30, tzinfo=UTC)  # 12 h before 11:00 IST
    assert s["stay.auto_checkout_due:1"].due_at == dt.datetime(2026, 3, 18, 6, 30, tzinfo=UTC)  # check-out + 1 h
    assert GuestPortalToken.objects.filter(booking=booking, guest=booking.guest, is_active=True).exists()
    confirmation = CommunicationLog.objects.get(idempotency_key=f"{booking.pk}:guest.booking_confirmed:1")
    assert (confirmation.channel, confirmation.status) == ("WHATSAPP", "SENT")
    token = GuestPortalToken.objects.get(booking=booking).token
    assert token in SandboxMessage.objects.get(log=confirmation).body  # the first message carries the link


def test_gx_t01_paid_booking_gets_no_payment_reminder(book, tick):
    booking = book(confirm=False)
    record_payment(booking, amount=booking.final_amount, now=CONFIRMED_AT)
    from bookings.services import confirm_booking

    confirm_booking(booking, now=CONFIRMED_AT)
    tick(CONFIRMED_AT)
    assert "guest.payment_reminder:1" not in schedules_of(booking)


def test_payment_reminder_is_rechecked_when_due(book, tick):
    booking = book()
    tick(CONFIRMED_AT)
    record_payment(booking, amount=booking.final_amount, now=dt.datetime(2026, 3, 5, 6, 0, tzinfo=UTC))
    tick(dt.datetime(2026, 3, 12, 9, 0, tzinfo=UTC))
    reminder = schedules_of(booking)["guest.payment_reminder:1"]
    assert (reminder.status, reminder.reason) == (ScheduleStatus.SKIPPED, "paid already")
    assert not CommunicationLog.objects.filter(event_type=ev.GUEST_PAYMENT_REMINDER).exists()


def test_early_checkin_offer_only_where_the_listing_supports_it(book, tick):
    from tests.factories import make_listing

    plain = book()
    offering = book(listing=make_listing(supports_early_checkin=True, early_checkin_price=500))
    tick(CONFIRMED_AT)
    assert "guest.early_checkin_offer:1" not in schedules_of(plain)
    assert schedules_of(offering)["guest.early_checkin_offer:1"].due_at == dt.datetime(2026, 3, 14, 8, 30, tzinfo=UTC)


def test_gx_t02_due_schedule_is_published_to_the_outbox_logged_pending_then_sent(book, tick):
    booking = book()
    tick(CONFIRMED_AT)
    due = dt.datetime(2026, 3, 14, 8, 30, tzinfo=UTC)

    publish_due_schedules(due)
    instructions = schedules_of(booking)["guest.checkin_instructions:1"]
    assert instructions.status == ScheduleStatus.PUBLISHED
    assert OutboxMessage.objects.filter(
        event_type=ev.GUEST_CHECKIN_INSTRUCTIONS, payload__schedule_id=instructions.pk
    ).exists()

    dispatch_outbox(due)
    log = CommunicationLog.objects.get(idempotency_key=f"{booking.pk}:guest.checkin_instructions:1")
    assert (log.channel, log.status) == ("WHATSAPP", "PENDING")

    deliver_due(due)
    log.refresh_from_db()
    assert (log.status, log.attempt_count, log.sent_at) == ("SENT", 1, due)
    sent = SandboxMessage.objects.get(log=log)
    assert sent.to == booking.guest.phone
    assert "🔑 Access code: 4521" in sent.body


def test_gx_t10_duplicate_confirmed_event_sends_and_schedules_nothing_twice(book, tick):
    booking = book()
    tick(CONFIRMED_AT)
    schedules_before = len(schedules_of(booking))

    publish(ev.BOOKING_CONFIRMED, booking=booking, now=CONFIRMED_AT)  # redelivery of the same event
    tick(CONFIRMED_AT + dt.timedelta(minutes=1))

    assert len(schedules_of(booking)) == schedules_before
    key = f"{booking.pk}:guest.booking_confirmed:1"
    assert CommunicationLog.objects.filter(idempotency_key=key).count() == 1
    assert CommunicationLog.objects.get(idempotency_key=key).status == "SENT"
    assert SandboxMessage.objects.filter(event_type=ev.GUEST_BOOKING_CONFIRMED, booking=booking).count() == 1


def test_ec_01_same_day_booking_sends_what_is_due_now_five_minutes_apart(book, tick):
    now = dt.datetime(2026, 3, 15, 5, 0, tzinfo=UTC)  # 10:30 IST, check-in 14:00 IST the same day
    booking = book(checkin=dt.date(2026, 3, 15), now=now)
    tick(now)
    s = schedules_of(booking)
    order = ["guest.booking_confirmed:1", "guest.welcome:1", "guest.payment_reminder:1", "guest.house_rules:1",
             "guest.checkin_instructions:1", "guest.location:1"]
    assert [s[key].due_at for key in order] == [now + dt.timedelta(minutes=5 * i) for i in range(6)]
    assert s["guest.not_checked_in:1"].due_at == dt.datetime(2026, 3, 15, 10, 30, tzinfo=UTC)

    tick(now + dt.timedelta(minutes=25))
    sent = list(SandboxMessage.objects.filter(booking=booking).order_by("id").values_list("event_type", flat=True))
    assert sent == [key.split(":")[0] for key in order]


def test_ec_01_booking_after_check_in_time_skips_what_is_past_but_keeps_the_way_in(book, tick):
    now = dt.datetime(2026, 3, 15, 10, 0, tzinfo=UTC)  # 15:30 IST, check-in was 14:00 IST
    booking = book(checkin=dt.date(2026, 3, 15), now=now)
    tick(now)
    s = schedules_of(booking)
    assert {"guest.welcome:1", "guest.payment_reminder:1", "guest.house_rules:1"}.isdisjoint(s)
    assert s["guest.booking_confirmed:1"].due_at == now
    assert s["guest.checkin_instructions:1"].due_at == now + dt.timedelta(minutes=5)
    assert s["guest.location:1"].due_at == now + dt.timedelta(minutes=10)


def test_ec_05_two_bookings_of_one_guest_keep_independent_schedules(book, tick):
    first = book(checkin=dt.date(2026, 3, 15))
    second = book(checkin=dt.date(2026, 3, 16), guest=first.guest)
    tick(CONFIRMED_AT)
    first_keys = {s.idempotency_key for s in first.schedules.all()}
    second_keys = {s.idempotency_key for s in second.schedules.all()}
    assert first_keys.isdisjoint(second_keys)
    assert all(key.startswith(f"{first.pk}:") for key in first_keys)
    assert all(key.startswith(f"{second.pk}:") for key in second_keys)
    assert len(first_keys) == len(second_keys) == 9

    from bookings.services import cancel_booking

    cancel_booking(first, now=CONFIRMED_AT + dt.timedelta(hours=1))
    tick(CONFIRMED_AT + dt.timedelta(hours=1))
    assert not second.schedules.filter(status=ScheduleStatus.CANCELLED).exists()
    assert second.schedules.filter(status=ScheduleStatus.PENDING).count() == 8


def test_pre_arrival_module_switched_off_skips_its_messages(book, tick, tenant):
    from tenants.models import TenantGuestExperienceConfig

    TenantGuestExperienceConfig.objects.filter(tenant=tenant).update(pre_arrival_enabled=False)
    booking = book()
    tick(CONFIRMED_AT)
    confirmation = schedules_of(booking)["guest.booking_confirmed:1"]
    assert (confirmation.status, confirmation.reason) == (ScheduleStatus.SKIPPED, "module pre_arrival is switched off")
    assert not SandboxMessage.objects.exists()
