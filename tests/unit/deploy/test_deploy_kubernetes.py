"""k8s/: every overlay builds with `kubectl kustomize` and every rendered object validates
offline against the Kubernetes JSON schemas (kubernetes-validate, strict: unknown fields fail).
KEDA's kinds are validated against the schema in keda_schema.py. Then the objects are checked
against each other and against compose.yaml."""

from __future__ import annotations

import copy
import re
from typing import Any

import kubernetes_validate
import pytest
import yaml
from deploy_files import (
    K8S,
    OVERLAYS,
    app_references,
    command_words,
    compose,
    container_words,
    containers,
    env_example_assignments,
    find,
    kubectl,
    local_compose,
    missing_app_reference,
    queues,
    rendered,
    selects,
    workloads,
)
from jsonschema import Draft202012Validator
from keda_schema import KEDA_SCHEMAS
from kubernetes_validate.utils import SchemaNotFoundError

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(kubectl() is None, reason="kubectl is not installed: cannot render k8s/"),
]

# .env variables only compose reads: Flower's login (no Flower is deployed on Kubernetes).
COMPOSE_ONLY = {"FLOWER_USER", "FLOWER_PASSWORD"}
# Set in both, to different values on purpose: Flower is a compose profile only, so the console
# on Kubernetes has no Flower link (an empty value).
DIFFERS_BY_DESIGN = {"ADVISOR_FLOWER_URL"}

# The oldest Kubernetes release we support and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.29.0", "1.37.0")
# overlays/cpu: the stack compose.local.yaml runs (no GPU), compared with it below.
BUILDS = (*(f"overlays/{o}" for o in OVERLAYS), "overlays/cpu", "jobs/train")
GPU = "nvidia.com/gpu"


def validate(obj: dict[str, Any], version: str) -> None:
    if obj["apiVersion"].startswith("keda.sh/"):
        Draft202012Validator(KEDA_SCHEMAS[obj["kind"]]).validate(obj)
        return
    kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("build", BUILDS)
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_rendered_object_validates_offline(build: str, version: str) -> None:
    objects = rendered(build)
    assert len(objects) >= 2
    for obj in objects:
        validate(obj, version)


