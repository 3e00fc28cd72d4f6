"""State shared between web processes (hub/core/shared.py): the verification cache, the
circuit breakers and used single-use codes, kept in Redis when ``shared_state_url`` says
so.

Redis tests run against the real server under a key prefix of their own (the
``redis_state`` fixture of tests/conftest.py; skipped when Redis cannot be reached
unless ``LAST100_REQUIRE_REDIS=1``). "Redis down" is a real closed port on 127.0.0.1,
"Redis slow" a real socket that accepts and never answers. The behaviour both backends
share is tested once for both in tests/plugins (test_breaker.py,
test_verification_cache.py, test_resilience.py).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from hub.core.clock import ManualClock
from hub.core.config import Config, ConfigError, load_config
from hub.core.engine import EntryEngine
from hub.core.errors import UpstreamError
from hub.core.model import (
    Community,
    CommunityPolicy,
    Connection,
    Credential,
    CredentialKind,
    Decision,
    Gate,
    RiderIdentity,
    RiderStatus,
)
from hub.core.plugins import Hub
from hub.core.secrets import generate_key
from hub.core.shared import (
    REDIS_TIMEOUT_S,
    SLOW_BACKOFF_S,
    WARN_EVERY_S,
    RedisSharedState,
    SharedState,
    SharedStateUnavailable,
    open_shared_state,
)
from hub.core.tokens import PresenceCodes
from hub.plugins import Resilience, VerificationCache, builtin_plugins, find_builtin
from hub.plugins.breaker import SharedCircuitBreakers, circuit_breakers, circuit_key, circuit_name
from hub.plugins.cache import cache_key, identity_from_json, identity_to_json
from hub.runtime import Runtime, build_runtime
from tests.api.conftest import make_api
from tests.engine_fakes import FakePlatform, World, build_world, order, request
from tests.factories import make_connection, make_credential, make_gate, make_rider
from tests.plugins.conftest import FakeAdapter

SIGNED = Credential(CredentialKind.ENTRY_CODE, "SIGNED-1")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def down() -> Iterator[RedisSharedState]:
    """Shared state configured for a Redis that is not there (a closed local port)."""
    state = open_shared_state(f"redis://127.0.0.1:{closed_port()}/0", "down")
    assert isinstance(state, RedisSharedState)
    yield state
    state.close()


def now_clock() -> ManualClock:
    """A manual clock at the real time: Redis expires claims at absolute times (PXAT)."""
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


# -- configuration -------------------------------------------------------------------------


def test_an_empty_url_keeps_everything_in_the_process_and_redis_urls_share_it():
    assert type(open_shared_state("")) is SharedState
    assert open_shared_state("").shared is False
    for url in ("redis://127.0.0.1:6379/0", "rediss://cache.internal:6380/1", "unix:///run/redis.sock?db=0"):
        state = open_shared_state(url, "p")
        assert isinstance(state, RedisSharedState) and state.shared
        assert state.key("claim", "plat", "jti") == "p:claim:plat:jti"
        state.close()


@pytest.mark.parametrize("url", ["memcached://127.0.0.1:11211", "http://user:hunter2@redis:6379", "127.0.0.1:6379"])
def test_a_url_that_is_not_redis_is_refused_without_quoting_its_password(tmp_path, url):
    with pytest.raises(ConfigError, match="setting 'shared_state_url': expected empty or a redis://") as refused:
        load_config(tmp_path, env={"LAST100_SHARED_STATE_URL": url})
    assert "hunter2" not in str(refused.value)
    with pytest.raises(ConfigError, match="shared_state_url"):
        open_shared_state(url)


def test_the_settings_are_read_from_the_file_and_the_url_is_not_in_the_repr(tmp_path):
    (tmp_path / "last100.toml").write_text(
        'shared_state_url = "redis://:hunter2@10.0.0.5:6379/2"\nshared_state_key_prefix = "site-a"\n'
    )
    config = load_config(tmp_path, env={})
    assert (config.shared_state_url, config.shared_state_key_prefix) == ("redis://:hunter2@10.0.0.5:6379/2", "site-a")
    assert "hunter2" not in repr(config)
    assert load_config(tmp_path / "elsewhere", env={}).shared_state_url == ""


def test_a_redis_url_without_the_redis_package_is_a_clear_configuration_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "redis", None)  # what `import redis` sees when it is not installed
    with pytest.raises(ConfigError, match=r"redis package is not installed: pip install 'last100-hub\[redis\]'"):
        open_shared_state("redis://127.0.0.1:6379/0")
    assert open_shared_state("").shared is False


def test_the_hub_imports_and_runs_without_the_redis_package(tmp_path):
    script = (
        "import sys; sys.modules['redis'] = None\n"
        "import hub.cli, hub.web\n"
        "from pathlib import Path\n"
        "from hub.core.config import Config\n"
        "from hub.runtime import build_runtime\n"
        f"config = Config(instance_path=Path({str(tmp_path)!r}), secret_keys=({generate_key()!r},), secret_key='s')\n"
        "runtime = build_runtime(config)\n"
        "print(type(runtime.shared).__name__, type(runtime.engine.shared).__name__)\n"
        "runtime.close()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["SharedState", "SharedState"]


# -- an identity as JSON ----------------------------------------------------------------------


def test_every_field_of_an_identity_survives_the_trip_through_json():
    identity = RiderIdentity(
        platform_ref="R-77",
        masked_name="王*",
        masked_phone="138****5678",
        status=RiderStatus.SUSPENDED,
        cache_seconds=90,
        order_refs=("O1", "O2"),
        single_use_id="jti-9",
        single_use_until=datetime(2026, 1, 5, 12, 30, 15, 250000, tzinfo=timezone(timedelta(hours=8))),
    )
    # Every field differs from its default, so a field added to RiderIdentity must be
    # added here too, and is then checked.
    for field in dataclasses.fields(RiderIdentity):
        assert getattr(identity, field.name) != field.default, field.name

    back = identity_from_json(json.loads(json.dumps(identity_to_json(identity))))

    assert back == identity
    assert back.status is RiderStatus.SUSPENDED
    assert isinstance(back.order_refs, tuple)
    assert back.single_use_until.utcoffset() == timedelta(hours=8)


def test_an_identity_with_the_defaults_survives_too():
    identity = RiderIdentity("R1")
    assert identity_from_json(json.loads(json.dumps(identity_to_json(identity)))) == identity


# -- the verification cache in Redis ---------------------------------------------------------------


def plugin_hub(clock, shared, platform: FakeAdapter) -> tuple[Hub, list[object]]:
    builtins = builtin_plugins(clock, failure_threshold=2, reset_after_s=30, shared=shared)
    hub = Hub()
    for plugin in [*builtins, platform]:
        hub.register(plugin)
    return hub, builtins


def verify(hub, value="token-123", connection=None):
    connection = connection or make_connection(id="plat-1", plugin="fakeplat", name="Fake Platform", timeout_s=2.0)
    return hub.verify_rider(connection, make_credential(value=value), make_gate())


def test_an_identity_is_kept_in_redis_for_the_platforms_lifetime_with_its_rider_index(redis_state):
    clock = ManualClock()
    state = redis_state(clock)
    hub, builtins = plugin_hub(clock, state, FakeAdapter("fakeplat", {"platform"}, clock))
    verify(hub)

    key = state.key("vcache", *cache_key("plat-1", make_credential(value="token-123")))
    rider_set = state.key("vcache-rider", "plat-1", "rider-1")
    assert 59_000 < state.client.pttl(key) <= 60_000
    assert state.client.pttl(rider_set) >= state.client.pttl(key) - 50
    assert state.client.smembers(rider_set) == {key.encode()}
    assert state.client.zscore(state.key("vcache-expiry"), key) == pytest.approx((clock.timestamp() + 60) * 1000)
    assert len(find_builtin(builtins, VerificationCache)) == 1


def test_the_count_covers_every_process_and_drops_what_expired(redis_state):
    clock = ManualClock()
    one, _ = plugin_hub(clock, redis_state(clock), FakeAdapter("fakeplat", {"platform"}, clock))
    two, builtins_two = plugin_hub(clock, redis_state(clock), FakeAdapter("fakeplat", {"platform"}, clock))
    verify(one, "token-a")
    clock.advance(30)
    verify(two, "token-b")
    cache_two = find_builtin(builtins_two, VerificationCache)

    assert len(cache_two) == 2
    clock.advance(30)  # token-a's 60 s are over
    assert len(cache_two) == 1
    clock.advance(30)
    assert len(cache_two) == 0


def test_forget_spares_a_key_that_now_holds_another_riders_identity(redis_state):
    clock = ManualClock()
    platform = FakeAdapter("fakeplat", {"platform"}, clock)
    hub, builtins = plugin_hub(clock, redis_state(clock), platform)
    cache = find_builtin(builtins, VerificationCache)
    verify(hub, "reused-token")  # rider-1
    clock.advance(61)
    platform.script("hub_verify_rider", returns=make_rider(platform_ref="rider-2", cache_seconds=60))
    verify(hub, "reused-token")  # the same token, another rider now

    assert cache.forget("plat-1", "rider-1") == 0
    assert verify(hub, "reused-token").platform_ref == "rider-2"
    assert platform.calls["hub_verify_rider"] == 2  # the second answer is still cached


def test_an_entry_written_by_another_version_of_the_hub_is_a_miss(redis_state):
    clock = ManualClock()
    state = redis_state(clock)
    platform = FakeAdapter("fakeplat", {"platform"}, clock)
    hub, _ = plugin_hub(clock, state, platform)
    key = state.key("vcache", *cache_key("plat-1", make_credential(value="token-123")))
    future = {"until": (clock.timestamp() + 60) * 1000, "identity": {"platform_ref": "R9", "new_field": 1}}
    state.client.set(key, json.dumps(future), px=60_000)

    assert verify(hub).platform_ref == "rider-1"
    assert platform.calls["hub_verify_rider"] == 1


# -- circuit breakers in Redis -----------------------------------------------------------------------


def test_a_circuit_key_has_a_stable_string_form_and_comes_back_from_states():
    assert circuit_name(("plat-1", "hub_verify_rider")) == "plat-1:hub_verify_rider"
    assert circuit_name(("odd:id%", "hub_get_order")) == "odd%3Aid%25:hub_get_order"
    assert circuit_key("odd%3Aid%25:hub_get_order") == ("odd:id%", "hub_get_order")
    assert circuit_key(circuit_name("door-1")) == "door-1"
    with pytest.raises(TypeError):
        circuit_name(("plat-1", 7))


def test_a_circuit_is_a_hash_that_expires_only_when_nobody_uses_it(redis_state):
    clock = ManualClock()
    state = redis_state(clock)
    breakers = circuit_breakers(clock, failure_threshold=2, reset_after_s=30, shared=state)
    key = ("odd:id", "hub_verify_rider")
    breakers.record_failure(key)
    breakers.record_failure(key)

    name = state.key("breaker") + ":odd%3Aid:hub_verify_rider"
    assert state.client.hgetall(name) == {b"failures": b"2", b"opened_at": repr(clock.timestamp()).encode()}
    assert state.client.pttl(name) > 6 * 24 * 3600 * 1000
    assert state.client.smembers(state.key("breakers")) == {b"odd%3Aid:hub_verify_rider"}
    assert breakers.states() == {key: "open"}

    state.client.delete(name)  # as when it expires
    assert breakers.states() == {}
    assert state.client.smembers(state.key("breakers")) == set()


def test_two_processes_let_exactly_one_trial_through_a_half_open_circuit(redis_state):
    clock = ManualClock()
    one = circuit_breakers(clock, failure_threshold=1, reset_after_s=10, shared=redis_state(clock))
    two = circuit_breakers(clock, failure_threshold=1, reset_after_s=10, shared=redis_state(clock))
    assert isinstance(one, SharedCircuitBreakers)
    assert one.record_failure("plat-1") is True
    assert two.state("plat-1") == "open"
    clock.advance(10)
    start = threading.Barrier(16)
    admissions = []

    def ask(breakers):
        start.wait()
        admissions.append(breakers.admit("plat-1"))

    threads = [threading.Thread(target=ask, args=(one if n % 2 else two,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [a.trial for a in admissions].count(True) == 1
    assert sum(a.allowed for a in admissions) == 1
    two.record_success("plat-1", trial=True)
    assert one.state("plat-1") == "closed"


# -- used single-use codes in Redis ------------------------------------------------------------------


def test_a_code_is_claimed_once_and_kept_until_it_expires(redis_state):
    state = redis_state()
    now = datetime.now(UTC)

    assert state.claim("plat:1", "jti-1", now + timedelta(minutes=5), now) is True
    assert state.claim("plat:1", "jti-1", now + timedelta(minutes=5), now) is False
    assert state.claim("plat:1", "jti-2", now + timedelta(minutes=5), now) is True

    key = f"{redis_state.prefix}:claim:plat%3A1:jti-1"
    assert 290_000 < state.client.pttl(key) <= 300_000


def test_a_code_that_expires_at_once_is_still_refused_a_second_time(redis_state):
    state = redis_state()
    now = datetime.now(UTC)

    assert state.claim("plat", "jti-old", now - timedelta(minutes=1), now) is True
    assert state.claim("plat", "jti-old", now - timedelta(minutes=1), now) is False


def test_of_many_processes_claiming_one_code_at_once_exactly_one_wins(redis_state):
    states = [redis_state(), redis_state()]
    now = datetime.now(UTC)
    start = threading.Barrier(20)
    won = []

    def claim(state):
        start.wait()
        won.append(state.claim("plat", "jti-race", now + timedelta(minutes=1), now))

    threads = [threading.Thread(target=claim, args=(states[n % 2],)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(won) == [False] * 19 + [True]


# -- two processes of one deployment ---------------------------------------------------------------------


def seed(runtime: Runtime) -> None:
    store = runtime.store
    store.upgrade()
    store.add_community(Community("c1", "Sunny Garden", policy=CommunityPolicy(), platform_refs={"plat": "PC-1"}))
    store.add_connection(Connection("plat", "fakeplatform", "Fake platform", timeout_s=0.5), (), ["c1"])
    store.add_connection(Connection("gatectl", "fakegate", "North controller", timeout_s=0.5), (), ["c1"])
    store.add_gate(Gate("g1", "c1", "North gate", "north-code", "1", "gatectl"))


def riders(runtime: Runtime) -> FakePlatform:
    """The process's platform adapter, with the riders every process's adapter knows."""
    platform = find_builtin(runtime.hub.pm.get_plugins(), FakePlatform)
    eta = runtime.clock.now() + timedelta(minutes=10)
    for token, ref in (("tok-1", "R1"), ("tok-2", "R2"), ("tok-3", "R3")):
        platform.riders[token] = RiderIdentity(ref, "王*", "138****5678", cache_seconds=300)
        platform.orders[ref] = [order(f"O-{ref}", ref, "PC-1", eta=eta)]
    platform.codes[SIGNED.value] = RiderIdentity(
        "R1", order_refs=("O-R1",), single_use_id="jti-1", single_use_until=runtime.clock.now() + timedelta(minutes=5)
    )
    return platform


@pytest.fixture
def processes(tmp_path, redis_url, redis_state) -> Iterator[tuple[Runtime, Runtime]]:
    """Two runtimes as two web processes build them from one configuration: one database
    file, one Redis (under this test's key prefix), one wall clock."""
    clock = now_clock()
    config = Config(
        instance_path=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'hub.sqlite'}",
        secret_keys=(generate_key(),),
        secret_key="s",
        plugins=("tests.engine_fakes:FakePlatform", "tests.engine_fakes:FakeGate"),
        breaker_failures=2,
        threads=2,
        upstream_workers=4,
        shared_state_url=redis_url,
        shared_state_key_prefix=redis_state.prefix,
    )
    one = build_runtime(config, clock)
    seed(one)
    two = build_runtime(config, clock)
    yield one, two
    one.close()
    two.close()


