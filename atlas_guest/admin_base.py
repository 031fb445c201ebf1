"""What every admin class here shares: tenant-schema models appear only on a tenant's domain, public-schema
models only on the platform's domain (a tenant model queried in public raises "relation does not exist")."""
from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.db import connection

admin.site.site_header = "Atlas Guest"
admin.site.site_title = "Atlas Guest"
admin.site.index_title = "Back office"
admin.site.index_template = "admin/atlas_index.html"  # adds the dashboard link


def on_tenant_domain() -> bool:
    return connection.schema_name != settings.PUBLIC_SCHEMA_NAME


class _ScopedAdmin(admin.ModelAdmin):
    tenant_side = True  # tenant-schema model; False: public-schema model

    def _here(self) -> bool:
        return on_tenant_domain() == self.tenant_side

    def has_module_permission(self, request):
        return self._here() and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return self._here() and super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return self._here() and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return self._here() and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._here() and super().has_delete_permission(request, obj)


class TenantModelAdmin(_ScopedAdmin):
    list_per_page = 50


class PublicModelAdmin(_ScopedAdmin):
    tenant_side = False


class ReadOnlyMixin:
    """Rows the system writes (logs, attempts, audit): a host looks, never edits."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyTenantAdmin(ReadOnlyMixin, TenantModelAdmin):
    pass


class ReadOnlyInline(ReadOnlyMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True


def _rescope(app_label: str, scope: type) -> None:
    for model, model_admin in list(admin.site._registry.items()):
        if model._meta.app_label == app_label:
            admin.site.unregister(model)
            admin.site.register(model, type(f"{scope.__name__}{type(model_admin).__name__}", (scope, type(model_admin)), {}))


def restrict_to_platform(app_label: str) -> None:
    """Show a third-party app's admin (django-q2's task tables live in public) on the platform's domain only:
    on a tenant's domain its rows would show other tenants' task arguments."""
    _rescope(app_label, PublicModelAdmin)

