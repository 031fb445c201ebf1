from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from personalization.synthetic import generate


class Command(BaseCommand):
    help = ("Write realistic synthetic guests with history and preferences (with signal: a hidden persona drives "
            "behaviour and stated preferences) into a tenant: guests in our tables, history in bronze.")

    def add_arguments(self, parser):
        parser.add_argument("--schema", required=True, help="The tenant's schema name.")
        parser.add_argument("--guests", type=int, default=1000)
        parser.add_argument("--stays-per-guest", type=float, default=5.0)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, schema, guests, stays_per_guest, seed, **options):
        if not 1 <= guests <= 200_000:
            raise CommandError("--guests must be between 1 and 200,000.")
        with schema_context(schema):
            result = generate(guests, seed=seed, stays_per_guest=stays_per_guest)
        self.stdout.write(self.style.SUCCESS(
            f"{result.guests:,} guests, {result.bookings:,} bookings, {result.stays:,} stays; bronze records: "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(result.records.items()))))
