"""Which template a message uses. Today: the default catalogue; the messaging issue adds the database
templates with property → tenant → platform resolution behind this same function."""
from __future__ import annotations

from messaging import events as ev
from messaging.catalogue import REENGAGEMENT_KEYS, DefaultTemplate, default_templates


def resolve_template(event_type: str, channel: str, payload: dict, property_id: int | None) -> DefaultTemplate | None:
    candidates = default_templates(event_type, channel)
    if event_type == ev.GUEST_REENGAGEMENT:
        wanted = REENGAGEMENT_KEYS.get(payload.get("campaign", "30D"))
        candidates = [t for t in candidates if t.key == wanted]
    return candidates[0] if candidates else None
