"""The transactional outbox (RA-GUEST-001 §9.1): events are written with the change they report and handled
at least once by the dispatcher, in batches locked with SKIP LOCKED so workers never share a row."""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable

from django.db import transaction
from django.utils import timezone

from atlas_guest.sql import bulk_update_rows
from messaging.models import OutboxMessage, OutboxStatus
from messaging.wakeups import collecting, note_due

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # §9.1: the scheduler's "max 5 attempts"; then the row is DEAD and shown in the admin
BACKOFF_SECONDS = (30, 120, 600, 1800)  # after attempt 1, 2, 3, 4

# event type -> handler(rows, now) -> earliest due time of work it created (or None). Handlers must be
# idempotent: the outbox delivers at least once.
Handler = Callable[[list[OutboxMessage], dt.datetime], "dt.datetime | None"]
_handlers: dict[str, Handler] = {}
_batch_handlers: dict[str, Handler] = {}


def handles(*event_types: str, batch: bool = False):
    """Register a handler. A batch handler gets all rows of its event types in a batch at once."""

    def register(func: Handler) -> Handler:
        for event_type in event_types:
            (_batch_handlers if batch else _handlers)[event_type] = func
        return func

    return register


def publish(event_type: str, *, booking=None, payload: dict | None = None, now: dt.datetime | None = None) -> OutboxMessage:
    """Write an event. Call inside the transaction of the change it reports."""
    message = OutboxMessage.objects.create(
        event_type=event_type, booking=booking, payload=payload or {}, available_at=now or timezone.now()
    )
    return message


def publish_many(rows: Iterable[OutboxMessage]) -> list[OutboxMessage]:
    return OutboxMessage.objects.bulk_create(list(rows))


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1])


def dispatch_outbox(now: dt.datetime | None = None, batch_size: int = 500) -> tuple[int, dt.datetime | None]:
    """Handle one batch of due events in the current tenant schema.

    Returns (rows handled, earliest due time of work the handlers created). One failing event does not
    hold back the others: each handler runs in a savepoint, and a failure only delays its own rows.
    """
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(status=OutboxStatus.PENDING, available_at__lte=now)
            .order_by("available_at", "id")[:batch_size]
        )
        if not rows:
            return 0, None
        done: list[int] = []
        with collecting() as noted:
            earliest = _handle_groups(rows, now, done)
        OutboxMessage.objects.filter(pk__in=done).update(status=OutboxStatus.DONE, processed_at=now)
        candidates = [t for t in [earliest, *noted] if t is not None]
        if candidates:
            earliest = min(candidates)
            note_due(earliest, now)  # last, so the wake-up row is always the last lock taken
    return len(rows), earliest


def _handle_groups(rows: list[OutboxMessage], now: dt.datetime, done: list[int]) -> dt.datetime | None:
    earliest: dt.datetime | None = None
    for group in _groups(rows):
        handler = _batch_handlers.get(group[0].event_type) or _handlers.get(group[0].event_type)
        try:
            with transaction.atomic():
                due = handler(group, now) if handler else None
        except Exception as exc:  # a bug or a bad row: retry later, then give up visibly
            logger.exception("outbox handler for %s failed", group[0].event_type)
            _record_failure(group, exc, now)
            continue
        if handler is None:
            logger.warning("no handler for outbox event %s; marking done", group[0].event_type)
        done.extend(row.pk for row in group)
        if due is not None and (earliest is None or due < earliest):
            earliest = due
    return earliest


def _groups(rows: list[OutboxMessage]) -> list[list[OutboxMessage]]:
    """Batch-handled event types together (one group per type); every other row alone, in order."""
    groups: list[list[OutboxMessage]] = []
    batched: dict[str, list[OutboxMessage]] = {}
    for row in rows:
        if row.event_type in _batch_handlers:
            if row.event_type not in batched:
                batched[row.event_type] = []
                groups.append(batched[row.event_type])
            batched[row.event_type].append(row)
        else:
            groups.append([row])
    return groups


def _record_failure(rows: list[OutboxMessage], exc: Exception, now: dt.datetime) -> None:
    for row in rows:
        row.attempts += 1
        row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if row.attempts >= MAX_ATTEMPTS:
            row.status = OutboxStatus.DEAD
        else:
            row.available_at = now + _backoff(row.attempts)
    bulk_update_rows(OutboxMessage, rows, ["attempts", "last_error", "status", "available_at"])
