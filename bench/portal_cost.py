"""CPU per portal page view, for the web workers and for PostgreSQL separately: the figure that decides the
page's throughput on a given machine, and one that other work on the machine distorts much less than the
wall-clock latency of bench/portal.py (less, not nothing: a busy machine makes every page dearer too).

    .venv/bin/python bench/portal_cost.py                    # 50 clients for 10 s, the server as `make run` runs it
    .venv/bin/python bench/portal_cost.py --workers 2 --threads 4 --seconds 10

Same tenant and page as bench/portal.py (its set-up, its database: DATABASE_URL or the embedded one; one run
at a time). CPU time is read from /proc/<pid>/stat (user + system) of the gunicorn workers and of the
PostgreSQL backends connected to the database, before and after a closed-loop load (wrk where installed,
else a Python asyncio loop, whose own CPU is not counted either way), and divided by the pages served
(PostgreSQL on this machine: a remote server's backends are not seen, and count as 0).
The server runs without an access log (the bench's server timing writes one line per request).
Measured twice: with the render cache off (every view rendered, as a link's first view is) and on, going
round fewer links (--cached-links), so that most views are of a page viewed before. The last line is JSON.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("portal_bench", HERE / "portal.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)  # sets Django up

import httpx  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from tenants.management.commands import serve  # noqa: E402
from tests.portal.live import free_port, gunicorn  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
CACHE_PAGES = os.environ.get("PORTAL_PAGE_CACHE_PAGES", "2048")  # as the server has it (portal.pagecache)


def cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU of a process so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0, 0.0
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS  # utime, stime (fields 14 and 15 of stat)


def children(parent: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(stat.parent.name))
        except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
            continue
    return found


def backends() -> list[int]:
    """The PostgreSQL backends of this database, other than this script's own."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return [row[0] for row in cursor.fetchall()]


def snapshot(server_pid: int) -> dict[str, dict[int, tuple[float, float]]]:
    return {"app": {pid: cpu_seconds(pid) for pid in children(server_pid)},
            "pg": {pid: cpu_seconds(pid) for pid in backends()}}


def spent(before: dict, after: dict) -> tuple[float, float]:
    """User and system CPU spent between two snapshots."""
    user = sum(max(0.0, cpu[0] - before.get(pid, (0.0, 0.0))[0]) for pid, cpu in after.items())
    system = sum(max(0.0, cpu[1] - before.get(pid, (0.0, 0.0))[1]) for pid, cpu in after.items())
    return user, system


def run(port: int, server_pid: int, tokens: list[str], clients: int, seconds: float, cookie: str) -> dict:
    before = snapshot(server_pid)
    began = time.perf_counter()
    if bench.WRK:
        answered, errors, _, p95, _ = bench.load_wrk(port, tokens, clients, seconds, cookie)
    else:
        latencies, errors, answered = bench.load(port, tokens, clients, seconds, cookie)
        p95 = bench.percentile(latencies, 95)
    wall = time.perf_counter() - began
    after = snapshot(server_pid)
    pages = answered - errors
    (app_user, app_system), (pg_user, pg_system) = spent(before["app"], after["app"]), spent(before["pg"], after["pg"])
    per_page = lambda seconds: round(seconds * 1000 / max(pages, 1), 2)  # noqa: E731
    return {"pages": pages, "errors": errors, "rps": round(pages / wall, 1), "p95_ms": round(p95 * 1000, 1),
            "app_ms": per_page(app_user + app_system), "app_system_ms": per_page(app_system),
            "pg_ms": per_page(pg_user + pg_system), "pg_system_ms": per_page(pg_system)}


def warm_up(port: int, tokens: list[str]) -> str:
    """Every worker connected to the database and its statements prepared before counting; the CSRF cookie
    a returning guest's browser sends."""
    with httpx.Client(headers={"Host": f"{bench.SLUG}.localhost", "Accept-Encoding": "gzip"}) as http:
        for token in tokens:
            for _ in range(6):
                answer = http.get(f"http://127.0.0.1:{port}/guest/{token}")
                assert answer.status_code == 200, answer.status_code
    return f"csrftoken={answer.cookies.get('csrftoken') or http.cookies.get('csrftoken', '')}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="each of the two runs")
    parser.add_argument("--workers", type=int, default=serve.WORKERS)
    parser.add_argument("--threads", type=int, default=serve.THREADS)
    parser.add_argument("--bookings", type=int, default=1000)
    parser.add_argument("--cached-links", type=int, default=200, help="links the cached run goes round")
    args = parser.parse_args()

    tokens = bench.setup(args.bookings)[bench.LCP_RUNS:]
    port = free_port()
    generator = "wrk" if bench.WRK else "python asyncio"
    results = {}
    try:
        for name, pages in (("rendered", "0"), ("cached", CACHE_PAGES)):
            os.environ["PORTAL_PAGE_CACHE_PAGES"] = pages  # the server's environment (tests.portal.live.gunicorn)
            with gunicorn(port, workers=args.workers, database_url=settings.DATABASE_URL,
                          extra_args=serve.worker_options(args.threads)) as server:
                cookie = warm_up(port, tokens[-4 * args.workers:])
                # Cached: fewer links, each viewed again and again (under the 60 views per link and hour).
                links = tokens[:-4 * args.workers] if pages == "0" else tokens[:args.cached_links]
                kind = f"{args.threads} threads" if args.threads > 1 else "sync"
                print(f"{name}: gunicorn, {args.workers} workers ({kind}), render cache {pages} pages; "
                      f"load: {generator}, {args.clients} clients, {args.seconds:g} s over {len(links)} links", flush=True)
                results[name] = found = run(port, server.pid, links, args.clients, args.seconds, cookie)
                print(f"{name}: {found['pages']} pages, {found['rps']} /s, p95 {found['p95_ms']} ms; CPU per page: "
                      f"app {found['app_ms']} ms ({found['app_system_ms']} in the kernel), "
                      f"PostgreSQL {found['pg_ms']} ms ({found['pg_system_ms']} in the kernel)", flush=True)
    finally:
        bench.drop()
    print(json.dumps({"generator": generator, "workers": args.workers, "threads": args.threads, **{
        f"{name}_{key}": value for name, found in results.items() for key, value in found.items()}}))


if __name__ == "__main__":
    main()
