"""`advisor adapters`: import PEFT/Unsloth folders as bundles, export bundles as PEFT folders,
list the bundles in the store (and which a gateway serves)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from .adapter_export import export_peft_folder
from .adapter_import import base_model_files, download_from_hub, import_adapter
from .bundle import BundleRef, list_bundles
from .errors import AdvisorError
from .lora_checks import DEFAULT_MAX_LORA_RANK, DEFAULT_TARGET_MODULES
from .models import EMBEDDED_BASE, looks_like_hub_id, resolve_base_model
from .settings import AdvisorSettings
from .store import open_store

app = typer.Typer(help="Import, export and list adapter bundles.", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)  # one line per message, however long


class AdaptersCliSettings(AdvisorSettings):
    """The store (`ADVISOR_STORE_URL`) and the base model adapters are checked against (the
    gateway's variables, so that the command run in the gateway's container needs no option)."""

    base_model: str = EMBEDDED_BASE
    # The engine's Hugging Face cache, where a hub id's config and template are read from.
    vllm_hf_cache: Path | None = None


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(2)


@app.command("import")
def import_command(
    source: str = typer.Argument(..., help="A PEFT/Unsloth output folder, or a hub id."),
    name: str = typer.Option(..., "--name", help="Bundle name (a-z, 0-9, '-', '_')."),
    base: str | None = typer.Option(
        None,
        help="Base model it was trained on: embedded alias, local folder or hub id "
        "(default: ADVISOR_BASE_MODEL, else the embedded model). Use the gateway's.",
    ),
    max_rank: int = typer.Option(
        DEFAULT_MAX_LORA_RANK,
        help="Highest LoRA rank accepted (the gateway's ADVISOR_MAX_LORA_RANK).",
    ),
    target_modules: str = typer.Option(
        ",".join(DEFAULT_TARGET_MODULES), help="LoRA targets accepted, comma-separated."
    ),
) -> None:
    """Check an adapter against the base model and write it as the next version of NAME."""
    settings = AdaptersCliSettings()
    try:
        store = open_store(settings)
        resolved = resolve_base_model(base or settings.base_model, settings.cache_dir)
        files = base_model_files(resolved, settings.vllm_hf_cache)
        with tempfile.TemporaryDirectory(prefix="advisor-hub-") as download:
            folder, origin = Path(source).expanduser(), Path(source).name
            if not folder.exists() and looks_like_hub_id(source):
                folder, origin = download_from_hub(source, Path(download)), f"hub:{source}"
            targets = [t.strip() for t in target_modules.split(",") if t.strip()]
            result = import_adapter(
                store,
                folder,
                name,
                files,
                origin=origin,
                max_rank=max_rank,
                allowed_targets=targets,
            )
    except AdvisorError as exc:
        raise _fail(str(exc)) from None
    for warning in result.warnings:
        console.print(f"[yellow]note:[/yellow] {warning}", highlight=False)
    console.print(
        f"imported {result.ref}: rank {result.rank} on {', '.join(result.target_modules)}, "
        f"base {resolved.name}, chat template from the {result.chat_template_source}",
        highlight=False,
    )
    typer.echo(str(result.ref))


@app.command("export")
def export_command(
    ref: str = typer.Argument(..., help="NAME@VERSION (or NAME for the latest)."),
    target: Path = typer.Argument(..., help="A new folder for the PEFT adapter."),
) -> None:
    """Write a bundle as a plain PEFT folder with a model card (README.md)."""
    settings = AdaptersCliSettings()
    try:
        result = export_peft_folder(open_store(settings), BundleRef.parse(ref), target)
    except AdvisorError as exc:
        raise _fail(str(exc)) from None
    found = f"{result.evaluations} evaluation(s)" if result.evaluations else "no evaluation"
    console.print(
        f"exported {result.ref} to {result.path} ({found} in the model card)", highlight=False
    )


@app.command("list")
def list_command(
    gateway: str | None = typer.Option(None, help="A gateway URL: mark what it serves."),
    api_key: str | None = typer.Option(
        None, help="The gateway's bearer key (default: the first of ADVISOR_API_KEYS)."
    ),
) -> None:
    """Every committed bundle in the store; with --gateway, which are loaded there."""
    settings = AdaptersCliSettings()
    try:
        bundles = list_bundles(open_store(settings))
    except AdvisorError as exc:
        raise _fail(str(exc)) from None
    loaded: set[str] | None = None
    if gateway:
        key = api_key or (settings.api_keys[0].get_secret_value() if settings.api_keys else "")
        loaded = _loaded_at(gateway, key)
    table = Table("bundle", "base model", "created", "loaded" if loaded is not None else "")
    for b in bundles:
        if b.manifest is None:
            table.add_row(b.ref, f"[red]{b.problem}[/red]", "", "")
            continue
        mark = ("yes" if b.ref in loaded else "") if loaded is not None else ""
        table.add_row(b.ref, b.manifest.base_model.id, b.manifest.created_at, mark)
    Console().print(table)
    if not bundles:
        console.print("no bundle in the store")


def _loaded_at(gateway: str, key: str) -> set[str]:
    import httpx

    url = gateway.rstrip("/") + "/v1/adapters"
    try:
        response = httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    except httpx.HTTPError as exc:
        raise _fail(f"the gateway at {gateway} does not answer: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise _fail(f"the gateway answered {response.status_code} to GET /v1/adapters")
    return {f"{a['name']}@{a['version']}" for a in response.json().get("data", [])}
