"""The back office's PMS import (issue 15 §3), under Bookings: upload a file, see what importing it would do row
by row (a dry run: nothing written), then import it with one button. The second step posts the previewed file
back, signed and compressed in a hidden field, so nothing is kept on the server between the two steps (no disk,
no cache that another worker would not have). The upload itself is read into memory, capped at MAX_BYTES."""
from __future__ import annotations

import base64
import binascii
import io
import zlib

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopFutureHandlers
from django.db import connection
from django.template.response import TemplateResponse
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from intake.csv_import import COLUMNS, MAX_BYTES, MAX_ROWS, FileProblem, ImportResult, import_bookings
from tenants import roles

# A row costs ~5 ms (its guest, booking and event, each through its service): 2,000 rows take ~10 s, well within
# a web request (gunicorn's 30 s). A longer file is split, or imported with `manage.py import_bookings`.
ADMIN_MAX_ROWS = 2_000
PAYLOAD_MAX_AGE_S = 3600  # a preview left open longer is uploaded again
PREVIEW_ROWS = 500  # rows shown in the table; the counts and the lists of errors and warnings cover every row
TEMPLATE = "admin/bookings/booking/import.html"


class CappedMemoryUpload(FileUploadHandler):
    """Keeps an upload in memory up to MAX_BYTES + 1 and counts the rest without keeping it: a file over the cap
    is refused with its size, and no upload of this page is ever written to a temporary file."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.buffer, self.seen = io.BytesIO(), 0
        raise StopFutureHandlers()

    def receive_data_chunk(self, raw_data, start):
        self.seen += len(raw_data)
        room = MAX_BYTES + 1 - self.buffer.tell()
        if room > 0:
            self.buffer.write(raw_data[:room])

    def file_complete(self, file_size):
        self.buffer.seek(0)
        return InMemoryUploadedFile(self.buffer, self.field_name, self.file_name, self.content_type, self.seen,
                                    self.charset, self.content_type_extra)


class UploadForm(forms.Form):
    file = forms.FileField(
        label="PMS export",
        help_text=f"CSV, Excel's Unicode text (.txt) or .xlsx; at most {MAX_BYTES // 1024 // 1024} MB and "
                  f"{ADMIN_MAX_ROWS:,} rows here (the import_bookings command takes {MAX_ROWS:,}). The columns are "
                  "listed below.")

    def clean_file(self) -> bytes:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(f"The file is {upload.size / 1024 / 1024:.1f} MB; one import takes at most "
                                        f"{MAX_BYTES // 1024 // 1024} MB. Split it into smaller files.")
        return upload.read()


def _signer(request) -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=f"intake.import:{connection.schema_name}:{request.user.pk}")


def pack(request, data: bytes) -> str:
    return _signer(request).sign(base64.urlsafe_b64encode(zlib.compress(data, 6)).decode())


def unpack(request, payload: str) -> bytes:
    """The previewed file, or ValueError in words."""
    try:
        packed = _signer(request).unsign(payload, max_age=PAYLOAD_MAX_AGE_S)
        data = zlib.decompressobj().decompress(base64.urlsafe_b64decode(packed), MAX_BYTES + 1)
    except signing.SignatureExpired:
        raise ValueError("The preview is more than an hour old: upload the file again.") from None
    except (signing.BadSignature, binascii.Error, zlib.error, ValueError):
        raise ValueError("The previewed file did not come back intact: upload it again.") from None
    if len(data) > MAX_BYTES:
        raise ValueError("The previewed file did not come back intact: upload it again.")
    return data


def _fits_in_a_form(payload: str) -> bool:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return limit is None or len(payload) < limit - 64 * 1024  # the rest of the form's fields fit in the margin


@csrf_exempt  # the upload handler must be set before the CSRF check reads the form: checked just below
def import_view(model_admin, request):
    request.upload_handlers = [CappedMemoryUpload(request)]
    return csrf_protect(_import_view)(request, model_admin)


def _import_view(request, model_admin):
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    context = {**model_admin.admin_site.each_context(request), "opts": model_admin.model._meta,
               "title": "Import bookings from a PMS file", "sees_money": roles.sees_money(request.user),
               "columns": COLUMNS}
    form = UploadForm()
    if request.method == "POST" and "payload" in request.POST:
        try:
            data = unpack(request, request.POST["payload"])
            result = import_bookings(data, dry_run=False, max_rows=ADMIN_MAX_ROWS)
        except FileProblem as exc:  # the same file read at the preview: only a change of this code gets here
            context["problem"] = exc.message
        except ValueError as exc:
            context["problem"] = str(exc)
        else:
            _tell(request, model_admin, result)
            context.update(result=result, file_name=request.POST.get("file_name", ""))
    elif request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data["file"]
            try:
                result = import_bookings(data, dry_run=True, max_rows=ADMIN_MAX_ROWS)
            except FileProblem as exc:
                form.add_error("file", exc.message)
            else:
                payload = pack(request, data)
                context.update(result=result, file_name=request.FILES["file"].name,
                               payload=payload if _fits_in_a_form(payload) else "", form=UploadForm())
    context.setdefault("form", form)
    if "result" in context:
        context["shown_rows"] = context["result"].rows[:PREVIEW_ROWS]
        context["hidden_rows"] = max(context["result"].total - PREVIEW_ROWS, 0)
    return TemplateResponse(request, TEMPLATE, context)


def _tell(request, model_admin, result: ImportResult) -> None:
    if result.to_write:
        model_admin.message_user(request, result.summary(), messages.SUCCESS)
    else:
        model_admin.message_user(request, "Nothing was imported. " + result.summary(), messages.WARNING)