def test_a_rider_verified_by_one_process_is_served_from_the_cache_by_the_other(processes):
    one, two = processes
    first, second = riders(one), riders(two)

    assert one.engine.decide(request("tok-1")).decision is Decision.GRANTED
    entry = two.engine.decide(request("tok-1"))

    assert entry.decision is Decision.GRANTED
    assert (first.calls.count["hub_verify_rider"], second.calls.count["hub_verify_rider"]) == (1, 0)
    assert [c.outcome for c in entry.hook_calls if c.hook == "hub_verify_rider"] == ["cache"]
    assert len(find_builtin(two.hub.pm.get_plugins(), VerificationCache)) == 1


def test_a_circuit_opened_by_one_process_is_open_in_the_other(processes):
    one, two = processes
    first, second = riders(one), riders(two)
    first.fail["hub_verify_rider"] = UpstreamError("502 from platform")

    failed = [one.engine.decide(request(token)) for token in ("tok-1", "tok-2")]
    assert [e.decision for e in failed] == [Decision.MANUAL_CHECK] * 2
    resilience_two = find_builtin(two.hub.pm.get_plugins(), Resilience)
    assert resilience_two.state("plat", "hub_verify_rider") == "open"

    refused = two.engine.decide(request("tok-3"))

    assert refused.decision is Decision.MANUAL_CHECK
    assert [r.code for r in refused.reasons] == ["platform_circuit_open"]
    assert second.calls.count["hub_verify_rider"] == 0  # failed fast, the platform was not called


