"""Schema-per-tenant isolation (NFR 2) as PostgreSQL sees it: where the migrations put each table, what one
tenant can see of another, what happens in public, and how a tenant is made and unmade.

Marked `external`: CI also runs these against an external PostgreSQL (DATABASE_URL).
"""
import datetime as dt
import io

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, ProgrammingError, connection, transaction

from bookings.models import Booking
from guests.models import Guest
from tenants.models import Domain, Tenant, TenantGuestExperienceConfig, TenantWorkIndex
from tenants.services import create_tenant
from tests.factories import make_booking, make_guest

pytestmark = pytest.mark.external

DOMAIN_APPS = ("guests", "bookings", "operations", "messaging", "portal", "reviews", "coupons")
SHARED_ONLY_APPS = ("tenants", "django_q")
BOTH = ("django_content_type", "auth_user", "django_session", "django_admin_log", "django_migrations")


def tables_of(*app_labels: str) -> set[str]:
    return {
        model._meta.db_table
        for label in app_labels
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    }


def tables_in(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema])
        return {name for (name,) in cursor.fetchall()}


def schema_exists(schema: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [schema])
        return cursor.fetchone() is not None


# --- where the migrations put the tables -------------------------------------------------------------------------


def test_every_domain_table_is_in_each_tenant_schema_and_not_in_public(db):
    domain_tables = tables_of(*DOMAIN_APPS)
    assert {"bookings_booking", "guests_guest", "messaging_automationschedule", "reviews_guestreview"} <= domain_tables
    for schema in ("alpha", "beta"):
        assert domain_tables - tables_in(schema) == set(), f"missing in {schema}"
    assert domain_tables & tables_in("public") == set()


def test_tenants_and_the_task_queue_live_in_public_only(db):
    shared_tables = tables_of(*SHARED_ONLY_APPS)
    expected = {"tenants_tenant", "tenants_domain", "tenants_tenantguestexperienceconfig", "django_q_schedule"}
    assert expected <= shared_tables
    assert shared_tables - tables_in("public") == set()
    for schema in ("alpha", "beta"):
        assert shared_tables & tables_in(schema) == set(), f"leaked into {schema}"


def test_apps_shared_and_per_tenant_have_their_tables_in_both(db):
    for schema in ("public", "alpha", "beta"):
        assert set(BOTH) <= tables_in(schema), schema


# --- isolation through the ORM (NFR 2) ---------------------------------------------------------------------------


def test_a_row_of_one_tenant_is_invisible_from_another(db, activate):
    activate("alpha")
    booking = make_booking(guest=make_guest(name="Alpha Only Guest", phone="+919812300011"))
    assert Booking.objects.filter(pk=booking.pk).exists()

    activate("beta")
    assert not Guest.objects.filter(name="Alpha Only Guest").exists()
    assert not Guest.objects.filter(phone="+919812300011").exists()
    assert not Booking.objects.filter(guest__name="Alpha Only Guest").exists()
    make_guest(name="Beta Only Guest", phone="+919812300012")

    activate("alpha")
    assert not Guest.objects.filter(name="Beta Only Guest").exists()
    assert Guest.objects.filter(name="Alpha Only Guest").exists()


def test_a_tenant_model_queried_in_public_fails_loudly(db):
    connection.set_schema_to_public()
    with pytest.raises(ProgrammingError, match='relation "bookings_booking" does not exist'):
        with transaction.atomic():
            list(Booking.objects.all())
    with pytest.raises(ProgrammingError, match='relation "guests_guest" does not exist'):
        with transaction.atomic():
            Guest.objects.create(name="Nobody", phone="+919812300013")


# --- making and unmaking a tenant ----------------------------------------------------------------------------------


@pytest.fixture
def in_public(db):
    """Public schema, with foreign keys checked at once rather than at commit.

    These tests run inside the test's transaction (no flush of the session tenants). Creating a schema inserts
    rows (auth permissions) whose deferred foreign-key checks would still be pending when the schema is dropped
    again, and PostgreSQL refuses to drop a table with pending trigger events; outside a test each migration
    commits, so nothing is pending.
    """
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    yield
    connection.set_schema_to_public()


def test_create_tenant_makes_schema_domain_and_the_default_config(in_public):
    assert not schema_exists("gamma_stays")

    tenant = create_tenant(slug="gamma-stays", name="Gamma Stays", owner_name="Gita Rao", coupon_prefix="GAMMA")
    try:
        assert tenant.schema_name == "gamma_stays"
        assert schema_exists("gamma_stays")
        assert tables_of(*DOMAIN_APPS) - tables_in("gamma_stays") == set()
        assert list(Domain.objects.filter(tenant=tenant).values_list("domain", "is_primary")) == [
            ("gamma-stays.localhost", True)
        ]

        config = TenantGuestExperienceConfig.objects.get(tenant=tenant)
        assert (
            config.welcome_offset_days,
            config.payment_reminder_offset_days,
            config.checkin_instructions_offset_days,
            config.house_rules_offset_days,
        ) == (7, 3, 1, 2)
        assert (config.quiet_hours_end, config.quiet_hours_start) == (dt.time(8, 0), dt.time(21, 0))
        assert (config.coupon_discount_type, config.coupon_discount_value) == ("PERCENT", 10)
        assert (config.coupon_validity_months, config.coupon_max_uses) == (6, 1)
        assert TenantWorkIndex.objects.filter(tenant=tenant).exists()
        assert connection.schema_name == "public"
    finally:
        tenant.delete(force_drop=True)

    assert not schema_exists("gamma_stays")
    assert not Tenant.objects.filter(slug="gamma-stays").exists()
    assert not Domain.objects.filter(domain="gamma-stays.localhost").exists()


@pytest.mark.parametrize("prefix", ["gamma", "G", "TOO-LONG-PREFIX", ""])
def test_create_tenant_with_an_invalid_coupon_prefix_leaves_nothing_behind(in_public, prefix):
    with pytest.raises(ValidationError) as caught:
        create_tenant(slug="delta", name="Delta Homes", coupon_prefix=prefix)
    assert "coupon_prefix" in caught.value.message_dict
    assert not schema_exists("delta")
    assert not Tenant.objects.filter(slug="delta").exists()


def test_create_tenant_drops_its_schema_again_when_a_later_step_fails(in_public):
    # Someone already holds the domain the new tenant would get: the domain row fails after the schema exists.
    Domain.objects.create(domain="epsilon.localhost", tenant=Tenant.objects.get(slug="alpha"), is_primary=False)
    with pytest.raises(IntegrityError):
        create_tenant(slug="epsilon", name="Epsilon Villas")
    assert not schema_exists("epsilon")
    assert not Tenant.objects.filter(slug="epsilon").exists()


# --- migrations match the models ------------------------------------------------------------------------------------


def test_no_model_change_is_missing_a_migration(db):
    out = io.StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit:
        pytest.fail(f"Models changed without a migration (run makemigrations):\n{out.getvalue()}")


def test_coupon_prefix_defaults_to_the_hosts_own_name():
    from tenants.services import default_coupon_prefix

    assert default_coupon_prefix("sunset") == "SUNSET"
    assert default_coupon_prefix("green-leaf-homestays") == "GREENLEAFH"
    assert default_coupon_prefix("x") == "STAY"
