"""Load (issue #9 item 4): the guest portal and the staff API under sustained concurrent load on loopback,
for a bounded time, while the scheduler publishes and delivers. Zero 5xx is the bar: the exit status is 1
otherwise (or when a message is lost, sent twice or left stuck).

    .venv/bin/python bench/load.py                          # 20 clients for 60 s against 2 gunicorn workers
    .venv/bin/python bench/load.py --clients 20 --seconds 60 --workers 2 --stays 300

The app runs as `manage.py serve` runs it: gunicorn (on 127.0.0.1 here) and a django-q2 cluster (`qcluster`),
on its own database (DATABASE_URL, or `atlas_load` on the embedded server) with the demo host Sunset Stays
(seed_demo, once) and an annex of `--stays` guests in their stay, each with a portal link (60 requests per
link per hour, NFR 7: the load is spread over them; this run's hour windows are cleared first).

Clients are threads with one httpx client each. Each request picks a family: the portal page
(`/guest/<token>` on sunset.localhost), the staff API (token auth: bookings list with filters, booking detail,
guests list and search, metrics). Meanwhile a publisher books stays through the API and brings pending
touchpoints forward to now (as their time arriving would), so the cluster publishes and delivers throughout.
After the run it waits (bounded, `--grace`) for that work to reach a final state, then counts what was lost
(a touchpoint brought forward but never published), duplicated (a message sent twice on a channel) and stuck
(a message written in this run and still pending with no retry planned). Progress lines every 10 s; the last line is JSON; bench/results/load.json and RELIABILITY.md.
"""
from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atlas_guest.settings")
os.environ.setdefault("ATLAS_EMBEDDED_DB", "atlas_load")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from atlas_guest.db import ensure_database  # noqa: E402

ensure_database()  # on DATABASE_URL's server, as the embedded one makes its own

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from bench.portal import percentile, say  # noqa: E402  (the portal bench's pieces)
from bench.reliability_report import save_results  # noqa: E402
from tests.portal.live import free_port, gunicorn  # noqa: E402  (the one way the suite starts the web server)

SCHEMA = "sunset"  # tenants/demo.py: DEMO_SLUG
HOST = f"{SCHEMA}.localhost"
ANNEX = "Load Test Annex"
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
FAMILIES = (  # (name, weight): a front desk's screens refresh often, guests open their link more often still
    ("portal page", 50), ("API bookings list", 15), ("API booking detail", 15), ("API guests", 10), ("API metrics", 10),
)


# --- set-up ------------------------------------------------------------------------------------------------------


def setup(stays: int) -> dict:
    """The demo tenant (seeded once), the annex of guests in their stay, an API token; returns what the
    clients need: portal tokens, booking ids, guest ids and listing ids, the API key."""
    from tenants.models import Tenant

    import messaging.tasks

    say("setup: migrating")
    call_command("migrate_schemas", verbosity=0)
    if not Tenant.objects.filter(schema_name=SCHEMA).exists():
        say("setup: seeding the demo host (manage.py seed_demo)")
        call_command("seed_demo", stdout=open(os.devnull, "w"))
    connection.set_schema_to_public()
    real_tick = messaging.tasks.request_tick
    messaging.tasks.request_tick = lambda schema: None  # the annex's confirmations are published by the cluster
    try:
        with schema_context(SCHEMA):
            tokens = _annex(stays)
            world = _world()
    finally:
        messaging.tasks.request_tick = real_tick
    connection.set_schema_to_public()
    say(f"setup: {SCHEMA} with {len(world['bookings'])} bookings, {len(tokens)} guests in their stay with a link")
    return {**world, "tokens": tokens}


