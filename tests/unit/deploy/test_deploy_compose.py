"""compose.yaml, read as data: healthchecks, required secrets, the one published port, GPU
reservations, ordering by health, and every command and variable traced to the repository."""

from __future__ import annotations

import ast
import importlib
import os
import re
import secrets
from typing import Any

import pytest
from deploy_files import (
    COMPOSE_FILE,
    REPO,
    app_references,
    command_words,
    compose,
    compose_text,
    env_example_assignments,
    env_example_mentions,
    healthcheck_words,
    interpolate,
    interpolations,
    missing_app_reference,
    parse_dockerfile,
    queues,
)

pytestmark = pytest.mark.unit

SERVICES: dict[str, dict[str, Any]] = compose()["services"]
# Variables whose values are credentials: they must be required, never defaulted.
SECRET_NAME = re.compile(r"(TOKEN|PASSWORD|SECRET|_KEYS?$|ROOT_USER)")
GPU_RESERVATION = {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}


def built_from(service: dict[str, Any]) -> str | None:
    """The services/<name> directory whose Dockerfile builds this compose service."""
    dockerfile = service.get("build", {}).get("dockerfile", "")
    match = re.match(r"^services/([a-z]+)/Dockerfile$", dockerfile)
    return match[1] if match else None


def test_compose_lists_the_stack() -> None:
    assert set(SERVICES) == {
        "redis",
        "minio",
        "minio-init",
        "vllm",
        "gateway",
        "evaluator",
        "evaluator-worker",
        "auditor",
        "auditor-worker",
        "trainer",
        "trainer-worker",
        "flower",
    }


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_long_running_service_has_a_healthcheck(name: str) -> None:
    service = SERVICES[name]
    if name == "minio-init":
        # A one-shot job: it must not restart, and its dependants wait for it to succeed.
        assert service["restart"] == "no"
        assert "healthcheck" not in service
        return
    check = service.get("healthcheck")
    assert check is not None and not check.get("disable", False)
    assert healthcheck_words(service), f"{name}: empty healthcheck test"
    assert service.get("restart") == "unless-stopped"


def test_one_shot_init_is_awaited_by_completion() -> None:
    waiting = {
        name
        for name, s in SERVICES.items()
        if s.get("depends_on", {}).get("minio-init", {}).get("condition")
        == "service_completed_successfully"
    }
    assert waiting == {
        "gateway",
        "evaluator",
        "evaluator-worker",
        "auditor",
        "auditor-worker",
        "trainer",
        "trainer-worker",
    }


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_depends_on_waits_for_health_or_completion(name: str) -> None:
    depends_on = SERVICES[name].get("depends_on", {})
    assert isinstance(depends_on, dict), f"{name}: depends_on must name conditions"
    for target, spec in depends_on.items():
        if spec["condition"] == "service_healthy":
            assert "healthcheck" in SERVICES[target], f"{name} waits on {target} without check"
        else:
            assert (target, spec["condition"]) == ("minio-init", "service_completed_successfully")


def test_the_gateway_waits_for_the_engine_and_the_data_services() -> None:
    assert SERVICES["gateway"]["depends_on"] == {
        "redis": {"condition": "service_healthy"},
        "minio-init": {"condition": "service_completed_successfully"},
        "vllm": {"condition": "service_healthy"},
    }
    assert SERVICES["minio-init"]["depends_on"] == {"minio": {"condition": "service_healthy"}}


def test_secrets_are_required_never_defaulted() -> None:
    found = interpolations(compose_text())
    secret_uses = [(name, op) for name, op, _ in found if SECRET_NAME.search(name)]
    assert {name for name, _ in secret_uses} == {
        "HF_TOKEN",
        "MINIO_ROOT_USER",
        "MINIO_ROOT_PASSWORD",
        "ADVISOR_S3_ACCESS_KEY",
        "ADVISOR_S3_SECRET_KEY",
        "REDIS_PASSWORD",
        "ADVISOR_API_KEYS",
        "SERVICE_API_KEY",
        "ADVISOR_ADMIN_API_KEYS",
        "FLOWER_PASSWORD",
    }
    assert [use for use in secret_uses if use[1] != ":?"] == []
    # Every `:?` carries a message that names the variable to set.
    assert all(name in arg for name, op, arg in found if op == ":?")


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_no_credential_is_written_literally(name: str) -> None:
    for key, value in SERVICES[name].get("environment", {}).items():
        if SECRET_NAME.search(key) and key != "REDISCLI_AUTH":
            assert str(value).startswith("${") and ":?" in str(value), f"{name}.{key}"
    assert "minioadmin" not in compose_text()


