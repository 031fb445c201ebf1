"""The one entry point for messages that are not part of a booking's timed sequence: host alerts (an issue
reported, an add-on requested, an escalation) and guest notices (an issue resolved). They become
AutomationSchedule rows due now, so they take the same path as every other touchpoint: quiet hours,
consent, templates, channels, retries and the log."""
from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from messaging.lifecycle import Touchpoint, create_schedules
from messaging.models import Recipient
from messaging.wakeups import note_due


def send_touchpoint(
    booking,
    event_type: str,
    *,
    sequence: int,
    recipient: str = Recipient.GUEST,
    variables: dict | None = None,
    priority: str = "",
    now: dt.datetime | None = None,
) -> None:
    """Queue one message now. `sequence` makes the key unique per occurrence (e.g. the ticket id), so the
    same alert is never sent twice. P0 alerts ignore quiet hours (§3.5)."""
    now = now or timezone.now()
    payload: dict = {"variables": variables or {}}
    if priority:
        payload["priority"] = priority
    with transaction.atomic():
        create_schedules(booking, [Touchpoint(event_type, now, sequence, recipient, payload)], now)
        note_due(now, now)


def notify_host(booking, event_type: str, *, sequence: int, variables: dict | None = None, priority: str = "",
                now: dt.datetime | None = None) -> None:
    send_touchpoint(booking, event_type, sequence=sequence, recipient=Recipient.HOST, variables=variables,
                    priority=priority, now=now)
