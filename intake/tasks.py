"""django-q2 entry points of booking intake. One repeating Schedule a minute finds, in one query, the tenants
with a calendar link due (tenants.TenantFeedIndex) and enqueues one task per tenant, which reads all of them."""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection
from django.db.models.signals import post_migrate
from django.utils import timezone
from django_tenants.utils import schema_context

FEED_POLL_SCHEDULE = "calendar-feed-poll"


def request_feed_sync(schema_name: str) -> None:
    from django_q.tasks import async_task

    async_task("intake.tasks.sync_tenant_feeds", schema_name, task_name=f"calendars {schema_name}", group="intake")


def poll_due_feed_tenants() -> int:
    from intake.sync import due_feed_schemas

    schemas = due_feed_schemas()
    for schema in schemas:
        request_feed_sync(schema)
    return len(schemas)


def sync_tenant_feeds(schema_name: str, now: dt.datetime | None = None) -> dict:
    from intake.sync import sync_due_feeds

    with schema_context(schema_name):
        totals = sync_due_feeds(now)
    return vars(totals)


def ensure_feed_poll_schedule() -> None:
    from django_q.models import Schedule

    Schedule.objects.get_or_create(
        name=FEED_POLL_SCHEDULE,
        defaults={"func": "intake.tasks.poll_due_feed_tenants", "schedule_type": Schedule.MINUTES, "minutes": 1,
                  "repeats": -1, "next_run": timezone.now()},
    )


def _after_migrate(sender, **kwargs) -> None:
    if sender.name == "intake" and connection.schema_name == settings.PUBLIC_SCHEMA_NAME:
        ensure_feed_poll_schedule()


def connect_schedule_setup() -> None:
    post_migrate.connect(_after_migrate, dispatch_uid="intake.ensure_feed_poll_schedule")
