"""A generic visitor-registration push: each visit the hub records is POSTed, signed, to a
property-management system's visitor book, with a JSON body built from a configurable
field mapping.

- :mod:`last100_visitor_http.templates` turns a field map (``{"visitorName":
  "{masked_name}", ...}``) into the fields of one record.
- :mod:`last100_visitor_http.signing` signs a request body (hex HMAC-SHA256 over
  ``timestamp + "\\n" + body``) and checks such a signature.
- :mod:`last100_visitor_http.client` sends one signed, idempotent POST and reads the
  system's reply by configurable paths.
- :mod:`last100_visitor_http.plugin` maps all of it onto the hub's hooks.
- :mod:`last100_visitor_http.simulator` is a visitor system speaking this protocol, for the
  demo and tests.

Importing this package imports none of its modules.
"""

__version__ = "0.1.0"
