"""The one command-line entry, `advisor`. Subcommands come from the `advisor.commands`
entry-point group, so each installed service adds its own (`advisor train`, `advisor serve`...)
and an image that installs only the gateway shows only the gateway's commands."""

from __future__ import annotations

import logging
import os
import sys
from importlib.metadata import entry_points

import typer
from rich.console import Console

from . import __version__

ENTRY_POINT_GROUP = "advisor.commands"
console = Console(stderr=True)


def registered_commands(only: str | None = None) -> dict[str, object]:
    """Installed subcommands by name (just `only`, when given); a broken plug-in is reported,
    not fatal to the others."""
    commands: dict[str, object] = {}
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if only is not None and ep.name != only:
            continue
        try:
            commands[ep.name] = ep.load()
        except Exception as exc:  # noqa: BLE001 - one broken service must not hide the rest
            logging.getLogger(__name__).warning("cannot load `advisor %s`: %s", ep.name, exc)
    return commands


def build_app(only: str | None = None) -> typer.Typer:
    """The `advisor` app with every installed subcommand, or only `only`."""
    app = typer.Typer(
        name="advisor",
        help="advisor-stack: fine-tune, serve, evaluate and audit a domain advisor.",
        no_args_is_help=True,
        pretty_exceptions_show_locals=False,
        add_completion=False,
    )

    @app.callback()
    def _root(
        version: bool = typer.Option(False, "--version", help="Print the version and exit."),
    ) -> None:
        if version:
            console.print(f"advisor-stack {__version__}")
            raise typer.Exit()

    for name, command in registered_commands(only).items():
        if isinstance(command, typer.Typer):
            app.add_typer(command, name=name)
        elif callable(command):
            app.command(name=name)(command)
    return app


def main() -> None:
    # Nothing here uses JAX, but libraries that find it installed (bm25s) import it, and JAX
    # then reserves 75 % of every GPU at start-up: a GPU demo's driver held 108 GB that way and
    # starved the trainer. Child processes inherit the setting.
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # `advisor train ...` imports the trainer's command only: importing every service's CLI
    # (the evaluator's pulls in the OpenAI client and matplotlib) took seconds before a mistake
    # could be reported. `advisor` alone and `advisor --help` still list them all.
    names = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    asked = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] in names else None
    build_app(only=asked)()
