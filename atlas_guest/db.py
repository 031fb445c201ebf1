"""Where the database is: `DATABASE_URL` when set, else an embedded PostgreSQL (pgserver) under `.data/pg`.

Both paths end in one URL handed to django-environ, so the rest of the settings never know which it was.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import parse_qs, urlparse, urlunparse

BASE_DIR = Path(__file__).resolve().parent.parent
EMBEDDED_DATA_DIR = BASE_DIR / ".data" / "pg"
# Benchmarks use their own database on the same embedded server, so they never touch the demo data.
EMBEDDED_DB_NAME = os.environ.get("ATLAS_EMBEDDED_DB", "atlas_guest")


def embedded_server(data_dir: Path = EMBEDDED_DATA_DIR):
    """Start (or attach to) the embedded PostgreSQL. It outlives this process: `make stop` ends it."""
    # pgserver keeps a lock file in the runtime dir and warns when XDG_RUNTIME_DIR is unset or shared.
    if not os.environ.get("XDG_RUNTIME_DIR"):
        run_dir = data_dir.parent / "run"
        run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(run_dir)
    import pgserver

    logging.getLogger("pgserver").setLevel(logging.WARNING)

    data_dir.mkdir(parents=True, exist_ok=True)
    return pgserver.get_server(data_dir, cleanup_mode=None)


def embedded_database_url(data_dir: Path = EMBEDDED_DATA_DIR) -> str:
    server = embedded_server(data_dir)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{EMBEDDED_DB_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {EMBEDDED_DB_NAME};")
    return server.get_uri(EMBEDDED_DB_NAME)


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or embedded_database_url()


def ensure_database() -> None:
    """With DATABASE_URL set, create its database on that server if missing (the embedded path creates its
    own): for the benchmarks, each in a database of its own."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return
    import psycopg
    from psycopg import sql

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunparse(parts._replace(path="/postgres")), autocommit=True) as server:
        if server.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def fix_socket_host(db: dict) -> dict:
    """django-environ leaves a unix-socket host (`?host=/dir`) in OPTIONS with HOST empty; dbshell and
    psycopg's DSN both want it in HOST."""
    options = db.setdefault("OPTIONS", {})
    if not db.get("HOST") and "host" in options:
        db["HOST"] = options.pop("host")
    return db


def socket_dir_of(url: str) -> str | None:
    query = parse_qs(urlparse(url).query)
    return query.get("host", [None])[0]


def stop_embedded(data_dir: Path = EMBEDDED_DATA_DIR) -> bool:
    """Stop the embedded server if it runs (`make stop`). Returns whether one was running."""
    if not (data_dir / "postmaster.pid").exists():
        return False
    from pgserver import pg_ctl

    user = "pgserver" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=user)
    return True
