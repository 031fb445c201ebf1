"""Template variables (RA-GUEST-001 §9.2) and Handlebars rendering with pybars3.

Values are inserted, never parsed, so guest-supplied text cannot inject template syntax. Text channels get
values verbatim; email HTML gets them HTML-escaped. An unresolved variable stays as `{{name}}` and is logged
(§9.2), instead of pybars' silent empty string.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from pybars import Compiler
from pybars._compiler import strlist

logger = logging.getLogger(__name__)
_compiler = Compiler()


def format_inr(amount: Decimal | int | float) -> str:
    """₹ with Indian digit grouping: ₹8,500 · ₹1,25,000 · ₹999.50."""
    value = Decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if value < 0 else ""
    whole, _, paise = f"{abs(value):.2f}".partition(".")
    head, tail = whole[:-3], whole[-3:]
    groups = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    grouped = ",".join(groups + [tail]) if groups else tail
    return f"{sign}₹{grouped}" + ("" if paise == "00" else f".{paise}")


def format_date(value) -> str:
    return f"{value.day} {value:%b %Y}"


def format_time(value) -> str:
    return value.strftime("%I:%M %p").lstrip("0")


@functools.lru_cache(maxsize=512)
def compiled(source: str):
    return _compiler.compile(source)


@dataclass
class Rendered:
    text: str
    missing: list[str] = field(default_factory=list)


def render(source: str, variables: dict, *, html: bool = False) -> Rendered:
    missing: list[str] = []

    def helper_missing(this, name, *args, **kwargs):
        missing.append(str(name))
        return strlist(["{{" + str(name) + "}}"])

    # Text channels: wrap strings so pybars does not HTML-escape them ("&" must stay "&" in WhatsApp).
    context = variables if html else {k: _verbatim(v) for k, v in variables.items()}
    text = str(compiled(source)(context, helpers={"helperMissing": helper_missing}))
    if missing:
        logger.warning("template variables not resolved: %s", ", ".join(sorted(set(missing))))
    return Rendered(text=text, missing=missing)


def _verbatim(value):
    # An empty string must stay falsy for {{#if}}: a strlist holding "" would count as true.
    return strlist([value]) if isinstance(value, str) and value else value
