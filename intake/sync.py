"""Reading the due calendar links of the current tenant: one tick handles every feed that is due, so 1,000
listings are one task, not 1,000 schedules.

A tick claims a batch of due feeds in a short transaction (SKIP LOCKED; each claimed feed's next read moves a
lease ahead, so a second worker skips it), fetches and parses them on a few threads (network and parsing only,
no database), then records each read in its own transaction holding the feed's row lock: the reconciliation
lands whole or not at all. A worker killed mid-tick leaves its feeds to be read again when the lease ends.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from intake import fetch as fetching
from intake.errors import FeedError
from intake.ical import ParsedCalendar, parse_calendar
from intake.models import CalendarFeed
from intake.reconcile import reconcile, reconcile_unchanged
from operations.models import HostNotification, NotificationKind

logger = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=5)  # longer than a batch's reads take (timeouts included)
ALERT_AFTER_FAILURES = 3
BATCH_SIZE = 200
TICK_BUDGET_S = 45.0


@dataclass
class Read:
    """What the network and the parser made of one feed (no database)."""

    feed: CalendarFeed
    fetched: fetching.Fetched | None = None
    parsed: ParsedCalendar | None = None
    error: str = ""


@dataclass
class Totals:
    feeds: int = 0
    failed: int = 0
    not_modified: int = 0
    created: int = 0
    moved: int = 0
    cancelled: int = 0


def poll_interval() -> dt.timedelta:
    from messaging.scheduler import current_config

    return dt.timedelta(minutes=current_config().calendar_poll_minutes)


def claim_due_feeds(now: dt.datetime, limit: int = BATCH_SIZE) -> list[CalendarFeed]:
    with transaction.atomic():
        feeds = list(
            CalendarFeed.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(is_active=True, next_fetch_at__lte=now)
            .select_related("listing__property")
            .order_by("next_fetch_at", "id")[:limit]
        )
        if feeds:
            CalendarFeed.objects.filter(pk__in=[f.pk for f in feeds]).update(next_fetch_at=now + LEASE)
    return feeds


def read_feed(client, feed: CalendarFeed) -> Read:
    """Fetch and parse one feed. Runs on a worker thread: no database here."""
    try:
        fetched = fetching.fetch(client, feed.url, source=feed.source, etag=feed.etag, last_modified=feed.last_modified)
        parsed = None
        if not fetched.not_modified:
            parsed = parse_calendar(fetched.body, feed.listing.property.tz,
                                    unavailable_is_reservation=feed.unavailable_is_reservation)
        return Read(feed, fetched, parsed)
    except FeedError as exc:
        return Read(feed, error=exc.message)
    except Exception:  # a bug must cost one feed's read, not the tick
        logger.exception("reading calendar feed %s failed", feed.pk)
        return Read(feed, error="The calendar could not be read (an error on our side; we have been told).")


def sync_due_feeds(now: dt.datetime | None = None, *, budget_s: float = TICK_BUDGET_S,
                   batch_size: int = BATCH_SIZE) -> Totals:
    """Read every due feed of the current tenant; `now` fixed for the whole tick when given (tests)."""
    started = time.monotonic()
    totals = Totals()
    interval = poll_interval()
    with fetching.new_client() as client, ThreadPoolExecutor(settings.CALENDAR_FEED_FETCH_THREADS) as pool:
        while True:
            moment = now or timezone.now()
            feeds = claim_due_feeds(moment, batch_size)
            if not feeds:
                break
            # Results come back in claim order; each is recorded as soon as it and those before it are read.
            for read in pool.map(lambda feed: read_feed(client, feed), feeds):
                record_read(read, now or timezone.now(), totals, interval=interval)
            if time.monotonic() - started > budget_s:
                break
    recompute_feed_due()
    return totals


def record_read(read: Read, now: dt.datetime, totals: Totals | None = None, *,
                interval: dt.timedelta | None = None) -> CalendarFeed | None:
    """One feed's read, in one transaction under its row lock: the reconciliation and the feed's state.
    None when the feed was deleted while it was being read."""
    totals = totals if totals is not None else Totals()
    totals.feeds += 1
    interval = interval or poll_interval()
    with transaction.atomic():
        try:
            feed = CalendarFeed.objects.select_for_update(of=("self",)).select_related("listing__property").get(
                pk=read.feed.pk)
        except CalendarFeed.DoesNotExist:
            return None
        feed.last_fetch_at, feed.next_fetch_at = now, now + interval
        error = read.error
        if not error:
            try:
                with transaction.atomic():  # a failed reconciliation leaves nothing half-written
                    outcome = (reconcile(feed, read.parsed, now) if read.parsed is not None
                               else reconcile_unchanged(feed, now))
            except Exception:
                logger.exception("reconciling calendar feed %s failed", feed.pk)
                error = "The calendar was read but could not be applied (an error on our side; we have been told)."
            else:
                _applied(feed, read, outcome, totals)
        if error:
            _failed(feed, error, now)
            totals.failed += 1
        else:
            feed.last_success_at, feed.last_error, feed.consecutive_failures = now, "", 0
        feed.save()
    return feed


def _applied(feed: CalendarFeed, read: Read, outcome, totals: Totals) -> None:
    if read.parsed is None:  # 304: the counts stand; only what this read changed is news
        totals.not_modified += 1
        feed.last_warnings = outcome.problems or feed.last_warnings
    else:
        feed.reservations_count, feed.blocks_count = outcome.reservations, outcome.blocks
        feed.last_warnings = outcome.problems
        feed.etag, feed.last_modified = read.fetched.etag[:500], read.fetched.last_modified[:100]
    totals.created += outcome.created
    totals.moved += outcome.moved
    totals.cancelled += outcome.cancelled


def _failed(feed: CalendarFeed, error: str, now: dt.datetime) -> None:
    feed.last_error = error[:500]
    feed.consecutive_failures += 1
    if feed.consecutive_failures == ALERT_AFTER_FAILURES:
        since = (feed.last_success_at or feed.created_at).isoformat(timespec="minutes")
        HostNotification.objects.get_or_create(
            dedupe_key=f"calendar-failing:{feed.pk}:{since}"[:120],
            defaults={"kind": NotificationKind.CALENDAR_FAILING, "created_at": now,
                      "title": f"The {feed.get_source_display()} calendar of {feed.listing.name} failed 3 times: "
                               f"{error}"[:200]},
        )


# --- the public index of when each tenant's next feed is due ------------------------------------------------------

_LOCK_INDEX = """
INSERT INTO public.tenants_tenantfeedindex (tenant_id, next_poll_at, updated_at)
SELECT t.id, NULL, now() FROM public.tenants_tenant t WHERE t.schema_name = %s
ON CONFLICT (tenant_id) DO UPDATE SET updated_at = now()
RETURNING tenant_id, next_poll_at
"""


def note_feed_due(at: dt.datetime) -> None:
    """Tell the feed poll this tenant has a feed due at `at` (a feed added, switched on or asked to read now)."""
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_INDEX, [connection.schema_name])
        row = cursor.fetchone()
        if row is None:
            return
        cursor.execute("UPDATE public.tenants_tenantfeedindex SET next_poll_at = LEAST(COALESCE(next_poll_at, %s), %s) "
                       "WHERE tenant_id = %s", [at, at, row[0]])


def recompute_feed_due() -> dt.datetime | None:
    """Set this tenant's next feed time from its feeds, under the index row's lock (a concurrent note waits)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_LOCK_INDEX, [connection.schema_name])
        row = cursor.fetchone()
        if row is None:
            return None
        cursor.execute("SELECT MIN(next_fetch_at) FROM intake_calendarfeed WHERE is_active")
        next_due = cursor.fetchone()[0]
        cursor.execute("UPDATE public.tenants_tenantfeedindex SET next_poll_at = %s WHERE tenant_id = %s",
                       [next_due, row[0]])
    return next_due


def due_feed_schemas(now: dt.datetime | None = None) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.schema_name FROM public.tenants_tenantfeedindex i JOIN public.tenants_tenant t "
            "ON t.id = i.tenant_id WHERE i.next_poll_at <= %s ORDER BY i.next_poll_at",
            [now or timezone.now()],
        )
        return [schema for (schema,) in cursor.fetchall()]
