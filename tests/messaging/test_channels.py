"""The real provider code (pywa, the SMS gateway client, sendgrid) against fake servers on 127.0.0.1:
payload shape, auth header, error mapping, and the retry and fallback plan (§3.4, §3.6, GX-T09, EC-03)."""
import datetime as dt

from messaging import events as ev
from messaging.models import CommunicationLog, MessageAttempt
from tests.factories import make_guest
from tests.messaging.fakes import Reply, whatsapp_error
from tests.messaging.fakes import whatsapp_ok as whatsapp_ok_default

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC)  # 11:30 IST


def confirmation(booking) -> CommunicationLog:
    return CommunicationLog.objects.get(idempotency_key=f"{booking.pk}:guest.booking_confirmed:1")


def test_whatsapp_sends_the_approved_template_with_named_parameters(book, tick, providers):
    booking = book(now=NOW)
    tick(NOW)
    log = confirmation(booking)
    assert (log.channel, log.status, log.template_key, log.template_version) == ("WHATSAPP", "SENT", "BOOKING_CONFIRMED_WA", 1)
    request = providers.whatsapp.seen[0]
    assert (request.method, request.path) == ("POST", "/1000001/messages")
    assert request.headers["authorization"] == "Bearer wa-test-token"
    body = request.body
    assert (body["messaging_product"], body["type"], body["to"]) == ("whatsapp", "template", booking.guest.phone)
    assert body["template"]["name"] == "booking_confirmed_wa"
    params = body["template"]["components"][0]["parameters"]
    named = {p["parameter_name"]: p["text"] for p in params}
    assert named["guest_name"] == booking.guest.name and named["total_amount"] == "₹8,500"
    assert log.provider_message_id.startswith("wamid.")
    assert not providers.sms.seen and not providers.email.seen


def test_gx_t09_whatsapp_retries_at_15_and_30_minutes_then_falls_back_to_sms(book, tick, providers):
    providers.whatsapp.default = lambda seen: whatsapp_error(131000, status=500, message="Something went wrong")
    booking = book(now=NOW)
    tick(NOW)
    log = confirmation(booking)
    assert (log.status, log.attempt_count, log.next_attempt_at) == ("PENDING", 1, NOW + dt.timedelta(minutes=15))
    tick(NOW + dt.timedelta(minutes=15))
    log.refresh_from_db()
    assert (log.attempt_count, log.next_attempt_at) == (2, NOW + dt.timedelta(minutes=45))
    tick(NOW + dt.timedelta(minutes=45))
    log.refresh_from_db()
    assert (log.channel, log.status, log.attempt_count) == ("SMS", "SENT", 4)
    attempts = list(MessageAttempt.objects.filter(log=log).values_list("channel", "number", "status", "error_code"))
    assert attempts == [("WHATSAPP", 1, "FAILED", "131000"), ("WHATSAPP", 2, "FAILED", "131000"),
                        ("WHATSAPP", 3, "FAILED", "131000"), ("SMS", 1, "SENT", "")]
    sms = providers.sms.seen[0]
    assert sms.headers["authorization"] == "Bearer sms-test-key"
    assert (sms.body["to"], sms.body["from"]) == (booking.guest.phone, "SUNSET")
    assert sms.body["text"].startswith("Alpha Homestays: stay confirmed")
    assert len(sms.body["text"]) <= 160 and sms.body["parts"] == 1


def test_sms_then_email_then_all_channels_failed_tells_the_host(book, tick, providers):
    from operations.models import HostNotification

    providers.whatsapp.default = lambda seen: whatsapp_error(131026, message="Message undeliverable")
    providers.sms.default = lambda seen: Reply(503, {"error": "unavailable"})
    providers.email.default = lambda seen: Reply(500, {"errors": [{"message": "boom"}]})
    booking = book(now=NOW)
    moment = NOW
    for _ in range(8):
        tick(moment)
        log = confirmation(booking)
        if log.next_attempt_at is None:
            break
        moment = log.next_attempt_at
    attempts = list(MessageAttempt.objects.filter(log=log).values_list("channel", "number"))
    assert attempts == [("WHATSAPP", 1), ("SMS", 1), ("SMS", 2), ("EMAIL", 1), ("EMAIL", 2), ("EMAIL", 3)]
    assert log.status == "ALL_CHANNELS_FAILED"
    # SMS waits 15 min after its first failure; email 30 then 60 (§3.6)
    times = list(MessageAttempt.objects.filter(log=log).values_list("attempted_at", flat=True))
    assert [(b - a) for a, b in zip(times, times[1:])] == [
        dt.timedelta(0), dt.timedelta(minutes=15), dt.timedelta(0), dt.timedelta(minutes=30), dt.timedelta(minutes=60)]
    assert HostNotification.objects.filter(booking=booking, kind="ALL_CHANNELS_FAILED").count() == 1


def test_ec_03_landline_fails_whatsapp_and_sms_at_once_and_email_delivers(book, tick, providers):
    guest = make_guest(phone="+918022223333")  # a Bengaluru landline
    booking = book(guest=guest, now=NOW)
    tick(NOW)
    log = confirmation(booking)
    assert (log.channel, log.status) == ("EMAIL", "SENT")
    assert not providers.whatsapp.seen and not providers.sms.seen  # no provider call for a landline
    assert list(MessageAttempt.objects.filter(log=log).values_list("channel", "error_code")) == [
        ("WHATSAPP", "not_a_mobile_number"), ("SMS", "not_a_mobile_number"), ("EMAIL", "")]


