"""`advisor data`: validate datasets and convert what users have into the dataset contract."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from .dataset import Conversation, load_dataset, write_dataset
from .errors import DatasetError

app = typer.Typer(help="Validate and convert conversation datasets.", no_args_is_help=True)
console = Console(stderr=True)
SPLIT_HELP = "Split of a datasets folder with several (default: train)."


def _load(path: Path, split: str | None) -> list[Conversation]:
    try:
        return load_dataset(path, split=split)
    except DatasetError as exc:
        for problem in exc.problems:
            typer.echo(problem, err=True)
        raise typer.Exit(1) from None


@app.command()
def validate(
    path: Path = typer.Argument(
        ..., help="JSONL (ours, chat messages or ShareGPT), parquet, Arrow or a datasets folder."
    ),
    split: str | None = typer.Option(None, "--split", help=SPLIT_HELP),
) -> None:
    """Check every record; print `file:line: reason` for each bad one and exit 1."""
    conversations = _load(path, split)
    turns = sum(len(c.assistant_turns()) for c in conversations)
    console.print(f"{path}: {len(conversations)} conversations, {turns} assistant turns — valid")


@app.command("import")
def import_dataset(
    source: Path = typer.Argument(
        ..., help="JSONL (chat messages or ShareGPT), parquet, Arrow or a datasets folder."
    ),
    target: Path = typer.Argument(..., help="Where to write the dataset as JSONL."),
    split: str | None = typer.Option(None, "--split", help=SPLIT_HELP),
) -> None:
    """Convert a dataset into the contract's JSONL: ids from the content where missing,
    unknown keys kept in `meta`. Nothing is written if any record is bad."""
    count = write_dataset(_load(source, split), target)
    console.print(f"wrote {count} conversations to {target}")


@app.command("import-sharegpt")
def import_sharegpt(
    source: Path = typer.Argument(..., help="ShareGPT JSONL (`conversations` with from/value)."),
    target: Path = typer.Argument(..., help="Where to write the converted JSONL."),
) -> None:
    """Convert a ShareGPT-shaped JSONL file into the dataset contract (same as `import`)."""
    count = write_dataset(_load(source, None), target)
    console.print(f"wrote {count} conversations to {target}")
