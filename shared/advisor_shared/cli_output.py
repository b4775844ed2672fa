"""One-line messages for the `advisor` commands: a user's mistake is one line on stderr and an
exit code, never a traceback, and never wrapped (rich wraps long lines to the terminal's width;
a line that stays whole can be grepped and read in a log)."""

from __future__ import annotations

from typing import NoReturn

import typer


def say(message: str) -> None:
    """One informational line on stderr, unwrapped."""
    typer.echo(message, err=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """`error: message` on stderr, then exit with `code`."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)
