"""The verification cache: a verified rider is not verified again while the platform's
answer may be reused. Each test runs once with the cache in the process and once with it
in Redis (the ``shared_state`` fixture)."""

from __future__ import annotations

import pytest

from hub.core.errors import CredentialRejected, UpstreamTimeout
from hub.core.model import CredentialKind, PushEvent, RiderStatus
from hub.core.plugins import Hub
from hub.core.trace import tracing
from hub.plugins import VerificationCache, builtin_plugins, find_builtin
from hub.plugins.cache import cache_key
from tests.factories import NOW, make_connection, make_credential, make_gate, make_order, make_rider
from tests.plugins.conftest import FAILURE_THRESHOLD, RESET_AFTER_S


@pytest.fixture
def builtins(clock, shared_state):
    """The built-ins of tests/plugins/conftest.py, keeping their state in ``shared_state``."""
    return builtin_plugins(clock, failure_threshold=FAILURE_THRESHOLD, reset_after_s=RESET_AFTER_S, shared=shared_state)


def verify(hub, connection, value="token-123", kind=CredentialKind.TOKEN):
    return hub.verify_rider(connection, make_credential(kind=kind, value=value), make_gate())


def test_a_second_verification_is_answered_without_asking_the_platform(hub, platform, plat_conn):
    first = verify(hub, plat_conn)
    second = verify(hub, plat_conn)

    assert second == first
    assert platform.calls["hub_verify_rider"] == 1


def test_another_credential_or_connection_is_not_served_from_the_cache(hub, platform, plat_conn):
    other_account = make_connection(id="plat-2", plugin="fakeplat", name="Fake Platform Beijing")
    verify(hub, plat_conn)

    verify(hub, plat_conn, value="token-456")
    verify(hub, plat_conn, kind=CredentialKind.TYPED_CODE)
    verify(hub, other_account)

    assert platform.calls["hub_verify_rider"] == 4


def test_an_identity_is_reused_for_exactly_its_cache_seconds(hub, platform, plat_conn, clock):
    platform.script("hub_verify_rider", returns=make_rider(cache_seconds=60))
    verify(hub, plat_conn)

    clock.advance(59.9)
    verify(hub, plat_conn)
    assert platform.calls["hub_verify_rider"] == 1

    clock.advance(0.1)
    verify(hub, plat_conn)
    assert platform.calls["hub_verify_rider"] == 2


def test_serving_from_the_cache_does_not_extend_the_identitys_life(hub, platform, plat_conn, clock):
    platform.script("hub_verify_rider", returns=make_rider(cache_seconds=60))
    verify(hub, plat_conn)
    clock.advance(50)
    verify(hub, plat_conn)  # served from the cache

    clock.advance(10)
    verify(hub, plat_conn)

    assert platform.calls["hub_verify_rider"] == 2


@pytest.mark.parametrize(
    "rider",
    [
        make_rider(status=RiderStatus.SUSPENDED, cache_seconds=60),
        make_rider(status=RiderStatus.UNKNOWN, cache_seconds=60),
        make_rider(cache_seconds=0),
    ],
    ids=["suspended", "unknown", "no-cache-seconds"],
)
def test_identities_the_platform_did_not_vouch_for_reuse_are_not_cached(hub, platform, plat_conn, cache, rider):
    platform.script("hub_verify_rider", returns=rider)

    verify(hub, plat_conn)
    verify(hub, plat_conn)

    assert platform.calls["hub_verify_rider"] == 2
    assert len(cache) == 0


def test_a_rejected_credential_is_asked_about_again(hub, platform, plat_conn):
    platform.script("hub_verify_rider", raises=CredentialRejected("unknown token"))
    for _ in range(2):
        with pytest.raises(CredentialRejected):
            verify(hub, plat_conn)

    assert platform.calls["hub_verify_rider"] == 2


