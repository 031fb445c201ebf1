"""bench/intake.py, short: it runs its three rounds end to end and ends with its JSON line. No speed is
asserted (the bench measures; the suite checks it works): each round reads every feed, none fails."""
import json
import subprocess
import sys
from pathlib import Path

from tests.reliability.conftest import bench_env

ROOT = Path(__file__).resolve().parent.parent.parent


def test_intake_bench_runs_and_ends_with_its_json_line():
    run = subprocess.run([sys.executable, "bench/intake.py", "--listings", "40"], cwd=ROOT, env=bench_env("intake"),
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["first_read"]["created"] == 40
    assert summary["unchanged"]["not_modified"] == 40
    assert summary["changed"]["moved"] == 4  # every tenth reservation moved by two days
    assert "reproduce: .venv/bin/python bench/intake.py --listings 40" in run.stdout
