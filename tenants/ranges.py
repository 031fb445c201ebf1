"""Allowed ranges of the per-tenant offsets, in days (RA-GUEST-001 §3.3)."""
OFFSET_RANGES: dict[str, tuple[int, int]] = {
    "welcome_offset_days": (1, 14),
    "payment_reminder_offset_days": (1, 7),
    "checkin_instructions_offset_days": (1, 3),
    "house_rules_offset_days": (1, 5),
}
