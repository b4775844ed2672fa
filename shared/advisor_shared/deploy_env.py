"""Write the `.env` that compose.yaml (and the Kubernetes Secret) read, with fresh random secrets.

Standard library only, so that a host with nothing but Python can run it before any install:
`python3 -m advisor_shared.deploy_env` with `shared/` on the path (what `make env` does), or
`advisor deploy init`. An existing file is never overwritten unless asked, and then it is kept
beside the new one; no secret is ever printed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path


@dataclass(frozen=True)
class EnvVariable:
    name: str
    comment: str
    generate: Callable[[], str] | None  # None: the operator's own value (a hub token)


def _hex(nbytes: int) -> Callable[[], str]:
    # Hex everywhere: REDIS_PASSWORD goes into a URL and API keys into comma-separated lists.
    return lambda: secrets.token_hex(nbytes)


# Exactly the variables compose.yaml interpolates (a test holds this list to the file).
VARIABLES = (
    EnvVariable(
        "HF_TOKEN",
        "Hugging Face token of an account that accepted the "
        "Mistral-7B-Instruct-v0.3 licence (the engine downloads the weights with it)",
        None,
    ),
    # MinIO's limits: access keys of 3-20 characters, secret keys of 8-40.
    EnvVariable("MINIO_ROOT_USER", "MinIO root user, used only by minio-init", _hex(10)),
    EnvVariable("MINIO_ROOT_PASSWORD", "MinIO root password", _hex(20)),
    EnvVariable(
        "ADVISOR_S3_ACCESS_KEY", "the services' MinIO key, limited to the bucket", _hex(10)
    ),
    EnvVariable("ADVISOR_S3_SECRET_KEY", "its secret", _hex(20)),
    EnvVariable("REDIS_PASSWORD", "Redis password", _hex(32)),
    EnvVariable("ADVISOR_API_KEYS", "bearer keys of the apps, comma-separated", _hex(32)),
    EnvVariable("SERVICE_API_KEY", "the key the services call each other with", _hex(32)),
    EnvVariable(
        "ADVISOR_ADMIN_API_KEYS", "the operator's keys: load adapters, start training", _hex(32)
    ),
    EnvVariable("FLOWER_USER", "Flower's login (profile `flower`; read it here)", _hex(10)),
    EnvVariable("FLOWER_PASSWORD", "Flower's password", _hex(20)),
)


class EnvFileExists(Exception):
    """The target exists and overwriting was not asked for."""


@dataclass(frozen=True)
class EnvWritten:
    path: Path
    generated: tuple[str, ...]
    missing: tuple[str, ...]
    backup: Path | None


def render(hf_token: str | None) -> tuple[str, list[str], list[str]]:
    """The file's text, the names given random values, and the names left empty."""
    lines = [
        "# Written by `advisor deploy init` with fresh random secrets. Keep it private (mode 600);",
        "# compose.yaml reads it, and `kubectl create secret generic advisor-secrets",
        "# --from-env-file=.env` turns it into the Kubernetes Secret. .env.example documents it.",
    ]
    generated, missing = [], []
    for variable in VARIABLES:
        value = variable.generate() if variable.generate else (hf_token or "")
        if variable.generate:
            generated.append(variable.name)
        elif not value:
            missing.append(variable.name)
        lines += ["", f"# {variable.comment}", f"{variable.name}={value}"]
    return "\n".join(lines) + "\n", generated, missing


def write_env_file(path: Path, *, hf_token: str | None = None, force: bool = False) -> EnvWritten:
    """Create `path` with mode 600. With `force`, an existing file is first renamed to
    `<name>.bak-<UTC time>`, never deleted (MinIO and Redis volumes keep the old secrets)."""
    path = Path(path)
    backup = None
    if path.exists():
        if not force:
            raise EnvFileExists(
                f"{path} exists; keep it, or pass --force to write a new one "
                "(the old one is kept as a backup)"
            )
        # timezone.utc, not UTC: this runs on the host's python3, possibly older than 3.11.
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")  # noqa: UP017
        backup = path.with_name(f"{path.name}.bak-{stamp}")
        os.replace(path, backup)
    text, generated, missing = render(hf_token)
    # O_EXCL: a file that appeared meanwhile is not overwritten either; 0600 from the start.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return EnvWritten(path, tuple(generated), tuple(missing), backup)


def summary(written: EnvWritten) -> list[str]:
    """What to tell the operator: names only, never a value."""
    lines = [f"wrote {written.path} (mode 600): random {', '.join(written.generated)}"]
    if written.backup:
        lines.append(f"the previous file is kept as {written.backup}")
    lines += [
        f"set {name} in {written.path} before `docker compose up`" for name in written.missing
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write .env with fresh random secrets.")
    parser.add_argument("--path", type=Path, default=Path(".env"))
    parser.add_argument("--force", action="store_true", help="replace an existing file")
    parser.add_argument(
        "--hf-token",
        default=os.environ.get("HF_TOKEN"),
        help="Hugging Face token (default: $HF_TOKEN)",
    )
    args = parser.parse_args(argv)
    try:
        written = write_env_file(args.path, hf_token=args.hf_token, force=args.force)
    except (EnvFileExists, OSError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    for line in summary(written):
        sys.stderr.write(line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
