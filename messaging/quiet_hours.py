"""Quiet hours (RA-GUEST-001 §3.5): messages go out only inside the tenant's window, in the property's zone."""
from __future__ import annotations

import datetime as dt
import zoneinfo


def in_window(local: dt.time, opens: dt.time, closes: dt.time) -> bool:
    if opens < closes:
        return opens <= local < closes
    return local >= opens or local < closes  # a window across midnight, e.g. 20:00–02:00


def next_send_time(at: dt.datetime, time_zone: str, opens: dt.time, closes: dt.time) -> dt.datetime:
    """`at` itself when it falls inside the window, else the window's next opening (GX-PA-005), in UTC."""
    tz = zoneinfo.ZoneInfo(time_zone)
    local = at.astimezone(tz)
    if in_window(local.time(), opens, closes):
        return at
    day = local.date() if local.time() < opens else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, opens, tzinfo=tz).astimezone(dt.timezone.utc)
