"""Last100 adapter for Ele.me (饿了么), following the Ele.me Open Platform's public conventions.

- :mod:`last100_eleme.signing` — the NOP request signature and the push-message signature.
- :mod:`last100_eleme.client` — the pure client: signed NOP calls, typed errors; no hub imports.
- :mod:`last100_eleme.messages` — verifying and reading Ele.me's push messages; no hub imports.
- :mod:`last100_eleme.partner` — the names of the partner (non-public) actions and fields.
- :mod:`last100_eleme.states` — Ele.me order and delivery states in the hub's terms.
- :mod:`last100_eleme.plugin` — the hub plugin (entry point ``eleme``).
- :mod:`last100_eleme.simulator` — a simulated Ele.me speaking the same wire protocol.
"""

__version__ = "0.1.0"
