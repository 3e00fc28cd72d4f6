"""Barrier gates and door controllers driven over MQTT, for the Last100 hub.

- :mod:`last100_mqtt_gate.wire` is the topic contract: topics, and the JSON of commands,
  acknowledgements and door events.
- :mod:`last100_mqtt_gate.client` sends commands and collects door events over one paho
  connection to the broker.
- :mod:`last100_mqtt_gate.credentials` derives a grant's credential from its id.
- :mod:`last100_mqtt_gate.plugin` maps all of it onto the hub's access hooks.
- :mod:`last100_mqtt_gate.simulator` is a controller speaking the contract, for tests and
  for vendors checking their own.

The contract is documented in this distribution's README. Importing this package imports
none of its modules.
"""

__version__ = "0.1.0"
