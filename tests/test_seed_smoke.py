"""Smoke run of the large-database seeder and the reconciliation benchmark with tiny
numbers (issue 9, scenarios d and e): they keep working; nothing is timed."""

from __future__ import annotations

import argparse

from benchmarks import reconcile, seed
from hub.core.secrets import generate_key
from hub.core.store import Store


def test_the_seeder_writes_valid_rows_the_hub_reads(tmp_path):
    url = f"sqlite:///{tmp_path / 'seed.sqlite'}"
    sizes = seed.Sizes(communities=3, gates_per_community=2, riders=20, entries=200, open_passes=10)

    report = seed.seed(url, sizes, say=lambda line: None)

    assert report.rows["communities"] == 3 and report.rows["gates"] == 6 and report.rows["riders"] == 20
    assert report.rows["entries"] == 210 and report.rows["orders"] == 10
    store = Store(url, [generate_key()])
    try:
        assert store.gate_by_code(seed.gate_code(1, 1)).community_id == seed.community_id(1)
        assert len(store.list_entries(limit=500)) == 210
        assert len(store.orders_to_reconcile(100)) == 10
        assert store.verify_audit_chain() is None
    finally:
        store.dispose()


def test_the_reconcile_benchmark_reconciles_every_open_pass(tmp_path):
    args = argparse.Namespace(
        database_url=f"sqlite:///{tmp_path / 'reconcile.sqlite'}",
        schema=None,
        passes=40,
        latency_ms=0,
        delivered=0.5,
        limit=0,
        workers=4,
        batch_size=10,
        profile=None,
    )

    result = reconcile.run(args, say=lambda line: None)

    assert result["orders"] == 40 and result["left"] == 0
    assert result["cut"] == 20  # the delivered half ended at the exit grace
