"""Two dispatcher workers over the same due rows, on real PostgreSQL with committed data: every message is
sent exactly once (SKIP LOCKED batches + unique idempotency keys), none is lost."""
import datetime as dt
import threading
from collections import Counter

import pytest
from django.db import connection, connections
from django_tenants.utils import schema_context

from messaging.models import AutomationSchedule, CommunicationLog, MessageAttempt, SandboxMessage
from messaging.tasks import run_tenant_tick

UTC = dt.timezone.utc
SCHEMA = "race"
BOOKINGS = 120


@pytest.fixture
def committed_tenant(django_db_setup, django_db_blocker, monkeypatch):
    """A tenant whose rows are really committed, so other connections (the workers) see them."""
    from bookings.services import create_booking
    from tenants.models import Tenant
    from tenants.services import create_tenant
    from tests.factories import make_access_info, make_guest, make_listing

    monkeypatch.setattr("messaging.tasks.request_tick", lambda schema: None)
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        if Tenant.objects.filter(schema_name=SCHEMA).exists():  # left by an interrupted run
            Tenant.objects.get(schema_name=SCHEMA).delete(force_drop=True)
        tenant = create_tenant(slug=SCHEMA, name="Race Homestays")
        with schema_context(SCHEMA):
            listings = [make_listing() for _ in range(4)]
            for listing in listings:
                make_access_info(listing)
            for n in range(BOOKINGS):
                create_booking(
                    guest=make_guest(), listing=listings[n % 4], checkin_date=dt.date(2026, 3, 15) + dt.timedelta(days=n % 5),
                    checkout_date=dt.date(2026, 3, 20) + dt.timedelta(days=n % 5), total_amount=5000,
                    now=dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC),
                )
        yield tenant
        connection.set_schema_to_public()
        Tenant.objects.get(schema_name=SCHEMA).delete(force_drop=True)


def _two_workers(now: dt.datetime) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker():
        try:
            start.wait()
            run_tenant_tick(SCHEMA, now)
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors


# No django_db mark on purpose: the test's rows must be committed for the workers' connections to see them.
def test_two_workers_send_each_message_exactly_once(committed_tenant, django_db_blocker, settings):
    settings.SCHEDULER_BATCH_SIZE = 25  # small batches so the two workers interleave
    settings.OUTBOX_BATCH_SIZE = 25
    with django_db_blocker.unblock():
        _two_workers(dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC))  # confirmations
        _two_workers(dt.datetime(2026, 3, 16, 9, 0, tzinfo=UTC))  # the whole pre-arrival sequence, at once

    with django_db_blocker.unblock(), schema_context(SCHEMA):
        logs = list(CommunicationLog.objects.values_list("pk", "status"))
        per_log = Counter(SandboxMessage.objects.values_list("log_id", flat=True))
        attempts = MessageAttempt.objects.count()
        published = set(
            AutomationSchedule.objects.filter(status="Published").exclude(recipient="SYSTEM").values_list("idempotency_key", flat=True)
        )
        logged = set(CommunicationLog.objects.values_list("idempotency_key", flat=True))
        still_due = AutomationSchedule.objects.filter(status="Pending", due_at__lte=dt.datetime(2026, 3, 16, 9, 0, tzinfo=UTC))
        assert not still_due.exists()
    assert len(published) > BOOKINGS * 4  # confirmation, welcome, payment, rules, instructions... for most
    assert published == logged  # every published touchpoint became exactly one message
    assert {status for _, status in logs} == {"SENT"}  # none lost
    assert set(per_log) == {pk for pk, _ in logs}
    assert max(per_log.values()) == 1  # none twice
    assert attempts == len(logs)
