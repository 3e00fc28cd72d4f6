"""``last100 plugin new``: write a new adapter distribution that works as generated.

:func:`generate` renders the templates of one kind (``platform``, ``access``, ``locker``,
``visitor``) into ``last100-<name>/``: ``setup.py`` with the ``last100`` and
``last100.simulators`` entry points, the package ``last100_<name>`` (a client speaking a
small documented JSON-over-HTTP protocol with HMAC-signed requests, the plugin mapping it
onto the hub, a Flask simulator of the service), a README, ``quality.yaml``, a
``ruff.toml`` and tests (the hub's conformance suite for the kind, the client against
recorded replies with ``responses``, the packaging and the quality file).

The templates are Jinja2 files under ``hub/scaffold/templates/``: ``common/`` holds what
every kind shares, ``<kind>/`` what is its own. A template's output path is its path
under the kind's folder with ``.j2`` dropped and ``PACKAGE`` replaced by the package name.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from pathlib import Path

KINDS = ("platform", "access", "locker", "visitor")

TEMPLATES = Path(__file__).parent / "templates"

#: A name: lower-case letters, digits and ``_`` or ``-`` between them, starting with a
#: letter; 2 to 20 characters (``last100_<name>`` is then a Python package, and the
#: generated code's lines stay within 120 characters).
_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*$")
_MIN_NAME, _MAX_NAME = 2, 20


class ScaffoldError(Exception):
    """The name, kind or destination cannot be used; the message says why."""


@dataclass(frozen=True)
class Names:
    """Every spelling of an adapter's name the templates use."""

    name: str  # acme-delivery: the plugin's name, what connections refer to
    slug: str  # acme_delivery: the entry points' names
    package: str  # last100_acme_delivery
    dist: str  # last100-acme-delivery
    camel: str  # AcmeDelivery: class names
    title: str  # Acme Delivery: in prose

    @classmethod
    def of(cls, name: str) -> Names:
        slug = name.replace("-", "_")
        words = slug.split("_")
        return cls(
            name=name,
            slug=slug,
            package=f"last100_{slug}",
            dist=f"last100-{name.replace('_', '-')}",
            camel="".join(w.capitalize() for w in words),
            title=" ".join(w.capitalize() for w in words),
        )


def check_name(name: str) -> str:
    """The name if it can name an adapter; otherwise a :class:`ScaffoldError` saying
    what to use instead."""
    hint = "use lower-case letters and digits, with _ or - between words, starting with a letter (e.g. acme)"
    if not name:
        raise ScaffoldError(f"the name is empty: {hint}")
    if name != name.lower() and _NAME.match(name.lower()):
        raise ScaffoldError(f"{name!r} has capital letters: use {name.lower()!r}")
    if not _NAME.match(name):
        raise ScaffoldError(f"{name!r} cannot name a plugin: {hint}")
    if not _MIN_NAME <= len(name) <= _MAX_NAME:
        raise ScaffoldError(f"{name!r} must be {_MIN_NAME} to {_MAX_NAME} characters long")
    if re.match(r"^last100(?:[_-]|$)", name):
        bare = re.sub(r"^last100[_-]?", "", name)
        bare = bare if len(bare) >= _MIN_NAME and _NAME.match(bare) else "acme"
        raise ScaffoldError(f"leave out the last100 prefix: the scaffold adds it (use {bare!r})")
    slug = name.replace("-", "_")
    if keyword.iskeyword(slug) or slug in {"hub", "test", "tests"}:
        raise ScaffoldError(f"{name!r} is a reserved word; choose another name")
    return name


def installed_clash(names: Names) -> str | None:
    """Why an installed distribution already takes these names (the hub would refuse to
    start with two plugins of one name), or ``None``."""
    from importlib import metadata

    for ep in metadata.entry_points(group="last100"):
        if ep.name in (names.slug, names.name):
            source = ep.dist.name if ep.dist is not None else ep.value
            return f"a plugin {ep.name!r} is already installed ({source}): choose another name"
    try:
        metadata.distribution(names.dist)
    except metadata.PackageNotFoundError:
        return None
    return f"the distribution {names.dist} is already installed: choose another name"


@dataclass(frozen=True)
class Generated:
    """What :func:`generate` wrote."""

    folder: Path
    names: Names
    kind: str
    files: tuple[Path, ...]

    def next_steps(self) -> str:
        """What to do next, as the command prints it."""
        folder = self.folder.as_posix()
        if not self.folder.is_absolute() and not folder.startswith("."):
            folder = f"./{folder}"  # so that pip reads it as a folder, not a project name
        return (
            "Next steps:\n"
            f"  python -m pip install -e '{folder}[test]'\n"
            f"  python -m pytest {folder}\n"
            f"  last100 plugins          # lists {self.names.name}\n"
            f"Then make the client speak your service's API: {folder}/README.md says where to start,\n"
            "and quality.yaml lists what is left to do."
        )


def _import_key(name: str) -> tuple[int, str, str]:
    """isort's order of imported names (ruff's ``order-by-type``): constants, then
    classes, then everything else, each without regard to case."""
    kind = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
    return kind, name.lower(), name


def from_import(module: str, *names: str) -> str:
    """``from module import a, b`` with the names in the order ruff's isort keeps them,
    on one line when it fits in 120 characters, else one name a line: the names the
    templates import include the adapter's (``AcmeClient``), whose place and length
    vary."""
    ordered = sorted(set(names), key=_import_key)
    line = f"from {module} import {', '.join(ordered)}"
    if len(line) <= 120:
        return line
    return f"from {module} import (\n" + "".join(f"    {name},\n" for name in ordered) + ")"


def _environment():  # jinja2 is imported only when a plugin is generated
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    env.globals["from_import"] = from_import
    return env


def _templates(kind: str) -> list[tuple[str, str]]:
    """``(template, output path)`` for every file of a kind: the kind's own templates,
    then the common ones it does not override. Files whose names start with one ``_``
    (``_client.py.j2``, not ``__init__.py.j2``) are parts that other templates extend or
    import, not outputs."""
    found: dict[str, str] = {}
    for base in (TEMPLATES / kind, TEMPLATES / "common"):
        for path in sorted(base.rglob("*.j2")):
            relative = path.relative_to(base)
            if relative.name.startswith("_") and not relative.name.startswith("__"):
                continue
            output = str(relative.with_suffix(""))
            found.setdefault(output, path.relative_to(TEMPLATES).as_posix())
    return sorted((template, output) for output, template in found.items())


def generate(name: str, kind: str, directory: Path | str = ".", *, force: bool = False) -> Generated:
    """Write ``last100-<name>/`` under ``directory`` for a plugin of ``kind``.

    :param force: write into the folder even when it exists, replacing the files the
        scaffold writes (others are left as they are).
    :raises ScaffoldError: the name or kind cannot be used, or the folder exists and
        ``force`` is not given.
    """
    names = Names.of(check_name(name))
    if kind not in KINDS:
        raise ScaffoldError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")
    folder = Path(directory) / names.dist
    if folder.exists() and not force:
        raise ScaffoldError(
            f"{folder} already exists: choose another --dir, or add --force to write over the files the scaffold writes"
        )
    if folder.exists() and not folder.is_dir():
        raise ScaffoldError(f"{folder} exists and is not a folder")
    env = _environment()
    values = {**names.__dict__, "kind": kind, "protocol": f"{names.slug}/1"}
    written = []
    for template, output in _templates(kind):
        target = folder / output.replace("PACKAGE", names.package)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(env.get_template(template).render(values), encoding="utf-8")
        written.append(target)
    return Generated(folder, names, kind, tuple(written))
