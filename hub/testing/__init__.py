"""Testing support for plugin authors, loaded by pytest through the ``pytest11`` entry
point of the ``last100-hub`` distribution (the fixtures need no import).

Fixtures:

- ``serve``: serve WSGI apps (a simulator, the hub's own app) on 127.0.0.1, each on a
  free port, in a thread; all are stopped after the test. Responses cannot simulate a slow
  body or a closed port; a real server on loopback can.
- ``plugin_manager``: a fresh pluggy plugin manager with the hub's hook specs.
- ``hub_clock``: a :class:`~hub.core.clock.ManualClock`.
- ``hub_store``: the hub's store on a temporary SQLite file, migrated.
- ``hub_factory``: ``hub_factory(plugin, builtins=True)`` makes a hub with the plugin.
- ``make_connection``: ``make_connection("acme", {...settings})`` makes a connection.

Conformance suites, one per kind, each bound to the adapter's harness in one line::

    from hub.testing import PlatformHarness, platform_suite

    class AcmeHarness(PlatformHarness):
        plugin = AcmePlatform
        ...

    TestConformance = platform_suite(AcmeHarness)

Every suite injects each of :data:`FAULTS` (connection refused, a silent upstream, 5xx,
malformed JSON, an HTML page, a huge body, a slow body) into every call its kind makes
upstream (``upstream_fault[<call>-<fault>]``), on :class:`Misbehaving` servers.

See "Testing your plugin: the conformance suites" in ``docs/plugins.md``.
"""

from __future__ import annotations

import pytest

# The suites' asserts explain themselves when pytest rewrites them; it only rewrites the
# modules it is told about before they are imported.
pytest.register_assert_rewrite("hub.testing.suites")

from hub.testing.fixtures import (  # noqa: E402
    hub_clock,
    hub_factory,
    hub_store,
    make_connection,
    plugin_manager,
    serve,
)
from hub.testing.harness import (  # noqa: E402
    COMMUNITY_ID,
    CONNECTION_ID,
    AccessHarness,
    Env,
    Harness,
    LockerHarness,
    PlatformHarness,
    VisitorHarness,
)
from hub.testing.servers import (  # noqa: E402
    FAULT_DESCRIPTIONS,
    FAULTS,
    HUGE_BODY_BYTES,
    MALFORMED_REPLIES,
    Misbehaving,
    Served,
    closed_port,
    serve_wsgi,
)
from hub.testing.suites import (  # noqa: E402
    CAPABILITY_HOOKS,
    REQUIRED_HOOKS,
    AccessConformance,
    LockerConformance,
    PlatformConformance,
    UpstreamCall,
    VisitorConformance,
    access_suite,
    checks_of,
    grant_request,
    locker_suite,
    platform_suite,
    visitor_suite,
)

__all__ = [
    "CAPABILITY_HOOKS",
    "COMMUNITY_ID",
    "CONNECTION_ID",
    "FAULTS",
    "FAULT_DESCRIPTIONS",
    "HUGE_BODY_BYTES",
    "MALFORMED_REPLIES",
    "REQUIRED_HOOKS",
    "AccessConformance",
    "AccessHarness",
    "Env",
    "Harness",
    "LockerConformance",
    "LockerHarness",
    "Misbehaving",
    "PlatformConformance",
    "PlatformHarness",
    "Served",
    "UpstreamCall",
    "VisitorConformance",
    "VisitorHarness",
    "access_suite",
    "checks_of",
    "closed_port",
    "grant_request",
    "hub_clock",
    "hub_factory",
    "hub_store",
    "locker_suite",
    "make_connection",
    "platform_suite",
    "plugin_manager",
    "serve",
    "serve_wsgi",
    "visitor_suite",
]
