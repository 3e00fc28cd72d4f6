from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="last100-visitor-http",
    version="0.1.0",
    description=(
        "A Last100 hub visitor plugin for any property-management system that takes visitor "
        "records as a signed JSON POST, with a configurable field mapping and a simulator"
    ),
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(include=["last100_visitor_http", "last100_visitor_http.*"]),
    install_requires=[
        "last100-hub",
        "requests>=2.31",
        "marshmallow>=3.20",
        # Times are written in the connection's IANA timezone, also where the system has
        # no zone database (Windows).
        "tzdata>=2024.1",
        # The simulator only.
        "flask>=3.0",
    ],
    extras_require={
        "test": ["pytest>=8", "responses>=0.25"],
    },
    entry_points={
        "last100": ["visitor_http = last100_visitor_http.plugin:VisitorHttpPlugin"],
        "last100.simulators": ["visitor_http = last100_visitor_http.simulator:demo_simulator"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.11",
        "Framework :: Flask",
        "Framework :: Pluggy",
    ],
)
