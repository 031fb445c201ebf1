"""Who may see the portal: the token in the link, its expiry, the review window and the rate limit
(RA-GUEST-001 §8.2, NFR 5–7, EC-06, EC-08)."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.db import connection, transaction

from bookings.models import Booking
from portal.models import GuestPortalToken
from portal.services import REVIEW_WINDOW_AFTER_CHECKOUT, hash_token
from tenants.current import current_tenant

TOKEN_FORMAT = re.compile(r"[0-9a-f]{32}")  # make_token: 32 hex characters
RATE_LIMIT_PER_HOUR = 60  # NFR 7: 60 requests per token per hour

# One statement, so concurrent requests in any number of web processes count exactly (no read-then-write).
_COUNT_HIT = """
INSERT INTO portal_portalratewindow (token_hash, window_start, count) VALUES (%(hash)s, %(start)s, 1)
ON CONFLICT (token_hash, window_start) DO UPDATE SET count = portal_portalratewindow.count + 1
RETURNING count
"""
# A page view served also bumps the token's access count (§8.2), in the same statement: one round trip.
_COUNT_PAGE_VIEW = """
WITH hit AS (
    INSERT INTO portal_portalratewindow (token_hash, window_start, count) VALUES (%(hash)s, %(start)s, 1)
    ON CONFLICT (token_hash, window_start) DO UPDATE SET count = portal_portalratewindow.count + 1
    RETURNING count
), viewed AS (
    UPDATE portal_guestportaltoken SET last_accessed_at = %(now)s, access_count = access_count + 1
    WHERE id = %(token)s AND (SELECT count FROM hit) <= %(limit)s
)
SELECT count FROM hit
"""
_FORGET_OLD_WINDOWS = "DELETE FROM portal_portalratewindow WHERE token_hash = %(hash)s AND window_start < %(start)s"


@dataclass(frozen=True)
class PortalAccess:
    token: str  # as the guest's link has it (the stored copy may be gone after expiry, §10.3)
    row: GuestPortalToken
    booking: Booking
    # The portal has expired but the review page is still open (EC-08): nothing else is served.
    review_only: bool

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
    if not TOKEN_FORMAT.fullmatch(token) or not current_tenant().guest_experience_config.portal_enabled:
        return None
    try:
        # One query for what every page shows; the guest's own row is read only where a page names them.
        row = GuestPortalToken.objects.select_related(
            "booking__listing__property", "booking__listing__access_info"
        ).get(token_hash=hash_token(token))
    except GuestPortalToken.DoesNotExist:
        return None
    if row.is_active and now < row.expires_at:
        return PortalAccess(token, row, row.booking, review_only=False)
    # Deactivated before its expiry means revoked by the host: nothing at all, not even the review.
    if now >= row.expires_at and now < review_deadline(row.booking):
        return PortalAccess(token, row, row.booking, review_only=True)
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
              "limit": RATE_LIMIT_PER_HOUR}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        cursor.execute(_COUNT_PAGE_VIEW if page_view else _COUNT_HIT, params)
        count = cursor.fetchone()[0]
        if count == 1:  # a new hour for this token: its older windows are no longer needed
            cursor.execute(_FORGET_OLD_WINDOWS, params)
    return count


def over_rate_limit(access: PortalAccess, now: dt.datetime, *, page_view: bool = False) -> bool:
    """NFR 7; counts this request (and the page view, when it is one)."""
    return count_hit(access, now, page_view=page_view) > RATE_LIMIT_PER_HOUR
