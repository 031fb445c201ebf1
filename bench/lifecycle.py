"""Lifecycle engine benchmark: 10,000 bookings across 10 tenants, end to end through the sandbox channel.

    .venv/bin/python bench/lifecycle.py            # or: make bench-lifecycle
    .venv/bin/python bench/lifecycle.py --bookings 2000 --tenants 4 --stream-seconds 20   # a quicker run

Three phases, each with two worker processes (the machine has 2 cores), each worker owning half the tenants:
  1. schedule: confirm every booking through bookings.services and dispatch the outbox, which creates each
     booking's AutomationSchedule rows (and sends nothing yet)      -> bookings_per_s
  2. deliver: advance the clock past every pre-arrival touchpoint and run the lifecycle tick until nothing is
     due: publish → outbox → CommunicationLog → render → sandbox → SENT   -> messages_per_s, queries_per_message
  3. stream: touchpoints coming due in real time at --stream-rate per second for --stream-seconds, the
     workers ticking every --poll seconds; lateness = when the message was recorded − when it was due
                                                                    -> p99_lateness_s
Runs in its own database (`atlas_bench` on the embedded server, or DATABASE_URL), dropped tenants first.
The last line is JSON with bookings_per_s, messages_per_s, p99_lateness_s, queries_per_message.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atlas_guest.settings")
os.environ.setdefault("ATLAS_EMBEDDED_DB", "atlas_bench")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 1, 6, 30, tzinfo=UTC)  # 12:00 IST: confirmations go out inside the window
CHECKIN = dt.date(2026, 3, 14)
T1 = dt.datetime(2026, 3, 13, 9, 0, tzinfo=UTC)  # 14:30 IST the day before check-in: every pre-arrival touchpoint is due
PREFIX = "bench_"


def say(text: str) -> None:
    print(text, flush=True)


class QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def setup(tenants: int, bookings: int) -> list[str]:
    from tenants.models import Tenant, TenantGuestExperienceConfig
    from tenants.services import create_tenant

    say("setup: migrating the public schema")
    call_command("migrate_schemas", "--shared", verbosity=0)
    for old in Tenant.objects.filter(schema_name__startswith=PREFIX):
        old.delete(force_drop=True)
    schemas = []
    for n in range(tenants):
        tenant = create_tenant(slug=f"{PREFIX}{n}".replace("_", "-"), name=f"Bench Homestays {n}", coupon_prefix="BENCH")
        schemas.append(tenant.schema_name)
        say(f"setup: tenant {n + 1}/{tenants} created")
    # Messages may go out at any hour in the stream phase.
    TenantGuestExperienceConfig.objects.filter(tenant__schema_name__startswith=PREFIX).update(
        quiet_hours_end=dt.time(0, 0), quiet_hours_start=dt.time(23, 59, 59)
    )
    per_tenant = bookings // tenants
    for schema in schemas:
        with schema_context(schema):
            _seed_tenant(per_tenant)
    say(f"setup: {len(schemas)} tenants with listings and {per_tenant} guests each")
    return schemas


def _seed_tenant(guests: int) -> None:
    from bookings.models import Listing, ListingAccessInfo, Property
    from guests.models import Guest

    prop = Property.objects.create(name="Bench Villa", address="1 MG Road, Bengaluru", contact_phone="+919876500000")
    listings = Listing.objects.bulk_create(
        [Listing(property=prop, name=f"Room {n}", wifi_name="Bench", wifi_password="pass") for n in range(20)]
    )
    ListingAccessInfo.objects.bulk_create([ListingAccessInfo(listing=l, access_code="1234", map_url="https://maps.example.com/bench") for l in listings])
    Guest.objects.bulk_create(
        [Guest(name=f"Guest {n}", phone=f"+9198765{n % 100000:05d}", email=f"g{n}@example.com") for n in range(guests)]
    )


def _each_tenant(schemas, work):
    """Run `work(schema)` for each schema in this worker, counting queries."""
    counter = QueryCounter()
    connections.close_all()
    with connection.execute_wrapper(counter):
        result = [work(schema) for schema in schemas]
    connections.close_all()
    return counter.count, result


def _schedule_worker(schemas):
    import messaging.tasks
    from bookings.models import Listing
    from bookings.services import create_booking
    from guests.models import Guest
    from messaging.outbox import dispatch_outbox

    messaging.tasks.request_tick = lambda schema: None  # the bench drives the ticks itself

    def work(schema):
        with schema_context(schema):
            listings = list(Listing.objects.all())
            for n, guest in enumerate(Guest.objects.order_by("pk")):
                create_booking(
                    guest=guest, listing=listings[n % len(listings)], checkin_date=CHECKIN,
                    checkout_date=CHECKIN + dt.timedelta(days=2 + n % 4), guests_planned=1 + n % 3,
                    total_amount=4000 + (n % 7) * 500, now=T0,
                )
            while dispatch_outbox(T0, 500)[0]:
                pass

    return _each_tenant(schemas, work)


def _tick_worker(schemas, now=None):
    import messaging.tasks
    from messaging.tasks import run_tenant_tick

    messaging.tasks.request_tick = lambda schema: None

    def work(schema):
        return run_tenant_tick(schema, now, budget_s=3600)["delivered"]

    return _each_tenant(schemas, work)


def _stream_left(schemas) -> int:
    from messaging.models import AutomationSchedule

    left = 0
    for schema in schemas:
        with schema_context(schema):
            left += AutomationSchedule.objects.filter(event_type="guest.issue_resolved", status="Pending").count()
    return left


def _stream_worker(schemas, until: float, poll: float):
    """Tick every `poll` seconds until the stream's window is over and all of it went out (at most 120 s more)."""
    import messaging.tasks
    from messaging.tasks import run_tenant_tick

    messaging.tasks.request_tick = lambda schema: None
    counter = QueryCounter()
    connections.close_all()
    delivered = 0
    with connection.execute_wrapper(counter):
        while time.time() < until or (_stream_left(schemas) and time.time() < until + 120):
            started = time.time()
            for schema in schemas:
                delivered += run_tenant_tick(schema, None, budget_s=3600)["delivered"]
            time.sleep(max(0.0, poll - (time.time() - started)))
    connections.close_all()
    return counter.count, delivered


