"""`manage.py seed_demo`: the demo host Sunset Stays with a year of guests, relative to now (tenants/demo.py)."""
from __future__ import annotations

import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from tenants import demo


def parse_now(value: str) -> dt.datetime:
    """An ISO datetime; without an offset it is read as UTC."""
    moment = parse_datetime(value)
    if moment is None:
        raise CommandError(f"--now {value!r} is not an ISO datetime such as 2026-11-25T06:30:00Z.")
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=dt.timezone.utc)


class Command(BaseCommand):
    help = "Create the demo tenant Sunset Stays (sunset.localhost), bookings in every lifecycle stage. Safe to re-run."

    def add_arguments(self, parser):
        parser.add_argument(
            "--now", type=parse_now, default=None,
            help="Pretend it is this instant (ISO datetime, e.g. 2026-11-25T06:30:00Z). Default: the clock.",
        )

    def handle(self, *args, now: dt.datetime | None, **options):
        now = now or timezone.now()
        started = time.monotonic()
        self.stdout.write(f"Seeding the demo as of {now:%Y-%m-%d %H:%M} UTC …")
        result = demo.seed_demo(now, report=lambda line: self.stdout.write(f"  {line}"))
        self.stdout.write(self.style.SUCCESS(f"Done in {time.monotonic() - started:.1f} s."))
        self.print_summary(result)

    def print_summary(self, result: demo.SeedResult) -> None:
        out = self.stdout.write
        out("")
        out(self.style.MIGRATE_HEADING("Admin"))
        for name, url in result.admin_urls.items():
            out(f"  {name:<14} {url}")
        out(self.style.MIGRATE_HEADING("Logins (demo passwords)"))
        out(f"  {'role':<10} {'username':<10} {'password':<24} sign in at")
        out(f"  {'platform':<10} {demo.ADMIN_USERNAME:<10} {demo.ADMIN_PASSWORD:<24} {result.admin_urls['Platform']}")
        tenant_url = next(url for name, url in result.admin_urls.items() if name != "Platform")
        for username, _first, _last, password in demo.ROLE_USERS:
            out(f"  {username:<10} {username:<10} {password:<24} {tenant_url}")
        if not result.roles_applied:
            out("  (tenants.roles is not there yet: the role groups exist but have no permissions.)")
        if not (result.admin_created or result.tenant_created):
            out("  (the users were there already: passwords are as first seeded unless someone changed them)")
        out(self.style.MIGRATE_HEADING("Guest portal"))
        if result.portal:
            who, link = result.portal
            out(f"  {link}  ({who})")
        else:
            out("  no booking in stay or arriving soon has a portal link")
        if result.calendar:
            out(self.style.MIGRATE_HEADING(f"Airbnb calendar ({result.calendar['listing']})"))
            if "contact_needed" in result.calendar:
                out(f"  {result.calendar['contact_needed']}  (a calendar booking: the guest completes their contact)")
            out(f"  {result.calendar['stay_link']}  (the listing's link for Airbnb's scheduled message)")
        out(self.style.MIGRATE_HEADING("Bookings by lifecycle stage"))
        out("  " + " · ".join(f"{stage} {count}" for stage, count in result.stages.items()))
        empty = [stage for stage, count in result.stages.items() if not count]
        if empty:
            out(f"  (none in {', '.join(empty)} right now: stages are computed from the clock. CHECK_OUT exists only "
                "from 12 h before a check-out time, i.e. 22:00 to about 12:45 at the properties on the day the demo "
                "is first seeded; later runs do not move bookings.)")
