from pathlib import Path

from setuptools import setup

setup(
    name="last100-eleme",
    version="0.1.0",
    description="Last100 Hub adapter for Ele.me (饿了么): rider verification, orders and pushes over the Open Platform",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=["last100_eleme"],
    package_data={"last100_eleme": ["py.typed"]},
    install_requires=[
        "last100-hub",
        "requests>=2.31",
        "urllib3>=2.2",  # HTTPResponse.read1: reading a body as it arrives, to enforce a deadline
        "marshmallow>=3.20",  # the settings schema
        "flask>=3.0",  # the simulator
    ],
    extras_require={"test": ["pytest>=8", "responses>=0.25"]},
    entry_points={
        "last100": ["eleme = last100_eleme.plugin:ElemePlugin"],
        "last100.simulators": ["eleme = last100_eleme.simulator:demo_simulator"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.11",
        "Framework :: Flask",
        "Framework :: Pluggy",
    ],
)
