"""Hostile input (issue #9, item 5): the strategies the tests and `bench/hostile.py` share, the tally of what
was tried, and the checks every answer must pass (a clear 4xx or a safe rendering; never a 5xx; never markup
we sent echoed back unescaped).

The number of examples per property comes from HOSTILE_EXAMPLES (the suite: a modest default; the bench:
many more). When HOSTILE_TALLY names a file, the session writes the tally there as JSON (conftest.py).
"""
from __future__ import annotations

import datetime as dt
import os
import threading
from collections import Counter

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "10"))

# Function-scoped fixtures (the tenant, the test transaction) are shared by a property's examples on purpose:
# each example makes its own rows inside the test's transaction. No example database in the repository.
HOSTILE = settings(max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                          HealthCheck.data_too_large, HealthCheck.filter_too_much])

# Markup that must never come back as markup: each carries a marker that is searched for unescaped.
SCRIPT = "<script>hostile()</script>"
TAG = '"><i data-hostile=1>'
RAW_MARKERS = (b"<script>hostile()", b"<i data-hostile")

NASTY = [
    "{{guest_name}}", "{{{guest_name}}}", "{{#each guests}}{{this}}{{/each}}", "{{> partial}}", "}}{{", "{{",
    "{{#if x}}oops", "{{lookup . 'constructor'}}", "{% debug %}", "{{ settings.SECRET_KEY }}", "${7*7}", "#{7*7}",
    SCRIPT, TAG, "<img src=x onerror=alert(1)>", "javascript:alert(1)", "</textarea><b>",
    "'; DROP TABLE guests_guest; --", "' OR '1'='1", "1; SELECT pg_sleep(5)", "%' OR 1=1 --", "\\", "%", "_",
    "\x00", "a\x00b", "\u202eevil\u202c", "\u200b", "\ufeff", "👨‍👩‍👧‍👦", "🏳️‍🌈", "नमस्ते", "مرحبا", "ᴬᴮᶜ",
    "Z̴̡̛a̸l̵g̷o̶", "\r\n\r\nSet-Cookie: x=1", "../../etc/passwd", "null", "None", "-1", "0", "1e309", "NaN",
    "9" * 40, " ", "",
]
HUGE = st.sampled_from([5_000, 100_000]).map(lambda n: ("Ab{{x}}<i>" * (n // 10 + 1))[:n])


def hostile_text(*, surrogates: bool = False, huge: bool = True) -> st.SearchStrategy[str]:
    """Strings a hostile or careless client sends. Lone surrogates only where the transport carries them
    (JSON escapes); a form post is UTF-8 on the wire, where they cannot be encoded."""
    alphabet = st.characters(codec=None) if surrogates else st.characters(exclude_categories=["Cs"])
    pieces = st.one_of(st.sampled_from(NASTY), st.text(alphabet, max_size=30))
    parts = [st.sampled_from(NASTY), st.text(alphabet, max_size=200), st.lists(pieces, max_size=6).map("".join)]
    if huge:
        parts.append(HUGE)
    return st.one_of(*parts)


def hostile_number() -> st.SearchStrategy:
    """Amounts and counts: negative, zero, absurd, fractional, not numbers at all."""
    return st.one_of(
        st.integers(min_value=-(10**30), max_value=10**30),
        st.sampled_from([-1, 0, 2**31, 2**63, 10**15, -(2**63) - 1, "1e309", "NaN", "-0", "Infinity", "0x10", "1,000",
                         "₹500", "12.345", "", None, True, [], {}]),
        st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
        hostile_text(huge=False),
    )


def hostile_date() -> st.SearchStrategy:
    """Dates out of any booking's range, malformed or not dates."""
    return st.one_of(
        st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)).map(str),
        st.sampled_from(["0000-00-00", "2026-02-30", "2026-13-01", "-2026-01-01", "10000-01-01", "9999-12-31",
                         "0001-01-01", "2026-03-15T25:00", "yesterday", "", None, 20260315, "2026-03-15' OR 1=1--"]),
        hostile_text(huge=False),
    )


class Tally:
    """What was tried and how it was answered, per family of input (thread-safe: the bench shares it)."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self._lock = threading.Lock()

    def record(self, family: str, status: int, *, leak: bool = False) -> None:
        kind = f"{status // 100}xx"
        with self._lock:
            self.counts[(family, "tried")] += 1
            self.counts[(family, kind)] += 1
            if leak:
                self.counts[(family, "leaks")] += 1

    def as_dict(self) -> dict:
        families: dict[str, Counter] = {}
        for (family, key), n in self.counts.items():
            families.setdefault(family, Counter())[key] = n
        return {family: dict(sorted(counter.items())) for family, counter in sorted(families.items())}


TALLY = Tally()


def check(response, family: str, *, forbidden: tuple[bytes, ...] = ()) -> int:
    """Record the answer and assert it is safe: below 500, and no markup we sent (nor any `forbidden` bytes,
    e.g. another tenant's data) in the body. Returns the status."""
    body = response.content if not getattr(response, "streaming", False) else b"".join(response.streaming_content)
    # Markup matters where a browser renders it: HTML. JSON echoing a bad value in an error is data (served
    # as application/json with nosniff), so only `forbidden` is looked for there.
    html = response.get("Content-Type", "").startswith("text/html")
    if not html and response.get("Content-Type", "").startswith("application/json"):
        assert response.get("X-Content-Type-Options") == "nosniff", f"{family}: JSON without nosniff"
    markers = (*RAW_MARKERS, *forbidden) if html else forbidden
    leaked = [marker for marker in markers if marker and marker in body]
    TALLY.record(family, response.status_code, leak=bool(leaked))
    assert response.status_code < 500, f"{family}: {response.status_code}"
    assert not leaked, f"{family}: {leaked} in the answer"
    return response.status_code
