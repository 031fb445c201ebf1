from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from intake.csv_import import MAX_BYTES, FileProblem, ImportResult, import_bookings
from tenants.models import Tenant

REPORT_LINES = 50  # per kind (errors, warnings): the rest is counted
PROGRESS_FROM_ROWS = 500  # a shorter file is done before a bar would help
BAR_WIDTH = 20


class Command(BaseCommand):
    help = ("Import bookings from a PMS export (CSV, Excel's Unicode text or .xlsx; columns in the README, "
            "“Importing a PMS export”). Every row is checked and reported; the valid rows are imported in one "
            "transaction, the others skipped. Importing the same file again changes nothing.")

    def add_arguments(self, parser):
        parser.add_argument("path", help="The exported file: .csv, .txt (tab-separated) or .xlsx.")
        parser.add_argument("--schema", required=True, help="The tenant's schema name.")
        parser.add_argument("--dry-run", action="store_true", help="Check every row and report; write nothing.")

    def handle(self, *args, path, schema, dry_run, **options):
        file = Path(path)
        if not file.is_file():
            raise CommandError(f"No file at {path}.")
        if file.stat().st_size > MAX_BYTES:
            raise CommandError(f"{file.name} is {file.stat().st_size / 1024 / 1024:.1f} MB; one import takes at most "
                               f"{MAX_BYTES // 1024 // 1024} MB. Split it into smaller files and import each.")
        if not Tenant.objects.filter(schema_name=schema).exclude(schema_name="public").exists():
            raise CommandError(f"No tenant has the schema “{schema}”.")
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"Could not read {file.name}: {exc.strerror}.") from None
        try:
            with schema_context(schema):
                result = import_bookings(data, dry_run=dry_run, progress=self._progress(dry_run))
        except FileProblem as exc:
            raise CommandError(f"{file.name}: {exc.message}") from None
        self._report(result)
        if result.errors and not (result.to_write or result.unchanged):
            raise CommandError("No row of the file could be imported: see the errors above.")

    def _progress(self, dry_run: bool):
        shown = {"step": -1}
        verb = "checking " if dry_run else "importing"

        def progress(done: int, total: int) -> None:
            if total < PROGRESS_FROM_ROWS:
                return
            step = done * 20 // total  # every 5 %
            if step == shown["step"]:
                return
            shown["step"] = step
            filled = done * BAR_WIDTH // total
            self.stdout.write(f"  {verb} ▕{'█' * filled}{'░' * (BAR_WIDTH - filled)}▏ {done:,}/{total:,} rows")

        return progress

    def _report(self, result: ImportResult) -> None:
        for note in result.notes:
            self.stdout.write(f"  {note}")
        for title, lines, style in (("Errors (these rows are skipped):", result.errors, self.style.ERROR),
                                    ("Warnings:", result.warnings, self.style.WARNING)):
            if not lines:
                continue
            self.stdout.write(title)
            for row, message in lines[:REPORT_LINES]:
                self.stdout.write(style(f"  row {row}: {message}"))
            if len(lines) > REPORT_LINES:
                self.stdout.write(f"  … and {len(lines) - REPORT_LINES:,} more")
        style = self.style.WARNING if result.errors else self.style.SUCCESS
        self.stdout.write(style(result.summary()))
