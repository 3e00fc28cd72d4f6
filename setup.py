from pathlib import Path

from setuptools import find_packages, setup

TEST_REQUIRES = [
    "pytest>=8",
    "responses>=0.25",
    "psycopg[binary]>=3.1",
    "schemathesis>=4.0",
    "openapi-spec-validator>=0.7",
    "playwright>=1.40",
    "zxing-cpp>=2.2",
    "ruff>=0.5",  # the scaffolder's test checks the generated code is ruff-clean
    "hypothesis>=6.100",  # property-based and fuzz tests of signing, codes, pushes, policy
    "redis>=5",  # rate limits and shared state kept in Redis are tested against the real server
    "celery[redis]>=5.4",  # syncs on Celery workers, tested with real Redis and RabbitMQ brokers
]

#: The entry benchmark (benchmarks/): the naive baseline's server, the hub's CPU and
#: memory, the latency chart. Also in the test extra: CI runs a smoke run of it.
BENCH_REQUIRES = ["gunicorn>=23", "psutil>=5.9", "matplotlib>=3.8"]
TEST_REQUIRES += BENCH_REQUIRES

setup(
    name="last100-hub",
    version="0.1.0",
    description=(
        "Open integration hub that lets delivery riders through residential gates in "
        "seconds: delivery platforms on one side, access control, visitor systems and "
        "food lockers on the other."
    ),
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(include=["hub", "hub.*"]),
    include_package_data=True,
    package_data={
        "hub": ["py.typed"],
        "hub.core": ["migrations/*.ini", "migrations/*.mako", "migrations/versions/*.py"],
        "hub.web": [
            "templates/*.html",
            "templates/**/*.html",
            "static/*",
            "static/vendor/*",
            "translations/*/LC_MESSAGES/messages.po",
            "translations/*/LC_MESSAGES/messages.mo",
        ],
        "hub.web.admin": ["templates/admin/*.html"],
        # `last100 plugin new`: the templates of every kind.
        "hub.scaffold": ["templates/*/*.j2", "templates/*/*/*.j2"],
    },
    install_requires=[
        "pluggy>=1.5",
        "flask>=3.0",
        "marshmallow>=3.20",
        "apscheduler>=3.11,<4",
        "requests>=2.31",
        "SQLAlchemy>=2.0.25,<3",
        "alembic>=1.13",
        "click>=8.1",
        "cryptography>=42",
        "cachetools>=5.3",
        "argon2-cffi>=23.1",
        "waitress>=3.0",
        "tzdata>=2024.1",
        "pyotp>=2.9",
        "segno>=1.6",
        "flask-babel>=4.0",
        "flask-wtf>=1.2",
        "Pillow>=10.1",
        "apispec[marshmallow]>=6.6",
        "PyYAML>=6",  # plugins' quality.yaml (python -m hub.quality)
        "Flask-Limiter>=3.8",  # entry, API key and sign-in rate limits
        "prometheus-client>=0.20",  # GET /metrics (hub/core/metrics.py)
        "python-json-logger>=3",  # log_format = "json" (hub/core/logs.py)
    ],
    extras_require={
        "postgres": ["psycopg[binary]>=3.1"],
        "redis": ["redis>=5"],  # rate limits and shared state (cache, breakers, used codes) in Redis
        "celery": ["celery[redis]>=5.4"],  # last100 worker: syncs on Celery workers (Redis or RabbitMQ)
        "server": ["gunicorn>=23"],  # last100 serve --workers N (Unix)
        "bench": BENCH_REQUIRES,
        "test": TEST_REQUIRES,
        "dev": [*TEST_REQUIRES, "tox>=4"],
    },
    entry_points={
        "console_scripts": ["last100 = hub.cli:main"],
        "pytest11": ["last100 = hub.testing"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.11",
        "Framework :: Flask",
        "Framework :: Pluggy",
        "Operating System :: OS Independent",
    ],
)
