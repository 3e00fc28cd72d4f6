"""The entry benchmark keeps working: a smoke run of ``python -m benchmarks.entry``.

It starts the simulators, the hub (``last100 serve``), the naive baseline (gunicorn) and
the load generator as separate processes for about a second per measurement, then checks
the JSON it writes. No timed assertions: the numbers on a CI machine mean nothing. The
packages it needs (gunicorn, psutil, matplotlib) are in the ``test`` extra, so a missing
one fails here rather than skipping.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ROW_KEYS = {
    "requests",
    "throughput_per_s",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "floor_ms",
    "overhead_ms",
    "cpu_ms_per_decision",
    "peak_rss_mb",
    "granted",
    "manual",
    "errors",
}


def test_smoke_run_writes_every_figure_without_errors(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.entry", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "| pull | baseline |" in done.stdout  # the table, with the baseline beside the hub

    report = json.loads((tmp_path / "entry-smoke.json").read_text())
    assert (tmp_path / "entry-smoke.png").stat().st_size > 0
    assert {"identity_ms", "orders_ms", "grant_ms", "pull_ms", "grant_only_ms"} <= set(report["floor"])
    results = report["results"]
    assert set(results) == {"pull", "push", "codes"}
    assert set(results["pull"]["baseline"]) == {"1", "4"}
    for scenario, systems in results.items():
        assert set(systems["hub"]) == {"1", "4"}, scenario
        for system, rows in systems.items():
            for concurrency, row in rows.items():
                where = f"{scenario} {system} c={concurrency}"
                assert set(row) >= ROW_KEYS, where
                assert row["requests"] > 0, where
                assert row["errors"] == 0, (where, row["statuses"], row["decisions"])
                assert row["manual"] == 0, where  # every rider has an active order
                assert row["granted"] == row["requests"], where

    # Scenario (f): a platform failing and slow beside a healthy one.
    faults = report["faults"]
    for key in ("healthy_alone", "healthy_beside_faulty", "faulty"):
        assert faults[key]["requests"] > 0, key
        assert faults[key]["errors"] == 0, (key, faults[key]["statuses"])
    assert faults["healthy_beside_faulty"]["manual"] == 0  # the healthy platform's riders are let in
    assert faults["faulty"]["manual"] > 0  # failing checks send riders to the guard…
    assert faults["faulty_grants"]["granted_without_checks"] == 0  # …and never through unchecked
    assert "| faulty platform |" in done.stdout
