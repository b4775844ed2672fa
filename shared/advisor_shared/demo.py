"""`advisor demo`: the paper's study end to end on the embedded default.

Each stage is provided by a service's subcommand; the demo runs the stages whose services are
installed, in order, and names the ones that are not built yet.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from .cli import registered_commands
from .dataset import load_dataset
from .models import encoder_path, materialise_smollm2
from .settings import AdvisorSettings

console = Console()
SAMPLE_DIR = Path("data/sample")
STAGES = [
    ("audit the training data and gate it", "audit"),
    ("train across two sessions with a handoff", "train"),
    ("serve base + adapter through the gateway", "serve"),
    ("evaluate: BERTScore, both-order judge, factuality", "eval"),
    ("report", "report"),
]


def demo(
    out: Path = typer.Option(Path("out/demo"), help="Where the report is written."),
) -> None:
    """Run the whole study on the embedded default (SmolLM2-135M, CPU) and write a report."""
    settings = AdvisorSettings()
    out.mkdir(parents=True, exist_ok=True)
    with console.status("preparing the embedded base model (once; cached after) …"):
        model_dir = materialise_smollm2(settings.cache_dir)
    console.print(f"[green]✓[/green] base model ready: {model_dir}")
    console.print(f"[green]✓[/green] encoder ready: {encoder_path()}")
    for split in ("train", "test"):
        path = SAMPLE_DIR / f"{split}.jsonl"
        if path.is_file():
            console.print(f"[green]✓[/green] {path}: {len(load_dataset(path))} conversations")
    available = registered_commands()
    table = Table(title="advisor demo — stages")
    table.add_column("stage")
    table.add_column("status")
    for description, command in STAGES:
        table.add_row(description, "ready" if command in available else "not built yet")
    console.print(table)
