"""The tenant whose schema the connection is on, as a full row (schema_context only knows the name)."""
from __future__ import annotations

import time

from django.db import connection

from tenants.models import Tenant

_TTL_SECONDS = 60.0
_cache: dict[str, tuple[float, Tenant]] = {}


def current_tenant() -> Tenant:
    """Cached for a minute per process: only display fields (name, links) may be up to that stale."""
    schema = connection.schema_name
    hit = _cache.get(schema)
    if hit and time.monotonic() - hit[0] < _TTL_SECONDS:
        return hit[1]
    tenant = Tenant.objects.select_related("guest_experience_config").prefetch_related("domains").get(schema_name=schema)
    _cache[schema] = (time.monotonic(), tenant)
    return tenant


def primary_domain(tenant: Tenant) -> str:
    domains = list(tenant.domains.all())
    primary = next((d for d in domains if d.is_primary), domains[0] if domains else None)
    return primary.domain if primary else ""
