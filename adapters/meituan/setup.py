from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="last100-meituan",
    version="0.1.0",
    description=(
        "Last100 Hub adapter for Meituan (美团): rider verification, orders into a community, "
        "signed status callbacks and community publishing, plus a wire-compatible simulator."
    ),
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(include=["last100_meituan", "last100_meituan.*"]),
    install_requires=[
        "last100-hub",
        "requests>=2.31",
        "flask>=3.0",  # the simulator
    ],
    extras_require={
        "test": ["pytest>=8", "responses>=0.25"],
    },
    entry_points={
        "last100": ["meituan = last100_meituan.plugin:MeituanPlugin"],
        "last100.simulators": ["meituan = last100_meituan.simulator:demo_simulator"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.11",
        "Framework :: Flask",
        "Framework :: Pluggy",
        "Operating System :: OS Independent",
    ],
)
