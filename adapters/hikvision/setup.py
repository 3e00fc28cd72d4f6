from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="last100-hikvision",
    version="0.1.0",
    description=(
        "Hikvision access controllers for the Last100 hub over ISAPI: visitor QR passes, "
        "revocation, remote opening and door events, with a simulated controller"
    ),
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(include=["last100_hikvision", "last100_hikvision.*"]),
    install_requires=[
        "last100-hub",
        "requests>=2.31",
        "marshmallow>=3.20",
        # Device timezones on machines without a system zone database.
        "tzdata>=2024.1",
        # The simulator only.
        "flask>=3.0",
    ],
    extras_require={
        # last100-riderpass: the end-to-end test grants a rider of its simulated platform.
        "test": ["pytest>=8", "responses>=0.25", "last100-riderpass"],
    },
    entry_points={
        "last100": ["hikvision = last100_hikvision.plugin:HikvisionPlugin"],
        "last100.simulators": ["hikvision = last100_hikvision.simulator:demo_simulator"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.11",
        "Framework :: Flask",
        "Framework :: Pluggy",
    ],
)
