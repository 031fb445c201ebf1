"""A real portal server for the tests that need one (several processes, a browser): a throwaway tenant whose
rows are committed, and gunicorn serving the test database on a free loopback port.

pytest-django's live_server is not used: its TransactionTestCase flush would wipe the session's tenants.
"""
from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from django.conf import settings
from django.db import connection

SLUG = "portal-live"
SCHEMA = "portal_live"
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
START_TIMEOUT_S = 30.0


@dataclass
class LivePortal:
    port: int
    tokens: dict[str, str] = field(default_factory=dict)
    booking_ids: dict[str, int] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return f"{SLUG}.localhost"

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, name: str, suffix: str = "") -> str:
        return f"{self.origin}/guest/{self.tokens[name]}{suffix}"

    def path(self, name: str, suffix: str = "") -> str:
        return f"/guest/{self.tokens[name]}{suffix}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session_database_url() -> str:
    """The URL of the database this test session runs on (the test copy), for another process."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    if str(db.get("HOST", "")).startswith("/"):  # the embedded server's unix socket (GUIDE: pgserver)
        return f"postgresql://{auth}@/{db['NAME']}?host={db['HOST']}"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgresql://{auth}@{db['HOST'] or '127.0.0.1'}{port}/{db['NAME']}"


@contextmanager
def gunicorn(port: int, *, workers: int = 2, database_url: str | None = None, log_file: Path | None = None,
             extra_args: tuple[str, ...] = ()):
    env = {**os.environ, "DATABASE_URL": database_url or session_database_url(), "LOG_LEVEL": "WARNING",
           "DJANGO_SETTINGS_MODULE": "atlas_guest.settings"}
    log = open(log_file, "w") if log_file else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "atlas_guest.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--log-level", "warning", *extra_args],
        cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        wait_until_serving(port, proc)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log_file:
            log.close()


def wait_until_serving(port: int, proc: subprocess.Popen) -> None:
    """Ask until the server answers at all (a process starting, not a clock: no fixed sleep)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", headers={"Host": "localhost"}, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"gunicorn did not answer on port {port} within {START_TIMEOUT_S} s")