def test_validation_is_strict_and_works_offline() -> None:
    deployment = copy.deepcopy(find(rendered("overlays/single-gpu"), "Deployment", "gateway"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="livenesProbe"):
        kubernetes_validate.validate(deployment, "1.37.0", strict=True)
    scaled = copy.deepcopy(find(rendered("overlays/cluster"), "ScaledObject", "evaluator-worker"))
    scaled["spec"]["triggers"][0]["metadata"]["listLength"] = 4  # KEDA wants strings
    with pytest.raises(Exception, match="is not of type 'string'"):
        validate(scaled, "1.37.0")
    with pytest.raises(SchemaNotFoundError):
        kubernetes_validate.validate({"apiVersion": "example.com/v1", "kind": "Thing"}, "1.37.0")


@pytest.mark.parametrize("build", BUILDS)
def test_everything_lands_in_the_advisor_namespace(build: str) -> None:
    for obj in rendered(build):
        if obj["kind"] == "Namespace":
            assert obj["metadata"]["name"] == "advisor"
        else:
            assert obj["metadata"]["namespace"] == "advisor", obj["metadata"]["name"]


def kinds(build: str) -> set[tuple[str, str]]:
    return {(o["kind"], o["metadata"]["name"]) for o in rendered(build)}


def test_single_gpu_overlay_runs_the_whole_stack_in_cluster() -> None:
    present = kinds("overlays/single-gpu")
    for expected in [
        ("Deployment", "gateway"),
        ("Deployment", "vllm"),
        ("Deployment", "evaluator-api"),
        ("Deployment", "evaluator-worker"),
        ("Deployment", "auditor-api"),
        ("Deployment", "auditor-worker"),
        ("Deployment", "trainer-api"),
        ("Deployment", "trainer-worker"),
        ("StatefulSet", "redis"),
        ("StatefulSet", "minio"),
        ("Job", "minio-init"),
        ("ConfigMap", "advisor-config"),
        ("Namespace", "advisor"),
    ]:
        assert expected in present
    assert not any(kind in ("ScaledObject", "HorizontalPodAutoscaler") for kind, _ in present)
    assert ("Secret", "advisor-secrets") not in present  # never overwritten by an apply


def replicas(build: str, name: str) -> int:
    return int(find(rendered(build), "Deployment", name)["spec"]["replicas"])


def gpu_request(workload: dict[str, Any]) -> int:
    return sum(int(c["resources"]["requests"].get(GPU, 0)) for c in containers(workload))


def test_single_gpu_overlay_fits_one_gpu() -> None:
    objects = rendered("overlays/single-gpu")
    running = {
        w["metadata"]["name"]: gpu_request(w) * int(w["spec"].get("replicas", 1))
        for w in workloads(objects)
    }
    assert {name: n for name, n in running.items() if n} == {"vllm": 1}
    assert replicas("overlays/single-gpu", "trainer-worker") == 0


def test_only_the_engine_and_the_trainer_ask_for_gpus() -> None:
    for build in BUILDS:
        asking = {w["metadata"]["name"] for w in workloads(rendered(build)) if gpu_request(w)}
        assert asking <= {"vllm", "trainer-worker", "advisor-train"}
    assert replicas("overlays/cluster", "trainer-worker") == 1


def test_engine_probes_health_and_drains_slowly() -> None:
    vllm = find(rendered("overlays/single-gpu"), "Deployment", "vllm")
    pod = vllm["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}
    # Up to 30 minutes to download ~15 GB on the first start.
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] == 1800
    assert pod["terminationGracePeriodSeconds"] == 120
    assert container["resources"]["requests"][GPU] == 1
    assert container["resources"]["limits"][GPU] == 1
    assert vllm["spec"]["strategy"] == {"type": "Recreate"}


def test_engine_flags_match_compose() -> None:
    vllm = find(rendered("overlays/single-gpu"), "Deployment", "vllm")
    (container,) = vllm["spec"]["template"]["spec"]["containers"]
    assert container["args"] == command_words(compose()["services"]["vllm"]["command"])
    assert container["image"] == compose()["services"]["vllm"]["image"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] == "True"


# Kubernetes workload -> the compose service running the same process.
SAME_PROCESS = {
    "gateway": "gateway",
    "evaluator-api": "evaluator",
    "evaluator-worker": "evaluator-worker",
    "auditor-api": "auditor",
    "auditor-worker": "auditor-worker",
    "trainer-api": "trainer",
    "trainer-worker": "trainer-worker",
}


def settings_environment(build: str, workload: str) -> dict[str, str | None]:
    """ADVISOR_* variables a container gets: its env entries and the ConfigMaps it loads."""
    objects = rendered(build)
    (container,) = find(objects, "Deployment", workload)["spec"]["template"]["spec"]["containers"]
    variables: dict[str, str | None] = {}
    for source in container.get("envFrom", []):
        config_map = find(objects, "ConfigMap", source["configMapRef"]["name"])
        variables.update(config_map["data"])
    for entry in container.get("env", []):
        variables[entry["name"]] = entry.get("value")
    return {k: v for k, v in variables.items() if k.startswith("ADVISOR_")}


@pytest.mark.parametrize(("workload", "service"), sorted(SAME_PROCESS.items()))
def test_workloads_run_the_compose_command_with_the_same_settings(
    workload: str, service: str
) -> None:
    build = "overlays/single-gpu"
    (container,) = find(rendered(build), "Deployment", workload)["spec"]["template"]["spec"][
        "containers"
    ]
    compose_service = compose()["services"][service]
    assert container["command"] == command_words(compose_service["command"])
    # The same image, tag included: what `docker compose build` makes is what the nodes run.
    assert container["image"] == compose_service["image"]
    k8s_env = settings_environment(build, workload)
    compose_env = {k: str(v) for k, v in compose_service["environment"].items()}
    assert set(k8s_env) == {k for k in compose_env if k.startswith("ADVISOR_")}
    for key, value in k8s_env.items():
        if key in DIFFERS_BY_DESIGN:
            continue
        if "${" not in compose_env[key] and "$(" not in str(value):
            assert value == compose_env[key], key


# Settings whose values say where a service is: loopback ports in compose.local.yaml, the
# cluster's Services in k8s/.
WHERE = {
    "ADVISOR_STORE_URL",
    "ADVISOR_REDIS_URL",
    "ADVISOR_INFERENCE_URL",
    "ADVISOR_AUDITOR_URL",
    "ADVISOR_FLOWER_URL",
    "ADVISOR_EVALUATOR_URL",
    "ADVISOR_TRAINER_URL",
}
# compose.local.yaml's for its host only: the sample corpus from ./data, one torch thread.
HOST_ONLY = {"ADVISOR_AUDITOR_SOURCES", "ADVISOR_TORCH_THREADS"}


def _without_host_and_port(words: list[str]) -> list[str]:
    return [
        w
        for i, w in enumerate(words)
        if w not in ("--host", "--port") and words[i - 1] not in ("--host", "--port")
    ]


@pytest.mark.parametrize(("workload", "service"), sorted(SAME_PROCESS.items()))
def test_cpu_overlay_runs_the_images_and_settings_of_the_local_compose_stack(
    workload: str, service: str
) -> None:
    build = "overlays/cpu"
    (container,) = find(rendered(build), "Deployment", workload)["spec"]["template"]["spec"][
        "containers"
    ]
    local = local_compose()["services"][service]
    assert container["image"] == local["image"]
    assert _without_host_and_port(container["command"]) == _without_host_and_port(
        command_words(local["command"])
    )
    k8s_env = settings_environment(build, workload)
    local_env = {k: str(v) for k, v in local["environment"].items() if k.startswith("ADVISOR_")}
    assert set(k8s_env) == set(local_env) - HOST_ONLY
    for key, value in k8s_env.items():
        if key in WHERE | DIFFERS_BY_DESIGN:
            continue
        if "${" not in local_env[key] and "$(" not in str(value):
            assert value == local_env[key], key
    assert not any(
        "nvidia.com/gpu" in str(c.get("resources"))
        for c in containers(find(rendered(build), "Deployment", workload))
    )


def test_cpu_overlay_has_no_engine_of_its_own() -> None:
    names = {(o["kind"], o["metadata"]["name"]) for o in rendered("overlays/cpu")}
    assert not any("vllm" in name for _, name in names)
    assert ("Deployment", "vllm") in kinds("overlays/single-gpu")


@pytest.mark.parametrize("build", BUILDS)
def test_commands_name_modules_that_exist(build: str) -> None:
    missing = [
        (w["metadata"]["name"], reason)
        for w in workloads(rendered(build))
        for c in containers(w)
        for probe in [c.get("livenessProbe", {}).get("exec", {}).get("command", [])]
        for ref in app_references(container_words(c)) + app_references(probe)
        if (reason := missing_app_reference(ref))
    ]
    assert missing == []


def test_secret_template_lists_exactly_the_keys_the_stack_reads() -> None:
    template = yaml.safe_load((K8S / "base/secret.template.yaml").read_text())
    assert template["kind"] == "Secret" and template["metadata"]["name"] == "advisor-secrets"
    assert set(template["stringData"].values()) == {""}  # a template: no value is real
    referenced = {
        entry["valueFrom"]["secretKeyRef"]["key"]
        for build in BUILDS
        for w in workloads(rendered(build))
        for c in containers(w)
        for entry in c.get("env", [])
        if "secretKeyRef" in entry.get("valueFrom", {})
    }
    keda_keys = {
        ref["key"]
        for o in rendered("overlays/cluster")
        if o["kind"] == "TriggerAuthentication"
        for ref in o["spec"]["secretTargetRef"]
    }
    assert set(template["stringData"]) == referenced | keda_keys
    # `kubectl create secret generic --from-env-file=.env` gives these keys, and Flower's login,
    # which only compose's `flower` profile reads (no Flower is deployed on Kubernetes).
    assert set(template["stringData"]) == set(env_example_assignments()) - COMPOSE_ONLY
    validate(template, "1.37.0")


@pytest.mark.parametrize("build", BUILDS)
def test_pods_meet_the_restricted_pod_security_standard(build: str) -> None:
    for workload in workloads(rendered(build)):
        name = workload["metadata"]["name"]
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        for container in containers(workload):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), name
            assert "memory" in resources["limits"], name


