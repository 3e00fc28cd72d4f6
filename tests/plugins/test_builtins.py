"""builtin_plugins(): what the built-ins say about themselves, their order, and that each
works without the others."""

from __future__ import annotations

from importlib import metadata

import pytest

from hub.core.errors import CircuitOpen, UpstreamError
from hub.core.model import Decision, PluginKind, Problem
from hub.core.plugins import Hub
from hub.plugins import (
    Audit,
    BuiltinJobs,
    DefaultPolicy,
    ManualCheckFallback,
    Resilience,
    Timing,
    VerificationCache,
    builtin_plugins,
    find_builtin,
)
from tests.factories import make_credential, make_entry_context, make_gate
from tests.plugins.conftest import FAILURE_THRESHOLD, RESET_AFTER_S


def test_the_built_ins_are_core_plugins_carrying_the_hubs_version(builtins):
    infos = {info.name: info for info in (plugin.hub_plugin_info() for plugin in builtins)}

    assert set(infos) == {
        "timing",
        "audit",
        "verification-cache",
        "resilience",
        "default-policy",
        "manual-check-fallback",
        "builtin-jobs",
    }
    assert all(PluginKind.CORE in info.kinds for info in infos.values())
    assert {name for name, info in infos.items() if PluginKind.POLICY in info.kinds} == {
        "default-policy",
        "manual-check-fallback",
    }
    assert {info.version for info in infos.values()} == {metadata.version("last100-hub")}
    assert all(info.description and info.capabilities for info in infos.values())


def test_each_call_gives_fresh_instances(clock):
    first, second = builtin_plugins(clock), builtin_plugins(clock)
    assert not {id(p) for p in first} & {id(p) for p in second}


def test_the_cache_is_registered_after_the_breaker_so_its_lookup_runs_first(clock):
    kinds = [type(p) for p in builtin_plugins(clock)]

    assert kinds.index(Resilience) < kinds.index(VerificationCache)
    assert kinds[-1] is Timing
    assert set(kinds) == {Timing, Audit, VerificationCache, Resilience, DefaultPolicy, ManualCheckFallback, BuiltinJobs}


def test_find_builtin_returns_the_instance_or_says_it_is_missing(builtins):
    assert isinstance(find_builtin(builtins, Resilience), Resilience)
    with pytest.raises(LookupError):
        find_builtin([Timing], Resilience)


def test_both_policy_built_ins_vote_through_the_hub(hub):
    votes = hub.evaluate_entry(
        make_entry_context(orders=(), problems=(Problem("hub_active_orders", "acme-1", "error", "502"),))
    )
    assert sorted((v.decision, v.reason and v.reason.code) for v in votes) == [
        (Decision.GRANTED, None),
        (Decision.MANUAL_CHECK, "platform_error"),
    ]


@pytest.mark.parametrize("left_out", [Timing, Audit, VerificationCache])
def test_the_breaker_works_without_the_other_wrappers(clock, platform, plat_conn, left_out):
    hub = Hub()
    plugins = builtin_plugins(clock, failure_threshold=FAILURE_THRESHOLD, reset_after_s=RESET_AFTER_S)
    for plugin in [*(p for p in plugins if not isinstance(p, left_out)), platform]:
        hub.register(plugin)
    platform.script("hub_verify_rider", raises=UpstreamError("down"))
    for n in range(FAILURE_THRESHOLD):
        with pytest.raises(UpstreamError):
            hub.verify_rider(plat_conn, make_credential(value=f"t{n}"), make_gate())

    with pytest.raises(CircuitOpen):
        hub.verify_rider(plat_conn, make_credential(), make_gate())
    assert find_builtin(plugins, Resilience).state("plat-1") == "open"


@pytest.mark.parametrize("left_out", [Timing, Resilience])
def test_the_cache_works_without_the_other_wrappers(clock, platform, plat_conn, left_out):
    hub = Hub()
    for plugin in [*(p for p in builtin_plugins(clock) if not isinstance(p, left_out)), platform]:
        hub.register(plugin)

    first = hub.verify_rider(plat_conn, make_credential(), make_gate())

    assert hub.verify_rider(plat_conn, make_credential(), make_gate()) == first
    assert platform.calls["hub_verify_rider"] == 1