def test_unknown_whatsapp_user_falls_back_to_sms_at_once(book, tick, providers):
    providers.whatsapp.default = lambda seen: whatsapp_error(131026, message="Message undeliverable")
    booking = book(now=NOW)
    tick(NOW)
    assert (confirmation(booking).channel, confirmation(booking).status) == ("SMS", "SENT")


def test_sendgrid_mail_has_text_html_unsubscribe_and_escapes_guest_text(book, tick, providers):
    guest = make_guest(name="<script>alert(1)</script> Rao", phone="", email="rao@example.com")
    booking = book(guest=guest, now=NOW)
    tick(NOW)
    log = confirmation(booking)
    assert (log.channel, log.status) == ("EMAIL", "SENT")
    request = providers.email.seen[0]
    assert (request.method, request.path) == ("POST", "/v3/mail/send")
    assert request.headers["authorization"] == "Bearer SG.test-key"
    body = request.body
    assert body["personalizations"][0]["to"] == [{"email": "rao@example.com"}]
    assert body["from"] == {"email": "stays@example.com", "name": "Alpha Homestays"}
    assert body["subject"].startswith("Your stay at ")
    text, html = (c["value"] for c in body["content"])
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert "<script>alert(1)</script> Rao" in text  # the text part is text
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; Rao" in html
    assert "/unsubscribe/" in text and 'href="http://alpha.localhost:8000/unsubscribe/' in html
    # The attempt's key rides in custom_args so SendGrid's event webhooks can name the attempt (issue #9).
    assert body["custom_args"] == {"log_id": str(log.pk), "atlas_key": body["custom_args"]["atlas_key"]}
    assert body["custom_args"]["atlas_key"].startswith(f"ag1.alpha.{log.pk}.") and not log.send_key


def test_provider_timeout_and_dropped_connection_are_retried_not_lost(book, tick, providers):
    providers.whatsapp.script = [Reply(hang_seconds=2.0), Reply(drop=True)]
    booking = book(now=NOW)
    tick(NOW)
    log = confirmation(booking)
    assert (log.status, log.error_code) == ("PENDING", "network")
    tick(NOW + dt.timedelta(minutes=15))
    log.refresh_from_db()
    assert (log.status, log.error_code, log.attempt_count) == ("PENDING", "network", 2)
    tick(NOW + dt.timedelta(minutes=45))
    log.refresh_from_db()
    assert (log.channel, log.status) == ("WHATSAPP", "SENT")


def test_sms_gateway_rejection_is_permanent_and_falls_back_to_email(book, tick, providers):
    providers.whatsapp.default = lambda seen: whatsapp_error(131026)
    providers.sms.default = lambda seen: Reply(400, {"error": "invalid number"})
    booking = book(now=NOW)
    tick(NOW)
    log = confirmation(booking)
    assert (log.channel, log.status) == ("EMAIL", "SENT")
    assert MessageAttempt.objects.get(log=log, channel="SMS").error_code == "http_400"


def test_dod_23_failed_messages_view_and_resend_starts_the_chain_again(book, tick, providers, tenant):
    from django.contrib.auth.models import Group, User

    from messaging.models import FailedMessage
    from tests.conftest import SchemaKeepingClient

    providers.whatsapp.default = lambda seen: whatsapp_error(131026)
    providers.sms.default = lambda seen: Reply(400, {"error": "invalid"})
    providers.email.default = lambda seen: Reply(400, {"errors": [{"message": "bad address"}]})
    booking = book(now=NOW)
    tick(NOW)
    log = confirmation(booking)
    assert log.status == "ALL_CHANNELS_FAILED"

    manager = User.objects.create_user("manager-resend", password="pw", is_staff=True)
    manager.groups.add(Group.objects.get(name="manager"))
    client = SchemaKeepingClient(HTTP_HOST="alpha.localhost", keep=tenant)
    client.force_login(manager)
    listing = client.get("/admin/messaging/failedmessage/")
    assert listing.status_code == 200 and "guest.booking_confirmed" in listing.content.decode()

    providers.whatsapp.default = whatsapp_ok_default
    response = client.post("/admin/messaging/failedmessage/", {"action": "resend", "_selected_action": [log.pk]})
    assert response.status_code == 302
    log.refresh_from_db()
    assert (log.status, log.channel) == ("PENDING", "WHATSAPP")
    from django.utils import timezone

    tick(timezone.now() + dt.timedelta(seconds=1))  # the host re-sent it just now
    log.refresh_from_db()
    assert (log.status, log.channel) == ("SENT", "WHATSAPP")
    numbers = list(MessageAttempt.objects.filter(log=log, channel="WHATSAPP").values_list("number", flat=True))
    assert numbers == [1, 2]  # the timeline keeps the first round and numbers on
    assert not FailedMessage.objects.filter(pk=log.pk, status__in=["FAILED", "ALL_CHANNELS_FAILED"]).exists()
