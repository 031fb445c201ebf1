"""Booking intake benchmark: N listings' Airbnb-shaped calendar feeds, served by a separate HTTP server process
on 127.0.0.1 (Python's http.server: Last-Modified and 304 as a static host answers), read by one tick of the
feed poll (intake.sync.sync_due_feeds, the code the django-q2 task runs).

    .venv/bin/python bench/intake.py                  # 1,000 listings
    .venv/bin/python bench/intake.py --listings 100   # a quicker look

Three rounds, each one tick:
  first read   every feed new: each reservation becomes a booking (guest, portal link, outbox event, schedules
               wait for the lifecycle tick, which is not part of this figure);
  unchanged    every feed due again and unchanged: 304 Not Modified to If-Modified-Since;
  changed      every file rewritten: 10 % of reservations moved, 5 % removed (a first miss), the rest as before;
               every feed read and reconciled again.
Prints feeds reconciled per second for each round and ends with one JSON line. Runs in its own database
(`atlas_intake` on the embedded server, or DATABASE_URL) and tenant (`intakebench`, made again each run).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atlas_guest.settings")
os.environ.setdefault("ATLAS_EMBEDDED_DB", "atlas_intake")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("CALENDAR_FEEDS_ALLOW_PRIVATE", "true")  # the feed server is on loopback

from atlas_guest.db import ensure_database  # noqa: E402

ensure_database()

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

SLUG = SCHEMA = "intakebench"
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=IST)
COMMAND = "bench/intake.py"


def say(text: str) -> None:
    print(text, flush=True)


def feed_body(n: int, *, moved: bool = False, removed: bool = False) -> bytes:
    """Two events per listing, as Airbnb exports them: a reservation (code, last 4 digits) and a block."""
    start = dt.date(2026, 12, 10) + dt.timedelta(days=n % 25 + (2 if moved else 0))
    end = start + dt.timedelta(days=2 + n % 3)
    block = end + dt.timedelta(days=5)
    lines = ["BEGIN:VCALENDAR", "PRODID;X-RICAL-TZSOURCE=TZINFO:-//Airbnb Inc//Hosting Calendar 0.8.8//EN",
             "CALSCALE:GREGORIAN", "VERSION:2.0"]
    if not removed:
        lines += ["BEGIN:VEVENT", "DTSTAMP:20261201T043012Z", f"DTEND;VALUE=DATE:{end:%Y%m%d}",
                  f"DTSTART;VALUE=DATE:{start:%Y%m%d}", f"UID:bench-{n:06d}-reservation@airbnb.com",
                  f"DESCRIPTION:Reservation URL: https://www.airbnb.com/hosting/reservations/details/HMB{n:07d}\\n",
                  f" Phone Number (Last 4 Digits): {n % 10000:04d}", "SUMMARY:Reserved", "END:VEVENT"]
    lines += ["BEGIN:VEVENT", "DTSTAMP:20261201T043012Z", f"DTEND;VALUE=DATE:{block + dt.timedelta(days=2):%Y%m%d}",
              f"DTSTART;VALUE=DATE:{block:%Y%m%d}", f"UID:bench-{n:06d}-block@airbnb.com",
              "SUMMARY:Airbnb (Not available)", "END:VEVENT", "END:VCALENDAR"]
    return ("\r\n".join(lines) + "\r\n").encode()


def write_feeds(folder: Path, listings: int, *, changed: bool = False) -> None:
    for n in range(listings):
        body = feed_body(n, moved=changed and n % 10 == 0, removed=changed and n % 20 == 5)
        path = folder / f"{n}.ics"
        path.write_bytes(body)
        if changed:  # a new modification time, so If-Modified-Since gets the file
            stamp = time.time() + 60
            os.utime(path, (stamp, stamp))


def start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory",
                             str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(url + "/", timeout=0.5)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the feed server did not start")


def setup(listings: int, url: str) -> None:
    from bookings.models import Listing, Property
    from intake.models import CalendarFeed, FeedSource
    from intake.sync import recompute_feed_due
    from tenants.models import Tenant
    from tenants.services import create_tenant

    say("setup: migrating the public schema")
    call_command("migrate_schemas", "--shared", verbosity=0)
    for old in Tenant.objects.filter(schema_name=SCHEMA):
        old.delete(force_drop=True)
    create_tenant(slug=SLUG, name="Intake Bench", coupon_prefix="INB")
    with schema_context(SCHEMA):
        prop = Property.objects.create(name="Bench Residency", address="1 MG Road, Bengaluru",
                                       contact_phone="+919876500000")
        rooms = Listing.objects.bulk_create([Listing(property=prop, name=f"Room {n}") for n in range(listings)])
        CalendarFeed.objects.bulk_create([
            CalendarFeed(listing=room, source=FeedSource.AIRBNB, url=f"{url}/{n}.ics", next_fetch_at=NOW)
            for n, room in enumerate(rooms)
        ])
        recompute_feed_due()
    say(f"setup: tenant {SCHEMA} with {listings} listings, one Airbnb calendar each")


def tick(now: dt.datetime, label: str, listings: int) -> dict:
    from intake.sync import sync_due_feeds

    with schema_context(SCHEMA):
        started = time.perf_counter()
        totals = sync_due_feeds(now, budget_s=3600)
        took = time.perf_counter() - started
    rate = totals.feeds / took if took else 0.0
    say(f"{label:<12} {totals.feeds:>6} feeds in {took:6.2f} s = {rate:7.1f} feeds/s   (created {totals.created}, "
        f"moved {totals.moved}, not modified {totals.not_modified}, failed {totals.failed})")
    if totals.feeds != listings or totals.failed:
        raise SystemExit(f"{label}: {totals.feeds} of {listings} feeds read, {totals.failed} failed")
    return {"feeds": totals.feeds, "seconds": round(took, 3), "feeds_per_s": round(rate, 1),
            "created": totals.created, "moved": totals.moved, "not_modified": totals.not_modified}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listings", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        write_feeds(Path(folder), args.listings)
        server, url = start_server(Path(folder))
        try:
            setup(args.listings, url)
            first = tick(NOW, "first read", args.listings)
            unchanged = tick(NOW + dt.timedelta(minutes=31), "unchanged", args.listings)
            write_feeds(Path(folder), args.listings, changed=True)
            changed = tick(NOW + dt.timedelta(minutes=62), "changed", args.listings)
        finally:
            server.terminate()
            server.wait()
    say(f"reproduce: .venv/bin/python {COMMAND} --listings {args.listings}")
    print(json.dumps({"listings": args.listings, "first_read": first, "unchanged": unchanged, "changed": changed}))


if __name__ == "__main__":
    main()
