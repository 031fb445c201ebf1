"""Database faults (issue #9): the worker's PostgreSQL connection is terminated (pg_terminate_backend, from
a second connection) in the middle of a delivery batch, after the provider accepted some messages whose
results were not recorded yet. The task fails; the worker's next task reconnects by itself (django-q2
closes unusable connections before each task, as here); the providers' status webhooks reconcile what
they accepted; nothing is lost, nothing is sent twice."""
import collections
import datetime as dt
import hashlib
import hmac
import json
import queue
import threading

import pytest
from django.db import connection, connections
from django.test import Client
from django_tenants.utils import schema_context

from messaging.models import CommunicationLog, MessageAttempt
from tests.messaging.fakes import whatsapp_ok
from tests.reliability.conftest import log_pk_of, request_key, seed_confirmations

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
BOOKINGS = 30
APP_SECRET = "db-faults-secret"


class Worker(threading.Thread):
    """One django-q2 worker: runs tasks one after another on its own connection, and before each task
    closes a connection that has become unusable (django_q.utils.close_old_django_connections)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.jobs: queue.Queue = queue.Queue()
        self.results: queue.Queue = queue.Queue()
        self.backend_pid = None

    def run(self) -> None:
        from django_q.utils import close_old_django_connections

        while (job := self.jobs.get()) is not None:
            close_old_django_connections()
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    self.backend_pid = cursor.fetchone()[0]
                self.results.put(job())
            except Exception as exc:  # the task fails, as a django-q2 task would; the worker lives on
                self.results.put(exc)
        connections.close_all()

    def task(self, job, timeout=120):
        self.jobs.put(job)
        return self.results.get(timeout=timeout)


def terminate(pid: int) -> None:
    """From a second connection (this thread's own), as an operator or a failover would."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    connection.close()


def whatsapp_report(provider_id: str, key: str, ts: dt.datetime) -> tuple[bytes, str]:
    status = {"id": provider_id, "status": "delivered", "timestamp": str(int(ts.timestamp())), "recipient_id": "0",
              "biz_opaque_callback_data": key}
    body = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "waba", "changes": [{"field": "messages",
            "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "1000001"}, "statuses": [status]}}]}]})
    return body.encode(), "sha256=" + hmac.new(APP_SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()


# No django_db mark on purpose: the rows must be committed for the worker's connection to see them.
@pytest.mark.parametrize("batch_size,kill_at", [(500, 25), (10, 15)])
def test_connection_terminated_mid_batch_the_next_task_recovers_nothing_lost_or_sent_twice(
        batch_size, kill_at, committed_schema, django_db_blocker, providers, settings):
    from messaging.tasks import run_tenant_tick

    settings.SCHEDULER_BATCH_SIZE = batch_size
    settings.WHATSAPP_APP_SECRET = APP_SECRET
    worker = Worker()
    accepted: collections.Counter = collections.Counter()
    reports: list[tuple[str, str]] = []

    committed_claims: list[int] = []

    def whatsapp(seen):
        reply = whatsapp_ok(seen)
        key = request_key("whatsapp", seen)
        with connection.cursor() as cursor:  # a second connection sees the claim: committed before the call
            cursor.execute(f'SELECT count(*) FROM "{committed_schema}".messaging_communicationlog WHERE send_key = %s', [key])
            committed_claims.append(cursor.fetchone()[0])
        connection.close()
        accepted[log_pk_of(key)] += 1
        reports.append((reply.body["messages"][0]["id"], key))
        if len(reports) == kill_at:
            terminate(worker.backend_pid)  # the provider has accepted; the worker has not recorded it yet
        return reply

    providers.whatsapp.default = whatsapp
    with django_db_blocker.unblock():
        seed_confirmations(committed_schema, BOOKINGS, NOW)
        worker.start()
        failed = worker.task(lambda: run_tenant_tick(committed_schema, NOW))
        assert isinstance(failed, Exception), failed  # the task died with its connection
        with schema_context(committed_schema):
            claimed = CommunicationLog.objects.exclude(send_key="").count()
            sent = CommunicationLog.objects.filter(status="SENT").count()
        assert claimed and sent and claimed + sent <= BOOKINGS  # mid-batch: some recorded, some not

        # The provider reports what it accepted, echoing each request's key, before the leases end.
        client = Client(HTTP_HOST="localhost")
        for provider_id, key in reports:
            body, signature = whatsapp_report(provider_id, key, NOW + dt.timedelta(seconds=30))
            response = client.post("/api/webhooks/whatsapp", body, content_type="application/json",
                                   HTTP_X_HUB_SIGNATURE_256=signature)
            assert response.status_code == 200
        connection.set_schema_to_public()

        after_lease = NOW + dt.timedelta(seconds=settings.DELIVERY_LEASE_SECONDS + 1)
        result = worker.task(lambda: run_tenant_tick(committed_schema, after_lease))
        assert isinstance(result, dict), result  # the same worker, reconnected
        worker.jobs.put(None)
        worker.join(timeout=30)
        with schema_context(committed_schema):
            logs = dict(CommunicationLog.objects.values_list("pk", "status"))
            expired = MessageAttempt.objects.filter(error_code="lease_expired").count()
            left = CommunicationLog.objects.exclude(send_key="").count()
    assert len(logs) == BOOKINGS
    assert set(logs.values()) <= {"SENT", "DELIVERED"}  # nothing lost, nothing pending
    assert {pk: accepted[pk] for pk in logs} == {pk: 1 for pk in logs}  # each accepted exactly once
    assert sum(accepted.values()) == BOOKINGS and not expired and not left
    assert committed_claims == [1] * BOOKINGS
