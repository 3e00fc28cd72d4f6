"""``orders.reconcile`` sized by :class:`ReconcileSettings` (the cap per run, the calls
at once, the batch), given to the built-in jobs."""

from __future__ import annotations

import pytest

from hub.core.reconcile import BATCH_SIZE, MAX_PER_RUN, WORKERS, ReconcileSettings
from hub.plugins import builtin_plugins
from hub.plugins.jobs import BuiltinJobs


def test_the_defaults_are_the_modules():
    assert ReconcileSettings() == ReconcileSettings(MAX_PER_RUN, WORKERS, BATCH_SIZE)


@pytest.mark.parametrize("field", ["limit", "workers", "batch_size"])
def test_each_setting_must_be_at_least_one(field):
    with pytest.raises(ValueError):
        ReconcileSettings(**{field: 0})


def test_the_job_runs_with_the_settings_it_was_given(monkeypatch):
    seen = {}

    def fake_reconcile(hub, store, **kwargs):
        seen.update(kwargs)
        from hub.core.reconcile import ReconcileReport

        return ReconcileReport(polled=3)

    monkeypatch.setattr("hub.plugins.jobs.reconcile_orders", fake_reconcile)
    settings = ReconcileSettings(limit=100_000, workers=128, batch_size=500)
    [jobs] = [p for p in builtin_plugins(reconcile=settings) if isinstance(p, BuiltinJobs)]
    [spec] = [s for s in jobs.hub_jobs() if s.id == "orders.reconcile"]

    from hub.core.jobs import JobContext

    outcome = spec.func(JobContext(hub=None, store=None, clock=None))

    assert (seen["limit"], seen["workers"], seen["batch_size"]) == (100_000, 128, 500)
    assert outcome.items == 3


def test_the_configuration_sizes_the_job_and_its_defaults_are_the_modules(tmp_path):
    from hub.core.config import Config, load_config
    from hub.runtime import build_hub

    assert (Config.reconcile_limit, Config.reconcile_workers, Config.reconcile_batch_size) == (
        MAX_PER_RUN,
        WORKERS,
        BATCH_SIZE,
    )
    env = {"LAST100_RECONCILE_LIMIT": "100000", "LAST100_RECONCILE_WORKERS": "128"}
    hub = build_hub(load_config(tmp_path, env=env), clock=None)

    [spec] = [s for s in hub.jobs() if s.id == "orders.reconcile"]
    assert spec.func.__self__.reconcile == ReconcileSettings(limit=100_000, workers=128, batch_size=BATCH_SIZE)


def test_a_configured_size_below_one_is_a_configuration_error(tmp_path):
    from hub.core.config import ConfigError, load_config
    from hub.runtime import build_hub

    with pytest.raises(ConfigError, match="at least 1"):
        build_hub(load_config(tmp_path, env={"LAST100_RECONCILE_WORKERS": "0"}), clock=None)
