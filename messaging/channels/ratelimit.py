"""Per-sender send budgets shared across workers (the database is the one place every worker sees)."""
from __future__ import annotations

import datetime as dt

from django.db import connection

_RESERVE = """
INSERT INTO public.tenants_providerratewindow (sender, "window", window_start, count)
VALUES (%(sender)s, %(window)s, %(start)s, %(n)s)
ON CONFLICT (sender, "window", window_start) DO UPDATE SET count = public.tenants_providerratewindow.count + %(n)s
RETURNING count
"""


def reserve(sender: str, wanted: int, limit: int, now: dt.datetime, window: str) -> int:
    """Take up to `wanted` sends from the sender's budget for the current second or day; returns how many
    were granted. Unused reservations are not handed back: erring towards fewer sends keeps us under the
    provider's limit, which is the point."""
    if wanted <= 0:
        return 0
    start = now.replace(microsecond=0) if window == "second" else now.replace(hour=0, minute=0, second=0, microsecond=0)
    with connection.cursor() as cursor:
        cursor.execute(_RESERVE, {"sender": sender, "window": window, "start": start, "n": wanted})
        total = cursor.fetchone()[0]
    already = total - wanted
    return max(0, min(wanted, limit - already))
