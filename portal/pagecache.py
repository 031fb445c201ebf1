"""Rendered portal pages, kept per process and keyed by everything the page is made of (NFR 3: rendering is
most of a page view's CPU).

The key is the complete input of the render: the link, every column the page read (the booking, listing,
property, access details, the tenant's switches, the recommendations and add-on requests; not the token's
own access counters, which the page does not show), the tenant row, and the stage rules at this moment
(`Sections`, with the local date in place of the clock: the page shows nothing finer). A change to any of
them is a different key, so a cached page is never an older version of the page; entries are only ever
evicted, never invalidated. The key holds the values themselves, not a digest of them: two pages never
share an entry by a hash collision.

What differs between two requests for the same page is rendered as placeholders and filled in per request:
the CSRF token (masked per request, as Django does) and the forms' submission ids (the double-tap guard).
Pages with one-off notes (after a POST), errors or post-stay content are not cached.
"""
from __future__ import annotations

import os
import secrets
import threading
from collections import OrderedDict

from portal.forms import new_submission_id

# ~9 KB of UTF-8 each, with its key: some 30 MB per web process at most. PORTAL_PAGE_CACHE_PAGES=0 turns the
# cache off (bench/portal_cost.py measures the page both ways).
MAX_PAGES = int(os.environ.get("PORTAL_PAGE_CACHE_PAGES", "2048"))

# Unguessable per process, so no stored text can contain one by chance or on purpose.
CSRF = f"csrf{secrets.token_hex(16)}"
SUBMISSIONS = tuple(f"sub{n}{secrets.token_hex(12)}" for n in range(2))
_CSRF, _SUBMISSIONS = CSRF.encode(), tuple(p.encode() for p in SUBMISSIONS)

_pages: OrderedDict = OrderedDict()
_lock = threading.Lock()  # threaded workers share the dict
stats = {"hits": 0, "misses": 0}


def get(key) -> bytes | None:
    with _lock:
        page = _pages.get(key)
        if page is not None:
            _pages.move_to_end(key)
            stats["hits"] += 1
        else:
            stats["misses"] += 1
        return page


def put(key, page: bytes) -> None:
    if MAX_PAGES <= 0:
        return
    with _lock:
        _pages[key] = page
        _pages.move_to_end(key)
        while len(_pages) > MAX_PAGES:
            _pages.popitem(last=False)


def clear() -> None:
    with _lock:
        _pages.clear()


def fill(page: bytes, csrf_token: str) -> bytes:
    """The page for this request (UTF-8, as stored): its CSRF token, and a new submission id for each form."""
    page = page.replace(_CSRF, csrf_token.encode())
    for placeholder in _SUBMISSIONS:
        if placeholder in page:
            page = page.replace(placeholder, new_submission_id().encode())
    return page
