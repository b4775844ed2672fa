"""`advisor serve`: the gateway and the HF engine in one local process."""

from __future__ import annotations

import secrets
from typing import Any

import typer
from pydantic import SecretStr
from rich.console import Console

from advisor_shared.cli_output import fail
from advisor_shared.errors import AdvisorError

console = Console(stderr=True)


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    base: str | None = typer.Option(
        None,
        help="Base model: 'smollm2-135m-instruct', a local folder or a hub id "
        "(default: ADVISOR_BASE_MODEL, else the embedded model).",
    ),
    adapter: list[str] = typer.Option(
        [],
        "--adapter",
        help="Adapter NAME@VERSION (or NAME for the latest) to load from the "
        "store at start; repeatable.",
    ),
    api_key: str | None = typer.Option(
        None,
        "--api-key",
        help="Bearer key clients must send (default: ADVISOR_API_KEYS, else a "
        "random key printed at start).",
    ),
    log_level: str = typer.Option("info", help="uvicorn log level."),
    timeout_graceful_shutdown: int = typer.Option(
        8,
        help="Seconds in-flight requests get to finish after SIGTERM/Ctrl-C; then they are "
        "cancelled, their generations with them.",
    ),
) -> None:
    """Serve the base model and adapters over the OpenAI API with the in-process HF engine."""
    import uvicorn

    from advisor_shared.http_protocol import ReadDeadlineProtocol

    from .core.config import Settings
    from .main import create_app

    # Checked by Settings, which reads the environment for the rest (not model_validate).
    overrides: dict[str, Any] = {"engine": "hf"}
    if base:
        overrides["base_model"] = base
    if adapter:
        overrides["adapters"] = adapter
    if api_key:
        overrides["api_keys"] = [api_key]
    settings = Settings(**overrides)
    generated = None
    if not settings.api_keys:
        generated = secrets.token_urlsafe(24)
        settings.api_keys = [SecretStr(generated)]
    try:
        # Resolves the base model first: one that cannot be had fails here, in seconds.
        app = create_app(settings)
    except AdvisorError as exc:
        fail(str(exc))
    if generated is not None:
        console.print(f"API key for this run: [bold]{generated}[/bold]")
    console.print(
        f"serving {settings.base_model} as '{settings.base_alias}' on http://{host}:{port}/v1 "
        "(ready when /readyz answers 200)"
    )
    # The deployed command's protocol and shutdown bound: a slow client's socket is closed at
    # the read deadline; on SIGTERM, requests still generating are cancelled after the bound.
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        http=ReadDeadlineProtocol,
        timeout_graceful_shutdown=timeout_graceful_shutdown,
    )
