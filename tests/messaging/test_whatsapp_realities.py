"""WhatsApp Cloud API realities: the 24-hour window (131047), marketing opt-out (131050), throughput
(130429 and our own per-number budget), the daily tier, and the undelivered fallback for time-critical messages."""
import datetime as dt

from guests.models import ConsentStatus, GuestConsent
from messaging import events as ev
from messaging.models import CommunicationLog, MessageAttempt
from messaging.services import send_touchpoint
from tests.messaging.fakes import Reply, whatsapp_error, whatsapp_ok

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


def log_of(booking, event=ev.GUEST_BOOKING_CONFIRMED, seq=1) -> CommunicationLog:
    return CommunicationLog.objects.get(idempotency_key=f"{booking.pk}:{event}:{seq}")


def test_inside_the_window_free_text_goes_out_and_131047_falls_back_to_the_template(book, tick, providers):
    booking = book(now=NOW)
    booking.guest.whatsapp_last_inbound_at = NOW - dt.timedelta(hours=2)
    booking.guest.save()
    providers.whatsapp.script = [whatsapp_error(131047, message="Re-engagement message")]
    tick(NOW)
    first, second = providers.whatsapp.seen
    assert first.body["type"] == "text" and "is confirmed!" in first.body["text"]["body"]
    assert second.body["type"] == "template"
    log = log_of(booking)
    assert (log.status, log.attempt_count) == ("SENT", 1)
    assert MessageAttempt.objects.get(log=log).error_message == "window closed: sent as template"


def test_outside_the_window_only_the_template_is_tried(book, tick, providers):
    booking = book(now=NOW)
    tick(NOW)
    assert [s.body["type"] for s in providers.whatsapp.seen] == ["template"]


def test_131050_revokes_whatsapp_marketing_only_and_utility_keeps_flowing(book, tick, providers):
    from guests.services import set_consent
    from tests.factories import make_listing

    booking = book(listing=make_listing(supports_early_checkin=True, early_checkin_price=500), now=NOW)
    set_consent(booking.guest_id, "WHATSAPP", ConsentStatus.GRANTED, source="PORTAL", marketing=True, now=NOW)
    tick(NOW)
    due = dt.datetime(2026, 3, 14, 8, 30, tzinfo=UTC)
    providers.whatsapp.default = lambda seen: (
        whatsapp_error(131050, message="User stopped marketing") if seen.body["template"]["name"] == "early_checkin_offer_wa"
        else whatsapp_ok(seen)
    )
    tick(due)
    offer = log_of(booking, ev.GUEST_EARLY_CHECKIN_OFFER)
    assert offer.status == "OPTED_OUT"  # no marketing consent on SMS or email either: nothing failed
    marketing = GuestConsent.objects.get(guest=booking.guest, channel="WHATSAPP", marketing=True)
    assert (marketing.status, marketing.source) == ("REVOKED", "PROVIDER")
    assert not GuestConsent.objects.filter(guest=booking.guest, channel="WHATSAPP", marketing=False).exists()
    assert log_of(booking, ev.GUEST_CHECKIN_INSTRUCTIONS).channel == "WHATSAPP"
    assert log_of(booking, ev.GUEST_CHECKIN_INSTRUCTIONS).status == "SENT"


def test_130429_throughput_error_waits_and_does_not_use_up_attempts(book, tick, providers):
    providers.whatsapp.script = [whatsapp_error(130429, message="Rate limit hit")] * 3
    booking = book(now=NOW)
    tick(NOW)
    log = log_of(booking)
    assert (log.status, log.channel, log.next_attempt_at) == ("PENDING", "WHATSAPP", NOW + dt.timedelta(seconds=30))
    for n in range(1, 4):
        tick(NOW + dt.timedelta(seconds=30 * n))
    log.refresh_from_db()
    assert (log.status, log.channel) == ("SENT", "WHATSAPP")  # three throttles did not push it to SMS


def test_per_number_budget_per_second_is_shared_and_respected(book, tick, providers, settings):
    settings.WHATSAPP_MESSAGES_PER_SECOND = 2
    bookings = [book(now=NOW) for _ in range(5)]
    tick(NOW)  # the tick's clock is frozen: one second's budget
    sent = CommunicationLog.objects.filter(status="SENT").count()
    assert sent == 2 and len(providers.whatsapp.seen) == 2
    waiting = CommunicationLog.objects.filter(status="PENDING")
    assert {log.next_attempt_at for log in waiting} == {NOW + dt.timedelta(seconds=1)}
    tick(NOW + dt.timedelta(seconds=1))
    tick(NOW + dt.timedelta(seconds=2))
    assert CommunicationLog.objects.filter(status="SENT", channel="WHATSAPP").count() == len(bookings)


def test_daily_tier_reached_falls_back_to_sms(book, tick, providers, settings):
    settings.WHATSAPP_DAILY_LIMIT = 1
    first, second = book(now=NOW), book(now=NOW)
    tick(NOW)
    assert {log_of(first).channel, log_of(second).channel} == {"WHATSAPP", "SMS"}
    assert MessageAttempt.objects.filter(error_code="daily_limit").count() == 1


def test_undelivered_check_in_instructions_also_go_by_sms_after_ten_minutes(book, tick, providers):
    booking = book(now=NOW)
    tick(NOW)
    due = dt.datetime(2026, 3, 14, 8, 30, tzinfo=UTC)
    tick(due)
    instructions = log_of(booking, ev.GUEST_CHECKIN_INSTRUCTIONS)
    assert (instructions.status, instructions.next_attempt_at) == ("SENT", due + dt.timedelta(minutes=10))
    tick(due + dt.timedelta(minutes=10))
    instructions.refresh_from_db()
    assert (instructions.channel, instructions.status) == ("SMS", "SENT")
    assert MessageAttempt.objects.filter(log=instructions, error_code="undelivered").count() == 1
    assert providers.sms.seen[0].body["text"].startswith("Alpha Homestays: check-in 2:00 PM. Code 4521.")
    location = log_of(booking, ev.GUEST_LOCATION)
    assert (location.channel, location.status, location.next_attempt_at) == ("WHATSAPP", "SENT", None)


def test_delivered_in_time_needs_no_sms(book, tick, providers):
    from messaging.statuses import apply_provider_status

    booking = book(now=NOW)
    tick(NOW)
    due = dt.datetime(2026, 3, 14, 8, 30, tzinfo=UTC)
    tick(due)
    instructions = log_of(booking, ev.GUEST_CHECKIN_INSTRUCTIONS)
    apply_provider_status(instructions.provider_message_id, "DELIVERED", due + dt.timedelta(minutes=2))
    tick(due + dt.timedelta(minutes=10))
    instructions.refresh_from_db()
    assert (instructions.channel, instructions.status, instructions.next_attempt_at) == ("WHATSAPP", "DELIVERED", None)
    assert not providers.sms.seen


def test_host_alert_uses_the_tenants_own_number_when_set(book, tick, providers, tenant):
    from tenants.models import TenantGuestExperienceConfig

    TenantGuestExperienceConfig.objects.filter(tenant=tenant).update(whatsapp_phone_id="2000002")
    booking = book(now=NOW)
    send_touchpoint(booking, ev.GUEST_ISSUE_RESOLVED, sequence=1, now=NOW, variables={"category": "WiFi"})
    tick(NOW)
    assert {s.path for s in providers.whatsapp.seen} == {"/2000002/messages"}
