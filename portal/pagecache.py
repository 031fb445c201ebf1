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

Compressed once, too (gzip was an eighth of a cached view's CPU): each stretch of the page between two
placeholders is deflated once, and each request's values go between the stretches as stored (uncompressed)
deflate blocks (RFC 1951 §3.2.4). One compressor reads the whole page, each placeholder as a stand-in of
NUL bytes as long as its value will be, flushing to a byte boundary around each: what it writes for a
stand-in is replaced by the stored block with the value, of the same length, so every later back
reference still lands on the right bytes, and none lands in a value, since the page has no NUL byte to
match one (PostgreSQL text cannot hold one; a page that has one is compressed per request). A browser
inflates the one stream as any other, and the page compresses almost as well as in one piece. The secrets
filled in per request are never compressed, so the response's size says nothing about them (BREACH); the
header carries a file name of random length, as Django's GZipMiddleware writes it.
"""
from __future__ import annotations

import os
import re
import secrets
import struct
import threading
import zlib
from collections import OrderedDict

from django.middleware.csrf import CSRF_TOKEN_LENGTH
from django.utils.text import compress_string

from portal.forms import new_submission_id

# ~9 KB of UTF-8 and ~3 KB deflated each, with its key: some 30 MB per web process at most.
# PORTAL_PAGE_CACHE_PAGES=0 turns the cache off (bench/portal_cost.py measures the page both ways).
MAX_PAGES = int(os.environ.get("PORTAL_PAGE_CACHE_PAGES", "2048"))

# Unguessable per process, so no stored text can contain one by chance or on purpose.
CSRF = f"csrf{secrets.token_hex(16)}"
SUBMISSIONS = tuple(f"sub{n}{secrets.token_hex(12)}" for n in range(2))
_CSRF, _SUBMISSIONS = CSRF.encode(), tuple(p.encode() for p in SUBMISSIONS)
_PLACEHOLDER = re.compile(b"(" + b"|".join(re.escape(p) for p in (_CSRF, *_SUBMISSIONS)) + b")")
GZIP_LEVEL = 6  # as Django's GZipMiddleware
MAX_RANDOM_NAME = 100  # as Django's GZipMiddleware (its max_random_bytes)
# What each placeholder stands in for on the compressed page: NUL bytes, as many as its value has.
_FILLER = {_CSRF: b"\0" * CSRF_TOKEN_LENGTH, **{p: b"\0" * len(new_submission_id()) for p in _SUBMISSIONS}}


class Page:
    """A rendered page: its UTF-8 text with placeholders, and the same text deflated in stretches."""

    __slots__ = ("_pieces", "_deflated")

    def __init__(self, html: bytes):
        # Static text at even positions, placeholders at odd ones.
        self._pieces = _PLACEHOLDER.split(html)
        self._deflated = _deflate(self._pieces) if b"\0" not in html else None

    def fill(self, csrf_token: str) -> bytes:
        """The page for this request: its CSRF token, and a new submission id for each form."""
        values = _values(csrf_token)
        return b"".join(values[piece] if n % 2 else piece for n, piece in enumerate(self._pieces))

    def gzipped(self, csrf_token: str) -> bytes:
        """`fill(csrf_token)` as a gzip member (RFC 1952), compressing nothing per request."""
        values = _values(csrf_token)
        if self._deflated is None or any(len(values[p]) != len(f) for p, f in _FILLER.items()):
            return compress_string(self.fill(csrf_token), max_random_bytes=MAX_RANDOM_NAME)  # not as planned for
        name = b"a" * secrets.randbelow(MAX_RANDOM_NAME) + b"\0"
        out = [b"\x1f\x8b\x08\x08\0\0\0\0\0\xff", name]  # deflate, FNAME set, no mtime, unknown OS
        crc = size = 0
        for n, piece in enumerate(self._pieces):
            if n % 2:
                piece = values[piece]  # ASCII, well under a stored block's 65,535 bytes
                # A stored block, not the last: BFINAL 0, BTYPE 00, padding to the byte (all zero), LEN, NLEN.
                out.append(struct.pack("<BHH", 0, len(piece), len(piece) ^ 0xFFFF))
                out.append(piece)
            else:
                out.append(self._deflated[n])
            crc = zlib.crc32(piece, crc)
            size += len(piece)
        out.append(struct.pack("<II", crc, size & 0xFFFFFFFF))
        return b"".join(out)


def _deflate(pieces: list[bytes]) -> list[bytes | None]:
    """Each stretch of static text as raw deflate ending byte-aligned (a sync flush; the last one ends the
    stream), from one compressor that also reads each placeholder's stand-in: what it writes for those is
    dropped (a stored block with the value goes in its place), what it remembers of them keeps the distances
    of later back references right."""
    deflate = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)  # raw deflate: gzip frames it
    deflated: list[bytes | None] = []
    last = len(pieces) - 1
    for n, piece in enumerate(pieces):
        if n % 2:
            deflate.compress(_FILLER[piece])
            deflate.flush(zlib.Z_SYNC_FLUSH)
            deflated.append(None)
        else:
            deflated.append(deflate.compress(piece) + deflate.flush(zlib.Z_FINISH if n == last else zlib.Z_SYNC_FLUSH))
    return deflated


def _values(csrf_token: str) -> dict[bytes, bytes]:
    values = {placeholder: new_submission_id().encode() for placeholder in _SUBMISSIONS}
    values[_CSRF] = csrf_token.encode()
    return values


_pages: OrderedDict = OrderedDict()
_lock = threading.Lock()  # threaded workers share the dict
stats = {"hits": 0, "misses": 0}


def get(key) -> Page | None:
    with _lock:
        page = _pages.get(key)
        if page is not None:
            _pages.move_to_end(key)
            stats["hits"] += 1
        else:
            stats["misses"] += 1
        return page


def put(key, page: Page) -> None:
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
