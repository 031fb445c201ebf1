"""Who may see the portal: the token in the link, its expiry, the review window and the rate limit
(RA-GUEST-001 §8.2, NFR 5–7, EC-06, EC-08)."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from functools import lru_cache

from django.db import connection

from bookings.models import Booking
from portal.models import GuestPortalToken, PortalRateWindow
from portal.selectors import PageRows, execute, page_for_link, qualified
from portal.services import REVIEW_WINDOW_AFTER_CHECKOUT, hash_token
from tenants.current import current_tenant

TOKEN_FORMAT = re.compile(r"[0-9a-f]{32}")  # make_token: 32 hex characters
RATE_LIMIT_PER_HOUR = 60  # NFR 7: 60 requests per token per hour

# One statement, so concurrent requests in any number of web processes count exactly (no read-then-write).
# A page view served also bumps the token's access count (§8.2) in it, and the first request of a new hour
# forgets the token's older windows: one round trip, one prepared statement per schema. The counters commit
# without waiting for the WAL flush (`set_config(..., true)`: this statement's own transaction only): on a
# database crash a few increments may be lost, which costs nothing here, while waiting for the disk on every
# page view would be most of its time. Inside a caller's transaction the caller's commit setting is kept.
_COUNT = """
WITH hit AS (
    INSERT INTO {rate} (token_hash, window_start, count) VALUES (%(hash)s, %(start)s, 1)
    ON CONFLICT (token_hash, window_start) DO UPDATE SET count = {rate}.count + 1
    RETURNING count
), viewed AS (
    UPDATE {token} SET last_accessed_at = %(now)s, access_count = access_count + 1
    WHERE id = %(token)s AND %(page_view)s AND (SELECT count FROM hit) <= %(limit)s
), forgotten AS (
    DELETE FROM {rate} WHERE token_hash = %(hash)s AND window_start < %(start)s AND (SELECT count FROM hit) = 1
)
SELECT count, {commit} FROM hit
"""
_ASYNC_COMMIT = "set_config('synchronous_commit', 'off', true)"


@lru_cache(maxsize=512)
def _count_sql(schema: str, async_commit: bool) -> str:
    return _COUNT.format(rate=qualified(schema, PortalRateWindow), token=qualified(schema, GuestPortalToken),
                         commit=_ASYNC_COMMIT if async_commit else "NULL")


@dataclass(frozen=True)
class PortalAccess:
    token: str  # as the guest's link has it (the stored copy may be gone after expiry, §10.3)
    row: GuestPortalToken
    booking: Booking
    # The portal has expired but the review page is still open (EC-08): nothing else is served.
    review_only: bool
    page: PageRows  # what the page shows, read with the link

    @property
    def actor(self) -> str:
        return f"guest:{self.row.guest_id}"


def review_deadline(booking: Booking) -> dt.datetime:
    return booking.local_checkout_at() + REVIEW_WINDOW_AFTER_CHECKOUT


def find_access(token: str, now: dt.datetime) -> PortalAccess | None:
    """The access a link gives at `now`, or None (unknown, revoked or expired: the 404 page).

    Looked up by the token's SHA-256 in a unique column: the database compares digests, so response time
    says nothing about how much of a guessed token was right, and links keep working for the review
    window after the stored token itself is deleted (§10.3: only the hash is retained).
    """
    if not TOKEN_FORMAT.fullmatch(token):
        return None
    page = page_for_link(hash_token(token))
    if page is None:
        return None
    # The switch as it is now (the tenant row itself may be cached for a minute, its config not).
    config = page.config or current_tenant().guest_experience_config
    if not config.portal_enabled:
        return None
    row = page.token
    if row.is_active and now < row.expires_at:
        return PortalAccess(token, row, row.booking, review_only=False, page=page)
    # Deactivated before its expiry means revoked by the host: nothing at all, not even the review.
    if now >= row.expires_at and now < review_deadline(row.booking):
        return PortalAccess(token, row, row.booking, review_only=True, page=page)
    return None


def window_start(now: dt.datetime) -> dt.datetime:
    return now.astimezone(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)


def count_hit(access: PortalAccess, now: dt.datetime, *, page_view: bool = False) -> int:
    """Count one request in this hour's window and return the count so far; a page view also updates the
    token's last access and access count. The table is shared by every web process (GUIDE: no in-process
    state decides correctness).

    The counters commit without waiting for the WAL flush: on a database crash a few increments may be lost,
    which costs nothing here, while waiting for the disk on every page view would be most of its time."""
    params = {"hash": access.row.token_hash, "start": window_start(now), "now": now, "token": access.row.pk,
              "limit": RATE_LIMIT_PER_HOUR, "page_view": page_view}
    return execute(_count_sql(connection.schema_name, not connection.in_atomic_block), params)[0][0]


def over_rate_limit(access: PortalAccess, now: dt.datetime, *, page_view: bool = False) -> bool:
    """NFR 7; counts this request (and the page view, when it is one)."""
    return count_hit(access, now, page_view=page_view) > RATE_LIMIT_PER_HOUR
