"""Last100 Hub adapter for Meituan (美团).

- :mod:`last100_meituan.client` — the pure client: signing, requests, Meituan's envelope,
  typed errors.
- :mod:`last100_meituan.plugin` — the hub plugin (``MeituanPlugin``) mapping the client
  onto the hub's hooks, model and errors.
- :mod:`last100_meituan.simulator` — a Flask app speaking the same wire protocol, for the
  demo and the tests.
"""

__version__ = "0.1.0"
