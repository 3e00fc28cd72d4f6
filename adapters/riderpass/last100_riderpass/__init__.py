"""RiderPass: the Last100 hub's open Rider Access Protocol, for any delivery platform.

- :mod:`last100_riderpass.client` calls a platform's RiderPass endpoints (signed requests).
- :mod:`last100_riderpass.webhooks` verifies and reads the platform's Standard Webhooks
  pushes.
- :mod:`last100_riderpass.entrycodes` verifies (and, for platforms, issues) offline rider
  entry codes: short-lived Ed25519-signed JWTs.
- :mod:`last100_riderpass.plugin` maps all of it onto the hub's hooks.
- :mod:`last100_riderpass.simulator` is a platform speaking the protocol, for the demo and
  tests.

The protocol itself is described in ``docs/protocols/riderpass.md`` of the hub's
repository. Importing this package imports none of its modules.
"""

__version__ = "0.1.0"

#: The protocol version this package speaks, as the platform's ``ping`` reports it.
PROTOCOL = "riderpass/1"
