"""`advisor data`: validate datasets and import the ShareGPT shape."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from .dataset import load_dataset, write_dataset
from .errors import DatasetError

app = typer.Typer(help="Validate and convert conversation datasets (JSONL).", no_args_is_help=True)
console = Console(stderr=True)


@app.command()
def validate(
    path: Path = typer.Argument(..., help="JSONL dataset (our shape or ShareGPT)."),
) -> None:
    """Check every line; print `file:line: reason` for each bad one and exit 1."""
    try:
        conversations = load_dataset(path)
    except DatasetError as exc:
        for problem in exc.problems:
            typer.echo(problem, err=True)
        raise typer.Exit(1) from None
    turns = sum(len(c.assistant_turns()) for c in conversations)
    console.print(f"{path}: {len(conversations)} conversations, {turns} assistant turns — valid")


@app.command("import-sharegpt")
def import_sharegpt(
    source: Path = typer.Argument(..., help="ShareGPT JSONL (`conversations` with from/value)."),
    target: Path = typer.Argument(..., help="Where to write the converted JSONL."),
) -> None:
    """Convert a ShareGPT-shaped JSONL file into the dataset contract."""
    try:
        conversations = load_dataset(source)
    except DatasetError as exc:
        for problem in exc.problems:
            typer.echo(problem, err=True)
        raise typer.Exit(1) from None
    count = write_dataset(conversations, target)
    console.print(f"wrote {count} conversations to {target}")
