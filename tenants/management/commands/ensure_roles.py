from django.core.management.base import BaseCommand
from django_tenants.utils import get_tenant_model, schema_context

from tenants.roles import ensure_roles


class Command(BaseCommand):
    help = "Create or update the frontdesk, manager and owner groups in every tenant schema."

    def handle(self, *args, **options):
        for schema in get_tenant_model().objects.exclude(schema_name="public").values_list("schema_name", flat=True):
            with schema_context(schema):
                counts = ensure_roles()
            self.stdout.write(f"{schema}: " + ", ".join(f"{role} {n} permissions" for role, n in counts.items()))
