"""Message templates (RA-GUEST-001 §9.2, Appendix B): the platform catalogue is seeded into every tenant
schema; a tenant or one of its properties overrides a template by key; only the active version is used."""
from __future__ import annotations

from django.db import transaction

from messaging import events as ev
from messaging.catalogue import CATALOGUE, REENGAGEMENT_KEYS
from messaging.models import MessageTemplate, TemplateScope

DEFAULT_LANGUAGE = "en"
_DEFAULT_KEY = {}
for _t in CATALOGUE:
    _DEFAULT_KEY.setdefault((_t.event_type, _t.channel), _t.key)


def template_key(event_type: str, channel: str, payload: dict) -> str | None:
    """The catalogue key of a touchpoint on a channel; the re-engagement campaign picks one of three."""
    if event_type == ev.GUEST_REENGAGEMENT and channel == "WHATSAPP":
        return REENGAGEMENT_KEYS.get(payload.get("campaign", "30D"))
    return payload.get("template_key") or _DEFAULT_KEY.get((event_type, channel))


def seed_platform_templates() -> int:
    """Create the catalogue's platform templates missing from the current tenant schema. Returns how many."""
    existing = set(
        MessageTemplate.objects.filter(scope=TemplateScope.PLATFORM).values_list("key", flat=True)
    )
    fresh = [
        MessageTemplate(
            key=t.key, event_type=t.event_type, channel=t.channel, category=t.category, scope=TemplateScope.PLATFORM,
            language=DEFAULT_LANGUAGE, version=1, is_active=True, subject=t.subject, body=t.body,
            whatsapp_template_name=t.key.lower(),
        )
        for t in CATALOGUE
        if t.key not in existing
    ]
    MessageTemplate.objects.bulk_create(fresh, ignore_conflicts=True)
    return len(fresh)


_PRECEDENCE = {TemplateScope.PROPERTY: 0, TemplateScope.TENANT: 1, TemplateScope.PLATFORM: 2}


def active_templates(keys: set[str]) -> list[MessageTemplate]:
    """Every active version of these keys, all scopes, in one query (a delivery batch calls this once)."""
    return list(MessageTemplate.objects.filter(key__in=keys, is_active=True, language=DEFAULT_LANGUAGE))


def pick(templates: list[MessageTemplate], key: str, property_id: int | None) -> MessageTemplate | None:
    """Property → tenant → platform (§9.2)."""
    candidates = [
        t for t in templates
        if t.key == key and (t.scope != TemplateScope.PROPERTY or t.property_id == property_id)
    ]
    return min(candidates, key=lambda t: _PRECEDENCE[t.scope], default=None)


def resolve_template(event_type: str, channel: str, payload: dict, property_id: int | None) -> MessageTemplate | None:
    key = template_key(event_type, channel, payload)
    return pick(active_templates({key}), key, property_id) if key else None


@transaction.atomic
def publish_version(*, key: str, scope: str, property_id: int | None = None, body: str, subject: str = "",
                    html_body: str = "", language: str = DEFAULT_LANGUAGE, active: bool = True) -> MessageTemplate:
    """A host's edit: a new version becomes the active one, the previous stays for the log's history (not
    `active`: the new version is saved switched off, and the active one stays as it is). The template's
    event, channel and category come from the catalogue entry of the same key."""
    base = MessageTemplate.objects.filter(key=key).order_by("scope").first()
    if base is None:
        raise ValueError(f"unknown template key {key}")
    current = (
        MessageTemplate.objects.select_for_update()
        .filter(key=key, scope=scope, property_id=property_id, language=language)
        .order_by("-version")
        .first()
    )
    if active:
        MessageTemplate.objects.filter(key=key, scope=scope, property_id=property_id, language=language,
                                       is_active=True).update(is_active=False)
    template = MessageTemplate(
        key=key, event_type=base.event_type, channel=base.channel, category=base.category, scope=scope,
        property_id=property_id, language=language, version=(current.version + 1) if current else 1, is_active=active,
        subject=subject, body=body, html_body=html_body, whatsapp_template_name=base.whatsapp_template_name,
    )
    template.full_clean()
    template.save()
    return template
