"""Writes on tenants: creating a host with its schema, domain and guest-experience config."""
from __future__ import annotations

from django.conf import settings
from django.db import transaction

from tenants.models import Domain, Tenant, TenantGuestExperienceConfig, TenantWorkIndex


def tenant_domain(slug: str) -> str:
    return f"{slug}.{settings.TENANT_BASE_DOMAIN}"


def default_coupon_prefix(slug: str) -> str:
    """The host's own word on its coupons (white-label: never the platform's name), e.g. sunset → SUNSET."""
    letters = "".join(ch for ch in slug.upper() if ch.isalnum())[:10]
    return letters if len(letters) >= 2 else "STAY"


def create_tenant(
    *, slug: str, name: str, owner_name: str = "", coupon_prefix: str | None = None, direct_booking_url: str = ""
) -> Tenant:
    """Create the tenant's schema (migrated), its domain `<slug>.<base>` and its default config.

    Schema creation runs the migrations and cannot share a transaction with the rows, so a failure after it
    drops the schema again: nothing half-made is left behind.
    """
    tenant = Tenant(
        schema_name=slug.replace("-", "_"),
        slug=slug,
        name=name,
        owner_name=owner_name,
        coupon_prefix=default_coupon_prefix(slug) if coupon_prefix is None else coupon_prefix,
        direct_booking_url=direct_booking_url,
    )
    tenant.full_clean()
    tenant.save(verbosity=0)
    try:
        with transaction.atomic():
            Domain.objects.create(domain=tenant_domain(slug), tenant=tenant, is_primary=True)
            TenantGuestExperienceConfig.objects.create(tenant=tenant)
            TenantWorkIndex.objects.create(tenant=tenant)
    except Exception:
        tenant.delete(force_drop=True)
        raise
    return tenant


def public_tenant() -> Tenant:
    """The platform's own schema, served at the bare base domain (the platform admin)."""
    tenant, created = Tenant.objects.get_or_create(
        schema_name=settings.PUBLIC_SCHEMA_NAME, defaults={"slug": "public", "name": "Atlas Guest platform"}
    )
    Domain.objects.get_or_create(domain=settings.TENANT_BASE_DOMAIN, defaults={"tenant": tenant, "is_primary": True})
    return tenant


def config_for(tenant: Tenant) -> TenantGuestExperienceConfig:
    config, _ = TenantGuestExperienceConfig.objects.get_or_create(tenant=tenant)
    return config
