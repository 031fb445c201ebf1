"""Template helpers for the portal's page (NFR 3: it is rendered on every view, so its loops are not done in
the template language where a few lines of Python do the same)."""
from __future__ import annotations

from functools import lru_cache

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@lru_cache(maxsize=256)
def _options(choices: tuple, chosen) -> SafeString:
    return mark_safe("".join(
        f'<option value="{escape(value)}"{" selected" if value == chosen else ""}>{escape(label)}</option>'
        for value, label in choices
    ))


@register.filter
def options(choices, chosen) -> SafeString:
    """`<option>`s of a select's choices, the chosen one selected: what
    `{% for value, label in choices %}<option value="{{ value }}"{% if value == chosen %} selected{% endif %}>…`
    renders, built once per choice list and choice."""
    try:
        return _options(tuple((value, str(label)) for value, label in choices), chosen)
    except TypeError:  # an unhashable value typed into the form: not worth caching
        return _options.__wrapped__(tuple((value, str(label)) for value, label in choices), chosen)
