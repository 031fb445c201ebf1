"""Consent from the guest's side: the signed, login-free unsubscribe link of every email (§10.7)."""
from __future__ import annotations

from django.core import signing
from django.db import connection

from portal.services import tenant_url

_SALT = "atlas-guest.unsubscribe"


def unsubscribe_token(guest_id: int) -> str:
    return signing.dumps({"g": guest_id, "s": connection.schema_name}, salt=_SALT, compress=True)


def unsubscribe_url(guest_id: int) -> str:
    return tenant_url(f"/unsubscribe/{unsubscribe_token(guest_id)}")


def read_unsubscribe_token(token: str) -> int | None:
    """The guest id, when the token is genuine and was made for this tenant's schema."""
    try:
        data = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        return None
    if data.get("s") != connection.schema_name:
        return None
    return int(data["g"])
