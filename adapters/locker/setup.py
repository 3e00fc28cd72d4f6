from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="last100-locker",
    version="0.1.0",
    description=(
        "Smart food-locker banks for the Last100 hub: a documented, HMAC-signed REST protocol for a "
        "locker bank controller, a locker plugin speaking it, and a simulated bank"
    ),
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(include=["last100_locker", "last100_locker.*"]),
    install_requires=[
        "last100-hub",
        "requests>=2.31",
        "urllib3>=2.2",  # HTTPResponse.read1: reading a body as it arrives, to enforce a deadline
        "marshmallow>=3.20",
        # The simulator only: a Flask app serving the protocol.
        "flask>=3.0",
    ],
    extras_require={
        "test": ["pytest>=8", "responses>=0.25"],
    },
    entry_points={
        "last100": ["locker = last100_locker.plugin:LockerPlugin"],
        "last100.simulators": ["locker = last100_locker.simulator:demo_simulator"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.11",
        "Framework :: Flask",
        "Framework :: Pluggy",
    ],
)