def test_only_the_gateway_publishes_a_port() -> None:
    """Flower, when its profile is started, publishes on the host's loopback only."""
    published = {name: s["ports"] for name, s in SERVICES.items() if "ports" in s}
    assert published == {"gateway": ["8000:8000"], "flower": ["127.0.0.1:5555:5555"]}
    assert SERVICES["flower"]["profiles"] == ["flower"]


def test_engine_redis_and_minio_are_on_private_networks() -> None:
    on_network = {
        network: {n for n, s in SERVICES.items() if network in s.get("networks", ["default"])}
        for network in compose()["networks"]
    }
    assert on_network["engine"] == {"vllm", "gateway"}
    assert SERVICES["vllm"]["networks"] == ["engine"]
    assert SERVICES["redis"]["networks"] == ["data"]
    assert SERVICES["minio"]["networks"] == ["data"]
    assert compose()["networks"]["data"] == {"internal": True}


def test_gpu_is_reserved_for_the_engine_and_the_trainer_worker_only() -> None:
    reserved = {
        name: s["deploy"]["resources"]["reservations"]["devices"]
        for name, s in SERVICES.items()
        if "deploy" in s
    }
    assert reserved == {"vllm": [GPU_RESERVATION], "trainer-worker": [GPU_RESERVATION]}


def test_engine_and_trainer_never_hold_the_gpu_together_by_default() -> None:
    assert SERVICES["trainer-worker"]["profiles"] == ["train"]
    assert "profiles" not in SERVICES["vllm"]


def test_a_plain_up_builds_only_what_serving_and_evaluation_need() -> None:
    """`docker compose up` starts (and builds) the services without a profile: the trainer's
    CUDA + Unsloth image is not among them, and nothing they wait for is behind a profile."""
    profiled = {n for n, s in SERVICES.items() if "profiles" in s}
    assert {n: SERVICES[n]["profiles"] for n in profiled} == {
        "trainer": ["train"],
        "trainer-worker": ["train"],
        "flower": ["flower"],
    }
    default = {n: s for n, s in SERVICES.items() if n not in profiled}
    assert {built_from(s) for s in default.values() if "build" in s} == {
        "inference",
        "evaluator",
        "auditor",
    }
    for name, service in default.items():
        assert set(service.get("depends_on", {})) & profiled == set(), name


def test_the_gateway_reads_the_chat_template_from_the_engines_files() -> None:
    """No fingerprint to know in advance: the gateway mounts the engine's Hugging Face cache
    read-only and reads the template vLLM serves from the snapshot vLLM downloaded."""
    assert "CHAT_TEMPLATE_SHA256" not in compose_text()
    gateway, vllm = SERVICES["gateway"], SERVICES["vllm"]
    hub = gateway["environment"]["ADVISOR_VLLM_HF_CACHE"]
    mounts = {m.split(":")[0]: m.split(":")[1:] for m in gateway["volumes"]}
    assert mounts["model-cache"] == [hub.removesuffix("/hub"), "ro"]
    # vLLM's image keeps its Hugging Face cache (HF_HOME) in /root/.cache/huggingface.
    assert "model-cache:/root/.cache/huggingface" in vllm["volumes"]
    assert "HF_HOME" not in vllm["environment"]


