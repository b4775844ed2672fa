"""`advisor models`: prepare the embedded models offline and show what a name resolves to."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from .chat_template import template_fingerprint, tokenizer_template
from .errors import AdvisorError, ModelResolutionError
from .models import EMBEDDED_BASE, encoder_path, resolve_base_model
from .settings import AdvisorSettings

app = typer.Typer(help="Prepare and inspect base models and encoders.", no_args_is_help=True)
console = Console(stderr=True)


@app.command()
def prepare(
    base: str = typer.Option(EMBEDDED_BASE, help="Embedded alias, local folder or hub id."),
    cache_dir: Path | None = typer.Option(None, help="Model cache (default ADVISOR_CACHE_DIR)."),
) -> None:
    """Materialise the base model once (the embedded one is dequantised from GGUF) and print
    where it lives and its fingerprint."""
    cache = cache_dir or AdvisorSettings().cache_dir
    try:
        with console.status(f"resolving {base} …"):
            resolved = resolve_base_model(base, cache)
    except ModelResolutionError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"base model {resolved.name}: {resolved.location}")
    console.print(f"fingerprint {resolved.fingerprint}")
    try:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(resolved.location)
        console.print(f"chat template sha256 {template_fingerprint(tokenizer_template(tokenizer))}")
    except (OSError, AdvisorError) as exc:
        console.print(f"chat template: not available ({str(exc)[:200]})")
    console.print(f"encoder: {encoder_path()}")
