"""`manage.py serve`: the web server (gunicorn) and the django-q2 cluster together, stopped together."""
from __future__ import annotations

import signal
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand


# gunicorn's workers (the bench's defaults too: bench/portal.py measures what `make run` serves).
WORKERS = 2
THREADS = 1
LOGGER_CLASS = "atlas_guest.access_log.AccessLogger"  # no query strings, referers or link tokens; lean lines
KEEP_ALIVE_SECONDS = 5  # a guest's next tap on the same connection skips a TCP handshake (threaded workers)


def worker_options(threads: int) -> tuple[str, ...]:
    """Sync workers for one thread; gthread workers, which keep connections alive, for more."""
    if threads <= 1:
        return ("--worker-class", "sync")
    return ("--worker-class", "gthread", "--threads", str(threads), "--keep-alive", str(KEEP_ALIVE_SECONDS))


class Command(BaseCommand):
    help = "Run the web server and the task cluster (scheduler, dispatcher) until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=WORKERS, help="gunicorn worker processes")
        parser.add_argument("--threads", type=int, default=THREADS, help="threads per worker (>1: gthread workers)")

    def handle(self, *args, port: int, workers: int, threads: int, **options):
        python = sys.executable
        cluster = subprocess.Popen([python, "manage.py", "qcluster"], cwd=settings.BASE_DIR)
        web = subprocess.Popen(
            [python, "-m", "gunicorn", "atlas_guest.wsgi:application", "--bind", f"0.0.0.0:{port}",
             "--workers", str(workers), *worker_options(threads), "--access-logfile", "-",
             "--logger-class", LOGGER_CLASS],
            cwd=settings.BASE_DIR,
        )
        self.stdout.write(self.style.SUCCESS(f"Serving on port {port}; task cluster running. Ctrl-C stops both."))
        # A TERM (from a process manager, or `timeout`) must stop both children too, as Ctrl-C does.
        signal.signal(signal.SIGTERM, lambda signum, frame: (_ for _ in ()).throw(KeyboardInterrupt()))
        try:
            while web.poll() is None and cluster.poll() is None:
                try:
                    web.wait(timeout=1)
                except subprocess.TimeoutExpired:
                    pass
        except KeyboardInterrupt:
            pass
        finally:
            for proc in (web, cluster):
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
            for proc in (web, cluster):
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
