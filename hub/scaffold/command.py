"""``last100 plugin``: commands for writing a plugin of one's own."""

from __future__ import annotations

from pathlib import Path

import click

from hub.scaffold import KINDS, Names, ScaffoldError, check_name, generate, installed_clash


@click.group("plugin")
def plugin() -> None:
    """Write a plugin of your own (see docs/plugins.md)."""


@plugin.command("new")
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), required=True, help="What the plugin connects to.")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to write the last100-<name> folder.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Write into an existing folder, replacing the files the scaffold writes (and allow a name already installed).",
)
def new(name: str, kind: str, directory: Path, force: bool) -> None:
    """Write last100-NAME/, a working adapter distribution of the given --kind:
    setup.py with the entry points, a client, the plugin, a simulator, a README,
    quality.yaml and tests (the hub's conformance suite among them) that pass as
    generated.

    NAME: lower-case letters and digits, with _ or - between words (e.g. acme).
    """
    try:
        names = Names.of(check_name(name))
        # With --force the plugin may be one's own, installed and being written again.
        clash = None if force else installed_clash(names)
        if clash:
            raise ScaffoldError(clash)
        generated = generate(name, kind, directory, force=force)
    except ScaffoldError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Wrote {generated.folder}/ ({len(generated.files)} files): the {kind} plugin {generated.names.name!r}")
    click.echo(generated.next_steps())
