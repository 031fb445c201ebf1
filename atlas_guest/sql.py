"""Set-based writes the ORM makes slow. Django's bulk_update builds a CASE expression per row and field,
which costs more than the work itself at batch sizes of hundreds; one UPDATE ... FROM (VALUES ...) does not."""
from __future__ import annotations

from collections.abc import Sequence

from django.db import connection


def bulk_update_rows(model, rows: Sequence, fields: Sequence[str]) -> int:
    """UPDATE the given fields of `rows` (model instances with pk) in one statement. Returns rows changed."""
    if not rows:
        return 0
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    pk = meta.pk
    casts = [f"%s::{pk.db_type(connection)}"] + [f"%s::{field.db_type(connection)}" for field in columns]
    row_sql = "(" + ", ".join(casts) + ")"
    params: list = []
    for row in rows:
        params.append(pk.get_db_prep_value(row.pk, connection))
        for field in columns:
            params.append(field.get_db_prep_save(getattr(row, field.attname), connection))
    names = ["pk_"] + [f"v{i}" for i in range(len(columns))]
    assignments = ", ".join(f'"{field.column}" = v.{name}' for field, name in zip(columns, names[1:]))
    sql = (
        f'UPDATE "{meta.db_table}" AS t SET {assignments} '
        f'FROM (VALUES {", ".join([row_sql] * len(rows))}) AS v({", ".join(names)}) '
        f'WHERE t."{pk.column}" = v.pk_'
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
