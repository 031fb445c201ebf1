import datetime as dt

import pytest
from django.db import connection

UTC = dt.timezone.utc


@pytest.fixture
def tick(tenant):
    """Run the tenant's lifecycle tick at a given instant, as the scheduler would."""
    from messaging.tasks import run_tenant_tick

    def run(now: dt.datetime) -> dict:
        totals = run_tenant_tick(connection.schema_name, now)
        connection.set_tenant(tenant)  # schema_context restores the schema; keep the tenant object set
        return totals

    return run


@pytest.fixture(autouse=True)
def no_task_queue(monkeypatch):
    """Ticks are run explicitly in these tests; requests to enqueue one are recorded, not queued."""
    requested: list[str] = []
    monkeypatch.setattr("messaging.tasks.request_tick", requested.append)
    return requested
