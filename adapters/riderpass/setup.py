from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="last100-riderpass",
    version="0.1.0",
    description=(
        "RiderPass, the Last100 hub's open Rider Access Protocol: a platform plugin for any "
        "delivery platform that implements it, with a simulator"
    ),
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(include=["last100_riderpass", "last100_riderpass.*"]),
    install_requires=[
        "last100-hub",
        "requests>=2.31",
        "PyJWT[crypto]>=2.8",
        # The simulator only: a Flask app that signs its pushes with the official
        # Standard Webhooks library.
        "flask>=3.0",
        "standardwebhooks>=1.0",
    ],
    extras_require={
        # openapi-spec-validator and PyYAML check the published protocol document.
        "test": ["pytest>=8", "responses>=0.25", "openapi-spec-validator>=0.7", "PyYAML>=6"],
    },
    entry_points={
        "last100": ["riderpass = last100_riderpass.plugin:RiderPassPlugin"],
        "last100.simulators": ["riderpass = last100_riderpass.simulator:demo_simulator"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.11",
        "Framework :: Flask",
        "Framework :: Pluggy",
    ],
)
