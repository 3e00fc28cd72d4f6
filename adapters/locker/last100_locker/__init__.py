"""Smart food-locker banks for the Last100 hub.

- :mod:`last100_locker.client` calls a locker bank controller over the Locker Bank
  Protocol (HMAC-signed REST, described in the adapter's README).
- :mod:`last100_locker.signing` signs the hub's requests (and checks them, for a
  controller or the simulator).
- :mod:`last100_locker.plugin` maps it onto the hub's locker hooks and contributes the
  overdue-pickup job.
- :mod:`last100_locker.simulator` is a locker bank speaking the protocol, for the demo
  and tests.

Importing this package imports none of its modules.
"""

__version__ = "0.1.0"

#: The protocol version this package speaks, as a controller's ``ping`` reports it.
PROTOCOL = "locker/1"
