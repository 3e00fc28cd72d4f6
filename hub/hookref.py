"""The hook reference, generated from the docstrings of :mod:`hub.core.hookspecs`.

Regenerate ``docs/hooks.md`` after changing a hook::

    python -m hub.hookref > docs/hooks.md

``tests/test_docs.py`` fails while the file is stale.
"""

from __future__ import annotations

import inspect
import re
import sys
import textwrap
from dataclasses import dataclass

import pluggy

from hub.core import hookspecs

# The banner comments that group the hooks in hookspecs.py:
#   # -------...
#   # Delivery platform side
#   # -------...
_BANNER = re.compile(r"^# -{20,}\n# (?P<title>[^\n]+)\n# -{20,}$", re.M)
_ROLE = re.compile(r":(?:class|mod|func|meth|attr|exc|data|obj):`(?P<tilde>~?)(?P<target>[^`]+)`")
_FIELD = re.compile(r"^:(?P<kind>param|return|returns|raises)(?: (?P<name>[\w.]+))?:\s*(?P<text>.*)$")
_MAX_LINE = 88


@dataclass(frozen=True)
class HookDoc:
    """What the reference says about one hook."""

    name: str
    group: str
    params: tuple[tuple[str, str], ...]  # (name, annotation as written)
    returns: str
    firstresult: bool
    capability: bool
    doc: str

    @property
    def signature(self) -> str:
        args = [f"{name}: {annotation}" for name, annotation in self.params]
        one_line = f"def {self.name}({', '.join(args)}) -> {self.returns}"
        if len(one_line) <= _MAX_LINE:
            return one_line
        body = "".join(f"    {arg},\n" for arg in args)
        return f"def {self.name}(\n{body}) -> {self.returns}"


def hooks() -> list[HookDoc]:
    """Every hook of the spec module, in source order, with its banner group."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    source = inspect.getsource(hookspecs)
    banners = [(source.count("\n", 0, match.start()) + 1, match["title"].strip()) for match in _BANNER.finditer(source)]
    found = []
    for name, func in vars(hookspecs).items():
        opts = pm.parse_hookspec_opts(hookspecs, name)
        if opts is None:
            continue
        line = func.__code__.co_firstlineno
        group = next((title for start, title in reversed(banners) if start < line), "Hooks")
        # The spec module uses ``from __future__ import annotations``, so the
        # annotations are the strings written in the source.
        signature = inspect.signature(func)
        params = tuple((param.name, _annotation(param.annotation)) for param in signature.parameters.values())
        found.append(
            (
                line,
                HookDoc(
                    name=name,
                    group=group,
                    params=params,
                    returns=_annotation(signature.return_annotation),
                    firstresult=bool(opts.get("firstresult")),
                    capability=name in hookspecs.CAPABILITY_HOOKS,
                    doc=inspect.getdoc(func) or "",
                ),
            )
        )
    return [hook for _, hook in sorted(found, key=lambda pair: pair[0])]


def _annotation(annotation: object) -> str:
    if annotation is inspect.Signature.empty:
        return "Any"
    if isinstance(annotation, str):
        return annotation
    return inspect.formatannotation(annotation)


def _inline(text: str) -> str:
    """reStructuredText inline markup to Markdown: roles and ``literals``."""

    def role(match: re.Match[str]) -> str:
        target = match["target"]
        return f"`{target.rsplit('.', 1)[-1] if match['tilde'] else target}`"

    return _ROLE.sub(role, text).replace("``", "`")


def _code_block(lines: list[str], start: int) -> tuple[str, int]:
    """The indented literal block that starts at or after ``start``, as a fenced block,
    and the index of the first line after it."""
    i = start
    while i < len(lines) and not lines[i].strip():
        i += 1
    block = []
    while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
        block.append(lines[i])
        i += 1
    code = textwrap.dedent("\n".join(block)).strip("\n")
    return f"```python\n{code}\n```", i


def _markdown(doc: str) -> str:
    """A docstring (prose, a Sphinx field list, ``::`` literal blocks) as Markdown."""
    lines = doc.splitlines()
    prose: list[str] = []
    params: list[str] = []
    returns: list[str] = []
    raises: list[str] = []
    examples: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        field = _FIELD.match(line)
        if field:
            text = [field["text"]]
            i += 1
            while i < len(lines) and lines[i].startswith(" ") and lines[i].strip():
                text.append(lines[i].strip())
                i += 1
            words = _inline(" ".join(text))
            if field["kind"] == "param":
                params.append(f"- `{field['name']}`: {words}")
            elif field["kind"] == "raises":
                raises.append(f"- `{field['name']}`: {words}")
            else:
                returns.append(words)
            continue
        if line.rstrip().endswith("::"):
            intro = line.rstrip()[:-2].rstrip()
            block, i = _code_block(lines, i + 1)
            if intro == "Example":
                examples.append(block)
            else:
                prose.extend([_inline(intro) + ":" if intro else "", "", block, ""])
            continue
        prose.append(_inline(line))
        i += 1

    parts = ["\n".join(prose).strip()]
    if params:
        parts.append("**Parameters**\n\n" + "\n".join(params))
    if returns:
        parts.append("**Returns:** " + " ".join(returns))
    if raises:
        parts.append("**Raises**\n\n" + "\n".join(raises))
    for example in examples:
        parts.append("**Example**\n\n" + example)
    return "\n\n".join(part for part in parts if part)


def _routing(hook: HookDoc) -> str:
    if hook.capability:
        return (
            "capability hook: only the plugin that owns `connection` "
            "(`connection.plugin`) answers; the hub's built-in wrappers run around it"
        )
    return "not routed: every plugin that implements it is called"


def _results(hook: HookDoc) -> str:
    if hook.firstresult:
        return "first non-`None` result wins"
    if hook.returns == "None":
        return "every implementation is called; return values are ignored"
    return "every implementation's result is collected (`None` results are dropped)"


def _section(hook: HookDoc) -> str:
    return "\n\n".join(
        [
            f"### `{hook.name}`",
            f"```python\n{hook.signature}\n```",
            f"- **Routing:** {_routing(hook)}.\n- **Results:** {_results(hook)}.",
            _markdown(hook.doc),
        ]
    )


def render() -> str:
    """The whole hook reference as Markdown."""
    all_hooks = hooks()
    module_doc = inspect.getdoc(hookspecs) or ""
    title, _, intro = module_doc.partition("\n")
    parts = [
        "# Hook reference",
        "<!-- Generated from hub/core/hookspecs.py by `python -m hub.hookref > docs/hooks.md`;"
        " do not edit by hand. -->",
        _inline(title.strip()),
        _markdown(intro.strip()),
        "Import the marker with `from hub import hookimpl`. How to package and load a plugin: "
        "[plugins.md](plugins.md).",
        "| Hook | Group | Routed to the connection's plugin | Results |\n"
        "| --- | --- | --- | --- |\n"
        + "\n".join(
            f"| `{hook.name}` | {hook.group} | {'yes' if hook.capability else 'no'} | {_results(hook)} |"
            for hook in all_hooks
        ),
    ]
    group = None
    for hook in all_hooks:
        if hook.group != group:
            group = hook.group
            parts.append(f"## {group}")
        parts.append(_section(hook))
    return "\n\n".join(parts) + "\n"


def main() -> int:
    # Write UTF-8 whatever the locale: examples hold Chinese text.
    sys.stdout.buffer.write(render().encode("utf-8"))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
