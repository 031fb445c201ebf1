"""Personalization benchmark: a full bronze → silver → gold refresh at 100,000 guests / ~500,000 stays, then an
incremental refresh after 1 % of the guests change (a new stay and a new room preference imported, and their
email changed in our own table).

    .venv/bin/python bench/personalization.py                    # 100,000 guests (bar: full < 60 s, incremental < 5 s)
    .venv/bin/python bench/personalization.py --guests 10000     # a quicker look

Runs in its own database (`atlas_bench` on the embedded server, or DATABASE_URL) and its own tenant
(`pzbench`, created again each run). Also prints whether the scores carry the signal the generator hid
(business travellers should show a higher late check-out propensity than families), and checks that a
re-run is idempotent and that the incremental result equals a full recompute for the changed guests.
The last line is JSON: full_refresh_s, incremental_refresh_s, guests, stays.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
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
from django.db import connection  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

SLUG = SCHEMA = "pzbench"


def say(text: str) -> None:
    print(text, flush=True)


def setup() -> None:
    from tenants.models import Tenant, TenantGuestExperienceConfig
    from tenants.services import create_tenant

    say("setup: migrating the public schema")
    call_command("migrate_schemas", "--shared", verbosity=0)
    for old in Tenant.objects.filter(schema_name=SCHEMA):
        old.delete(force_drop=True)
    tenant = create_tenant(slug=SLUG, name="Personalization Bench", coupon_prefix="PZB")
    TenantGuestExperienceConfig.objects.filter(tenant=tenant).update(personalization_enabled=True)
    say(f"setup: tenant {SCHEMA} created")


def change_one_percent(personas: dict, today: dt.date, seed: int = 11) -> int:
    """1 % of guests: a new stay (booking + stay), a new room preference, an email change in our table."""
    from guests.models import Guest
    from personalization.ingest import import_records
    from personalization.synthetic import _phone

    rng = random.Random(seed)
    chosen = rng.sample(sorted(personas), max(1, len(personas) // 100))
    checkin = today - dt.timedelta(days=3)
    bookings, stays, prefs = [], [], []
    for gid in chosen:
        who = {"phone": _phone(gid)}
        ref = f"NEW-{gid}"
        bookings.append({**who, "booking_ref": ref, "property_id": 1, "checkin": str(checkin),
                         "checkout": str(today), "amount": 9000, "channel": "DIRECT", "status": "completed",
                         "booked_at": f"{checkin - dt.timedelta(days=10)}T10:00:00+05:30"})
        stays.append({**who, "booking_ref": ref, "property_id": 1, "checkin": str(checkin), "checkout": str(today),
                      "spend_total": 9800, "addons": ["LATE_CHECKOUT"]})
        prefs.append({**who, "temperature": "19", "observed_at": f"{today}T08:00:00+05:30"})
    import_records("booking_history", bookings, source_system="pms")
    import_records("stay_history", stays, source_system="pms")
    import_records("room_preferences", prefs, source_system="pms")
    for guest in Guest.objects.filter(pk__in=chosen):
        guest.email = f"changed{guest.pk}@example.com"
        guest.save(update_fields=["email"])
    return len(chosen)


def snapshot(guest_ids: list[int]) -> list:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM gold_guest_facts WHERE guest_key = ANY(%s) ORDER BY guest_key", [guest_ids])
        return cursor.fetchall()


def signal(personas: dict) -> dict:
    """Mean late check-out and airport transfer propensity by hidden persona (consenting guests with stays)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT guest_key, upsell_late_checkout, upsell_airport_transfer FROM gold_personalization_scores s "
                       "JOIN gold_guest_facts f USING (guest_key) WHERE f.stays >= 2")
        sums: dict[str, list[float]] = {}
        for gid, late, airport in cursor.fetchall():
            bucket = sums.setdefault(personas.get(gid, "?"), [0, 0, 0])
            bucket[0] += late
            bucket[1] += airport
            bucket[2] += 1
    return {p: {"late_checkout": round(v[0] / v[2], 1), "airport_transfer": round(v[1] / v[2], 1), "guests": v[2]}
            for p, v in sorted(sums.items()) if v[2]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--guests", type=int, default=100_000)
    parser.add_argument("--stays-per-guest", type=float, default=5.5)  # ~500,000 stays at 100,000 guests
    args = parser.parse_args()
    from personalization.refresh import refresh
    from personalization.synthetic import generate

    setup()
    today = dt.date.today()
    with schema_context(SCHEMA):
        say(f"generate: {args.guests:,} guests")
        started = time.perf_counter()
        data = generate(args.guests, stays_per_guest=args.stays_per_guest, today=today)
        say(f"generate: {data.bookings:,} bookings, {data.stays:,} stays, "
            f"{sum(data.records.values()):,} bronze records in {time.perf_counter() - started:.1f} s")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

        say("full refresh: bronze → silver → gold")
        started = time.perf_counter()
        full = refresh(full=True, as_of=today, progress=lambda t: say(f"  {t}"))
        full_s = time.perf_counter() - started
        say(f"full refresh: {full_s:.2f} s ({', '.join(f'{k} {v:.2f}' for k, v in full.seconds.items())})")
        say("  silver by source: " + ", ".join(f"{k} {v:.2f}" for k, v in full.source_seconds.items()))

        again = refresh(as_of=today)
        say(f"re-run with nothing new: {again.guests_refreshed} guests recomputed (idempotent: expect 0)")

        changed = change_one_percent(data.personas, today)
        say(f"changed {changed:,} guests (1 %): new stay, new preference, new email")
        started = time.perf_counter()
        inc = refresh(as_of=today, progress=lambda t: say(f"  {t}"))
        inc_s = time.perf_counter() - started
        say(f"incremental refresh: {inc_s:.2f} s for {inc.guests_refreshed:,} guests "
            f"({', '.join(f'{k} {v:.2f}' for k, v in inc.seconds.items())})")

        sample = sorted(data.personas)[:: max(1, len(data.personas) // 500)]
        before = snapshot(sample)
        refresh(full=True, as_of=today)
        same = snapshot(sample) == before
        say(f"incremental result equals a full recompute on {len(sample)} sampled guests: {same}")
        say("signal (mean propensity by hidden persona, guests with 2+ stays): "
            + json.dumps(signal(data.personas)))
    say(f"reproduce: .venv/bin/python bench/personalization.py --guests {args.guests}")
    print(json.dumps({"full_refresh_s": round(full_s, 2), "incremental_refresh_s": round(inc_s, 2),
                      "guests": args.guests, "stays": data.stays, "incremental_equals_full": same}))


if __name__ == "__main__":
    main()
