"""Provider faults (issue #9, §3.4/§3.6): providers that time out, answer 429 or 5xx, drop the connection,
or accept and never report a status. Every message ends SENT/DELIVERED on some channel, or
ALL_CHANNELS_FAILED with the host told; none is left PENDING. The clock is passed in, never slept."""
import collections
import datetime as dt
import random

import pytest

from messaging import events as ev
from messaging.models import CommunicationLog, LogStatus, MessageAttempt
from operations.models import HostNotification
from tests.messaging.fakes import Reply, sendgrid_ok, sms_ok, whatsapp_error, whatsapp_ok
from tests.reliability.conftest import log_pk_of, request_key

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
FINAL = {LogStatus.SENT, LogStatus.DELIVERED, LogStatus.READ, LogStatus.ALL_CHANNELS_FAILED}

HANG = Reply(200, {}, hang_seconds=1.5)  # longer than the clients' 0.5 s timeout
FAULTS = {
    "timeout": lambda: HANG,
    "429": lambda: whatsapp_error(130429, status=429, message="too many messages"),
    "5xx": lambda: whatsapp_error(2, status=503, message="service unavailable"),
    "dropped": lambda: Reply(drop=True),
}


def drive(tick, start: dt.datetime, rounds: int = 60) -> dt.datetime:
    """Tick at each moment something is next due, as the scheduler would, until nothing is."""
    moment = start
    for _ in range(rounds):
        tick(moment)
        due = CommunicationLog.objects.filter(next_attempt_at__isnull=False).order_by("next_attempt_at").first()
        if due is None:
            return moment
        moment = max(moment + dt.timedelta(seconds=1), due.next_attempt_at)
    raise AssertionError(f"still work due after {rounds} ticks")


def confirmations():
    return CommunicationLog.objects.filter(event_type=ev.GUEST_BOOKING_CONFIRMED)


@pytest.fixture(autouse=True)
def few_throttle_waits(monkeypatch):
    monkeypatch.setattr("messaging.delivery.MAX_THROTTLE_WAITS", 3)  # 20 in production; 3 keeps the test short


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_whatsapp_fault_ends_sent_once_on_sms(fault, book, tick, providers):
    providers.whatsapp.default = lambda seen: FAULTS[fault]()
    booking = book(now=NOW)
    drive(tick, NOW)
    log = confirmations().get(booking=booking)
    assert (log.channel, log.status, log.next_attempt_at) == ("SMS", "SENT", None)
    assert len(providers.sms.seen) == 1  # sent once on the fallback, not once per WhatsApp failure
    whatsapp = list(MessageAttempt.objects.filter(log=log, channel="WHATSAPP").values_list("error_code", flat=True))
    counted = [code for code in whatsapp if not code.startswith("throttle:")]
    assert len(counted) == 3  # §3.6: three WhatsApp tries; a throughput wait is not a try, until it is endless
    if fault == "429":
        assert whatsapp.count("throttle:130429") == 3 and set(counted) == {"130429"}
    else:
        assert set(counted) == {"network" if fault in ("timeout", "dropped") else "2"}


def test_every_channel_faulting_ends_all_channels_failed_and_the_host_is_told(book, tick, providers):
    providers.whatsapp.default = lambda seen: HANG
    providers.sms.default = lambda seen: Reply(503, {"error": "unavailable"})
    providers.email.default = lambda seen: Reply(drop=True)
    booking = book(now=NOW)
    drive(tick, NOW)
    log = confirmations().get(booking=booking)
    assert (log.channel, log.status, log.next_attempt_at) == ("EMAIL", "ALL_CHANNELS_FAILED", None)
    assert list(MessageAttempt.objects.filter(log=log).values_list("channel", "error_code")) == [
        ("WHATSAPP", "network")] * 3 + [("SMS", "http_503")] * 2 + [("EMAIL", "network")] * 3
    assert HostNotification.objects.filter(booking=booking, kind="ALL_CHANNELS_FAILED").count() == 1


def test_sms_gateway_429_is_a_wait_then_a_counted_failure(book, tick, providers):
    providers.whatsapp.default = lambda seen: whatsapp_error(131026)  # not on WhatsApp: SMS at once
    providers.sms.default = lambda seen: Reply(429, {"error": "slow down"})
    booking = book(now=NOW)
    drive(tick, NOW)
    log = confirmations().get(booking=booking)
    assert (log.channel, log.status) == ("EMAIL", "SENT")
    sms = list(MessageAttempt.objects.filter(log=log, channel="SMS").values_list("error_code", flat=True))
    assert sms.count("throttle:http_429") == 3 and sms.count("http_429") == 2


