"""django-q2 entry points: the medallion refresh in every tenant that has personalization switched on."""
from __future__ import annotations

from django_tenants.utils import get_tenant_model, schema_context


def _tenants_with_personalization() -> list[str]:
    return list(get_tenant_model().objects.exclude(schema_name="public").filter(
        guest_experience_config__personalization_enabled=True).values_list("schema_name", flat=True))


def refresh_all(full: bool = False) -> dict:
    from personalization.refresh import refresh

    done = {}
    for schema in _tenants_with_personalization():
        with schema_context(schema):
            result = refresh(full=full)
            done[schema] = {"guests": result.guests_refreshed, "seconds": round(sum(result.seconds.values()), 2)}
    return done


def hourly_refresh() -> dict:
    """Incremental: only the guests whose inputs changed since the last run."""
    return refresh_all(full=False)


def nightly_refresh() -> dict:
    """Full: recomputes everything (repeat rates of earlier months, shared-email identities) from bronze."""
    return refresh_all(full=True)
