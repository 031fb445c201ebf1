from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _roles_after_migrate(sender, **kwargs) -> None:
    from django.conf import settings
    from django.db import connection

    # Once per migration run (the last tenant app), in tenant schemas only.
    if sender.name == settings.TENANT_APPS[-1] and connection.schema_name != settings.PUBLIC_SCHEMA_NAME:
        from tenants.roles import ensure_roles

        ensure_roles()


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenancy"

    def ready(self) -> None:
        post_migrate.connect(_roles_after_migrate, dispatch_uid="tenants.ensure_roles")
