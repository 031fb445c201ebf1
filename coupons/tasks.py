"""django-q2 entry points for coupons: the daily expiry and retention run (RA-GUEST-001 §7.3, §10.3)."""
from __future__ import annotations

import logging

from django_tenants.utils import get_tenant_model, schema_context

logger = logging.getLogger(__name__)


def daily_coupon_jobs() -> dict[str, tuple[int, int, int]]:
    """Expire coupons past their validity, then soft- and hard-delete old expired ones, in every tenant."""
    from coupons.redemption import clean_up_coupons, expire_coupons

    done = {}
    for schema in get_tenant_model().objects.exclude(schema_name="public").values_list("schema_name", flat=True):
        with schema_context(schema):
            expired = expire_coupons()
            soft, hard = clean_up_coupons()
        done[schema] = (expired, soft, hard)
    logger.info("daily coupon jobs: %s", done)
    return done
