"""The host back office (the Django admin): every page renders for an owner, roles see what §10.6 lets
them see, and one tenant never sees another's rows (NFR 2)."""
import datetime as dt

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import RequestFactory
from django.urls import reverse

from atlas_guest.admin_base import PublicModelAdmin
from tests.conftest import SchemaKeepingClient
from tests.factories import make_access_info, make_booking, make_guest, make_listing

UTC = dt.timezone.utc


def staff(role: str, username: str | None = None) -> User:
    user = User.objects.create_user(username or role, password="pw-for-tests", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def client_for(user: User, tenant) -> SchemaKeepingClient:
    client = SchemaKeepingClient(HTTP_HOST=tenant.get_primary_domain().domain, keep=tenant)
    client.force_login(user)
    client.user = user
    return client


def url(model, page="changelist", *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}", args=args)


@pytest.fixture
def some_data(tenant):
    from bookings.services import record_payment
    from messaging.models import CommunicationLog

    listing = make_listing()
    make_access_info(listing)
    booking = make_booking(listing=listing)
    record_payment(booking, amount=1000)
    CommunicationLog.objects.create(booking=booking, guest=booking.guest, event_type="guest.welcome", channel="WHATSAPP",
                                    idempotency_key=f"{booking.pk}:guest.welcome:1")
    return booking


def tenant_models():
    return [m for m, a in admin.site._registry.items() if not isinstance(a, PublicModelAdmin)
            and m._meta.app_label not in ("tenants", "auth", "django_q")]


def test_every_back_office_page_renders_for_the_owner(tenant, some_data):
    client = client_for(staff("owner"), tenant)
    assert client.get("/admin/").status_code == 200
    request = RequestFactory().get("/admin/")
    request.user = client.user
    for model in tenant_models():
        assert client.get(url(model)).status_code == 200, model
        model_admin = admin.site._registry[model]
        assert client.get(url(model, "add")).status_code == (200 if model_admin.has_add_permission(request) else 403), model
        first = model_admin.get_queryset(request).first()  # a row the page lists (a proxy view may filter)
        if first is not None:
            assert client.get(url(model, "change", first.pk)).status_code == 200, model


def test_booking_page_shows_guest_stage_payments_tags_and_timeline(tenant, some_data):
    from guests.tags import apply_tag

    apply_tag(some_data.guest_id, "VIP")
    page = client_for(staff("owner"), tenant).get(url(type(some_data), "change", some_data.pk)).content.decode()
    for text in (some_data.guest.name, "Stage", "VIP", "Message timeline", "guest.welcome", "Payments", "1000"):
        assert text in page, text


def test_frontdesk_has_no_communication_log_money_or_coupons(tenant, some_data):
    from coupons.models import GuestCoupon
    from messaging.models import CommunicationLog

    client = client_for(staff("frontdesk"), tenant)
    from bookings.models import Payment

    assert client.get(url(CommunicationLog)).status_code == 403
    assert client.get(url(GuestCoupon)).status_code == 403
    assert client.get(url(Payment)).status_code == 403
    page = client.get(url(type(some_data), "change", some_data.pk))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Final amount" not in body and "Amount received" not in body and "Message timeline" not in body
    assert some_data.guest.name in body
    assert client.get(url(type(some_data.guest))).status_code == 200


def test_manager_sees_logs_and_templates_but_no_money(tenant, some_data):
    from coupons.models import GuestCoupon
    from messaging.models import CommunicationLog, MessageTemplate

    client = client_for(staff("manager"), tenant)
    assert client.get(url(CommunicationLog)).status_code == 200
    assert client.get(url(MessageTemplate)).status_code == 200
    assert client.get(url(GuestCoupon)).status_code == 403
    assert "Final amount" not in client.get(url(type(some_data), "change", some_data.pk)).content.decode()


def test_owner_sees_money_and_edits_only_their_own_config(tenant, other_tenant, some_data):
    from tenants.models import TenantGuestExperienceConfig

    client = client_for(staff("owner"), tenant)
    assert "Final amount" in client.get(url(type(some_data), "change", some_data.pk)).content.decode()
    listing = client.get(url(TenantGuestExperienceConfig)).content.decode()
    assert "Alpha Homestays" in listing and "Beta Homestays" not in listing
    connection.set_schema_to_public()
    beta_config = TenantGuestExperienceConfig.objects.get(tenant=other_tenant).pk
    connection.set_tenant(tenant)
    assert client.get(url(TenantGuestExperienceConfig, "change", beta_config)).status_code in (302, 404)


def test_offset_outside_its_range_is_refused_with_the_range(tenant):
    from tenants.models import TenantGuestExperienceConfig

    client = client_for(staff("owner"), tenant)
    config = TenantGuestExperienceConfig.objects.get(tenant=tenant)
    page = client.get(url(TenantGuestExperienceConfig, "change", config.pk))
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(welcome_offset_days=20)
    response = client.post(url(TenantGuestExperienceConfig, "change", config.pk), data)
    assert response.status_code == 200
    assert "Must be between 1 and 14 days." in response.content.decode()
    config.refresh_from_db()
    assert config.welcome_offset_days == 7


def test_tenant_isolation_through_the_admin(tenant, other_tenant, activate):
    from guests.models import Guest

    alpha_owner = staff("owner", "alpha-owner")
    for _ in range(3):
        make_guest()
    secret = make_guest(name="Only In Alpha")
    activate("beta")
    beta_owner = staff("owner", "beta-owner")
    beta_guest = make_guest(name="Only In Beta")
    client = SchemaKeepingClient(HTTP_HOST="beta.localhost", keep=other_tenant)
    client.force_login(beta_owner)
    listing = client.get(url(Guest)).content.decode()
    assert "Only In Beta" in listing and "Only In Alpha" not in listing
    assert secret.pk != beta_guest.pk  # the alpha id does not exist in beta at all
    assert client.get(url(Guest, "change", secret.pk)).status_code in (302, 404)
    # and alpha's owner cannot log in on beta's domain: users live in each tenant's schema
    intruder = SchemaKeepingClient(HTTP_HOST="beta.localhost", keep=other_tenant)
    assert not intruder.login(username=alpha_owner.username, password="pw-for-tests")


def test_platform_admin_sees_tenants_and_no_tenant_tables(tenant):
    from guests.models import Guest
    from tenants.models import Tenant

    connection.set_schema_to_public()
    root = User.objects.create_superuser("platform", password="pw-for-tests")
    client = SchemaKeepingClient(HTTP_HOST="localhost", keep=tenant)
    client.force_login(root)
    page = client.get(url(Tenant)).content.decode()
    assert "Alpha Homestays" in page and "Beta Homestays" in page
    assert client.get("/admin/guests/guest/").status_code in (403, 404)
    index = client.get("/admin/").content.decode()
    assert "/admin/tenants/tenant/" in index and "/admin/guests/" not in index and "/admin/django_q/" in index
