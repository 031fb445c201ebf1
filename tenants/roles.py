"""Staff roles of a tenant (RA-GUEST-001 §10.6) as auth groups in the tenant's schema. One table says what
each role may do; `ensure_roles()` makes the groups match it and runs after every tenant migration."""
from __future__ import annotations

from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.management import create_contenttypes

VIEW, ADD, CHANGE, DELETE = "view", "add", "change", "delete"
ALL = (VIEW, ADD, CHANGE, DELETE)

# §10.6: booking amounts, payments and coupons are the owner's to see (bookings.models.Booking.Meta).
FINANCIALS = "bookings.view_financials"

# role -> {"app_label.model": actions}; a role has everything of the roles before it.
FRONTDESK = {
    "guests.guest": (VIEW, ADD, CHANGE),
    "guests.guesttag": (VIEW, ADD),
    "bookings.booking": (VIEW, ADD, CHANGE),
    "bookings.property": (VIEW,),
    "bookings.listing": (VIEW, CHANGE),
    "bookings.listingaccessinfo": (VIEW,),
    "bookings.propertyrecommendation": (VIEW,),
    "bookings.addonrequest": (VIEW, CHANGE),
    "operations.maintenanceticket": (VIEW, ADD, CHANGE),
    "operations.incident": (VIEW, ADD, CHANGE),
    "operations.housekeepingtask": (VIEW, ADD, CHANGE),
    "operations.hostnotification": (VIEW, CHANGE),
    "portal.guestportaltoken": (VIEW,),
    "intake.calendarfeed": (VIEW,),  # whether a listing's calendar is in sync
    "intake.calendarevent": (VIEW,),
}
MANAGER = {
    "guests.guestconsent": (VIEW,),
    "bookings.property": (VIEW, ADD, CHANGE),
    "bookings.listing": (VIEW, ADD, CHANGE),
    "bookings.listingaccessinfo": (VIEW, ADD, CHANGE),
    "bookings.propertyrecommendation": ALL,
    "messaging.communicationlog": (VIEW,),
    "messaging.failedmessage": (VIEW, CHANGE),
    "messaging.messageattempt": (VIEW,),
    "messaging.automationschedule": (VIEW, CHANGE),
    "messaging.outboxmessage": (VIEW, CHANGE),
    "messaging.messagetemplate": (VIEW, ADD, CHANGE),
    "messaging.sandboxmessage": (VIEW,),
    "reviews.guestreview": (VIEW, ADD, CHANGE),
    "operations.inventoryitem": (VIEW, ADD, CHANGE),
    "operations.listingconsumable": (VIEW, ADD, CHANGE),
    "operations.inventorymovement": (VIEW,),
    "operations.auditlog": (VIEW,),
    "personalization.personalizationdecision": (VIEW,),
    "personalization.quarantinedrecord": (VIEW, DELETE),
    "personalization.refreshstate": (VIEW,),
    "intake.calendarfeed": ALL,  # a listing's calendar links are its set-up, as the listing is
}
TENANT_APPS_FOR_OWNER = ("guests", "bookings", "operations", "messaging", "portal", "reviews", "coupons", "personalization",
                         "intake", "auth", "authtoken")
EXTRA = {
    "owner": [FINANCIALS, "tenants.view_tenantguestexperienceconfig", "tenants.change_tenantguestexperienceconfig"],
    "manager": ["tenants.view_tenantguestexperienceconfig", "personalization.import_guest_data",
                "personalization.view_guest_profile"],
    "frontdesk": [],
}


def role_permissions() -> dict[str, set[str]]:
    """role -> {"app_label.codename"}."""
    frontdesk = {f"{m.split('.')[0]}.{a}_{m.split('.')[1]}" for m, acts in FRONTDESK.items() for a in acts}
    manager = frontdesk | {f"{m.split('.')[0]}.{a}_{m.split('.')[1]}" for m, acts in MANAGER.items() for a in acts}
    owner = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.filter(content_type__app_label__in=TENANT_APPS_FOR_OWNER).select_related("content_type")
    }
    return {
        "frontdesk": frontdesk | set(EXTRA["frontdesk"]),
        "manager": manager | set(EXTRA["manager"]),
        "owner": owner | manager | set(EXTRA["owner"]),
    }


def ensure_roles() -> dict[str, int]:
    """Create or update the three groups in the current schema. Returns the permission count per role."""
    for config in apps.get_app_configs():  # content types and permissions first: a new schema has none yet
        create_contenttypes(config, verbosity=0)
        create_permissions(config, verbosity=0)
    by_name = {
        f"{p.content_type.app_label}.{p.codename}": p for p in Permission.objects.select_related("content_type")
    }
    counts = {}
    for role, names in role_permissions().items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set([by_name[n] for n in names if n in by_name])
        counts[role] = len(names)
    return counts


def sees_money(user) -> bool:
    """Whether amounts, payments, coupons and their sums are shown to this user (§10.6: the owner's)."""
    return user.has_perm(FINANCIALS)


def is_owner(user) -> bool:
    """The owner role (§10.4–§10.5: exports and anonymization); a schema's superuser has every role."""
    return bool(user and user.is_authenticated) and (user.is_superuser or user.groups.filter(name="owner").exists())
