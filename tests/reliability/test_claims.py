"""The claim / send / record protocol of deliver_due (issue #9), in process with an explicit clock: a
claim is committed before the provider is called, a crash between the provider's acceptance and the record
leaves a lease that ends, and what happens then depends only on the evidence the provider sent."""
import datetime as dt

import pytest

from messaging import events as ev
from messaging.delivery import deliver_due
from messaging.models import CommunicationLog, MessageAttempt
from messaging.statuses import apply_provider_status
from tests.reliability.conftest import log_pk_of, request_key

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


class Crash(BaseException):
    """A SIGKILL stand-in: not an Exception, so nothing on the way up records or retries anything."""


@pytest.fixture
def crash_before_record(monkeypatch):
    """The worker dies after the provider answered, before the result is recorded."""
    def die(results, batch, now):
        if results:
            raise Crash()
    monkeypatch.setattr("messaging.delivery._record", die)
    return lambda: monkeypatch.undo()


@pytest.fixture
def claimed(book, tick, providers, settings, crash_before_record):
    """A booking confirmation accepted by WhatsApp whose worker died before recording it."""
    booking = book(now=NOW)
    with pytest.raises(Crash):
        tick(NOW)
    crash_before_record()
    log = CommunicationLog.objects.get(booking=booking, event_type=ev.GUEST_BOOKING_CONFIRMED)
    lease = dt.timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
    assert (log.status, log.claimed_until, log.next_attempt_at) == ("PENDING", NOW + lease, NOW + lease)
    assert log.send_key == request_key("whatsapp", providers.whatsapp.seen[0]) and log_pk_of(log.send_key) == log.pk
    return log


def test_each_request_carries_its_attempts_key_and_the_attempt_keeps_it(book, tick, providers):
    """(That the claim is committed before the provider is called is checked with real commits, from a
    second connection, in test_db_faults.)"""
    book(now=NOW)
    tick(NOW)
    log = CommunicationLog.objects.get(event_type=ev.GUEST_BOOKING_CONFIRMED)
    attempt = MessageAttempt.objects.get(log=log)
    assert attempt.send_key == request_key("whatsapp", providers.whatsapp.seen[0])
    assert log_pk_of(attempt.send_key) == log.pk
    assert (log.status, log.send_key, log.claimed_until, log.next_attempt_at) == ("SENT", "", None, None)


def test_a_claimed_row_is_not_due_again_before_its_lease_ends(claimed, tick, providers, settings):
    assert deliver_due(NOW + dt.timedelta(seconds=settings.DELIVERY_LEASE_SECONDS - 1)) == 0
    assert len(providers.whatsapp.seen) == 1


def test_an_expired_lease_with_the_providers_report_is_reconciled_not_sent_again(claimed, tick, providers, settings):
    key = claimed.send_key
    assert apply_provider_status("wamid.evidence", "DELIVERED", NOW + dt.timedelta(seconds=5), send_key=key)
    claimed.refresh_from_db()
    assert (claimed.status, claimed.provider_message_id, claimed.send_key, claimed.next_attempt_at) == (
        "DELIVERED", "wamid.evidence", "", None)
    tick(NOW + dt.timedelta(seconds=settings.DELIVERY_LEASE_SECONDS + 1))
    assert len(providers.whatsapp.seen) == 1
    attempt = MessageAttempt.objects.get(log=claimed)
    assert (attempt.status, attempt.send_key, attempt.provider_message_id) == ("SENT", key, "wamid.evidence")
    # A replay of the same report changes nothing.
    assert apply_provider_status("wamid.evidence", "DELIVERED", NOW + dt.timedelta(seconds=9), send_key=key)
    assert MessageAttempt.objects.filter(log=claimed).count() == 1


def test_an_expired_lease_without_evidence_is_sent_again_with_a_new_key(claimed, tick, providers, settings):
    old_key = claimed.send_key
    later = NOW + dt.timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
    tick(later)
    claimed.refresh_from_db()
    assert (claimed.channel, claimed.status, claimed.send_key) == ("WHATSAPP", "SENT", "")
    second = request_key("whatsapp", providers.whatsapp.seen[1])
    assert len(providers.whatsapp.seen) == 2 and second != old_key and log_pk_of(second) == claimed.pk
    attempts = list(MessageAttempt.objects.filter(log=claimed).values_list("number", "status", "error_code"))
    assert attempts == [(1, "FAILED", "lease_expired"), (2, "SENT", "")]
    # The lost claim was not a try of the §3.6 plan: WhatsApp keeps its three tries.
    assert claimed.attempt_count == 2
    # A report for the old key, arriving after the message went again, changes nothing.
    assert apply_provider_status("wamid.old", "DELIVERED", later, send_key=old_key) is False


def test_a_status_webhook_racing_the_worker_is_applied_once(book, tick, providers):
    """The provider's report arrives before the worker records the same send (webhooks are fast): the
    webhook records it; the worker's record finds the claim gone and leaves the row alone."""
    reported: list = []

    def whatsapp(seen):
        from tests.messaging.fakes import whatsapp_ok

        reply = whatsapp_ok(seen)
        reported.append((reply.body["messages"][0]["id"], request_key("whatsapp", seen)))
        return reply

    providers.whatsapp.default = whatsapp
    import messaging.delivery as delivery

    real_record = delivery._record

    def record_after_the_webhook(results, batch, now):
        for provider_id, key in reported:
            apply_provider_status(provider_id, "DELIVERED", now, send_key=key)
        real_record(results, batch, now)

    delivery._record = record_after_the_webhook
    try:
        booking = book(now=NOW)
        tick(NOW)
    finally:
        delivery._record = real_record
    log = CommunicationLog.objects.get(booking=booking, event_type=ev.GUEST_BOOKING_CONFIRMED)
    assert (log.status, log.send_key, log.provider_message_id) == ("DELIVERED", "", reported[0][0])
    assert list(MessageAttempt.objects.filter(log=log).values_list("status", flat=True)) == ["SENT"]


def test_a_batch_out_of_send_time_hands_the_rest_back_and_each_goes_once(book, tick, providers, monkeypatch):
    """Slow provider: the batch stops sending after its budget, hands the unsent claims back (due at once,
    no try counted) and the next round sends them; each message reaches the provider exactly once."""
    from tests.messaging.fakes import Reply, whatsapp_ok

    monkeypatch.setattr("messaging.delivery.SEND_BUDGET_SECONDS", 0.3)
    released: list[int] = []
    import messaging.delivery as delivery

    real_release = delivery._release
    monkeypatch.setattr(delivery, "_release", lambda logs, now: (released.append(len(logs)), real_release(logs, now)))

    def slow(seen):
        reply = whatsapp_ok(seen)
        return Reply(reply.status, reply.body, hang_seconds=0.35)  # under the 0.5 s client timeout

    providers.whatsapp.default = slow
    bookings = [book(now=NOW) for _ in range(3)]
    tick(NOW)
    logs = CommunicationLog.objects.filter(booking__in=bookings, event_type=ev.GUEST_BOOKING_CONFIRMED)
    assert released == [2, 1]
    assert sorted(logs.values_list("status", "send_key", "attempt_count")) == [("SENT", "", 1)] * 3
    keys = [log_pk_of(request_key("whatsapp", seen)) for seen in providers.whatsapp.seen]
    assert sorted(keys) == sorted(log.pk for log in logs)
