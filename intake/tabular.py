"""A PMS export's bytes as a table (issue 15 §3): CSV in whatever encoding Excel or the PMS wrote it, Excel's
"Unicode text" (UTF-16, tab-separated), or an .xlsx workbook. tablib parses; this module only finds the text
and the delimiter, and numbers the rows as the host sees them in a spreadsheet (the header is row 1)."""
from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field

import tablib

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 10_000
XLSX_MAGIC = b"PK\x03\x04"  # an .xlsx is a zip
XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old binary .xls (OLE2)
DELIMITERS = ",\t;"  # comma, tab (Excel's Unicode text), semicolon (Excel in locales with a decimal comma)
SAY_SPLIT = "Split it into smaller files and import each."


class FileProblem(Exception):
    """The file as a whole cannot be read: its message is what the host reads."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Table:
    headers: list[str]
    rows: list[tuple]  # cells as the file has them: text from a CSV, numbers and dates from a workbook
    row_numbers: list[int]  # the spreadsheet row of each row (header = 1), blank lines counted as Excel shows them
    notes: list[str] = field(default_factory=list)


def read_table(data: bytes, max_rows: int = MAX_ROWS) -> Table:
    if len(data) > MAX_BYTES:
        raise FileProblem(f"The file is {len(data) / 1024 / 1024:.1f} MB; one import takes at most "
                          f"{MAX_BYTES // 1024 // 1024} MB. {SAY_SPLIT}")
    if not data.strip():
        raise FileProblem("The file is empty.")
    if data.startswith(XLS_MAGIC):
        raise FileProblem("This is an old Excel .xls file: save it as .xlsx or as “CSV UTF-8” and import that.")
    table = _workbook(data) if data.startswith(XLSX_MAGIC) else _text_table(data)
    if not any(table.headers):
        raise FileProblem("The first row of the file is empty: it should name the columns (Listing, Guest name, …).")
    if len(table.rows) > max_rows:
        raise FileProblem(f"The file has {len(table.rows):,} rows; one import takes at most {max_rows:,}. {SAY_SPLIT}")
    return table


def _workbook(data: bytes) -> Table:
    try:
        dataset = tablib.Dataset().load(io.BytesIO(data), format="xlsx")
    except tablib.InvalidDimensions:
        raise FileProblem("A row of the sheet has more cells than the header row names: give every column with "
                          "values a name in row 1.") from None
    except Exception:  # noqa: BLE001 - openpyxl raises a dozen kinds for a broken or foreign zip
        raise FileProblem("The file looks like an Excel workbook but could not be opened: save it again as .xlsx "
                          "or as “CSV UTF-8”.") from None
    rows, numbers = [], []
    for index, row in enumerate(dataset):  # openpyxl gives every sheet row, blank ones too: row 1 is the header
        if any(_filled(cell) for cell in row):
            rows.append(tuple(row))
            numbers.append(index + 2)
    notes = [f"Read the sheet “{dataset.title}” of the workbook."] if dataset.title else []
    return Table([_header(h) for h in dataset.headers or []], rows, numbers, notes)


def _text_table(data: bytes) -> Table:
    text, encoding = decode(data)
    delimiter = _delimiter(text)
    records = _records(text, delimiter)
    header_at = next((i for i, record in enumerate(records) if any(cell.strip() for cell in record)), None)
    if header_at is None:
        raise FileProblem("The file is empty.")
    width = len(records[header_at])
    for i, record in enumerate(records[header_at + 1:], start=header_at + 2):
        if len(record) > width and any(cell.strip() for cell in record[width:]):
            raise FileProblem(f"Row {i} has {len(record)} cells but the header row names {width} columns: a value "
                              "with the delimiter in it needs quotes. Export the file again from the PMS.")
    try:
        dataset = tablib.Dataset().load(_trimmed(text, records, width, delimiter), format="csv", delimiter=delimiter,
                                        skip_lines=header_at)
    except (csv.Error, tablib.InvalidDimensions) as exc:
        raise FileProblem(f"The file could not be read as a table ({exc}). Export it again as “CSV UTF-8”.") from None
    # tablib leaves out empty lines, which a spreadsheet shows as rows: number the rows as the host sees them.
    numbers = [i + 1 for i, record in enumerate(records) if i > header_at and record]
    rows, kept = [], []
    for row, number in zip(dataset, numbers, strict=True):
        if any(_filled(cell) for cell in row):
            rows.append(tuple(row))
            kept.append(number)
    notes = [] if encoding == "UTF-8" else [f"Read as {encoding}."]
    if delimiter != ",":
        notes.append({"\t": "Columns separated by tabs.", ";": "Columns separated by semicolons."}[delimiter])
    return Table([_header(h) for h in dataset.headers or []], rows, kept, notes)


def decode(data: bytes) -> tuple[str, str]:
    """The file's text and the name of its encoding. A byte order mark decides (Excel's "Unicode text" is UTF-16
    LE with one); else UTF-8, else Windows-1252 (Excel's "CSV" on a Western Windows)."""
    for bom, codec, name in ((codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
                             (codecs.BOM_UTF16_LE, "utf-16", "UTF-16 (Excel's Unicode text)"),
                             (codecs.BOM_UTF16_BE, "utf-16", "UTF-16 (Excel's Unicode text)")):
        if data.startswith(bom):
            return _decoded(data, codec), name
    head = data[:4096]
    if head.count(b"\x00") > len(head) // 4:  # UTF-16 without its mark: every other byte of ASCII text is zero
        codec = "utf-16-le" if head[1:2] == b"\x00" else "utf-16-be"
        return _decoded(data, codec), "UTF-16"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    return _decoded(data, "cp1252"), "Windows-1252"


def _decoded(data: bytes, codec: str) -> str:
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        raise FileProblem("The file's text could not be read: save it as “CSV UTF-8” (Excel: File › Save as) and "
                          "import that.") from None
    if "\x00" in text:
        raise FileProblem("The file is not a text table (it holds binary data): export the bookings as CSV or .xlsx.")
    return text.lstrip("\ufeff")


def _delimiter(text: str) -> str:
    """The standard library's csv.Sniffer, which tablib's own format detection uses, but given the three
    delimiters PMS exports use (tablib's detection tries comma and tab only); one column: a comma."""
    sample = text[:16384]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[:sample.rindex("\n")]
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def _records(text: str, delimiter: str) -> list[list[str]]:
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise FileProblem(f"The file could not be read as a table ({exc}). Export it again as “CSV UTF-8”.") from None


def _trimmed(text: str, records: list[list[str]], width: int, delimiter: str) -> str:
    """Trailing empty cells past the header's width (a stray delimiter at the end of a line) would make tablib
    refuse the whole file; only such files are rewritten, the rest goes to tablib as it came."""
    if all(len(record) <= width for record in records):
        return text
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    for record in records:
        writer.writerow(record[:width] if len(record) > width else record)
    return out.getvalue()


def _filled(cell) -> bool:
    return cell is not None and str(cell).strip() != ""


def _header(value) -> str:
    return " ".join(str(value).split()) if value is not None else ""