def test_accepted_but_never_reported_time_critical_message_also_goes_by_sms(book, tick, providers):
    """WhatsApp accepts the check-in instructions and never sends a status: SMS too, after the tenant's
    undelivered window; the other touchpoints are SENT (accepted) and stay so."""
    booking = book(now=NOW)
    drive(tick, NOW)
    due = dt.datetime(2026, 3, 14, 8, 30, tzinfo=UTC)
    drive(tick, due)
    instructions = CommunicationLog.objects.get(booking=booking, event_type=ev.GUEST_CHECKIN_INSTRUCTIONS)
    assert (instructions.channel, instructions.status, instructions.next_attempt_at) == ("SMS", "SENT", None)
    assert len(providers.sms.seen) == 1
    statuses = set(CommunicationLog.objects.filter(booking=booking).values_list("status", flat=True))
    assert statuses == {"SENT"} and not CommunicationLog.objects.filter(next_attempt_at__isnull=False).exists()


def test_random_faults_on_every_provider_nothing_lost_nothing_sent_twice_nothing_pending(book, tick, providers):
    """Forty messages; each request to any provider has a 40% chance of a fault (timeout, 429, 503,
    dropped connection). Accepted requests are counted per message from the key each one carries."""
    rng = random.Random(9)
    accepted: collections.Counter = collections.Counter()
    faults: collections.Counter = collections.Counter()

    def provider(channel, ok):
        def answer(seen):
            roll = rng.random()
            if roll < 0.4:
                kind = ("timeout", "429", "5xx", "dropped")[int(roll * 10)]
                faults[kind] += 1
                if kind == "429":
                    return Reply(429, {"error": "slow down"}) if channel != "whatsapp" else FAULTS["429"]()
                if kind == "5xx" and channel != "whatsapp":
                    return Reply(503, {"error": "unavailable"})
                return FAULTS[kind]()
            accepted[log_pk_of(request_key(channel, seen))] += 1
            return ok(seen)
        return answer

    providers.whatsapp.default = provider("whatsapp", whatsapp_ok)
    providers.sms.default = provider("sms", sms_ok)
    providers.email.default = provider("email", sendgrid_ok)
    bookings = [book(now=NOW) for _ in range(40)]
    drive(tick, NOW, rounds=200)
    logs = list(confirmations().filter(booking__in=bookings))
    assert len(logs) == 40 and set(faults) == {"timeout", "429", "5xx", "dropped"}
    assert {log.status for log in logs} <= FINAL  # none PENDING
    failed = {log.pk for log in logs if log.status == LogStatus.ALL_CHANNELS_FAILED}
    told = set(HostNotification.objects.filter(kind="ALL_CHANNELS_FAILED").values_list("dedupe_key", flat=True))
    assert {f"all-channels-failed:{pk}" for pk in failed} <= told
    for log in logs:
        expected = 0 if log.pk in failed else 1
        assert accepted[log.pk] == expected, (log.pk, log.status, accepted[log.pk])
    assert sum(accepted.values()) == 40 - len(failed)
    assert {log.channel for log in logs if log.pk not in failed} >= {"WHATSAPP", "SMS"}


def test_a_timed_out_request_the_provider_did_accept_is_reconciled_from_its_webhook_not_sent_again(book, tick, providers):
    """The client gave up waiting, but the provider had accepted: its status webhook echoes the request's
    key (WhatsApp biz_opaque_callback_data) and the message is recorded as sent; no retry goes out."""
    from messaging.statuses import apply_provider_status

    providers.whatsapp.script = [HANG]
    booking = book(now=NOW)
    tick(NOW)
    log = confirmations().get(booking=booking)
    assert (log.status, log.error_code, log.next_attempt_at) == ("PENDING", "network", NOW + dt.timedelta(minutes=15))
    key = request_key("whatsapp", providers.whatsapp.seen[0])
    assert log_pk_of(key) == log.pk
    assert apply_provider_status("wamid.late1", "DELIVERED", NOW + dt.timedelta(minutes=1), send_key=key)
    log.refresh_from_db()
    assert (log.channel, log.status, log.provider_message_id, log.next_attempt_at) == (
        "WHATSAPP", "DELIVERED", "wamid.late1", None)
    drive(tick, NOW + dt.timedelta(minutes=15))
    assert len(providers.whatsapp.seen) == 1 and not providers.sms.seen


def test_a_forged_or_foreign_key_changes_nothing(book, tick, providers):
    from messaging.statuses import apply_provider_status

    booking = book(now=NOW)
    tick(NOW)
    log = confirmations().get(booking=booking)
    for key in ("", "nonsense", f"ag1.nosuchschema.{log.pk}.abcd", f"ag1.alpha.{log.pk}.ffffffff", "ag1.alpha.x.y",
                f"ag1.public.{log.pk}.abcd", f"ag1.beta.{log.pk}.abcd", "ag1.alpha'; --.1.a"):
        assert apply_provider_status("wamid.forged", "DELIVERED", NOW, send_key=key) is False
    log.refresh_from_db()
    assert (log.status, log.delivered_at) == ("SENT", None)
