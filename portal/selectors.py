"""The portal's hot reads (NFR 3: the page under load). A page view is two statements: everything the page
shows (`page_rows` here), confirming on the way that the request's domain is still the tenant's, and the
shared rate-limit counter (portal.access); the domain's tenant (portal.middleware) is a third one when this
process has not looked it up in the last minute. Each is one prepared statement, schema-qualified so no
`SET search_path` is needed, with its column lists made from the models' own fields (a field added to a
model is read too).

Prepared statements: Django's psycopg cursors bind parameters on the client, so every statement is parsed
and planned again; the portal's cursors bind on the server and psycopg prepares each of its statements on
its first use on a connection (and keeps up to 100 per connection). The statements still go through
Django's cursor wrapper, so the query log, the test client's query counting and database instrumentation
see them.
"""
from __future__ import annotations

import json
import time
from decimal import Decimal
from functools import lru_cache

import psycopg
from django.db import ProgrammingError, connection, models
from django.db.backends.postgresql.base import ServerBindingCursor
from django.http import Http404

from bookings.models import AddonRequest, Booking, Listing, ListingAccessInfo, Property, PropertyRecommendation
from portal.models import GuestPortalToken
from tenants.current import current_tenant
from tenants.models import Domain, Tenant, TenantGuestExperienceConfig

PUBLIC = "public"


def execute(sql: str, params) -> list[tuple]:
    """Run one statement that returns rows on a server-binding cursor of the request's connection."""
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        # Django turns preparing off (its cursors bind on the client and never prepare). Server-binding cursors,
        # the portal's only, prepare each statement on its first use: the portal's few, fixed statements.
        raw.prepare_threshold = 0
    with connection._prepare_cursor(ServerBindingCursor(raw)) as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if connection.queries_logged and connection.queries_log and connection.queries_log[-1]["sql"] is None:
        # A prepared statement is sent by name, so the query log would have no text for it: give it the text
        # (composed on the driver's cursor: a Django cursor could set the search path, a statement of its own).
        connection.queries_log[-1]["sql"] = psycopg.ClientCursor(raw).mogrify(sql, params)
    return rows


def qualified(schema: str, model: type[models.Model]) -> str:
    return f'"{schema}"."{model._meta.db_table}"'


def columns(model: type[models.Model], alias: str) -> str:
    return ", ".join(f'{alias}."{f.column}"' for f in model._meta.concrete_fields)


@lru_cache(maxsize=None)
def _converters(model: type[models.Model]) -> tuple:
    """The database converters of each concrete field (JSON fields arrive as text, as for the ORM)."""
    found = []
    for field in model._meta.concrete_fields:
        col = field.get_col(model._meta.db_table)
        found.append(tuple(connection.ops.get_db_converters(col) + col.get_db_converters(connection)))
    return tuple(found)


def instance(model: type[models.Model], values) -> models.Model:
    """A model instance from a row of its concrete fields, in field order (as the ORM builds it)."""
    converters = _converters(model)
    if any(converters):
        values = list(values)
        for n, convert in enumerate(converters):
            for fn in convert:
                values[n] = fn(values[n], None, connection)
    return model.from_db(connection.alias, None, values)


_JSON_TYPED = (models.DateField, models.TimeField, models.DecimalField, models.UUIDField, models.DurationField)


def instances_from_json(model: type[models.Model], text: str | None) -> list[models.Model]:
    """Rows aggregated as a JSON array of objects (`json_agg(row)`), as model instances; numbers keep their
    exact decimals, dates and times are parsed by their fields."""
    if not text:
        return []
    fields = model._meta.concrete_fields
    made = []
    for row in json.loads(text, parse_float=Decimal):
        values = []
        for field in fields:
            value = row[field.column]
            if value is not None and isinstance(field, _JSON_TYPED):
                value = field.to_python(value)
            values.append(value)
        made.append(model.from_db(connection.alias, None, values))
    return made


# --- the page -------------------------------------------------------------------------------------------------

_PARTS = (GuestPortalToken, Booking, Listing, Property, ListingAccessInfo, TenantGuestExperienceConfig)


@lru_cache(maxsize=256)
def _page_sql(schema: str, confirm_domain: bool) -> str:
    rec, addon = PropertyRecommendation, AddonRequest
    domain = (f"\n  AND EXISTS (SELECT 1 FROM {qualified(PUBLIC, Domain)} d WHERE d.domain = %s AND d.tenant_id = %s)"
              if confirm_domain else "")
    return f"""
SELECT {columns(GuestPortalToken, "t")}, {columns(Booking, "b")}, {columns(Listing, "l")}, {columns(Property, "p")},
  {columns(ListingAccessInfo, "a")}, {columns(TenantGuestExperienceConfig, "c")},
  (SELECT json_agg(r ORDER BY r.sort_order, r.name, r.id)::text FROM {qualified(schema, rec)} r
     WHERE r.property_id = p.id AND r.is_active),
  (SELECT json_agg(json_build_array(q.code, q.status) ORDER BY q.requested_at, q.id)::text
     FROM {qualified(schema, addon)} q WHERE q.booking_id = b.id)
FROM {qualified(schema, GuestPortalToken)} t
JOIN {qualified(schema, Booking)} b ON b.id = t.booking_id
JOIN {qualified(schema, Listing)} l ON l.id = b.listing_id
JOIN {qualified(schema, Property)} p ON p.id = l.property_id
LEFT JOIN {qualified(schema, ListingAccessInfo)} a ON a.listing_id = l.id
LEFT JOIN {qualified(PUBLIC, TenantGuestExperienceConfig)} c ON c.tenant_id = %s
WHERE t.token_hash = %s{domain}
"""