@pytest.mark.parametrize("build", BUILDS)
def test_clients_of_redis_and_minio_carry_the_labels_the_policies_admit(build: str) -> None:
    for workload in workloads(rendered(build)):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        for container in containers(workload):
            names = {e["name"] for e in container.get("env", [])}
            if "ADVISOR_REDIS_URL" in names:
                assert labels.get("advisor-stack/redis-client") == "true", labels
            env_from = [s["configMapRef"]["name"] for s in container.get("envFrom", [])]
            if "advisor-config" in env_from or "ADVISOR_S3_ACCESS_KEY" in names:
                assert labels.get("advisor-stack/store-client") == "true", labels


def ingress_sources(objects: tuple[dict[str, Any], ...], target: str) -> list[Any]:
    """The `from` clauses of every NetworkPolicy that selects the pods named `target`."""
    sources: list[Any] = []
    for policy in [o for o in objects if o["kind"] == "NetworkPolicy"]:
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        if selector and selects(selector, {"app.kubernetes.io/name": target}):
            sources.extend(rule.get("from", "anyone") for rule in policy["spec"]["ingress"])
    return sources


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_engine_and_redis_are_private(overlay: str) -> None:
    objects = rendered(f"overlays/{overlay}")
    deny = find(objects, "NetworkPolicy", "default-deny-ingress")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    assert ingress_sources(objects, "vllm") == [
        [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gateway"}}}]
    ]
    redis_sources = ingress_sources(objects, "redis")
    assert redis_sources[0] == [
        {"podSelector": {"matchLabels": {"advisor-stack/redis-client": "true"}}}
    ]
    keda = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}}]
    assert redis_sources[1:] == ([keda] if overlay == "cluster" else [])
    # The engine and the data services publish nothing outside the cluster.
    for obj in objects:
        if obj["kind"] == "Service":
            assert obj["spec"].get("type", "ClusterIP") == "ClusterIP"


