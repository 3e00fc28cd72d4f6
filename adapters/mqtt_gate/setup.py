from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="last100-mqtt-gate",
    version="0.1.0",
    description=(
        "Barrier gates and door controllers driven over MQTT: an access plugin for the Last100 hub, "
        "with a documented topic contract and a simulated controller"
    ),
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(include=["last100_mqtt_gate", "last100_mqtt_gate.*"]),
    install_requires=[
        "last100-hub",
        "paho-mqtt>=2.0,<3",
    ],
    extras_require={
        # cryptography makes the throwaway CA and certificates of the TLS tests.
        "test": ["pytest>=8", "cryptography>=42"],
    },
    entry_points={
        "last100": ["mqtt_gate = last100_mqtt_gate.plugin:MqttGatePlugin"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.11",
        "Framework :: Pluggy",
    ],
)