def seed_stays(now: dt.datetime) -> tuple[dict[str, str], dict[str, int]]:
    """One booking per stage of the stay, dated around today in India (the server runs on the real clock),
    each with its own link so no test's requests count against another's rate limit."""
    from bookings.models import PropertyRecommendation
    from bookings.services import check_in_guest, check_out_guest, create_booking
    from coupons.services import issue_stay_coupon
    from portal.services import issue_portal_token
    from tests.factories import make_access_info, make_guest, make_listing, make_property

    today = now.astimezone(IST).date()
    prop = make_property(
        name="Sunset Villa Indiranagar", emergency_phone="+919876500011",
        house_rules="No smoking indoors. Quiet hours after 10 pm. Shoes off on the terrace, please — "
                    "the tiles are handmade Athangudi tiles from Karaikudi.",
    )
    listing = make_listing(prop, name="Deluxe Room 201 with balcony", late_checkout_price=700, extra_cleaning_price=500,
                           supports_early_checkin=True, early_checkin_price=900,
                           wifi_name="SunsetVilla_Indiranagar_5GHz_Guest", wifi_password="welcome-to-bengaluru-2026")
    make_access_info(listing, access_instructions="Enter through the side gate; the lock box is left of the door.",
                     parking_instructions="Basement, slot 4 (use the ramp on 12th Main).")
    for n, name in enumerate(["Vidyarthi Bhavan", "Brahmin's Coffee Bar", "Cubbon Park", "Manipal Hospital"]):
        PropertyRecommendation.objects.create(
            property=prop, category=["RESTAURANT", "CAFE", "ATTRACTION", "MEDICAL"][n], name=name, sort_order=n,
            description="A Bengaluru favourite since 1943; go early on weekends, the queue is worth it.",
            map_url="https://maps.example.com/" + name.replace(" ", "-"), distance_km=1.2 + n,
        )

    plans = {  # name: (check-in date, nights, checked in, checked out)
        "pre_arrival": (today + dt.timedelta(days=10), 3, False, False),
        "checkin_day": (today, 2, False, False),
        "tap": (today, 2, False, False),
        "in_stay": (today - dt.timedelta(days=1), 3, True, False),
        "issue": (today - dt.timedelta(days=1), 3, True, False),
        "checkout_day": (today - dt.timedelta(days=2), 2, True, False),
        "post_stay": (today - dt.timedelta(days=3), 2, True, True),
        "review": (today - dt.timedelta(days=3), 2, True, True),
        "rate": (today + dt.timedelta(days=5), 2, False, False),
        "offline": (today - dt.timedelta(days=1), 3, True, False),
    }
    tokens, ids = {}, {}
    confirmed_at = now - dt.timedelta(days=20)
    for n, (name, (checkin, nights, arrived, left)) in enumerate(plans.items()):
        booking = create_booking(
            guest=make_guest(name=f"Priya Sharma {n}", phone=f"+9198765{n + 10:05d}", email=f"live{n}@example.com"),
            listing=listing, checkin_date=checkin, checkout_date=checkin + dt.timedelta(days=nights), guests_planned=2,
            total_amount=8500, now=confirmed_at,
        )
        if arrived:
            check_in_guest(booking, now=dt.datetime.combine(checkin, dt.time(15, 0), tzinfo=IST))
        if left:
            check_out_guest(booking, now=dt.datetime.combine(checkin + dt.timedelta(days=nights), dt.time(10, 0), tzinfo=IST))
            issue_stay_coupon(booking, now - dt.timedelta(days=1))
        tokens[name] = issue_portal_token(booking).token
        ids[name] = booking.pk
    # Issue 15: a booking as an Airbnb calendar read makes it, without the guest's contact.
    from guests.models import Guest

    calendar = create_booking(
        guest=Guest.objects.create(name="Airbnb guest · HMLIVE0001"), listing=listing, source="Airbnb",
        checkin_date=today + dt.timedelta(days=14), checkout_date=today + dt.timedelta(days=16),
        external_reference="HMLIVE0001", contact_needed=True, payment_status="Paid", now=confirmed_at,
    )
    tokens["calendar"], ids["calendar"] = issue_portal_token(calendar).token, calendar.pk
    return tokens, ids


@contextmanager
def live_portal(django_db_blocker):
    """Create and seed the tenant (committed), serve it, then drop it. The database is unblocked only for
    the set-up and the tear-down: tests that read it unblock it themselves."""
    import pytest
    from django_tenants.utils import schema_context

    from tenants.models import Tenant
    from tenants.services import create_tenant

    with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as patch:
        patch.setattr("messaging.tasks.request_tick", lambda schema: None)  # no task queue in tests
        connection.set_schema_to_public()
        leftover = Tenant.objects.filter(schema_name=SCHEMA).first()
        if leftover is not None:  # left by an interrupted run
            leftover.delete(force_drop=True)
        create_tenant(slug=SLUG, name="Sunset Stays", coupon_prefix="SUNSET")
        try:
            with schema_context(SCHEMA):
                tokens, ids = seed_stays(dt.datetime.now(dt.timezone.utc))
        except BaseException:
            drop()
            raise
    try:
        port = free_port()
        with gunicorn(port):
            yield LivePortal(port=port, tokens=tokens, booking_ids=ids)
    finally:
        with django_db_blocker.unblock():
            drop()


def drop() -> None:
    from tenants.models import Tenant

    connection.set_schema_to_public()
    Tenant.objects.filter(schema_name=SCHEMA).first().delete(force_drop=True)


def hammer(url: str, host: str, requests: int) -> list[int]:
    """A client process: `requests` GETs of `url`, one after another; returns the status codes."""
    with httpx.Client(headers={"Host": host}, timeout=10.0) as client:
        return [client.get(url).status_code for _ in range(requests)]
