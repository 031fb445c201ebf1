"""django-q2 entry points for the lifecycle engine. Thin: they pick the tenant schema and call the engine.

The poll is a pair of repeating django-q2 Schedules, one minute apart each and staggered by 30 s, because
the cluster's scheduler wakes every 30 s and a repeating Schedule runs at most once a minute (GUIDE). Work
that is due at once does not wait for the poll: `request_tick` enqueues the tenant's tick right away.
"""
from __future__ import annotations

import datetime as dt
import logging
import time

from django.conf import settings
from django.db import connection
from django.db.models.signals import post_migrate
from django.utils import timezone
from django_tenants.utils import schema_context

logger = logging.getLogger(__name__)

POLL_SCHEDULE_PREFIX = "lifecycle-poll"
TICK_TIME_BUDGET_S = 20.0  # a tick yields its worker after this long and asks for another


def request_tick(schema_name: str) -> None:
    from django_q.tasks import async_task

    async_task("messaging.tasks.run_tenant_tick", schema_name, task_name=f"tick {schema_name}", group="lifecycle")


def run_tenant_tick(schema_name: str, now: dt.datetime | None = None, *, budget_s: float = TICK_TIME_BUDGET_S) -> dict:
    """Publish due schedules, dispatch the outbox and deliver due messages in one tenant until nothing is
    due, then record when its next work is due. `now` is fixed for the whole tick when given (tests)."""
    from messaging.delivery import deliver_due, fall_back_undelivered
    from messaging.outbox import dispatch_outbox
    from messaging.scheduler import publish_due_schedules
    from messaging.wakeups import recompute_next_due

    started = time.monotonic()
    totals = {"published": 0, "dispatched": 0, "delivered": 0}
    with schema_context(schema_name):
        while True:
            moment = now or timezone.now()
            published = publish_due_schedules(moment, settings.SCHEDULER_BATCH_SIZE)
            dispatched, _ = dispatch_outbox(moment, settings.OUTBOX_BATCH_SIZE)
            delivered = fall_back_undelivered(moment) + deliver_due(moment, settings.SCHEDULER_BATCH_SIZE)
            totals["published"] += published
            totals["dispatched"] += dispatched
            totals["delivered"] += delivered
            if not (published or dispatched or delivered):
                break
            if time.monotonic() - started > budget_s:
                break
        next_due = recompute_next_due()
    if next_due is not None and next_due <= (now or timezone.now()) and now is None:
        request_tick(schema_name)  # out of budget with work left: yield the worker, continue in a new task
    return totals


def poll_due_tenants() -> int:
    """The scheduler's poll: one query finds the tenants with due work; each gets a tick."""
    from messaging.wakeups import due_schemas

    schemas = due_schemas()  # schema-qualified: works whatever schema the worker was left on
    for schema in schemas:
        request_tick(schema)
    return len(schemas)


def ensure_poll_schedules() -> None:
    """Create the repeating poll Schedules (no cron): 60 / SCHEDULER_POLL_SECONDS of them, staggered."""
    from django_q.models import Schedule

    count = max(1, 60 // max(settings.SCHEDULER_POLL_SECONDS, 30))
    start = timezone.now()
    wanted = {f"{POLL_SCHEDULE_PREFIX}-{i}" for i in range(count)}
    Schedule.objects.filter(name__startswith=POLL_SCHEDULE_PREFIX).exclude(name__in=wanted).delete()
    for i in range(count):
        Schedule.objects.get_or_create(
            name=f"{POLL_SCHEDULE_PREFIX}-{i}",
            defaults={
                "func": "messaging.tasks.poll_due_tenants",
                "schedule_type": Schedule.MINUTES,
                "minutes": 1,
                "repeats": -1,
                "next_run": start + dt.timedelta(seconds=i * 60 / count),
            },
        )


# Daily jobs (no cron): name -> function. Later issues add the other retention jobs here.
DAILY_JOBS = {"coupons-daily": "coupons.tasks.daily_coupon_jobs", "retention-daily": "guests.privacy.daily_retention",
              "personalization-nightly": "personalization.tasks.nightly_refresh"}
# Hourly jobs: the incremental personalization refresh (only guests whose inputs changed).
HOURLY_JOBS = {"personalization-hourly": "personalization.tasks.hourly_refresh"}


def ensure_daily_schedules() -> None:
    from django_q.models import Schedule

    for jobs, kind in ((DAILY_JOBS, Schedule.DAILY), (HOURLY_JOBS, Schedule.HOURLY)):
        for name, func in jobs.items():
            Schedule.objects.get_or_create(
                name=name, defaults={"func": func, "schedule_type": kind, "repeats": -1, "next_run": timezone.now()}
            )


def _after_migrate(sender, **kwargs) -> None:
    if sender.name != "messaging":
        return
    if connection.schema_name == settings.PUBLIC_SCHEMA_NAME:
        ensure_poll_schedules()
        ensure_daily_schedules()
    else:
        from messaging.templates import seed_platform_templates

        seed_platform_templates()  # every tenant starts with the Appendix B catalogue


def connect_schedule_setup() -> None:
    post_migrate.connect(_after_migrate, dispatch_uid="messaging.ensure_poll_schedules")