_COUNTERS = frozenset(n for n, f in enumerate(GuestPortalToken._meta.concrete_fields)
                      if f.name in ("last_accessed_at", "access_count"))


class PageRows:
    """What every portal page reads, from one statement: the link's row, its booking with listing, property
    and access details (linked as the ORM's select_related would), the tenant's switches, the property's
    active recommendations in the host's order, and the booking's add-on requests (code, status), oldest
    first."""

    __slots__ = ("token", "booking", "config", "recommendations_version", "addon_requests", "version", "_prop",
                 "_recommendations")

    def __init__(self, row: tuple):
        # Every value read, less the link's own access counters (updated on each view, shown nowhere).
        self.version = tuple(value for n, value in enumerate(row) if n not in _COUNTERS)
        parts, at = [], 0
        for model in _PARTS:
            width = len(model._meta.concrete_fields)
            parts.append(row[at:at + width])
            at += width
        token, booking, listing, prop = (instance(m, values) for m, values in zip(_PARTS[:4], parts[:4]))
        access = instance(ListingAccessInfo, parts[4]) if parts[4][0] is not None else None
        # The related objects are cached as select_related caches them (no descriptor checks: the ids match).
        listing._state.fields_cache["property"] = prop
        listing._state.fields_cache["access_info"] = access  # None: the reverse accessor raises DoesNotExist
        if access is not None:
            access._state.fields_cache["listing"] = listing
        booking._state.fields_cache["listing"] = listing
        token._state.fields_cache["booking"] = booking
        self.token, self.booking = token, booking
        self.config = instance(TenantGuestExperienceConfig, parts[5]) if parts[5][0] is not None else None
        self._prop, self._recommendations = prop, None
        self.recommendations_version = row[at] or ""  # every column of every row shown: a complete cache key
        self.addon_requests = [tuple(pair) for pair in json.loads(row[at + 1])] if row[at + 1] else []


    @property
    def recommendations(self) -> list[PropertyRecommendation]:
        """Made into instances when first asked for (a page served from the render cache never asks)."""
        if self._recommendations is None:
            self._recommendations = instances_from_json(PropertyRecommendation, self.recommendations_version)
            for r in self._recommendations:
                r._state.fields_cache["property"] = self._prop
        return self._recommendations


def page_rows(schema: str, tenant_id: int, token_hash: str, domain: str | None = None) -> PageRows | None:
    """The page of the link with this hash, or None; with `domain`, only while the domain is the tenant's."""
    if domain is None:
        rows = execute(_page_sql(schema, False), (tenant_id, token_hash))
    else:
        rows = execute(_page_sql(schema, True), (tenant_id, token_hash, domain, tenant_id))
    return PageRows(rows[0]) if rows else None


# --- the tenant of the domain ----------------------------------------------------------------------------------

DOMAIN_TTL_SECONDS = 60.0  # as tenants.current keeps the tenant's row
_domains: dict[str, tuple[float, Tenant]] = {}


@lru_cache(maxsize=1)
def _tenant_sql() -> str:
    return (f"SELECT {columns(Tenant, 't')} FROM {qualified(PUBLIC, Domain)} d "
            f"JOIN {qualified(PUBLIC, Tenant)} t ON t.id = d.tenant_id WHERE d.domain = %s")


def tenant_for_domain(hostname: str, *, fresh: bool = False) -> Tenant | None:
    """The tenant a domain belongs to, or None: what django-tenants' middleware reads, in one prepared
    statement that needs no `SET search_path`.

    Remembered per process for a minute (not `fresh`): the statement of a portal page confirms, with the
    link, that the domain still belongs to the tenant (`page_for_link`), so a page is never served from a
    schema its domain has left; a save or delete of a domain or tenant in this process forgets them all."""
    if not fresh:
        hit = _domains.get(hostname)
        if hit is not None and time.monotonic() - hit[0] < DOMAIN_TTL_SECONDS:
            return hit[1]
    rows = execute(_tenant_sql(), (hostname,))
    if not rows:
        _domains.pop(hostname, None)  # unknown domains are not remembered: any Host header would fill the dict
        return None
    tenant = instance(Tenant, rows[0])
    tenant.domain_url = hostname
    _domains[hostname] = (time.monotonic(), tenant)
    return tenant


def forget_domains(**kwargs) -> None:
    _domains.clear()


def page_for_link(token_hash: str) -> PageRows | None:
    """`page_rows` for a link in the request's tenant. Where the tenant was found from the request's domain,
    the same statement confirms that the domain still belongs to it; if the link is not found, the domain's
    tenant is read again, and the link looked up there if the domain has moved (the 404 if it is gone)."""
    tenant = connection.tenant
    domain = getattr(tenant, "domain_url", None)
    if not domain or not isinstance(tenant, Tenant):  # schema_context (tasks, tests): no domain to confirm
        return page_rows(connection.schema_name, current_tenant().pk, token_hash)
    failed = None
    try:
        page = page_rows(tenant.schema_name, tenant.pk, token_hash, domain)
    except ProgrammingError as exc:  # the remembered tenant's schema is gone, dropped by another process
        if connection.in_atomic_block:  # the transaction is lost with it (a delete in this one forgets domains)
            raise
        page, failed = None, exc
    if page is not None:
        return page
    current = tenant_for_domain(domain, fresh=True)
    if current is None:
        connection.set_schema_to_public()
        raise Http404(f"No tenant for hostname {domain!r}")
    if (current.pk, current.schema_name) == (tenant.pk, tenant.schema_name):
        if failed is not None:
            raise failed
        return None  # the domain is the tenant's: an unknown link
    connection.set_tenant(current)
    return page_rows(current.schema_name, current.pk, token_hash, domain)
