"""Guest portal benchmark: the in-stay page (the fullest one: check-in details, nearby places, add-ons, the
issue form) under concurrent clients on loopback, its transferred size, and its largest contentful paint on
emulated slow 3G in chromium.

    .venv/bin/python bench/portal.py                       # 50 clients for 20 s, the server as `make run` runs it
    .venv/bin/python bench/portal.py --clients 50 --seconds 20 --workers 2 --threads 1 --bookings 1000

Runs in its own database (`atlas_bench` on the embedded server, or DATABASE_URL) and its own tenant
(`portalbench`, dropped and created again each run, dropped at the end: one run at a time, two runs at
once drop each other's tenant). Every request is a real page view:
token lookup, the shared rate-limit counter, the access count, the page rendered for the stage. The bookings
are many so no link passes the 60 requests per hour of NFR 7 (a refused request is counted as an error).
The load is a closed loop (each of the 50 clients sends its next request as soon as it has the last answer,
like `wrk -c 50`): with wrk where it is installed (`apt-get install wrk`; C and epoll, a few % of one core),
else 50 clients in one Python asyncio loop, a new connection per request (install-free, but it takes more of
the CPU the server needs, so the figures are then on the cautious side). Either way the generator shares the
machine with the server, as a guest's phone does not. The paced run (an open loop at half the throughput:
the latency of a server that keeps up) is always the asyncio loop. Clients send the CSRF cookie of their
first visit, as a returning browser does.
The server is gunicorn with the `serve` command's worker options (tenants/management/commands/serve.py).
bench/portal_cost.py reports the CPU per page of the workers and of PostgreSQL, which other work on the
machine distorts much less than these latencies.
The last line is JSON with rps, p95_ms, bytes (the page as transferred, headers included) and lcp_ms.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atlas_guest.settings")
os.environ.setdefault("ATLAS_EMBEDDED_DB", "atlas_bench")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from atlas_guest.db import ensure_database  # noqa: E402

ensure_database()  # on DATABASE_URL's server, as the embedded one makes its own

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from tenants.management.commands import serve  # noqa: E402  (the server's options, as `make run` has them)
from tests.portal.live import gunicorn  # noqa: E402  (the test suite's server launcher: one way to start it)

SLUG = SCHEMA = "portalbench"
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SLOW_3G = {"offline": False, "latency": 400, "downloadThroughput": 400_000 / 8, "uploadThroughput": 400_000 / 8}
LCP_RUNS = 3


def say(text: str) -> None:
    print(text, flush=True)


def setup(bookings: int) -> list[str]:
    """A tenant with one property, its recommendations, and `bookings` guests in their second night."""
    from tenants.models import Tenant
    from tenants.services import create_tenant

    import messaging.tasks

    messaging.tasks.request_tick = lambda schema: None  # nothing runs the lifecycle here
    say("setup: migrating the public schema")
    call_command("migrate_schemas", "--shared", verbosity=0)
    old = Tenant.objects.filter(schema_name=SCHEMA).first()
    if old is not None:
        old.delete(force_drop=True)
    create_tenant(slug=SLUG, name="Sunset Stays", coupon_prefix="SUNSET")
    with schema_context(SCHEMA):
        tokens = _seed(bookings)
    connection.set_schema_to_public()
    say(f"setup: tenant {SLUG} with {len(tokens)} guests in their stay")
    return tokens


def _seed(bookings: int) -> list[str]:
    from bookings.models import Listing, ListingAccessInfo, Property, PropertyRecommendation
    from bookings.services import check_in_guest, create_booking
    from guests.models import Guest
    from portal.models import GuestPortalToken
    from portal.services import issue_portal_tokens

    now = dt.datetime.now(dt.timezone.utc)
    today = now.astimezone(IST).date()
    prop = Property.objects.create(
        name="Sunset Villa Indiranagar", address="12 MG Road, Bengaluru 560001", contact_phone="+919876500000",
        emergency_phone="+919876500011",
        house_rules="No smoking indoors. Quiet hours after 10 pm. Shoes off on the terrace, please.\n"
                    "Guests of guests are welcome until 9 pm. Please switch off the AC when you go out.",
    )
    listings = [
        Listing.objects.create(property=prop, name=f"Room {n}", wifi_name="SunsetVilla_5G", wifi_password="welcome2026",
                               late_checkout_price=700, extra_cleaning_price=500)
        for n in range(20)
    ]
    ListingAccessInfo.objects.bulk_create([
        ListingAccessInfo(listing=listing, access_code="4521", map_url="https://maps.example.com/sunset",
                          access_instructions="Enter through the side gate; the lock box is left of the door.",
                          parking_instructions="Basement, slot 4.")
        for listing in listings
    ])
    for n, (category, name) in enumerate([("RESTAURANT", "Vidyarthi Bhavan"), ("CAFE", "Brahmin's Coffee Bar"),
                                          ("ATTRACTION", "Cubbon Park"), ("TRANSPORT", "Indiranagar Metro"),
                                          ("SHOPPING", "Commercial Street"), ("MEDICAL", "Manipal Hospital")]):
        PropertyRecommendation.objects.create(property=prop, category=category, name=name, sort_order=n,
                                              description="A Bengaluru favourite; go early on weekends.",
                                              map_url="https://maps.example.com/p", distance_km=1 + n)
    guests = Guest.objects.bulk_create(
        [Guest(name=f"Guest {n}", phone=f"+9198765{n:05d}", email=f"bench{n}@example.com") for n in range(bookings)]
    )
    arrived = dt.datetime.combine(today - dt.timedelta(days=1), dt.time(15, 0), tzinfo=IST)
    made = []
    for n, guest in enumerate(guests):
        booking = create_booking(guest=guest, listing=listings[n % len(listings)], checkin_date=today - dt.timedelta(days=1),
                                 checkout_date=today + dt.timedelta(days=2), total_amount=8500,
                                 now=arrived - dt.timedelta(days=10))
        check_in_guest(booking, via="PORTAL", now=arrived)
        made.append(booking)
    issue_portal_tokens(made)
    return list(GuestPortalToken.objects.order_by("pk").values_list("token", flat=True))


def drop() -> None:
    from tenants.models import Tenant

    connection.set_schema_to_public()
    tenant = Tenant.objects.filter(schema_name=SCHEMA).first()
    if tenant is not None:
        tenant.delete(force_drop=True)


async def _get(port: int, path: str, cookie: str) -> int:
    """One GET on a new connection, as a browser's first request on it (the sync workers close each one
    after the answer): the answer's status, 0 if there was none."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return 0
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {SLUG}.localhost\r\nAccept-Encoding: gzip\r\n"
                     f"Cookie: {cookie}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        answer = await reader.read()  # to the end: the server closes the connection after the answer
    except OSError:
        return 0
    finally:
        writer.close()
    head = answer.split(b" ", 2)
    return int(head[1]) if len(head) > 1 and head[0].startswith(b"HTTP/1.") and head[1].isdigit() else 0


