"""Hypothesis profiles for the property-based and fuzz tests in this folder.

``last100-ci`` (the default) is what CI and a developer's plain ``pytest`` run: few
enough examples that the whole folder takes well under a minute on a shared two-core
machine, **derandomized** and without the example database, so that every run tries the
same examples. A property test that fails in CI then fails the same way on every
machine and every retry (no flaky red builds, and the failing example is in the log);
the price is that CI never explores beyond that fixed set, which is what the second
profile is for.

``last100-deep`` (``LAST100_HYPOTHESIS_PROFILE=last100-deep``) is for hunting: ten
times the examples, random seeds and the local example database (so a failure found
once is tried first on the next run). Run it before a release or after touching a
parser or a signature.

Tests that are slow per example (a request through the Flask app and the database) ask
for fewer examples with :func:`tests.property.strategies.examples`, which scales with
the profile.

Loading a profile sets Hypothesis' defaults for the whole pytest session; the only other
Hypothesis test (``tests/api/test_schemathesis.py``) sets every setting it relies on
itself.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, settings

from hub.core.config import Config
from hub.core.tokens import PresenceCodes
from hub.runtime import Runtime
from hub.web import create_app
from tests.api.conftest import Api, add_second_community
from tests.engine_fakes import build_world
from tests.property import platforms
from tests.property.strategies import CI_EXAMPLES

settings.register_profile(
    "last100-ci",
    max_examples=CI_EXAMPLES,
    derandomize=True,
    database=None,
    # Timing is no property: two shared cores make any per-example deadline flaky.
    deadline=None,
    print_blob=True,
    # The explain phase re-runs failures to point at lines; it costs time and adds
    # nothing to a fixed, reproducible run.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "last100-deep",
    max_examples=CI_EXAMPLES * 10,
    derandomize=False,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("LAST100_HYPOTHESIS_PROFILE", "last100-ci"))


@pytest.fixture
def hub_api(tmp_path):
    """The hub's app around the API tests' world (tests/api/conftest.py: community
    ``c1`` with gates, the fake platform ``plat`` knowing rider token ``tok-1``), plus the
    RiderPass, Meituan, Ele.me and Hikvision plugins with a connection each (``rp``,
    ``mt``, ``el``, ``hik``), presence codes, and an API key that may use everything.

    Rate limits are lifted: a property test sends more requests a minute than one rider
    or one gate ever would, and the limits have tests of their own."""
    world = build_world(tmp_path)
    for plugin in platforms.adapter_plugins(world.clock):
        world.hub.register(plugin)
    world.engine.presence = PresenceCodes("gate-key")
    store = world.store
    add_second_community(world)
    config = Config(
        instance_path=tmp_path,
        secret_keys=("k",),
        secret_key="s",
        gate_key="gate-key",
        rate_limit_per_gate="100000/minute",
        rate_limit_per_rider="100000/minute",
        rate_limit_per_api_key="100000/minute",
    )
    runtime = Runtime(config, world.clock, store, world.hub, world.engine)
    api = Api(create_app(runtime=runtime).test_client(), world, runtime, key="")
    platforms.connect(world.hub, store, ("c1",))
    api.key = api.new_key("property-tests", ("*",), ("*",))
    yield api
    world.engine.close()
    store.dispose()