@pytest.mark.parametrize("build", BUILDS)
def test_services_and_budgets_select_existing_pods(build: str) -> None:
    objects = rendered(build)
    templates = [w["spec"]["template"] for w in workloads(objects)]
    for obj in objects:
        if obj["kind"] == "Service":
            selector = obj["spec"]["selector"]
        elif obj["kind"] == "PodDisruptionBudget":
            selector = obj["spec"]["selector"]["matchLabels"]
        else:
            continue
        matching = [t for t in templates if selects(selector, t["metadata"]["labels"])]
        assert matching, f"{obj['kind']}/{obj['metadata']['name']} selects no pod"
        if obj["kind"] == "Service":
            port_names = {
                p.get("name") for t in matching for c in t["spec"]["containers"] for p in c["ports"]
            }
            for port in obj["spec"]["ports"]:
                assert port["targetPort"] in port_names


def test_autoscalers_target_existing_deployments_and_their_queues() -> None:
    objects = rendered("overlays/cluster")
    services = {o["metadata"]["name"] for o in objects if o["kind"] == "Service"}
    scaled = {}
    for obj in objects:
        if obj["kind"] == "HorizontalPodAutoscaler":
            target = obj["spec"]["scaleTargetRef"]
            find(objects, target["kind"], target["name"])
            assert replicas("overlays/cluster", target["name"]) == obj["spec"]["minReplicas"]
        if obj["kind"] == "ScaledObject":
            target = find(objects, "Deployment", obj["spec"]["scaleTargetRef"]["name"])
            (container,) = target["spec"]["template"]["spec"]["containers"]
            (trigger,) = obj["spec"]["triggers"]
            assert trigger["type"] == "redis"
            # The list KEDA measures is the queue the worker consumes.
            assert [trigger["metadata"]["listName"]] == queues(container["command"])
            host = re.match(r"^([a-z0-9-]+)\.advisor\.svc", trigger["metadata"]["address"])
            assert host and host[1] in services
            find(objects, "TriggerAuthentication", trigger["authenticationRef"]["name"])
            scaled[target["metadata"]["name"]] = trigger["metadata"]["listName"]
    assert scaled == {"evaluator-worker": "evaluator", "auditor-worker": "auditor"}


def test_cluster_overlay_shares_volumes_across_nodes() -> None:
    objects = rendered("overlays/cluster")
    for name in ("adapters", "model-cache", "trainer-data"):
        claim = find(objects, "PersistentVolumeClaim", name)
        assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    for name in ("vllm", "trainer-worker"):
        pod = find(objects, "Deployment", name)["spec"]["template"]["spec"]
        assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}


@pytest.mark.parametrize("build", [f"overlays/{o}" for o in OVERLAYS])
def test_the_gateway_reads_the_engines_chat_template_read_only(build: str) -> None:
    """The gateway mounts the engine's model volume read-only where ADVISOR_VLLM_HF_CACHE
    expects vLLM's hub cache (vLLM's HF_HOME plus `hub`)."""
    objects = rendered(build)
    gateway = find(objects, "Deployment", "gateway")["spec"]["template"]["spec"]
    (container,) = gateway["containers"]
    hub = {e["name"]: e.get("value") for e in container["env"]}["ADVISOR_VLLM_HF_CACHE"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "model-cache"]
    assert mount["readOnly"] is True and hub == f"{mount['mountPath']}/hub"
    (volume,) = [v for v in gateway["volumes"] if v["name"] == "model-cache"]
    assert volume["persistentVolumeClaim"] == {"claimName": "model-cache", "readOnly": True}
    (engine,) = find(objects, "Deployment", "vllm")["spec"]["template"]["spec"]["containers"]
    home = {e["name"]: e.get("value") for e in engine["env"]}["HF_HOME"]
    (engine_mount,) = [m for m in engine["volumeMounts"] if m["name"] == "model-cache"]
    assert home == f"{engine_mount['mountPath']}/{mount['subPath']}"


def test_train_job_config_is_a_valid_training_config() -> None:
    from advisor_trainer.config import TrainingJobConfig

    objects = rendered("jobs/train")
    (config_map,) = [o for o in objects if o["kind"] == "ConfigMap"]
    fields = yaml.safe_load(config_map["data"]["train.yaml"])
    config = TrainingJobConfig.from_mapping(fields)
    assert config.base_model == "mistralai/Mistral-7B-Instruct-v0.3"
    job = find(objects, "Job", "advisor-train")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert container["command"][:4] == [
        "advisor",
        "train",
        "--config",
        "/etc/advisor/train/train.yaml",
    ]
    assert "/etc/advisor/train" in mounts
    assert config.dataset.startswith("/var/lib/advisor/data/") and "/var/lib/advisor/data" in mounts
