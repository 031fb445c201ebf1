"""The portal's hot reads (NFR 3: the page under load). A page view is three statements: the domain's tenant
(portal.middleware), everything the page shows (`page_rows` here), and the shared rate-limit counter
(portal.access). Each is one prepared statement, schema-qualified so no `SET search_path` is needed, with
its column lists made from the models' own fields (a field added to a model is read too).

Prepared statements: Django's psycopg cursors bind parameters on the client, so every statement is parsed
and planned again; the portal's cursors bind on the server and psycopg prepares each of its statements on
its first use on a connection (and keeps up to 100 per connection). The statements still go through
Django's cursor wrapper, so the query log, the test client's query counting and database instrumentation
see them.
"""
from __future__ import annotations

import json
from decimal import Decimal
from functools import lru_cache

import psycopg
from django.db import connection, models
from django.db.backends.postgresql.base import ServerBindingCursor

from bookings.models import AddonRequest, Booking, Listing, ListingAccessInfo, Property, PropertyRecommendation
from portal.models import GuestPortalToken
from tenants.models import TenantGuestExperienceConfig

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
def _page_sql(schema: str) -> str:
    rec, addon = PropertyRecommendation, AddonRequest
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
WHERE t.token_hash = %s
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


def page_rows(schema: str, tenant_id: int, token_hash: str) -> PageRows | None:
    rows = execute(_page_sql(schema), (tenant_id, token_hash))
    return PageRows(rows[0]) if rows else None


# --- the tenant of the domain ----------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _tenant_sql() -> str:
    from tenants.models import Domain, Tenant

    return (f"SELECT {columns(Tenant, 't')} FROM {qualified(PUBLIC, Domain)} d "
            f"JOIN {qualified(PUBLIC, Tenant)} t ON t.id = d.tenant_id WHERE d.domain = %s")


def tenant_for_domain(hostname: str):
    """The tenant a domain belongs to, or None: what django-tenants' middleware reads, in one prepared
    statement that needs no `SET search_path`."""
    from tenants.models import Tenant

    rows = execute(_tenant_sql(), (hostname,))
    return instance(Tenant, rows[0]) if rows else None
