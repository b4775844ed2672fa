"""`advisor deploy init` / `make env`: a .env with fresh random secrets that compose accepts and
every service's production settings accept; never overwritten, never printed."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_files import REPO, compose_text, env_example_assignments, interpolate, interpolations
from deploy_files import compose as compose_file

from advisor_shared.deploy_cli import app as deploy_app
from advisor_shared.deploy_env import VARIABLES, write_env_file
from tests.fixtures.cli import invoke

pytestmark = pytest.mark.unit
SERVICES = compose_file()["services"]


def read_env(path: Path) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in path.read_text().splitlines() if re.match(r"^[A-Z]", line)
    )


def test_the_generated_variables_are_exactly_what_compose_needs() -> None:
    names = [v.name for v in VARIABLES]
    assert len(names) == len(set(names))
    assert set(names) == {name for name, _, _ in interpolations(compose_text())}
    assert set(names) == set(env_example_assignments())


def test_init_writes_random_secrets_readable_by_the_owner_only(tmp_path: Path) -> None:
    target = tmp_path / ".env"
    result = invoke("deploy", deploy_app, "init", "--path", str(target), "--hf-token", "hf_tok3n")
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    values = read_env(target)
    assert values["HF_TOKEN"] == "hf_tok3n"
    secrets = [values[v.name] for v in VARIABLES if v.generate]
    assert all(re.fullmatch(r"[0-9a-f]{20,64}", s) for s in secrets)
    assert len(set(secrets)) == len(secrets)
    assert len(values["MINIO_ROOT_PASSWORD"]) <= 40 and len(values["ADVISOR_S3_ACCESS_KEY"]) <= 20
    # Names only in the output: no secret, not even the operator's token.
    assert not [v for v in values.values() if v and v in result.output]
    again = write_env_file(tmp_path / "second.env")
    assert read_env(tmp_path / "second.env")["REDIS_PASSWORD"] != values["REDIS_PASSWORD"]
    assert again.missing == ("HF_TOKEN",)


def test_every_service_accepts_the_generated_env_in_production(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    write_env_file(tmp_path / ".env", hf_token="hf_x")
    env = read_env(tmp_path / ".env")
    for name, service in SERVICES.items():
        match = re.match(
            r"^services/([a-z]+)/Dockerfile$", service.get("build", {}).get("dockerfile", "")
        )
        if not match:
            continue
        environment = {k: interpolate(str(v), env) for k, v in service["environment"].items()}
        for key in [k for k in os.environ if k.startswith("ADVISOR_")]:
            monkeypatch.delenv(key)
        for key, value in environment.items():
            monkeypatch.setenv(key, value)
        settings = importlib.import_module(f"advisor_{match[1]}.core.config").Settings()
        assert settings.environment == "production", name
        assert settings.api_keys and settings.effective_admin_keys(), name


def test_an_existing_env_is_never_overwritten(tmp_path: Path) -> None:
    target = tmp_path / ".env"
    target.write_text("REDIS_PASSWORD=keep-me\n")
    refused = invoke("deploy", deploy_app, "init", "--path", str(target))
    assert refused.exit_code == 1 and "exists" in refused.output
    assert "Traceback" not in refused.output
    assert target.read_text() == "REDIS_PASSWORD=keep-me\n"
    forced = invoke("deploy", deploy_app, "init", "--path", str(target), "--force")
    assert forced.exit_code == 0, forced.output
    (backup,) = tmp_path.glob(".env.bak-*")
    assert backup.read_text() == "REDIS_PASSWORD=keep-me\n"
    assert read_env(target)["REDIS_PASSWORD"] != "keep-me"


def test_make_env_needs_nothing_but_python(tmp_path: Path) -> None:
    """`make env` runs the module with the standard library alone (`-S`: no site-packages),
    so a host without the project's environment can write its .env."""
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(r"^env:\n\t(.+)$", makefile, re.M)
    assert recipe and "PYTHONPATH=shared $(PYTHON) -m advisor_shared.deploy_env" in recipe[1]
    done = subprocess.run(
        [sys.executable, "-S", "-m", "advisor_shared.deploy_env", "--path", str(tmp_path / ".env")],
        env={"PYTHONPATH": str(REPO / "shared"), "HF_TOKEN": "hf_from_env"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert read_env(tmp_path / ".env")["HF_TOKEN"] == "hf_from_env"
    assert "hf_from_env" not in done.stderr
    assert set(read_env(tmp_path / ".env")) == {v.name for v in VARIABLES}


def test_env_files_stay_out_of_git_and_out_of_images() -> None:
    ignored = (REPO / ".gitignore").read_text().splitlines()
    assert ".env" in ignored and ".env.*" in ignored and "!.env.example" in ignored
    assert ".env" in (REPO / ".dockerignore").read_text().splitlines()
