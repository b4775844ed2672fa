"""compose.local.yaml (a host with no GPU and no registry) changes compose.yaml only where such a
host needs it: networking, images and the model sources. It must not quietly replace the
services it is there to test, so each service keeps its command, settings, volumes and
hardening; and the merge Compose v1 needs (deploy/local/compose_v1.py) follows v2's rules."""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

import pytest
import yaml
from deploy_files import REPO, command_words, compose, env_example_assignments, interpolate

sys.path.insert(0, str(REPO / "deploy" / "local"))
import compose_v1  # noqa: E402

pytestmark = pytest.mark.unit

LOCAL_FILE = REPO / "compose.local.yaml"
# Our services, each run with its compose.yaml command and settings.
OURS = (
    "gateway",
    "evaluator",
    "evaluator-worker",
    "auditor",
    "auditor-worker",
    "trainer",
    "trainer-worker",
)
# Settings the local file may give another value, and why.
CHANGED = {
    "ADVISOR_STORE_URL",  # moto on a loopback port instead of minio:9000
    "ADVISOR_REDIS_URL",  # Redis on a loopback port
    "ADVISOR_INFERENCE_URL",  # the gateway's loopback port
    "ADVISOR_AUDITOR_URL",  # the auditor's loopback port
    "ADVISOR_EVALUATOR_URL",  # the evaluator's loopback port (the gateway's console)
    "ADVISOR_TRAINER_URL",  # the trainer API's loopback port (the gateway's console)
    "ADVISOR_BERTSCORE_ENCODER",  # the packaged MiniLM instead of roberta-large from the hub
    "ADVISOR_AUDITOR_ENCODER",  # the packaged MiniLM instead of the hub's copy
    "ADVISOR_ENGINE",  # the HF engine instead of vLLM
    "ADVISOR_BASE_MODEL",  # the embedded model baked into the CPU image
    "ADVISOR_FLOWER_URL",  # Flower's loopback port
}
ADDED = {"HF_HUB_OFFLINE", "ADVISOR_TORCH_THREADS", "ADVISOR_AUDITOR_SOURCES"}
HARDENING = (
    "read_only",
    "tmpfs",
    "cap_drop",
    "security_opt",
    "restart",
    "stop_grace_period",
    "profiles",
    "user",
)


@cache
def local() -> dict[str, Any]:
    return compose_v1.render([REPO / "compose.yaml", LOCAL_FILE])


def service(name: str) -> dict[str, Any]:
    return local()["services"][name]


def url(value: str) -> SplitResult:
    """`value` with compose's interpolation done (every variable of .env set), split."""
    return urlsplit(interpolate(value, dict.fromkeys(env_example_assignments(), "secret")))


def option(words: list[str], name: str) -> str | None:
    return words[words.index(name) + 1] if name in words else None


def without_options(words: list[str], *names: str) -> list[str]:
    kept, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word in names:
            skip = True
        else:
            kept.append(word)
    return kept


# --- the merge ---------------------------------------------------------------------------------


def load_text(text: str) -> Any:
    return yaml.load(text, Loader=compose_v1.OverrideLoader)  # noqa: S506


def test_merge_follows_compose_v2_rules() -> None:
    base = {
        "s": {
            "command": ["a", "b"],
            "ports": ["1:1"],
            "networks": ["x"],
            "environment": {"A": "1", "B": "2"},
            "healthcheck": {"test": ["CMD", "x"], "interval": "5s"},
            "depends_on": {"v": {}, "r": {}},
        }
    }
    override = load_text(
        """
        s:
          command: [c]
          ports: !reset []
          networks: !reset []
          network_mode: host
          environment: {B: "3", C: "4"}
          healthcheck: {test: [CMD, y]}
          depends_on: !override {r: {}}
        """
    )
    assert compose_v1.merge(base, override) == {
        "s": {
            "command": ["c"],
            "environment": {"A": "1", "B": "3", "C": "4"},
            "healthcheck": {"test": ["CMD", "y"], "interval": "5s"},
            "depends_on": {"r": {}},
            "network_mode": "host",
        }
    }