def load(port: int, tokens: list[str], clients: int, seconds: float, cookie: str = "") -> tuple[list[float], int, int]:
    """`clients` clients in one asyncio loop, each asking for a page as soon as it has the last one, for
    `seconds`. Returns the latencies (s) of the answered requests, how many were not 200, and the requests sent."""
    next_token = itertools.count()
    latencies: list[float] = []
    errors = [0]

    async def client(stop_at: float) -> None:
        while time.perf_counter() < stop_at:
            token = tokens[next(next_token) % len(tokens)]
            began = time.perf_counter()
            status = await _get(port, f"/guest/{token}", cookie)
            if status == 200:
                latencies.append(time.perf_counter() - began)
            else:
                errors[0] += 1

    async def run() -> None:
        stop_at = time.perf_counter() + seconds
        await asyncio.gather(*(client(stop_at) for _ in range(clients)))

    asyncio.run(run())
    return latencies, errors[0], next(next_token)


WRK = shutil.which("wrk")
WRK_SCRIPT = r"""
local tokens, n = {}, 0
for line in io.lines(os.getenv("PORTAL_TOKENS")) do tokens[#tokens + 1] = line end
local headers = {["Host"] = os.getenv("PORTAL_HOST"), ["Accept-Encoding"] = "gzip",
                 ["Cookie"] = os.getenv("PORTAL_COOKIE")}
local threads = {}
function setup(thread) thread:set("offset", #threads) table.insert(threads, thread) end
function init(args) n = offset * 7919 end
function request()
  n = n + 1
  return wrk.format("GET", "/guest/" .. tokens[(n % #tokens) + 1], headers)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %d %d %d %d %d %d\n", summary.requests, e.status,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def load_wrk(port: int, tokens: list[str], clients: int, seconds: float,
             cookie: str) -> tuple[int, int, float, float, float]:
    """The same closed loop with wrk (C, epoll; a few % of one core at these rates): `clients` connections
    (kept alive where the server allows), each sending its next request when the last answer is in.
    Returns the answered requests, how many were not 2xx/3xx or failed, and p50, p95, p99 in seconds."""
    with tempfile.TemporaryDirectory(prefix="portal-wrk-") as folder:
        script, token_file = Path(folder) / "portal.lua", Path(folder) / "tokens"
        script.write_text(WRK_SCRIPT)
        token_file.write_text("\n".join(tokens) + "\n")
        env = {**os.environ, "PORTAL_TOKENS": str(token_file), "PORTAL_HOST": f"{SLUG}.localhost",
               "PORTAL_COOKIE": cookie}
        threads = max(1, min(2, clients))
        out = subprocess.run([WRK, "-t", str(threads), "-c", str(clients), "-d", f"{seconds:g}s", "--timeout", "30s",
                              "-s", str(script), f"http://127.0.0.1:{port}"], env=env, capture_output=True, text=True,
                             check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("WRK ")]
    if out.returncode or not lines:
        sys.exit(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    fields = lines[0].split()[1:]
    sent, bad, failed, p50, p95, p99 = (int(x) for x in fields)
    return sent, bad + failed, p50 / 1e6, p95 / 1e6, p99 / 1e6


def paced(port: int, tokens: list[str], rate: float, seconds: float, cookie: str = "") -> list[float]:
    """Open loop: `rate` requests per second for `seconds`, each sent at its planned time whether or not
    earlier ones are answered (one asyncio loop: threads would add their own waits for the interpreter lock to
    the latencies). Returns latencies (s) measured from the planned send time, so a server falling behind
    shows up in full."""
    latencies: list[float] = []

    async def one(due: float, token: str) -> None:
        await asyncio.sleep(max(0.0, due - time.perf_counter()))  # the schedule, not a wait for a result
        await _get(port, f"/guest/{token}", cookie)
        latencies.append(time.perf_counter() - due)

    async def run() -> None:
        t0 = time.perf_counter() + 0.05
        await asyncio.gather(*(one(t0 + n / rate, tokens[n % len(tokens)]) for n in range(int(rate * seconds))))

    asyncio.run(run())
    return latencies


def server_times(log: Path) -> list[float]:
    """Seconds each request took inside gunicorn (its access log's %(D)s, in microseconds)."""
    return [int(line.split()[0]) / 1e6 for line in log.read_text().splitlines() if line.strip()]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


LCP_JS = """() => new Promise(resolve => new PerformanceObserver(list => {
    const entries = list.getEntries(); resolve(entries[entries.length - 1].startTime);
}).observe({type: 'largest-contentful-paint', buffered: true}))"""
NAV_JS = """() => { const n = performance.getEntriesByType('navigation')[0];
    return {transfer: n.transferSize, encoded: n.encodedBodySize, decoded: n.decodedBodySize}; }"""


def paint(port: int, tokens: list[str]) -> tuple[list[float], dict, int]:
    """LCP of the page on a fresh, throttled connection (each run a new browser context and a link the
    load did not use). Returns the LCPs (ms), the document's sizes, and all bytes the first visit fetched."""
    from playwright.sync_api import sync_playwright

    lcps, sizes, everything = [], {}, 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for token in tokens[:LCP_RUNS]:
            context = browser.new_context(viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True,
                                          service_workers="block")  # the first visit, as from the WhatsApp link
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
            cdp.send("Network.emulateNetworkConditions", SLOW_3G)
            received = []
            cdp.on("Network.loadingFinished", lambda event: received.append(event["encodedDataLength"]))
            page.goto(f"http://{SLUG}.localhost:{port}/guest/{token}", wait_until="load")
            lcps.append(page.evaluate(LCP_JS))
            sizes = page.evaluate(NAV_JS)
            everything = int(sum(received))
            context.close()
        browser.close()
    return lcps, sizes, everything


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=serve.WORKERS, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=serve.THREADS,
                        help="threads per worker (>1: gunicorn's gthread workers, which keep connections alive)")
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto",
                        help="the closed-loop load: wrk where installed (auto), else a Python asyncio loop")
    parser.add_argument("--no-server-timing", action="store_true",
                        help="no gunicorn access log (the per-request time inside the server is not reported)")
    parser.add_argument("--bookings", type=int, default=1000, help="links to spread the load over (60 req/h each)")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--paced-share", type=float, default=0.5, help="the paced run's rate, as a share of the throughput")
    parser.add_argument("--paced-seconds", type=float, default=10.0)
    args = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit("needs /usr/bin/chromium: make browser")

    tokens = setup(args.bookings)
    paint_tokens, load_tokens = tokens[:LCP_RUNS], tokens[LCP_RUNS:]
    from tests.portal.live import free_port

    port = args.port or free_port()
    access_log = Path(tempfile.mkstemp(prefix="portal-bench-", suffix=".log")[1])
    # The access log as `make run` writes it (its logger), in a format with the time each request took inside.
    timing = () if args.no_server_timing else ("--access-logfile", str(access_log), "--access-logformat", "%(D)s %(s)s",
                                                "--logger-class", serve.LOGGER_CLASS)
    generator = "wrk" if args.generator == "wrk" or (args.generator == "auto" and WRK) else "python"
    if generator == "wrk" and not WRK:
        sys.exit("--generator wrk: wrk is not installed (apt-get install wrk)")
    try:
        with gunicorn(port, workers=args.workers, database_url=settings.DATABASE_URL,
                      extra_args=serve.worker_options(args.threads) + timing):
            kind = f"gthread workers x {args.threads} threads" if args.threads > 1 else "sync workers"
            say(f"server: gunicorn, {args.workers} {kind} on 127.0.0.1:{port}")
            warm = httpx.get(f"http://127.0.0.1:{port}/guest/{load_tokens[-1]}", headers={"Host": f"{SLUG}.localhost",
                                                                                             "Accept-Encoding": "gzip"})
            assert warm.status_code == 200, warm.status_code
            # A returning guest's browser sends the CSRF cookie it was given.
            cookie = f"csrftoken={warm.cookies.get('csrftoken', '')}"
            say(f"load: {args.clients} clients for {args.seconds:.0f} s on loopback ({generator}, closed loop)")
            if generator == "wrk":
                answered, errors, *quantiles = load_wrk(port, load_tokens[:-1], args.clients, args.seconds, cookie)
                sent = answered
                p50, p95, p99 = (q * 1000 for q in quantiles)
                rps = (answered - errors) / args.seconds
            else:
                latencies, errors, sent = load(port, load_tokens[:-1], args.clients, args.seconds, cookie)
                rps = len(latencies) / args.seconds
                p50, p95, p99 = (percentile(latencies, p) * 1000 for p in (50, 95, 99))
            say(f"load: {round(rps * args.seconds)} pages in {args.seconds:.0f} s = {rps:.0f} requests/s; "
                f"latency p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms; {errors} not 200 (of {sent})")
            server_p95 = None
            if not args.no_server_timing:
                inside = server_times(access_log)[1:]  # less the warm-up request
                server_p50, server_p95 = (percentile(inside, p) * 1000 for p in (50, 95))
                say(f"load: inside gunicorn p50 {server_p50:.1f} ms, p95 {server_p95:.1f} ms per page; the rest of the "
                    f"client's latency is the queue of {args.clients} clients waiting for {args.workers} workers")
            rate = max(1.0, round(rps * args.paced_share))
            paced_tokens = load_tokens[len(load_tokens) // 2:]
            say(f"paced: {rate:.0f} requests/s on schedule ({args.paced_share:.0%} of the throughput above) for "
                f"{args.paced_seconds:.0f} s")
            steady = paced(port, paced_tokens, rate, args.paced_seconds, cookie)
            paced_p95 = percentile(steady, 95) * 1000
            say(f"paced: latency p50 {percentile(steady, 50) * 1000:.1f} ms, p95 {paced_p95:.1f} ms")
            say("paint: chromium at 360×640 on emulated slow 3G (400 kbit/s, 400 ms latency), cache disabled")
            lcps, sizes, everything = paint(port, paint_tokens)
            lcp = statistics.median(lcps)
            say(f"paint: largest contentful paint {', '.join(f'{v:.0f}' for v in lcps)} ms (median {lcp:.0f} ms)")
            say(f"bytes: the page {sizes['transfer']} B transferred ({sizes['encoded']} B gzip body, "
                f"{sizes['decoded']} B HTML); everything on first visit {everything} B")
    finally:
        drop()
        access_log.unlink(missing_ok=True)

    say("reproduce: .venv/bin/python bench/portal.py " + " ".join(sys.argv[1:]))
    print(json.dumps({
        "rps": round(rps, 1), "p95_ms": round(p95, 1), "bytes": sizes["transfer"], "lcp_ms": round(lcp, 1),
        "p50_ms": round(p50, 1), "p99_ms": round(p99, 1),
        "server_p95_ms": round(server_p95, 1) if server_p95 is not None else None,
        "paced_rps": rate, "paced_p95_ms": round(paced_p95, 1), "errors": errors, "clients": args.clients,
        "seconds": args.seconds, "workers": args.workers, "threads": args.threads, "generator": generator,
    }))


if __name__ == "__main__":
    main()
