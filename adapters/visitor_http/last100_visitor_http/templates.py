"""Field-map templates: how a visit becomes the fields of a visitor system's record.

A field map names each field of the record the system expects and gives a template for
its value, written like Python's ``str.format``::

    {"visitorName": "{masked_name}",                      -> "王*"
     "visitTime":   "{started_at:%Y-%m-%d %H:%M:%S}",     -> "2026-01-05 12:00:00"
     "reason":      "外卖配送 {platform}",                 -> "外卖配送 meituan"
     "note":        "{{hub}} {entry_id}"}                 -> "{hub} 0f8fad5b-..."

- A placeholder is a bare name of a value the caller offers. Attribute and index access
  (``{started_at.year}``, ``{masked_name[0]}``), conversions (``{masked_name!r}``) and
  placeholders nested in a format spec are refused, so a template reads the values it is
  given and nothing reachable from them.
- After ``:`` comes the value's own format spec: ``strftime`` codes for a time, the
  format mini-language for text. Times are written in the timezone passed to
  :meth:`FieldMap.render`; a time without a spec is ISO 8601 with its offset
  (``2026-01-05T12:00:00+08:00``).
- ``{{`` and ``}}`` are literal braces.

Every value a field map renders is a string. This module knows nothing of the hub.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

_PARSER = string.Formatter()


class TemplateError(ValueError):
    """A template cannot be used: a placeholder the caller does not offer, attribute or
    index access, a conversion, unbalanced braces, or a format spec that does not fit
    the value."""


class FieldMapError(ValueError):
    """One or more templates of a field map cannot be used.

    :ivar errors: the problem of each target field, by the field's name.
    """

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{name}: {problem}" for name, problem in self.errors.items()))


@dataclass(frozen=True)
class _Part:
    """Literal text followed by at most one placeholder (``name`` is ``None`` at the end)."""

    literal: str
    name: str | None
    spec: str


def _format(value: Any, spec: str, tz: tzinfo) -> str:
    if isinstance(value, datetime):
        # Aware times are moved into the connection's zone; the visitor system expects
        # local times, usually without an offset.
        value = value.astimezone(tz)
        if not spec:
            return value.isoformat(timespec="seconds")
    return format(value, spec)


@dataclass(frozen=True)
class Template:
    """One compiled template; see the module docstring for the syntax."""

    source: str
    parts: tuple[_Part, ...]

    @classmethod
    def compile(cls, source: str, names: Mapping[str, Any]) -> Template:
        """Parse ``source``, accepting placeholders named in ``names``.

        :raises TemplateError: naming the offending placeholder.
        """
        try:
            parsed = list(_PARSER.parse(source))
        except ValueError as exc:  # "Single '}' encountered", "expected '}' before end of string"
            raise TemplateError(f"{exc} (write {{{{ and }}}} for literal braces)") from None
        parts = []
        for literal, name, spec, conversion in parsed:
            if name is not None:
                if name == "":
                    raise TemplateError("empty placeholder {}: name a value")
                if not name.isidentifier():
                    raise TemplateError(
                        f"placeholder {{{name}}}: use a plain name (attribute and index access are not supported)"
                    )
                if name not in names:
                    known = ", ".join(sorted(names))
                    raise TemplateError(f"unknown placeholder {{{name}}} (known placeholders: {known})")
                if conversion:
                    raise TemplateError(f"placeholder {{{name}!{conversion}}}: conversions are not supported")
                if "{" in (spec or "") or "}" in (spec or ""):
                    raise TemplateError(f"placeholder {{{name}}}: placeholders inside a format spec are not supported")
            parts.append(_Part(literal, name, spec or ""))
        return cls(source, tuple(parts))

    def render(self, values: Mapping[str, Any], tz: tzinfo) -> str:
        """The template with its placeholders replaced by ``values``.

        :raises TemplateError: a format spec does not fit its value.
        """
        out = []
        for part in self.parts:
            out.append(part.literal)
            if part.name is not None:
                try:
                    out.append(_format(values[part.name], part.spec, tz))
                except (ValueError, TypeError) as exc:
                    raise TemplateError(f"placeholder {{{part.name}:{part.spec}}}: {exc}") from None
        return "".join(out)


@dataclass(frozen=True)
class FieldMap:
    """Target field name -> compiled template."""

    templates: Mapping[str, Template]

    @classmethod
    def compile(cls, sources: Mapping[str, str], sample: Mapping[str, Any]) -> FieldMap:
        """Compile every template of a field map and try it on ``sample``, whose keys are
        the placeholders on offer and whose values show each placeholder's type, so a
        format spec that does not fit (``{masked_name:%Y}``) is refused here rather than
        when a real visit is sent.

        :raises FieldMapError: naming every target field whose template cannot be used.
        """
        templates: dict[str, Template] = {}
        errors: dict[str, str] = {}
        for field_name, source in sources.items():
            try:
                template = Template.compile(source, sample)
                template.render(sample, UTC)
            except TemplateError as exc:
                errors[field_name] = str(exc)
            else:
                templates[field_name] = template
        if errors:
            raise FieldMapError(errors)
        return cls(templates)

    def render(self, values: Mapping[str, Any], tz: tzinfo) -> dict[str, str]:
        """Every target field's value for ``values``, times in ``tz``."""
        return {name: template.render(values, tz) for name, template in self.templates.items()}
