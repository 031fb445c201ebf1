import datetime as dt

import pytest
from django.db import connection

from tests.lifecycle.conftest import book, no_task_queue, tick  # noqa: F401  (shared fixtures)

UTC = dt.timezone.utc
AS_OF = dt.date(2026, 6, 1)
NOW = dt.datetime(2026, 6, 1, 6, 0, tzinfo=UTC)


@pytest.fixture
def config(tenant):
    from tenants.models import TenantGuestExperienceConfig

    cfg = TenantGuestExperienceConfig.objects.get(tenant=tenant)
    cfg.personalization_enabled = True
    cfg.save()
    return cfg


@pytest.fixture
def run_refresh(tenant):
    """Refresh the medallion as of AS_OF (NOW) unless told otherwise."""
    from personalization.refresh import refresh

    def run(**kw):
        kw.setdefault("as_of", AS_OF)
        kw.setdefault("now", NOW)
        result = refresh(**kw)
        connection.set_tenant(tenant)
        return result

    return run


def rows(table: str) -> list[tuple]:
    """Every row of a table or view, in a total order (so two snapshots compare equal when the data does)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")
        return sorted(cursor.fetchall(), key=repr)


def one(sql: str, params=None):
    from personalization.sql import fetch_dicts

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = fetch_dicts(cursor)
        return found[0] if found else None


def set_personalization(guest, granted: bool = True, now=NOW):
    from guests.models import ConsentChannel, ConsentSource, ConsentStatus
    from guests.services import set_consent

    status = ConsentStatus.GRANTED if granted else ConsentStatus.REVOKED
    set_consent(guest.pk, ConsentChannel.PERSONALIZATION, status, source=ConsentSource.PORTAL, now=now)