def test_flower_watches_the_queues_behind_basic_auth_from_env() -> None:
    flower = SERVICES["flower"]
    environment = flower["environment"]
    assert flower["image"].startswith("mher/flower:2.")  # pinned, never `latest`
    assert environment["FLOWER_BASIC_AUTH"] == (
        "${FLOWER_USER:?set FLOWER_USER in .env (the Flower login)}:"
        "${FLOWER_PASSWORD:?set FLOWER_PASSWORD in .env (the Flower password)}"
    )
    assert "--basic-auth" not in " ".join(command_words(flower.get("command")))
    assert (
        environment["CELERY_BROKER_URL"]
        == SERVICES["evaluator"]["environment"]["ADVISOR_REDIS_URL"]
    )
    assert set(flower["networks"]) == {"default", "data"}
    assert healthcheck_words(flower)[-1].endswith(
        "urlopen('http://127.0.0.1:5555/healthcheck', timeout=4)"
    )
    env = fake_operator_env()
    assert container_environment("flower", env)["FLOWER_BASIC_AUTH"] == (
        f"{env['FLOWER_USER']}:{env['FLOWER_PASSWORD']}"
    )


def test_the_console_reads_the_job_apis_where_they_listen() -> None:
    environment = SERVICES["gateway"]["environment"]
    for name, port in (("evaluator", 8001), ("auditor", 8002), ("trainer", 8003)):
        assert environment[f"ADVISOR_{name.upper()}_URL"] == f"http://{name}:{port}"
        words = command_words(SERVICES[name]["command"])
        assert words[words.index("--port") + 1] == str(port)
        assert set(SERVICES[name]["networks"]) & set(SERVICES["gateway"]["networks"])
    published = SERVICES["flower"]["ports"][0].split(":")
    assert environment["ADVISOR_FLOWER_URL"] == f"http://localhost:{published[1]}"


def flag_values(words: list[str]) -> dict[str, str | None]:
    """`--flag value` and bare `--flag` pairs of a command line."""
    values: dict[str, str | None] = {}
    for position, word in enumerate(words):
        if word.startswith("--"):
            following = words[position + 1] if position + 1 < len(words) else None
            is_value = following is not None and not following.startswith("--")
            values[word] = following if is_value else None
    return values