def _annex(stays: int) -> list[str]:
    from bookings.models import Booking, Listing, ListingAccessInfo, Property
    from bookings.services import check_in_guest, create_booking
    from guests.models import Guest
    from portal.models import GuestPortalToken, PortalRateWindow
    from portal.services import issue_portal_tokens

    PortalRateWindow.objects.all().delete()  # NFR 7's hour windows of earlier runs: this run starts afresh
    today = timezone.now().astimezone(IST).date()
    prop = Property.objects.filter(name=ANNEX).first()
    if prop is None:
        prop = Property.objects.create(name=ANNEX, address="14 MG Road, Bengaluru 560001", contact_phone="+919876500000",
                                       house_rules="No smoking indoors. Quiet hours after 10 pm.")
        for n in range(20):
            listing = Listing.objects.create(property=prop, name=f"Annex Room {n + 1}", wifi_name="Annex_5G",
                                             wifi_password="welcome2026", late_checkout_price=700)
            ListingAccessInfo.objects.create(listing=listing, access_code="4521", map_url="https://maps.example.com/annex")
    listings = list(Listing.objects.filter(property=prop).order_by("pk"))
    current = Booking.objects.filter(listing__property=prop, checkin_date__lte=today, checkout_date__gt=today,
                                     checked_in_at__isnull=False)
    missing = max(0, stays - current.count())
    if missing:
        arrived = dt.datetime.combine(today - dt.timedelta(days=1), dt.time(15, 0), tzinfo=IST)
        start = Guest.objects.count()
        guests = Guest.objects.bulk_create([
            Guest(name=f"Load Guest {start + n}", phone="", email=f"load{start + n}@example.com") for n in range(missing)
        ])
        made = []
        with transaction.atomic():
            for n, guest in enumerate(guests):
                booking = create_booking(guest=guest, listing=listings[n % len(listings)],
                                         checkin_date=today - dt.timedelta(days=1), checkout_date=today + dt.timedelta(days=2),
                                         total_amount=8500, now=arrived - dt.timedelta(days=10))
                check_in_guest(booking, via="PORTAL", now=arrived)
                made.append(booking)
            issue_portal_tokens(made)
    return list(GuestPortalToken.objects.filter(booking__in=current, is_active=True, token__isnull=False)
                .values_list("token", flat=True)[:max(stays, 1)])


def _world() -> dict:
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from bookings.models import Booking, Listing
    from guests.models import Guest

    owner = User.objects.get(username="owner")  # tenants/demo.py ROLE_USERS
    key, _ = Token.objects.get_or_create(user=owner)
    return {
        "api_key": key.key,
        "bookings": list(Booking.objects.values_list("pk", flat=True)),
        "guests": list(Guest.objects.exclude(name__startswith="Load Guest").values_list("pk", flat=True)),
        "listings": list(Listing.objects.exclude(property__name=ANNEX).values_list("pk", flat=True)),
    }


def open_all_day() -> tuple:
    """Quiet hours (§3.5) would hold every message until morning when the bench runs at night in India: the
    run opens the demo host's window to the whole day (00:00–23:59:59) and puts it back afterwards."""
    from tenants.models import TenantGuestExperienceConfig

    config = TenantGuestExperienceConfig.objects.get(tenant__schema_name=SCHEMA)
    before = (config.quiet_hours_end, config.quiet_hours_start)
    config.quiet_hours_end, config.quiet_hours_start = dt.time(0, 0), dt.time(23, 59, 59)
    config.save(update_fields=["quiet_hours_end", "quiet_hours_start"])
    return before


def restore_window(before: tuple) -> None:
    from tenants.models import TenantGuestExperienceConfig

    connection.set_schema_to_public()
    TenantGuestExperienceConfig.objects.filter(tenant__schema_name=SCHEMA).update(
        quiet_hours_end=before[0], quiet_hours_start=before[1])


# --- the cluster -----------------------------------------------------------------------------------------------