def test_a_single_use_code_used_in_one_process_is_refused_in_the_other(processes):
    one, two = processes
    riders(one), riders(two)

    first = one.engine.decide(request(credential=SIGNED))
    again = two.engine.decide(request(credential=SIGNED))

    assert first.decision is Decision.GRANTED
    assert again.decision is Decision.DENIED
    assert "already used" in again.reasons[0].en
    with one.store.transaction() as session:  # kept in Redis, not in the database
        assert session.execute(text("SELECT count(*) FROM single_use_codes")).scalar_one() == 0


def test_a_suspension_pushed_to_one_process_ends_the_cached_identity_in_the_other(processes):
    one, two = processes
    riders(one)
    second = riders(two)
    assert one.engine.decide(request("tok-1")).decision is Decision.GRANTED

    assert find_builtin(one.hub.pm.get_plugins(), VerificationCache).forget("plat", "R1") == 1
    two.engine.decide(request("tok-1"))

    assert second.calls.count["hub_verify_rider"] == 1


# -- when Redis is down or slow ------------------------------------------------------------------------


def test_with_redis_down_the_cache_misses_and_asks_the_platform_warning_once(down, caplog):
    clock = ManualClock()
    platform = FakeAdapter("fakeplat", {"platform"}, clock)
    hub, builtins = plugin_hub(clock, down, platform)

    with caplog.at_level(logging.WARNING, logger="hub.core.shared"):
        assert verify(hub).platform_ref == "rider-1"
        assert verify(hub).platform_ref == "rider-1"

    assert platform.calls["hub_verify_rider"] == 2
    assert len(find_builtin(builtins, VerificationCache)) == 0
    assert find_builtin(builtins, VerificationCache).forget("plat-1", "rider-1") == 0
    warnings = [r.getMessage() for r in caplog.records if "verification cache" in r.getMessage()]
    assert len(warnings) == 1
    assert "platforms are asked" in warnings[0]


