"""The public index of when each tenant next has lifecycle work (tenants.TenantWorkIndex).

Correctness rests on one lock: a writer lowers the tenant's `next_due_at` inside the transaction that adds
the due row, and the tick recomputes it while holding the same row lock. Whichever order they run in, the
recompute either sees the new row or runs after the writer's lower bound landed, so no work is forgotten.
"""
from __future__ import annotations

import datetime as dt
import threading
from contextlib import contextmanager

from django.db import connection, transaction
from django.utils import timezone

_local = threading.local()

_LOWER = """
WITH old AS (
    SELECT w.tenant_id, w.next_due_at FROM public.tenants_tenantworkindex w
    JOIN public.tenants_tenant t ON t.id = w.tenant_id
    WHERE t.schema_name = %(schema)s FOR UPDATE OF w
)
UPDATE public.tenants_tenantworkindex w
SET next_due_at = LEAST(COALESCE(old.next_due_at, %(at)s), %(at)s), updated_at = now()
FROM old WHERE w.tenant_id = old.tenant_id
RETURNING old.next_due_at
"""

_NEXT_DUE = """
SELECT LEAST(
    (SELECT MIN(due_at) FROM messaging_automationschedule WHERE status = 'Pending'),
    (SELECT MIN(available_at) FROM messaging_outboxmessage WHERE status = 'PENDING'),
    (SELECT MIN(next_attempt_at) FROM messaging_communicationlog WHERE next_attempt_at IS NOT NULL)
)
"""


def note_due(at: dt.datetime, now: dt.datetime | None = None) -> None:
    """Tell the scheduler this tenant has work at `at`. Call inside the transaction that wrote the work.
    When the work is due already, a tick is requested once the transaction commits."""
    now = now or timezone.now()
    collected = getattr(_local, "collected", None)
    if collected is not None:
        collected.append(at)  # inside the dispatcher: it notes the earliest once, as its last lock
        return
    schema = connection.schema_name
    with connection.cursor() as cursor:
        cursor.execute(_LOWER, {"schema": schema, "at": at})
        row = cursor.fetchone()
    if row is None:
        return  # a tenant without an index row (public schema): nothing polls it
    previous = row[0]
    became_due = at <= now and (previous is None or previous > now)
    if became_due:
        from messaging.tasks import request_tick

        transaction.on_commit(lambda: request_tick(schema))


@contextmanager
def collecting():
    """Gather the due times noted inside the block instead of writing each; the caller writes the earliest
    with `note_due` at the end of its transaction, keeping the wake-up row the last lock it takes."""
    previous = getattr(_local, "collected", None)
    _local.collected = collected = []
    try:
        yield collected
    finally:
        _local.collected = previous


def recompute_next_due() -> dt.datetime | None:
    """Set the current tenant's next due time from its tables; returns it."""
    schema = connection.schema_name
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT w.tenant_id FROM public.tenants_tenantworkindex w JOIN public.tenants_tenant t "
            "ON t.id = w.tenant_id WHERE t.schema_name = %s FOR UPDATE OF w",
            [schema],
        )
        row = cursor.fetchone()
        if row is None:
            return None
        cursor.execute(_NEXT_DUE)
        next_due = cursor.fetchone()[0]
        cursor.execute(
            "UPDATE public.tenants_tenantworkindex SET next_due_at = %s, updated_at = now() WHERE tenant_id = %s",
            [next_due, row[0]],
        )
    return next_due


def due_schemas(now: dt.datetime | None = None) -> list[str]:
    """Schemas with work due now: one query, whatever the number of tenants."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.schema_name FROM public.tenants_tenantworkindex w JOIN public.tenants_tenant t "
            "ON t.id = w.tenant_id WHERE w.next_due_at <= %s ORDER BY w.next_due_at",
            [now or timezone.now()],
        )
        return [schema for (schema,) in cursor.fetchall()]