def test_vllm_serves_4bit_mistral_with_lora_within_16_gb() -> None:
    vllm = SERVICES["vllm"]
    flags = flag_values(command_words(vllm["command"]))
    assert flags["--model"] == "mistralai/Mistral-7B-Instruct-v0.3"
    assert flags["--quantization"] == "bitsandbytes"
    assert "--enable-lora" in flags and flags["--enable-lora"] is None
    assert flags["--max-model-len"] == "4096"
    assert flags["--port"] == "8100"
    assert 0.5 <= float(flags["--gpu-memory-utilization"] or 0) <= 0.9
    assert vllm["environment"]["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] == "True"
    assert vllm["image"].startswith("vllm/vllm-openai:v")  # pinned, never `latest`
    assert healthcheck_words(vllm)[-1].endswith(
        "urlopen('http://127.0.0.1:8100/health', timeout=5)"
    )


def test_vllm_accepts_adapters_of_the_trainers_default_rank() -> None:
    from advisor_trainer.config import TrainingJobConfig

    flags = flag_values(command_words(SERVICES["vllm"]["command"]))
    assert int(flags["--max-lora-rank"] or 0) >= TrainingJobConfig().lora_r


def test_gateway_reaches_the_engine_on_its_port() -> None:
    environment = SERVICES["gateway"]["environment"]
    assert environment["ADVISOR_ENGINE"] == "vllm"
    assert environment["ADVISOR_VLLM_URL"] == "http://vllm:8100"


def test_redis_keeps_queued_work_across_restarts_and_never_evicts() -> None:
    flags = flag_values(command_words(SERVICES["redis"]["command"]))
    assert flags["--appendonly"] == "yes"
    assert flags["--appendfsync"] == "everysec"
    assert flags["--maxmemory-policy"] == "noeviction"
    assert healthcheck_words(SERVICES["redis"]) == ["redis-cli", "ping"]


def test_minio_init_creates_a_private_bucket_and_a_service_key() -> None:
    script = SERVICES["minio-init"]["command"][0]
    assert "mc mb --ignore-existing local/advisor" in script
    assert "mc anonymous set none local/advisor" in script
    assert 'mc admin user add local "$$ADVISOR_S3_ACCESS_KEY"' in script
    assert "mc admin policy attach local advisor-rw" in script
    assert SERVICES["gateway"]["environment"]["ADVISOR_STORE_URL"] == "s3://minio:9000/advisor"


@pytest.mark.parametrize("name", sorted(n for n, s in SERVICES.items() if "build" in s))
def test_build_context_and_dockerfile_exist(name: str) -> None:
    build = SERVICES[name]["build"]
    context = (COMPOSE_FILE.parent / build["context"]).resolve()
    assert context == REPO
    assert (context / build["dockerfile"]).is_file()
    # The tag k8s/ deploys (test_deploy_kubernetes compares the rendered images with these).
    assert SERVICES[name]["image"] == f"advisor-stack/{name.removesuffix('-worker')}:0.1.0"


def command_and_healthcheck_references(name: str) -> list[Any]:
    service = SERVICES[name]
    return app_references(command_words(service.get("command"))) + app_references(
        healthcheck_words(service)
    )


OUR_SERVICES = sorted(n for n, s in SERVICES.items() if "build" in s)


@pytest.mark.parametrize("name", OUR_SERVICES)
def test_commands_name_modules_that_exist(name: str) -> None:
    references = command_and_healthcheck_references(name)
    assert references, f"{name}: neither uvicorn --factory nor celery -A"
    assert [missing_app_reference(r) for r in references] == [None] * len(references)


@pytest.mark.parametrize(
    ("name", "module", "queue"),
    [
        ("evaluator-worker", "advisor_evaluator.worker", "evaluator"),
        ("auditor-worker", "advisor_auditor.worker", "auditor"),
        ("trainer-worker", "advisor_trainer.worker", "trainer-long"),
    ],
)
def test_workers_consume_their_queue_and_ping_themselves(
    name: str, module: str, queue: str
) -> None:
    words = command_words(SERVICES[name]["command"])
    assert words[:4] == ["celery", "-A", module, "worker"]
    assert queues(words) == [queue]
    check = healthcheck_words(SERVICES[name])
    assert check[:4] == ["celery", "-A", module, "inspect"]
    assert "celery@$$HOSTNAME" in check


def test_trainer_worker_runs_one_task_at_a_time() -> None:
    words = command_words(SERVICES["trainer-worker"]["command"])
    assert words[words.index("--concurrency") + 1] == "1"


@pytest.mark.parametrize(
    ("name", "port"),
    [("gateway", 8000), ("evaluator", 8001), ("auditor", 8002), ("trainer", 8003)],
)
def test_http_services_listen_and_are_checked_on_their_port(name: str, port: int) -> None:
    words = command_words(SERVICES[name]["command"])
    assert words[words.index("--port") + 1] == str(port)
    assert f"http://127.0.0.1:{port}/healthz" in " ".join(healthcheck_words(SERVICES[name]))


def test_every_compose_variable_is_documented_in_env_example() -> None:
    interpolated = {name for name, _, _ in interpolations(compose_text())}
    # What the operator sets: exactly the variables compose interpolates, no stale entries.
    assert set(env_example_assignments()) == interpolated
    assert all(value == "" for value in env_example_assignments().values())
    set_in_containers = {
        key for service in SERVICES.values() for key in service.get("environment", {})
    }
    assert set_in_containers - env_example_mentions() == set()


def fake_operator_env() -> dict[str, str]:
    """A .env with a fresh random value per variable (never a placeholder)."""
    return {name: secrets.token_hex(16) for name in env_example_assignments()}


def container_environment(name: str, env: dict[str, str]) -> dict[str, str]:
    return {
        key: interpolate(str(value), env)
        for key, value in SERVICES[name].get("environment", {}).items()
    }


def test_compose_refuses_to_start_without_a_secret() -> None:
    env = fake_operator_env()
    del env["ADVISOR_S3_SECRET_KEY"]
    with pytest.raises(KeyError, match="ADVISOR_S3_SECRET_KEY"):
        container_environment("gateway", env)


@pytest.mark.parametrize("name", OUR_SERVICES)
def test_every_advisor_variable_is_a_field_of_the_services_settings(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = f"advisor_{built_from(SERVICES[name])}"
    settings_class = importlib.import_module(f"{package}.core.config").Settings
    environment = container_environment(name, fake_operator_env())
    advisor_vars = {k for k in environment if k.startswith("ADVISOR_")}
    fields = {f"ADVISOR_{field.upper()}" for field in settings_class.model_fields}
    # Settings ignore unknown variables, so a misspelled one would silently do nothing.
    assert advisor_vars - fields == set()
    for key in [k for k in os.environ if k.startswith("ADVISOR_")]:
        monkeypatch.delenv(key)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    settings = settings_class()  # production: refuses placeholders and empty key lists
    assert settings.environment == "production"
    assert settings.store_url == "s3://minio:9000/advisor"
    assert settings.redis_url == environment["ADVISOR_REDIS_URL"]


def test_gateway_and_engine_agree_on_model_name_rank_and_adapter_folder() -> None:
    gateway, vllm = SERVICES["gateway"], SERVICES["vllm"]
    flags = flag_values(command_words(vllm["command"]))
    environment = gateway["environment"]
    assert environment["ADVISOR_VLLM_SERVED_MODEL"] == flags["--served-model-name"]
    assert environment["ADVISOR_BASE_MODEL"] == flags["--model"]
    assert environment["ADVISOR_MAX_LORA_RANK"] == flags["--max-lora-rank"]
    assert int(environment["ADVISOR_MAX_IN_FLIGHT"]) >= int(flags["--max-num-seqs"] or 0)
    # The gateway writes bundles into the volume; the engine reads them by its own path.
    assert f"adapters:{environment['ADVISOR_ADAPTER_DIR']}" in gateway["volumes"]
    assert f"adapters:{environment['ADVISOR_VLLM_ADAPTER_DIR']}:ro" in vllm["volumes"]


def image_folders_owned_by_the_service_user(dockerfile: str) -> set[str]:
    """Folders the runtime stage creates (`mkdir -p`) inside a tree it chowns to `advisor`."""
    image = parse_dockerfile((REPO / dockerfile).read_text())
    created: set[str] = set()
    owned: list[str] = []
    for run in [i for i in image.final_stage if i.keyword == "RUN"]:
        for command in run.arguments.split("&&"):
            words = command.split()
            if words[:2] == ["mkdir", "-p"]:
                created.update(words[2:])
            if words[:3] == ["chown", "-R", "advisor:advisor"]:
                owned.extend(words[3:])
    return {c for c in created if any(c == o or c.startswith(o + "/") for o in owned)}


@pytest.mark.parametrize("name", OUR_SERVICES)
def test_named_volumes_mount_on_folders_the_image_gives_its_user(name: str) -> None:
    """A named volume copies the ownership of the image folder it mounts on; on a folder the
    image lacks it would be root's, and the service (uid 10001) could not write to it."""
    service = SERVICES[name]
    owned = image_folders_owned_by_the_service_user(service["build"]["dockerfile"])
    tmpfs_volumes = {
        volume
        for volume, spec in compose()["volumes"].items()
        if (spec or {}).get("driver_opts", {}).get("type") == "tmpfs"
    }
    for mount in service.get("volumes", []):
        source, target, *options = mount.split(":")
        # Bind mounts, tmpfs volumes and read-only mounts need no write access of uid 10001.
        if source.startswith("./") or source in tmpfs_volumes or options == ["ro"]:
            continue
        assert target in owned, f"{name}: {target} is not created for uid 10001 in the image"


def test_the_shared_adapter_volume_belongs_to_the_gateway_user() -> None:
    options = compose()["volumes"]["adapters"]["driver_opts"]
    assert options["type"] == "tmpfs"
    assert "uid=10001" in options["o"] and "gid=10001" in options["o"]


def test_worker_queues_are_the_ones_the_services_send_to() -> None:
    from advisor_evaluator.core.config import Settings as EvaluatorSettings

    evaluator_words = command_words(SERVICES["evaluator-worker"]["command"])
    assert queues(evaluator_words) == [EvaluatorSettings.model_fields["queue_name"].default]
    trainer_worker = REPO / "services/trainer/advisor_trainer/jobs/runtime.py"
    constants = {
        node.targets[0].id: node.value.value
        for node in ast.parse(trainer_worker.read_text()).body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Constant)
    }
    assert queues(command_words(SERVICES["trainer-worker"]["command"])) == [constants["QUEUE"]]
