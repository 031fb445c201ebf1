"""Reliability tests (issue #9): the fixtures of the lifecycle and messaging suites, plus a tenant whose
rows are committed so that a second connection (a worker thread) sees them."""
import datetime as dt
import os
from urllib.parse import urlparse, urlunparse

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from tests.lifecycle.conftest import book, no_task_queue, tick  # noqa: F401  (shared fixtures)
from tests.messaging.conftest import providers  # noqa: F401

UTC = dt.timezone.utc


def bench_env(suffix: str) -> dict:
    """The environment for running a bench as a subprocess in its own database: DATABASE_URL's name plus
    `_<suffix>`, or `atlas_<suffix>_test` on the embedded server (the bench creates its database if missing)."""
    env = {**os.environ}
    url = os.environ.get("DATABASE_URL")
    if url:
        parts = urlparse(url)
        env["DATABASE_URL"] = urlunparse(parts._replace(path=f"{parts.path.rstrip('/')}_{suffix}"))
    else:
        env["ATLAS_EMBEDDED_DB"] = f"atlas_{suffix}_test"
    return env


def log_pk_of(key: str) -> int | None:
    """The message a request's idempotency key names (`ag1.<schema>.<log id>.<nonce>`)."""
    from messaging.delivery import parse_send_key

    parsed = parse_send_key(key)
    return parsed[1] if parsed else None


def request_key(channel: str, seen) -> str:
    """The key a request carried, in each provider's own field."""
    body = seen.body if isinstance(seen.body, dict) else {}
    if channel == "whatsapp":
        return body.get("biz_opaque_callback_data", "")
    if channel == "sms":
        return seen.headers.get("idempotency-key", "")
    return (body.get("custom_args") or {}).get("atlas_key", "")


@pytest.fixture
def committed_schema(django_db_setup, django_db_blocker, monkeypatch):
    """A fresh tenant with committed rows; yields a function that seeds bookings in it."""
    from tenants.models import Tenant
    from tenants.services import create_tenant

    name = "faults"
    monkeypatch.setattr("messaging.tasks.request_tick", lambda schema: None)
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        if Tenant.objects.filter(schema_name=name).exists():  # left by an interrupted run
            Tenant.objects.get(schema_name=name).delete(force_drop=True)
        create_tenant(slug=name, name="Faults Homestays")
        yield name
        connection.set_schema_to_public()
        Tenant.objects.get(schema_name=name).delete(force_drop=True)


def seed_confirmations(schema: str, count: int, now: dt.datetime) -> None:
    from bookings.services import create_booking
    from tests.factories import make_access_info, make_guest, make_listing

    with schema_context(schema):
        listing = make_listing()
        make_access_info(listing)
        for n in range(count):
            create_booking(guest=make_guest(), listing=listing, checkin_date=dt.date(2026, 3, 15) + dt.timedelta(days=n),
                           checkout_date=dt.date(2026, 3, 17) + dt.timedelta(days=n), total_amount=5000, now=now)