def test_warnings_are_spaced_out_per_kind_of_use(caplog):
    clock = ManualClock()
    state = open_shared_state(f"redis://127.0.0.1:{closed_port()}/0", "down", clock=clock)
    breakers = circuit_breakers(clock, shared=state)

    with caplog.at_level(logging.WARNING, logger="hub.core.shared"):
        for _ in range(5):
            breakers.admit("plat-1")
        clock.advance(WARN_EVERY_S - 1)
        breakers.admit("plat-1")
        with pytest.raises(SharedStateUnavailable):
            state.claim("plat", "jti", clock.now(), clock.now())
        clock.advance(1)
        breakers.admit("plat-1")

    messages = [r.getMessage() for r in caplog.records]
    assert [m.split(" (")[0] for m in messages] == [
        "shared state: Redis unavailable for the circuit breakers",
        "shared state: Redis unavailable for the single-use codes",
        "shared state: Redis unavailable for the circuit breakers",
    ]
    state.close()


def test_when_redis_answers_again_it_is_said_once(redis_state, caplog):
    state = redis_state()

    with caplog.at_level(logging.INFO, logger="hub.core.shared"):
        with pytest.raises(SharedStateUnavailable):  # a real error from the real server
            state.run("circuit breakers", lambda: state.client.execute_command("NO-SUCH-COMMAND"), "calls go ahead")
        assert state.run("circuit breakers", state.client.ping, "calls go ahead") is True
        assert state.run("circuit breakers", state.client.ping, "calls go ahead") is True

    assert [(r.levelname, r.getMessage().split(" (")[0]) for r in caplog.records] == [
        ("WARNING", "shared state: Redis unavailable for the circuit breakers"),
        ("INFO", "shared state: Redis answers again for the circuit breakers"),
    ]