def start_cluster() -> subprocess.Popen:
    """`manage.py qcluster`, as `manage.py serve` starts it, on this database."""
    env = {**os.environ, "DATABASE_URL": settings.DATABASE_URL, "LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=settings.BASE_DIR, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(2)  # SIGINT, as serve stops it
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the load ----------------------------------------------------------------------------------------------------


class Results:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = collections.defaultdict(list)
        self.statuses: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.lock = threading.Lock()

    def add(self, family: str, status: int, took: float) -> None:
        with self.lock:
            self.statuses[family][status] += 1
            if status and status < 500:
                self.latencies[family].append(took)

    def total(self) -> int:
        with self.lock:
            return sum(sum(c.values()) for c in self.statuses.values())

    def count(self, predicate) -> int:
        with self.lock:
            return sum(n for c in self.statuses.values() for status, n in c.items() if predicate(status))


def pick_request(rnd: random.Random, world: dict, tokens: list[str], n: int) -> tuple[str, str]:
    family = rnd.choices([f for f, _ in FAMILIES], weights=[w for _, w in FAMILIES])[0]
    if family == "portal page":
        return family, f"/guest/{tokens[n % len(tokens)]}"
    if family == "API bookings list":
        params = rnd.choice(["", "?status=Confirmed", "?page=2", "?checkin_from=2026-01-01&checkin_to=2026-12-31",
                             f"?guest={rnd.choice(world['guests'])}", "?source=Airbnb"])
        return family, f"/api/bookings{params}"
    if family == "API booking detail":
        return family, f"/api/bookings/{rnd.choice(world['bookings'])}"
    if family == "API guests":
        return family, rnd.choice(["/api/guests", "/api/guests?q=a", f"/api/guests/{rnd.choice(world['guests'])}"])
    return family, rnd.choice(["/api/metrics", "/api/metrics?days=7"])


def drive(port: int, world: dict, clients: int, seconds: float, results: Results,
          stop_at: list[float]) -> list[threading.Thread]:
    counter = iter(range(10**9))
    counter_lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def client(seed: int) -> None:
        rnd = random.Random(seed)
        headers = {"Host": HOST, "Accept-Encoding": "gzip"}
        api = {"Authorization": f"Token {world['api_key']}", "Accept": "application/json"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30.0) as http:
            start.wait()
            while time.perf_counter() < stop_at[0]:
                with counter_lock:
                    n = next(counter)
                family, path = pick_request(rnd, world, world["tokens"], n)
                began = time.perf_counter()
                try:
                    status = http.get(path, headers=api if family.startswith("API") else None).status_code
                except httpx.HTTPError:
                    status = 0  # no answer at all: lost
                results.add(family, status, time.perf_counter() - began)

    threads = [threading.Thread(target=client, args=(seed,), daemon=True) for seed in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + seconds
    start.wait()
    return threads


class Publisher(threading.Thread):
    """While the load runs: books a stay through the API and brings `per_round` pending touchpoints forward
    to now (note_due: the cluster is asked for a tick), every `every` seconds."""

    def __init__(self, port: int, world: dict, results: Results, every: float, per_round: int, stop_at: list[float]):
        super().__init__(daemon=True)
        self.port, self.world, self.results, self.every, self.per_round, self.stop_at = \
            port, world, results, every, per_round, stop_at
        self.advanced: list[int] = []
        self.booked: list[int] = []
        self.failures: list[str] = []

    def run(self) -> None:
        rnd = random.Random(7)
        headers = {"Host": HOST, "Authorization": f"Token {self.world['api_key']}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{self.port}", headers=headers, timeout=30.0) as http:
            while time.perf_counter() < self.stop_at[0]:
                self._book(http, rnd)
                try:
                    self._advance()
                except Exception as exc:  # a bench that stops on its own error reports nothing
                    self.failures.append(repr(exc))
                time.sleep(self.every)  # the pace of arriving work, not a wait for a result

    def _book(self, http: httpx.Client, rnd: random.Random) -> None:
        checkin = timezone.now().astimezone(IST).date() + dt.timedelta(days=rnd.randint(3, 40))
        body = {"guest": rnd.choice(self.world["guests"]), "listing": rnd.choice(self.world["listings"]),
                "checkin_date": str(checkin), "checkout_date": str(checkin + dt.timedelta(days=rnd.randint(1, 4))),
                "guests_planned": 2, "total_amount": "7200"}
        began = time.perf_counter()
        try:
            response = http.post("/api/bookings", json=body)
            status = response.status_code
        except httpx.HTTPError:
            status = 0
        self.results.add("API booking create", status, time.perf_counter() - began)
        if status == 201:
            self.booked.append(response.json()["id"])

    def _advance(self) -> None:
        from messaging.events import GUEST_BOOKING_CONFIRMED
        from messaging.models import AutomationSchedule, ScheduleStatus
        from messaging.wakeups import note_due

        now = timezone.now()
        with schema_context(SCHEMA), transaction.atomic():
            # The touchpoints of the stays booked in this run first (welcome, house rules, payment reminder...:
            # still meant for a guest who has not arrived), then confirmations that quiet hours held back.
            waiting = AutomationSchedule.objects.select_for_update(skip_locked=True).filter(
                status=ScheduleStatus.PENDING, due_at__gt=now)
            ids = list(waiting.filter(booking_id__in=self.booked).order_by("due_at")
                       .values_list("pk", flat=True)[:self.per_round])
            if len(ids) < self.per_round:
                ids += list(waiting.filter(event_type=GUEST_BOOKING_CONFIRMED).exclude(pk__in=ids).order_by("due_at")
                            .values_list("pk", flat=True)[:self.per_round - len(ids)])
            AutomationSchedule.objects.filter(pk__in=ids).update(due_at=now)
            if ids:
                note_due(now, now)
            self.advanced.extend(ids)
        connection.set_schema_to_public()


def settle(publisher: Publisher, since: dt.datetime, grace: float) -> dict:
    """Wait (bounded) for what the run set in motion to reach a final state, then count."""
    from messaging.events import GUEST_BOOKING_CONFIRMED
    from messaging.models import AutomationSchedule, CommunicationLog, LogStatus, SandboxMessage, ScheduleStatus

    deadline = time.monotonic() + grace
    while True:
        with schema_context(SCHEMA):
            pending_schedules = AutomationSchedule.objects.filter(pk__in=publisher.advanced, status=ScheduleStatus.PENDING,
                                                                  due_at__lte=timezone.now()).count()
            logs = CommunicationLog.objects.filter(created_at__gte=since)
            pending_logs = logs.filter(status=LogStatus.PENDING, next_attempt_at__isnull=True).count()
            due_logs = logs.filter(status=LogStatus.PENDING, next_attempt_at__lte=timezone.now()).count()  # not sent yet
            unconfirmed = len(publisher.booked) - CommunicationLog.objects.filter(
                booking_id__in=publisher.booked, event_type=GUEST_BOOKING_CONFIRMED).count()
        settled = pending_schedules == 0 and pending_logs == 0 and due_logs == 0 and unconfirmed <= 0
        if settled or time.monotonic() > deadline:
            break
        time.sleep(1.0)  # the cluster's own pace (its scheduler wakes every 30 s); bounded by --grace
    with schema_context(SCHEMA):
        logs = CommunicationLog.objects.filter(created_at__gte=since)
        per_log = collections.Counter(SandboxMessage.objects.filter(log__in=logs).values_list("log_id", "channel"))
        sent_twice = sum(1 for n in per_log.values() if n > 1)
        advanced = AutomationSchedule.objects.filter(pk__in=publisher.advanced)
        published = advanced.exclude(status=ScheduleStatus.PENDING).count()
        outcomes = dict(collections.Counter(advanced.values_list("status", flat=True)))
        confirmations = CommunicationLog.objects.filter(booking_id__in=publisher.booked, event_type=GUEST_BOOKING_CONFIRMED).count()
        result = {
            "advanced": len(publisher.advanced), "published": published,
            # brought due and never published, or a stay booked whose confirmation was never written
            "lost": pending_schedules + max(0, len(publisher.booked) - confirmations),
            "stuck": pending_logs,  # written and left pending with no retry planned
            "duplicated": sent_twice,  # one message, two sends on the same channel
            "messages": logs.count(), "final": logs.exclude(status=LogStatus.PENDING).count(),
            "booked": len(publisher.booked), "confirmations": confirmations, "outcomes": outcomes,
        }
    connection.set_schema_to_public()
    return result


def summarize(results: Results, seconds: float) -> dict:
    families = {}
    for family in sorted(results.statuses):
        lat = results.latencies.get(family) or [0.0]
        families[family] = {
            "requests": sum(results.statuses[family].values()), "rps": round(sum(results.statuses[family].values()) / seconds, 1),
            "p50_ms": round(percentile(lat, 50) * 1000, 1), "p95_ms": round(percentile(lat, 95) * 1000, 1),
            "p99_ms": round(percentile(lat, 99) * 1000, 1),
            "statuses": {str(k): v for k, v in sorted(results.statuses[family].items())},
        }
    return families


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (serve's default)")
    parser.add_argument("--stays", type=int, default=300, help="portal links to spread the load over (60 req/h each)")
    parser.add_argument("--publish-every", type=float, default=2.0, help="seconds between a publisher's rounds")
    parser.add_argument("--per-round", type=int, default=10, help="touchpoints brought forward per round")
    parser.add_argument("--grace", type=float, default=90.0, help="longest wait for the work to settle after the load")
    parser.add_argument("--out", default="", help="write the results here instead of bench/results/load.json "
                                                   "(RELIABILITY.md is then left alone: the test suite's short run)")
    args = parser.parse_args()
    command = " ".join(["bench/load.py", *sys.argv[1:]])

    world = setup(args.stays)
    window = open_all_day()
    port = free_port()
    results = Results()
    cluster = start_cluster()
    try:
        with gunicorn(port, workers=args.workers, database_url=settings.DATABASE_URL):
            say(f"server: gunicorn, {args.workers} workers on 127.0.0.1:{port}; django-q2 cluster pid {cluster.pid}")
            since = timezone.now()
            stop_at = [float("inf")]
            threads = drive(port, world, args.clients, args.seconds, results, stop_at)
            publisher = Publisher(port, world, results, args.publish_every, args.per_round, stop_at)
            publisher.start()
            say(f"load: {args.clients} clients for {args.seconds:.0f} s on loopback; the publisher books a stay and "
                f"brings {args.per_round} touchpoints forward every {args.publish_every:g} s")
            began, last = time.perf_counter(), 0
            while any(t.is_alive() for t in threads):
                time.sleep(0.5)  # progress reporting only
                elapsed = time.perf_counter() - began
                if elapsed - last >= 10:
                    last = int(elapsed // 10) * 10
                    say(f"  {last:>3.0f} s: {results.total()} requests, {results.count(lambda s: s >= 500)} 5xx, "
                        f"{results.count(lambda s: s == 0)} unanswered, {len(publisher.advanced)} touchpoints brought forward")
            for t in threads:
                t.join()
            publisher.join()
            if cluster.poll() is not None:
                say(f"cluster: exited with {cluster.returncode} during the run")
            say(f"settle: waiting up to {args.grace:.0f} s for the cluster to publish and deliver what the run set in motion")
            work = settle(publisher, since, args.grace)
    finally:
        stop(cluster)
        restore_window(window)

    load_average = os.getloadavg()[1]  # the machine's 5-minute load over the run: other work shares the cores
    families = summarize(results, args.seconds)
    total = sum(f["requests"] for f in families.values())
    five = results.count(lambda s: s >= 500)
    unanswered = results.count(lambda s: s == 0)
    by_status = collections.Counter()
    for f in families.values():
        by_status.update({k: v for k, v in f["statuses"].items()})
    all_lat = [x for lat in results.latencies.values() for x in lat] or [0.0]
    for name, f in families.items():
        say(f"{name:<20} {f['requests']:>6} req {f['rps']:>7.1f}/s  p50 {f['p50_ms']:>7.1f} ms  p95 {f['p95_ms']:>7.1f} ms"
            f"  p99 {f['p99_ms']:>7.1f} ms  {f['statuses']}")
    say(f"machine: {os.cpu_count()} cores, 5-minute load average {load_average:.1f} (other processes share them)")
    say(f"all: {total} requests in {args.seconds:.0f} s = {total / args.seconds:.1f}/s; p95 {percentile(all_lat, 95) * 1000:.1f} ms; "
        f"statuses {dict(sorted(by_status.items()))}; 5xx {five}; unanswered {unanswered}")
    say(f"publishing: {work['advanced']} touchpoints brought forward, {work['published']} no longer pending "
        f"({work['outcomes']}), {work['lost']} lost, "
        f"{work['stuck']} stuck; {work['booked']} stays booked through the API, {work['confirmations']} confirmations; "
        f"{work['messages']} messages written, {work['final']} in a final state, {work['duplicated']} sent twice")
    if publisher.failures:
        say(f"publisher errors: {publisher.failures[:3]}")
    say("reproduce: .venv/bin/python " + command)
    p95 = {name: f["p95_ms"] for name, f in families.items()}
    rows = [
        {"what": f"load: portal + staff API for {args.seconds:.0f} s, {args.clients} clients", "tried": total,
         "lost": unanswered, "duplicated": 0, "stuck": five,
         "notes": f"{total / args.seconds:.0f} req/s on {args.workers} gunicorn workers, {os.cpu_count()} cores at load "
                  f"average {load_average:.1f}; 5xx {five}; statuses "
                  f"{dict(sorted(by_status.items()))}; p95: "
                  + ", ".join(f"{name} {ms:.0f} ms" for name, ms in p95.items())},
        {"what": "publishing under that load: touchpoints brought due + stays booked", "tried": work["advanced"] + work["booked"],
         "lost": work["lost"], "duplicated": work["duplicated"], "stuck": work["stuck"],
         "notes": f"touchpoints {work['outcomes']}; {work['confirmations']} confirmations for {work['booked']} bookings; "
                  f"{work['final']}/{work['messages']} messages final"},
    ]
    if args.out:
        Path(args.out).write_text(json.dumps({"rows": rows, "command": command, "families": families}, indent=2) + "\n")
    else:
        save_results("load", rows, ".venv/bin/python " + command, families=families)
    print(json.dumps({"requests": total, "rps": round(total / args.seconds, 1), "5xx": five, "unanswered": unanswered,
                      "p95_ms": round(percentile(all_lat, 95) * 1000, 1), "families": p95, "publishing": work,
                      "clients": args.clients, "seconds": args.seconds, "workers": args.workers,
                      "load_average": round(load_average, 1), "cores": os.cpu_count()}))
    bad = five or unanswered or work["lost"] or work["duplicated"] or work["stuck"]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