def in_two(pool, func, halves, *args):
    results = pool.starmap(func, [(half, *args) for half in halves])
    return sum(q for q, _ in results), [r for _, r in results]


def count_sent(schemas) -> int:
    from messaging.models import CommunicationLog

    total = 0
    for schema in schemas:
        with schema_context(schema):
            total += CommunicationLog.objects.filter(status="SENT").count()
    return total


def queue_stream(schemas, rate: float, seconds: float) -> tuple[float, int]:
    """Touchpoints due uniformly over the next `seconds`, `rate` per second in all, spread over tenants.
    What phases 1–2 left pending (dated March 2026) is cancelled first, so only the stream comes due."""
    from bookings.models import Booking
    from messaging.models import AutomationSchedule

    total = int(rate * seconds)
    per_tenant = total // len(schemas)
    start = time.time() + 2.0
    for schema in schemas:
        with schema_context(schema):
            AutomationSchedule.objects.filter(status="Pending").update(status="Cancelled", reason="bench: end of phase 2")
            bookings = list(Booking.objects.values_list("pk", flat=True))
            AutomationSchedule.objects.bulk_create(
                [
                    AutomationSchedule(
                        booking_id=bookings[n % len(bookings)],
                        event_type="guest.issue_resolved",
                        sequence=100 + n,
                        due_at=dt.datetime.fromtimestamp(start + seconds * n / per_tenant, UTC),
                        idempotency_key=f"{bookings[n % len(bookings)]}:guest.issue_resolved:{100 + n}",
                        payload={"variables": {"category": "WiFi"}},
                    )
                    for n in range(per_tenant)
                ]
            )
    return start, per_tenant * len(schemas)


def lateness(schemas) -> list[float]:
    from messaging.models import AutomationSchedule, SandboxMessage

    values: list[float] = []
    for schema in schemas:
        with schema_context(schema):
            due = dict(
                AutomationSchedule.objects.filter(event_type="guest.issue_resolved").values_list("idempotency_key", "due_at")
            )
            for key, created in SandboxMessage.objects.filter(event_type="guest.issue_resolved").values_list(
                "log__idempotency_key", "created_at"
            ):
                values.append((created - due[key]).total_seconds())
    return sorted(values)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bookings", type=int, default=10_000)
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--stream-rate", type=float, default=200.0, help="touchpoints coming due per second")
    parser.add_argument("--stream-seconds", type=float, default=30.0)
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between a worker's ticks in the stream")
    args = parser.parse_args()

    schemas = setup(args.tenants, args.bookings)
    halves = [schemas[0::2], schemas[1::2]]
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        say(f"phase 1: confirming {args.bookings} bookings and creating their schedules (2 workers)")
        started = time.perf_counter()
        in_two(pool, _schedule_worker, halves)
        schedule_s = time.perf_counter() - started
        bookings_per_s = args.bookings / schedule_s
        say(f"phase 1: {args.bookings} bookings scheduled in {schedule_s:.1f} s = {bookings_per_s:.0f} bookings/s")

        say("phase 2: advancing the clock past every pre-arrival touchpoint and delivering (2 workers)")
        started = time.perf_counter()
        queries, _ = in_two(pool, _tick_worker, halves, T0)  # the confirmations
        queries2, _ = in_two(pool, _tick_worker, halves, T1)
        deliver_s = time.perf_counter() - started
        sent = count_sent(schemas)
        messages_per_s = sent / deliver_s
        queries_per_message = (queries + queries2) / max(sent, 1)
        say(f"phase 2: {sent} messages sent in {deliver_s:.1f} s = {messages_per_s:.0f} messages/s, "
            f"{queries_per_message:.3f} SQL queries per message")

        say(f"phase 3: {args.stream_rate:.0f} touchpoints/s coming due for {args.stream_seconds:.0f} s, "
            f"ticks every {args.poll} s")
        start, streamed = queue_stream(schemas, args.stream_rate, args.stream_seconds)
        in_two(pool, _stream_worker, halves, start + args.stream_seconds, args.poll)
    late = lateness(schemas)
    p50, p99 = percentile(late, 50), percentile(late, 99)
    say(f"phase 3: {len(late)}/{streamed} delivered; lateness p50 {p50:.2f} s, p99 {p99:.2f} s")

    figures = {
        "bookings_per_s": round(bookings_per_s, 1),
        "messages_per_s": round(messages_per_s, 1),
        "p99_lateness_s": round(p99, 3),
        "queries_per_message": round(queries_per_message, 4),
        "messages": sent,
        "bookings": args.bookings,
        "tenants": args.tenants,
    }
    say("reproduce: .venv/bin/python bench/lifecycle.py " + " ".join(sys.argv[1:]))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
