"""The trainer's GPU stack is pinned to what the GPU benchmarks ran with: the `gpu` extra, the
image's torch, its lock (constraints-gpu.txt), constraints.txt and the benchmark host's wheel
list all name the versions recorded in benchmarks/results/trainer_gpu.json."""

from __future__ import annotations

import json
import re
import tomllib

import pytest
from deploy_files import REPO, parse_dockerfile, pip_installs
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.unit


def benchmark_versions() -> dict[str, str]:
    results = json.loads((REPO / "benchmarks/results/trainer_gpu.json").read_text())
    return {canonicalize_name(k): v for k, v in results["versions"].items() if k != "python"}


def exact_pins(lines: list[str]) -> dict[str, str]:
    """{name: version} of `name==version` lines; anything else in `lines` fails the test."""
    pins = {}
    for line in lines:
        requirement = Requirement(line)
        (spec,) = requirement.specifier
        assert spec.operator == "==", f"{line!r} is not an exact pin"
        pins[canonicalize_name(requirement.name)] = spec.version
    return pins


def gpu_extra() -> dict[str, str]:
    with (REPO / "services/trainer/pyproject.toml").open("rb") as handle:
        extras = tomllib.load(handle)["project"]["optional-dependencies"]
    return exact_pins(extras["gpu"])


def pin_file(path: str) -> dict[str, str]:
    lines = (REPO / path).read_text().splitlines()
    return exact_pins([line for line in lines if line.strip() and not line.startswith("#")])


def test_the_gpu_extra_pins_every_benchmarked_package_at_its_version() -> None:
    versions, extra = benchmark_versions(), gpu_extra()
    benchmarked = {name: version for name, version in versions.items() if name != "torch"}
    assert {name: extra.get(name) for name in benchmarked} == benchmarked
    # Named in the issue: the four that constraints.txt used to leave open.
    assert {"unsloth", "unsloth-zoo", "bitsandbytes", "trl"} <= set(extra)


def test_the_image_installs_the_benchmarked_torch_and_the_gpu_extra_under_its_lock() -> None:
    image = parse_dockerfile((REPO / "services/trainer/Dockerfile").read_text())
    torch_install, project_install = pip_installs(image)
    assert torch_install.targets[0] == f"torch=={benchmark_versions()['torch']}"
    assert project_install.constraints == ("services/trainer/constraints-gpu.txt",)
    trainer = [t for t in project_install.targets if t.startswith("./services/trainer[")]
    assert trainer and "gpu" in re.findall(r"[\w-]+", trainer[0].split("[", 1)[1])


def test_the_lock_holds_the_extra_and_leaves_torch_to_the_cuda_index() -> None:
    lock, extra = pin_file("services/trainer/constraints-gpu.txt"), gpu_extra()
    assert {name: lock.get(name) for name in extra} == extra
    assert "torch" not in lock and "torchvision" not in lock


def test_constraints_and_the_benchmark_wheels_agree_with_the_extra() -> None:
    extra = gpu_extra()
    constraints = pin_file("constraints.txt")
    gpu_only = ("unsloth", "unsloth-zoo", "bitsandbytes", "trl", "torchao")
    assert {name: constraints.get(name) for name in gpu_only} == {n: extra[n] for n in gpu_only}
    # benchmarks/gpu_wheels.sh downloads what the benchmark host lacked: the same versions.
    script = (REPO / "benchmarks/gpu_wheels.sh").read_text()
    downloaded = {
        canonicalize_name(name): version
        for name, version in re.findall(r"\b([A-Za-z][\w.-]*)==([\w.]+)", script)
    }
    shared = set(downloaded) & set(extra)
    assert shared >= {"unsloth", "unsloth-zoo", "bitsandbytes", "trl", "torchao", "datasets"}
    assert {name: downloaded[name] for name in shared} == {name: extra[name] for name in shared}
