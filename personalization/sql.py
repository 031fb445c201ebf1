"""Reading silver and gold rows with a raw cursor: Django leaves jsonb undecoded (its JSONField decodes
itself), so the rows are decoded here, once for every reader."""
from __future__ import annotations

import json

JSONB_OID = 3802


def fetch_dicts(cursor) -> list[dict]:
    columns = [(c.name, c.type_code == JSONB_OID) for c in cursor.description]
    return [
        {name: (json.loads(value) if is_json and isinstance(value, str) else value)
         for (name, is_json), value in zip(columns, row)}
        for row in cursor.fetchall()
    ]