def test_with_redis_down_the_breakers_fail_open(down):
    clock = ManualClock()
    platform = FakeAdapter("fakeplat", {"platform"}, clock)
    hub, builtins = plugin_hub(clock, down, platform)
    platform.script("hub_verify_rider", raises=UpstreamError("502"))

    for n in range(5):  # the threshold is 2: in the process the circuit would open
        with pytest.raises(UpstreamError, match="502"):
            verify(hub, f"token-{n}")

    assert platform.calls["hub_verify_rider"] == 5
    resilience = find_builtin(builtins, Resilience)
    assert resilience.state("plat-1", "hub_verify_rider") == "closed"
    assert resilience.states() == {}


def timed(action):
    started = time.perf_counter()
    try:
        return action(), time.perf_counter() - started
    except SharedStateUnavailable:
        return None, time.perf_counter() - started


def test_a_redis_that_does_not_answer_costs_one_timeout_then_is_left_alone_for_a_while():
    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        clock = ManualClock()
        state = open_shared_state(f"redis://127.0.0.1:{silent.getsockname()[1]}/0", "slow", clock=clock)
        platform = FakeAdapter("fakeplat", {"platform"}, clock)
        hub, _ = plugin_hub(clock, state, platform)
        now = datetime.now(UTC)

        identity, verifying = timed(lambda: verify(hub))  # the cache's lookup waits, the rest is skipped
        claimed, claiming = timed(lambda: state.claim("plat", "jti", now + timedelta(minutes=1), now))
        clock.advance(SLOW_BACKOFF_S)
        again, waiting_again = timed(lambda: state.claim("plat", "jti", now + timedelta(minutes=1), now))
        state.close()

    assert identity.platform_ref == "rider-1" and platform.calls["hub_verify_rider"] == 1
    assert REDIS_TIMEOUT_S <= verifying < 2 * REDIS_TIMEOUT_S + 0.5
    assert (claimed, again) == (None, None)  # refused: never taken as unused
    assert claiming < 0.05  # within the back-off Redis is not asked
    assert REDIS_TIMEOUT_S <= waiting_again < REDIS_TIMEOUT_S + 0.5


