"""`Idempotency-Key` on the staff API's creating POSTs, with Stripe's semantics: a channel manager or PMS that
retries a request (a timeout, a webhook delivered twice) gets the first answer again instead of a second booking.

- the same key with the same request (method, path, caller, body) → the first response, marked
  `Idempotent-Replayed: true`;
- the same key with another request → 422, and nothing done;
- a request refused by validation stores nothing: fixing the body and sending it with the same key is fine;
- two requests with one key at the same moment: the second waits on the key's row until the first commits and
  then gets its answer (the unique key decides, not a flag in one process);
- a key is kept for a day (IDEMPOTENCY_TTL); after that it is free again, and the retention job deletes it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from intake.models import IdempotencyRecord

HEADER = "Idempotency-Key"
IDEMPOTENCY_TTL = dt.timedelta(hours=24)
_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, no spaces: a UUID is the usual choice


class KeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = ("This Idempotency-Key was already used for a different request. "
                      "Send a new key for a new request, or the same body to get the first answer again.")


def _plain(data) -> object:
    """The request's data as plain JSON values (a form's QueryDict → lists), for a stable fingerprint."""
    if hasattr(data, "lists"):
        return {key: values for key, values in data.lists()}
    return data


def fingerprint(request) -> str:
    body = json.dumps(_plain(request.data), sort_keys=True, cls=JSONEncoder, ensure_ascii=False)
    caller = getattr(request.user, "pk", None)
    return hashlib.sha256(f"{request.method} {request.path} {caller}\n{body}".encode()).hexdigest()


def idempotent(request, perform: Callable[[], Response], *, now: dt.datetime | None = None) -> Response:
    """Run `perform` (which must do all its writes in the current transaction and return a 2xx or 4xx Response,
    or raise) at most once per `Idempotency-Key`. Without the header, `perform` just runs."""
    key = request.headers.get(HEADER)
    if key is None:
        return perform()
    if not _KEY.fullmatch(key):
        raise ValidationError({HEADER: ["Use 1 to 255 printable characters without spaces, such as a UUID."]})
    digest, now = fingerprint(request), now or timezone.now()
    with transaction.atomic():
        IdempotencyRecord.objects.filter(key=key, created_at__lt=now - IDEMPOTENCY_TTL).delete()  # expired: free
        # A concurrent request with this key blocks here on the unique index until the first one commits (and
        # then finds its record) or rolls back (and then goes ahead itself).
        record, created = IdempotencyRecord.objects.get_or_create(
            key=key, defaults={"fingerprint": digest, "status_code": 0, "created_at": now})
        if not created:
            if record.fingerprint != digest:
                raise KeyReused()
            replay = Response(record.response_body, status=record.status_code)
            replay[HEADER] = key
            replay["Idempotent-Replayed"] = "true"
            return replay
        response = perform()  # raises on a refused request: the record goes with the rollback
        record.status_code = response.status_code
        record.response_body = json.loads(json.dumps(response.data, cls=JSONEncoder))
        record.save(update_fields=["status_code", "response_body"])
    response[HEADER] = key
    return response


def prune(now: dt.datetime | None = None) -> int:
    """The retention job's part: keys older than a day (their answers carry a guest's name)."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=(now or timezone.now()) - IDEMPOTENCY_TTL).delete()
    return deleted
