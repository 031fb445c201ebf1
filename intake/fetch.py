"""Fetching a calendar link with httpx: a timeout on the whole read, the ETag / Last-Modified of the last read
sent back (a 304 costs nothing), a size cap, a redirect cap, and no addresses on private networks (a link the
host pastes is fetched by our server). Every failure is a FeedError in words the host can act on."""
from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass

import httpx
from django.conf import settings

from intake.errors import FeedError

# Where each OTA keeps the link, for the message that asks the host to copy it again.
WHERE_THE_LINK_IS = {
    "Airbnb": "Airbnb › Calendar › Export",
    "Booking.com": "the Booking.com extranet › Rates & Availability › Sync calendars › Export",
    "Agoda": "Agoda YCS › Calendar › iCal export",
    "MakeMyTrip": "MakeMyTrip / Goibibo Connect › Calendar › Export",
    "Other": "the other site's calendar export",
}
USER_AGENT = "AtlasGuest-CalendarSync/1.0 (+https://example.com/atlas-guest)"


@dataclass(frozen=True)
class Fetched:
    not_modified: bool
    body: bytes = b""
    etag: str = ""
    last_modified: str = ""


def new_client() -> httpx.Client:
    """One client per poll: its connection pool serves every feed of the tick (many listings, one OTA host)."""
    timeout = settings.CALENDAR_FEED_TIMEOUT_SECONDS
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        follow_redirects=True,
        max_redirects=settings.CALENDAR_FEED_MAX_REDIRECTS,
        headers={"User-Agent": USER_AGENT, "Accept": "text/calendar, */*;q=0.5"},
        event_hooks={"request": [_refuse_private_addresses]},
        limits=httpx.Limits(max_connections=settings.CALENDAR_FEED_FETCH_THREADS * 2),
    )


def fetch(client: httpx.Client, url: str, *, source: str, etag: str = "", last_modified: str = "") -> Fetched:
    where = WHERE_THE_LINK_IS.get(source, WHERE_THE_LINK_IS["Other"])
    if not url.lower().startswith(("https://", "http://")):
        raise FeedError(f"The link must start with https://. Copy it again from {where}.")
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    limit, timeout = settings.CALENDAR_FEED_MAX_BYTES, settings.CALENDAR_FEED_TIMEOUT_SECONDS
    deadline = time.monotonic() + timeout
    try:
        with client.stream("GET", url, headers=headers) as response:
            if response.status_code == 304:
                return Fetched(not_modified=True, etag=etag, last_modified=last_modified)
            if response.status_code != 200:
                raise FeedError(_status_words(response.status_code, source, where))
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                raise FeedError(_too_big(int(declared), limit))
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise FeedError(_too_big(size, limit, at_least=True))
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("deadline")
                chunks.append(chunk)
            return Fetched(False, b"".join(chunks), response.headers.get("ETag", ""),
                           response.headers.get("Last-Modified", ""))
    except FeedError:
        raise
    except httpx.TooManyRedirects:
        raise FeedError(f"The link redirects more than {settings.CALENDAR_FEED_MAX_REDIRECTS} times without reaching "
                        f"a calendar. Copy it again from {where}.") from None
    except httpx.TimeoutException:
        raise FeedError(f"The calendar server did not answer within {timeout:g} s. We will try again at the next "
                        "sync.") from None
    except httpx.ConnectError:
        raise FeedError(f"Could not connect to {httpx.URL(url).host}. If this goes on, copy the link again from "
                        f"{where}.") from None
    except httpx.InvalidURL:
        raise FeedError(f"This is not a web link. Copy it again from {where}.") from None
    except httpx.HTTPError as exc:
        raise FeedError(f"The calendar could not be read ({type(exc).__name__}). We will try again at the next "
                        "sync.") from None


def _status_words(status: int, source: str, where: str) -> str:
    if status in (404, 410):
        return f"HTTP {status}: the link no longer works — copy it again from {where}."
    if status in (401, 403):
        return f"HTTP {status}: the calendar refused the link (it may have been reset) — copy it again from {where}."
    if status == 429:
        return f"HTTP 429: {source}'s calendar server asks us to slow down. We will try again at the next sync."
    if status >= 500:
        return f"HTTP {status}: {source}'s calendar server had a problem. We will try again at the next sync."
    return f"HTTP {status}: the link did not return the calendar. Copy it again from {where}."


def _too_big(size: int, limit: int, at_least: bool = False) -> str:
    mb = lambda n: f"{n / 1024 / 1024:.1f} MB"  # noqa: E731
    return (f"The calendar is larger than {mb(limit)} ({'over ' if at_least else ''}{mb(size)}): that is not a "
            "listing's calendar. Check that the link is the export of one listing.")


def _refuse_private_addresses(request: httpx.Request) -> None:
    """Runs before every request, each redirect hop included: a link may not reach our own networks."""
    if settings.CALENDAR_FEEDS_ALLOW_PRIVATE:
        return
    host = request.url.host
    try:
        infos = socket.getaddrinfo(host, request.url.port or 443, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise FeedError(f"The address {host} does not exist. Check the link.") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise FeedError(f"The link points to a private network address ({host}). Use the OTA's public "
                            "calendar export link.")
