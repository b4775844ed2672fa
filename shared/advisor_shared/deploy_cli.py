"""`advisor deploy`: prepare a host for `docker compose up`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from .deploy_env import EnvFileExists, summary, write_env_file

app = typer.Typer(help="Prepare a deployment.", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)  # one line per message, however long


@app.command()
def init(
    path: Path = typer.Option(Path(".env"), help="The file to write (beside compose.yaml)."),
    force: bool = typer.Option(
        False, "--force", help="Replace an existing file (kept as a backup)."
    ),
    hf_token: str | None = typer.Option(
        None,
        envvar="HF_TOKEN",
        show_default=False,
        help="Hugging Face token for the gated base model (default: $HF_TOKEN).",
    ),
) -> None:
    """Write .env with a fresh random value for every secret compose.yaml needs."""
    try:
        written = write_env_file(path, hf_token=hf_token, force=force)
    except (EnvFileExists, OSError) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    for line in summary(written):
        console.print(line, highlight=False)