@pytest.fixture
def down_world(tmp_path, down) -> Iterator[World]:
    """The engine's world of tests/engine_fakes.py with its shared state in a Redis that is down."""
    w = build_world(tmp_path, CommunityPolicy(require_presence=False), shared=down)
    w.engine.close()
    w.engine = EntryEngine(w.hub, w.store, w.clock, presence=PresenceCodes("key-1"), max_workers=8, shared=down)
    w.platform.codes[SIGNED.value] = RiderIdentity(
        "R1", order_refs=("O1",), single_use_id="jti-1", single_use_until=w.clock.now() + timedelta(minutes=5)
    )
    yield w
    w.engine.close()
    w.store.dispose()


def test_with_redis_down_a_rider_with_a_token_still_gets_in(down_world):
    entry = down_world.engine.decide(request("tok-1"))

    assert entry.decision is Decision.GRANTED
    assert down_world.platform.calls.count["hub_verify_rider"] == 1


def test_with_redis_down_a_single_use_code_goes_to_a_manual_check(down_world):
    entries = [down_world.engine.decide(request(credential=SIGNED)) for _ in range(2)]

    assert [e.decision for e in entries] == [Decision.MANUAL_CHECK] * 2
    assert [r.code for r in entries[0].reasons] == ["platform_error"]
    assert entries[0].access_pass is None and entries[0].rider_ref == ""
    assert down_world.gate_ctl.grants == {}
    with down_world.store.transaction() as session:  # not claimed in the database instead
        assert session.execute(text("SELECT count(*) FROM single_use_codes")).scalar_one() == 0


@pytest.mark.parametrize("require_presence", [True, False])
def test_with_redis_down_a_presence_code_goes_to_a_manual_check(down_world, require_presence):
    policy = CommunityPolicy(require_presence=require_presence)
    down_world.store.update_community(dataclasses.replace(down_world.community, policy=policy))
    shown = PresenceCodes("key-1").current("g1", down_world.clock.now())

    entry = down_world.engine.decide(request("tok-1", presence_code=shown))

    assert entry.decision is Decision.MANUAL_CHECK  # not "presence_required", not granted
    assert [r.code for r in entry.reasons] == ["platform_error"]
    assert entry.access_pass is None


def test_with_redis_down_the_api_answers_every_entry(down_world, tmp_path):
    api = make_api(down_world, tmp_path)
    signed = {"kind": "entry_code", "value": SIGNED.value}

    granted = api.post_entry()
    manual = api.post_entry(api.entry_body(credential=signed))

    assert (granted.status_code, granted.get_json()["decision"]) == (201, "granted")
    assert (manual.status_code, manual.get_json()["decision"]) == (201, "manual_check")
