"""Hikvision access controllers for the Last100 hub, over ISAPI (HTTP or HTTPS, Digest
authentication with a fallback to Basic for old firmware).

- :mod:`last100_hikvision.client` calls a controller's ISAPI endpoints: visitor users and
  their cards, deletion with its progress, remote door opening, the access event log.
- :mod:`last100_hikvision.auth` answers the device's Digest (or Basic) challenge.
- :mod:`last100_hikvision.wire` writes and reads ISAPI's JSON and XML.
- :mod:`last100_hikvision.cards` derives a pass's user number and card number from the
  hub's grant id.
- :mod:`last100_hikvision.push` authenticates and reads the events a controller pushes
  to its HTTP listening host.
- :mod:`last100_hikvision.plugin` maps all of it onto the hub's hooks.
- :mod:`last100_hikvision.simulator` is a controller speaking ISAPI, for the demo and
  tests.

Importing this package imports none of its modules.
"""

__version__ = "0.1.0"
