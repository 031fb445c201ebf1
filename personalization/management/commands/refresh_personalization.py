from django.core.management.base import BaseCommand
from django_tenants.utils import schema_context

from personalization.refresh import refresh


class Command(BaseCommand):
    help = "Refresh the personalization medallion (bronze → silver → gold) of one tenant."

    def add_arguments(self, parser):
        parser.add_argument("--schema", required=True, help="The tenant's schema name.")
        parser.add_argument("--full", action="store_true", help="Recompute everything instead of what changed.")

    def handle(self, *args, schema, full, **options):
        with schema_context(schema):
            result = refresh(full=full, progress=lambda text: self.stdout.write(f"  {text}"))
        self.stdout.write(self.style.SUCCESS(
            f"{'Full' if full else 'Incremental'} refresh: {result.guests_refreshed} guests, "
            f"{result.months_refreshed} property-months, {result.unmatched} records waiting for a guest, "
            f"{sum(result.seconds.values()):.2f} s"))
