"""Hostile-input set-up: the portal's and messaging's fixtures, clients that answer a 500 instead of raising
(so it is counted, then failed), and the tally written for bench/hostile.py."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User

from tests.conftest import SchemaKeepingClient
from tests.lifecycle.conftest import book  # noqa: F401  (shared fixtures)
from tests.messaging.conftest import providers  # noqa: F401
from tests.portal.conftest import no_task_queue, stay, tick  # noqa: F401
from tests.hostile.strategies import TALLY


def pytest_sessionfinish(session, exitstatus):
    target = os.environ.get("HOSTILE_TALLY")
    if target:
        Path(target).write_text(json.dumps(TALLY.as_dict(), indent=2))


@pytest.fixture
def client(tenant):
    """The tenant's domain (CSRF not checked: `csrf_client` does), a 500 answered rather than raised."""
    return SchemaKeepingClient(HTTP_HOST=tenant.get_primary_domain().domain, keep=tenant, enforce_csrf_checks=False,
                               raise_request_exception=False)


@pytest.fixture
def csrf_client(tenant):
    return SchemaKeepingClient(HTTP_HOST=tenant.get_primary_domain().domain, keep=tenant, enforce_csrf_checks=True,
                               raise_request_exception=False)


@pytest.fixture
def public_client(tenant):
    return SchemaKeepingClient(HTTP_HOST="localhost", keep=tenant, raise_request_exception=False)


@pytest.fixture
def staff(tenant):
    """A logged-in API client of this tenant per role (owner, manager, frontdesk...)."""
    made = {}

    def client(role: str = "owner") -> SchemaKeepingClient:
        if role not in made:
            user = User.objects.create_user(f"hostile-{role}", password="pw-hostile-1", is_staff=True)
            user.groups.add(Group.objects.get(name=role))
            c = SchemaKeepingClient(HTTP_HOST=tenant.get_primary_domain().domain, keep=tenant,
                                    raise_request_exception=False)
            c.force_login(user)
            made[role] = c
        return made[role]

    return client