def test_merge_refuses_a_list_v2_would_append_to() -> None:
    with pytest.raises(compose_v1.MergeError, match=r"s\.ports: Compose v2 appends"):
        compose_v1.merge({"s": {"ports": ["1:1"]}}, load_text("s: {ports: ['2:2']}"))


def test_renderer_writes_what_docker_compose_v1_reads(tmp_path: Path) -> None:
    out = tmp_path / "rendered.yaml"
    assert compose_v1.main([str(REPO / "compose.yaml"), str(LOCAL_FILE), "-o", str(out)]) == 0
    assert yaml.safe_load(out.read_text()) == local()
    assert compose_v1.main([str(tmp_path / "missing.yaml")]) == 2


# --- what the local file changes ----------------------------------------------------------------


def test_every_service_of_compose_yaml_is_kept_under_its_name() -> None:
    assert set(local()["services"]) == set(compose()["services"])
    assert "networks" not in local()  # no network of compose's own: no address off loopback
    assert set(local()["volumes"]) == set(compose()["volumes"])


@pytest.mark.parametrize("name", OURS)
def test_our_services_run_their_compose_command_on_a_loopback_port(name: str) -> None:
    original = command_words(compose()["services"][name]["command"])
    words = command_words(service(name)["command"])
    assert without_options(words, "--host", "--port") == without_options(
        original, "--host", "--port"
    )
    if "--host" in original:
        assert option(words, "--host") == "127.0.0.1"
        port = option(words, "--port")
        assert port is not None and port != option(original, "--port")
        health = " ".join(service(name)["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}/healthz" in health
        original_health = " ".join(compose()["services"][name]["healthcheck"]["test"])
        assert health.replace(port, option(original, "--port") or "") == original_health


@pytest.mark.parametrize("name", OURS)
def test_our_services_keep_their_settings_volumes_and_hardening(name: str) -> None:
    original, changed = compose()["services"][name], service(name)
    env, original_env = changed["environment"], original["environment"]
    assert set(original_env) <= set(env), "a setting of compose.yaml was dropped"
    assert set(env) - set(original_env) <= ADDED
    differing = {k for k in original_env if str(env[k]) != str(original_env[k])}
    assert differing <= CHANGED, differing - CHANGED
    for key in HARDENING:
        assert changed.get(key) == original.get(key), key
    assert set(original.get("volumes", [])) <= set(changed.get("volumes", []))
    assert changed["network_mode"] == "host" and "networks" not in changed
    assert "ports" not in changed and "deploy" not in changed
    expected_image = original["image"].replace("/gateway:", "/gateway-cpu:")
    assert changed["image"] == expected_image


def test_gateway_is_the_cpu_variant_serving_the_baked_model() -> None:
    gateway = service("gateway")
    assert gateway["build"]["dockerfile"] == "services/inference/Dockerfile.cpu"
    assert gateway["environment"]["ADVISOR_ENGINE"] == "hf"
    dockerfile = (REPO / gateway["build"]["dockerfile"]).read_text()
    assert f"ADVISOR_BASE_MODEL={gateway['environment']['ADVISOR_BASE_MODEL']}" in dockerfile
    # The engine is not started, and nothing waits for it.
    assert local()["services"]["vllm"]["profiles"] == ["gpu"]
    assert "vllm" not in gateway["depends_on"]


def test_redis_keeps_compose_flags_and_the_s3_server_stands_in_for_minio() -> None:
    original = command_words(compose()["services"]["redis"]["command"])
    words = command_words(service("redis")["command"])
    assert words[: len(original)] == original
    assert without_options(words[len(original) :], "--bind", "--port") == []
    assert option(words, "--bind") == "127.0.0.1"
    environment = service("evaluator")["environment"]
    assert option(words, "--port") == str(url(environment["ADVISOR_REDIS_URL"]).port)
    minio = service("minio")
    assert minio["volumes"] == compose()["services"]["minio"]["volumes"]  # the same data volume
    store_port = url(environment["ADVISOR_STORE_URL"]).port
    assert option(command_words(minio["command"]), "--port") == str(store_port)


def listening_ports() -> dict[str, str]:
    found = {}
    for name, spec in local()["services"].items():
        words = command_words(spec.get("command"))
        if name != "vllm" and option(words, "--port"):
            found[name] = option(words, "--port") or ""
    return found


def test_ports_are_distinct_and_the_services_find_each_other() -> None:
    ports = listening_ports()
    assert len(set(ports.values())) == len(ports), ports
    evaluator = service("evaluator")["environment"]
    assert urlsplit(evaluator["ADVISOR_INFERENCE_URL"]).port == int(ports["gateway"])
    assert urlsplit(evaluator["ADVISOR_AUDITOR_URL"]).port == int(ports["auditor"])
    console = service("gateway")["environment"]
    for name in ("evaluator", "auditor", "trainer"):
        assert urlsplit(console[f"ADVISOR_{name.upper()}_URL"]).port == int(ports[name])


def test_nothing_listens_or_points_beyond_loopback() -> None:
    started = {n: s for n, s in local()["services"].items() if "gpu" not in s.get("profiles", [])}
    hosts = []
    for name, spec in started.items():
        assert spec["network_mode"] == "host", name
        words = command_words(spec.get("command"))
        for flag in ("--host", "--bind", "--endpoint"):
            value = option(words, flag)
            if value is not None:
                hosts.append(url(value).hostname if "://" in value else value)
        environment = dict(spec.get("environment", {}))
        if environment.get("ADVISOR_ENGINE") == "hf":
            environment.pop("ADVISOR_VLLM_URL")  # read by the vLLM engine only
        for value in environment.values():
            if re.match(r"^[a-z0-9]+://", str(value)):
                hosts.append(url(str(value)).hostname)
        hosts += re.findall(
            r"https?://([0-9.]+)", " ".join(spec.get("healthcheck", {}).get("test", []))
        )
    assert hosts and all(ipaddress.ip_address(h or "").is_loopback for h in hosts), hosts


# --- Compose v1 itself ----------------------------------------------------------------------------


def v1_config(tmp_path: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    env_file = tmp_path / "env"
    env_file.write_text("".join(f"{k}=x{k.lower()}1\n" for k in env_example_assignments()))
    arguments = [a for f in files for a in ("-f", str(f))]
    binary = shutil.which("docker-compose")
    assert binary is not None
    return subprocess.run(
        [binary, "--env-file", str(env_file), *arguments, "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose (v1) absent")
def test_compose_v1_reads_compose_yaml_and_the_rendered_local_stack(tmp_path: Path) -> None:
    result = v1_config(tmp_path, REPO / "compose.yaml")
    assert result.returncode == 0, result.stderr
    rendered = tmp_path / "rendered.yaml"
    shutil.copy(REPO / "compose.yaml", tmp_path / "compose.yaml")
    assert compose_v1.main([str(REPO / "compose.yaml"), str(LOCAL_FILE), "-o", str(rendered)]) == 0
    # Relative paths (build contexts, ./data) resolve against the repository, as in use.
    in_repo = REPO / f".rendered-{tmp_path.name}.yaml"
    in_repo.write_text(rendered.read_text())
    try:
        result = v1_config(tmp_path, in_repo)
    finally:
        in_repo.unlink()
    assert result.returncode == 0, result.stderr


def test_the_cpu_images_convert_the_embedded_base_alike() -> None:
    """The trainer's CPU build installs what the CPU gateway runs (torch, and the CPU lock for
    transformers): the base each converts from the GGUF is then byte for byte the same, and the
    gateway accepts the bundles the trainer writes (the fingerprint covers config.json, which
    records the transformers version)."""
    args = service("trainer")["build"]["args"]
    assert args["TRAINER_CONSTRAINTS"] == "constraints.txt"
    gateway_dockerfile = (REPO / service("gateway")["build"]["dockerfile"]).read_text()
    torch = re.search(r"^ARG TORCH_VERSION=(\S+)$", gateway_dockerfile, re.M)
    assert torch is not None and args["TORCH_VERSION"] == torch[1]
    assert service("trainer-worker")["build"] == service("trainer")["build"]
