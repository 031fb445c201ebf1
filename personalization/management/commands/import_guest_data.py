from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from personalization.ingest import import_records, importable_sources, read_file


class Command(BaseCommand):
    help = ("Import guest data from a CSV or JSON file into a bronze table. Bad rows are quarantined with their "
            "reason and listed; they never stop the rest of the file.")

    def add_arguments(self, parser):
        parser.add_argument("path", help="A .csv (header row), .json (array) or .jsonl file.")
        parser.add_argument("--schema", required=True, help="The tenant's schema name.")
        parser.add_argument("--source", required=True, choices=importable_sources())
        parser.add_argument("--source-system", required=True, help="Where the file comes from, e.g. 'pms'.")

    def handle(self, *args, path, schema, source, source_system, **options):
        file = Path(path)
        if not file.is_file():
            raise CommandError(f"No file at {path}.")
        fmt = "csv" if file.suffix.lower() == ".csv" else "json"
        try:
            records = read_file(file.read_text(encoding="utf-8-sig"), fmt)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CommandError(f"Could not read {file.name}: {exc}") from None
        try:
            with schema_context(schema):
                result = import_records(source, records, source_system=source_system)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        for row in result.quarantined[:50]:
            self.stdout.write(self.style.WARNING(f"  row {row['row']}: {row['reason']}"))
        if len(result.quarantined) > 50:
            self.stdout.write(f"  … and {len(result.quarantined) - 50} more in quarantine")
        self.stdout.write(self.style.SUCCESS(
            f"{result.accepted} records imported into bronze_{source}, {len(result.quarantined)} quarantined "
            f"(batch {result.batch_id})."))
