"""Test set-up: one real PostgreSQL test database, the public schema and two tenants created once per
session (GUIDE: TenantTestCase recreates schemas per class and is slow); each test runs in a transaction."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

TENANT_SLUGS = ("alpha", "beta")


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker):
    from django.test.utils import setup_databases, teardown_databases

    from tenants.models import Tenant
    from tenants.services import create_tenant, public_tenant

    with django_db_blocker.unblock():
        old_config = setup_databases(verbosity=0, interactive=False, keepdb=False)
        public_tenant()
        for slug in TENANT_SLUGS:
            create_tenant(slug=slug, name=f"{slug.title()} Homestays", owner_name=f"{slug.title()} Owner",
                          coupon_prefix=slug.upper()[:5])
        connection.set_schema_to_public()
    yield
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        for tenant in Tenant.objects.exclude(schema_name="public"):
            tenant.delete(force_drop=True)
        teardown_databases(old_config, verbosity=0)


def _activate(slug: str):
    from tenants.models import Tenant

    tenant = Tenant.objects.get(slug=slug)
    connection.set_tenant(tenant)
    return tenant


@pytest.fixture
def tenant(db):
    """The tenant `alpha`, set on the connection for the test; public again afterwards."""
    yield _activate("alpha")
    connection.set_schema_to_public()


@pytest.fixture
def other_tenant(db):
    """The tenant `beta` (not activated): for isolation tests."""
    from tenants.models import Tenant

    return Tenant.objects.get(slug="beta")


@pytest.fixture
def activate():
    """Switch the connection to a tenant by slug inside a test."""
    yield _activate
    connection.set_schema_to_public()


class SchemaKeepingClient(Client):
    """A test client that puts the connection back on the test's tenant after each request: the tenant
    middleware switches schemas per request and leaves the last one set."""

    def __init__(self, *args, keep=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._keep = keep

    def request(self, **request):
        try:
            return super().request(**request)
        finally:
            if self._keep is not None:
                connection.set_tenant(self._keep)


@pytest.fixture
def tenant_client(tenant):
    return SchemaKeepingClient(HTTP_HOST=tenant.get_primary_domain().domain, keep=tenant)


@pytest.fixture
def public_client(tenant):
    """A client on the platform's domain (localhost), for webhooks and the platform admin."""
    return SchemaKeepingClient(HTTP_HOST="localhost", keep=tenant)