def test_an_answer_that_came_too_late_is_not_cached(hub, platform, plat_conn):
    platform.script("hub_verify_rider", takes_s=3)  # the connection allows 2 s
    with pytest.raises(UpstreamTimeout):
        verify(hub, plat_conn)

    platform.script("hub_verify_rider")
    verify(hub, plat_conn)

    assert platform.calls["hub_verify_rider"] == 2


def test_forget_drops_a_riders_identities_on_that_connection_only(hub, platform, plat_conn, cache):
    other_account = make_connection(id="plat-2", plugin="fakeplat", name="Fake Platform Beijing")
    verify(hub, plat_conn, value="app-token")
    verify(hub, plat_conn, value="typed-code")
    verify(hub, other_account, value="app-token")

    assert cache.forget("plat-1", "rider-1") == 2

    verify(hub, plat_conn, value="app-token")
    verify(hub, other_account, value="app-token")
    assert platform.calls["hub_verify_rider"] == 4  # three first visits, then plat-1 again


def test_forget_leaves_other_riders_cached(hub, platform, plat_conn, cache):
    platform.script("hub_verify_rider", returns=make_rider(platform_ref="rider-2", cache_seconds=60))
    verify(hub, plat_conn)

    assert cache.forget("plat-1", "rider-1") == 0
    verify(hub, plat_conn)
    assert platform.calls["hub_verify_rider"] == 1


def test_a_pushed_suspension_drops_the_riders_cached_identity(hub, platform, plat_conn):
    verify(hub, plat_conn)
    suspended = PushEvent("evt-1", NOW, rider_ref="rider-1", rider_status=RiderStatus.SUSPENDED)

    hub.push_received(plat_conn, suspended)

    verify(hub, plat_conn)
    assert platform.calls["hub_verify_rider"] == 2


def test_a_pushed_order_update_keeps_the_cache(hub, platform, plat_conn):
    verify(hub, plat_conn)
    hub.push_received(plat_conn, PushEvent("evt-2", NOW, order=make_order()))
    verify(hub, plat_conn)
    assert platform.calls["hub_verify_rider"] == 1


def test_the_cache_keeps_no_credential_value(hub, plat_conn, cache, shared_state):
    credential = make_credential(value="very-secret-token")
    hub.verify_rider(plat_conn, credential, make_gate())

    key = cache_key("plat-1", credential)
    assert "very-secret-token" not in "".join(key)
    # White-box on purpose: the promise is about what the cache holds, in memory or Redis.
    if not shared_state.shared:
        assert list(cache._identities.keys()) == [key]
        return
    client = shared_state.client
    names = sorted(name.decode() for name in client.scan_iter(match=f"{shared_state.prefix}:*"))
    assert f"{shared_state.prefix}:vcache:plat-1:{key[1]}" in names
    values = [client.get(name) for name in names if client.type(name) == b"string"]
    assert values and not any(b"very-secret-token" in value for value in values)
    assert not any("very-secret-token" in name for name in names)


def test_a_cached_identity_is_reported_as_served_from_the_cache(hub, plat_conn):
    verify(hub, plat_conn)

    with tracing() as trace:
        verify(hub, plat_conn)

    assert [(c.hook, c.outcome) for c in trace.calls] == [("hub_verify_rider", "cache")]


def test_a_full_cache_makes_room_by_dropping_the_identity_closest_to_expiry(platform, clock, shared_state):
    builtins = builtin_plugins(clock, cache_size=2, shared=shared_state)
    hub = Hub()
    for plugin in [*builtins, platform]:
        hub.register(plugin)
    plat_conn = make_connection(id="plat-1", plugin="fakeplat")
    for value in ("first", "second", "third"):
        verify(hub, plat_conn, value=value)
        clock.advance(1)

    verify(hub, plat_conn, value="third")
    verify(hub, plat_conn, value="second")
    assert platform.calls["hub_verify_rider"] == 3
    verify(hub, plat_conn, value="first")
    assert platform.calls["hub_verify_rider"] == 4
    assert len(find_builtin(builtins, VerificationCache)) == 2
