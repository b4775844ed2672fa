"""Readers for the deployment files, shared by the deploy tests.

No Docker engine runs here, so the tests read compose.yaml, the Dockerfiles and the rendered
kustomize overlays as data and check them against the repository: the services' pyproject
files, their Settings classes and the modules their commands name.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
COMPOSE_FILE = REPO / "compose.yaml"
ENV_EXAMPLE = REPO / ".env.example"
K8S = REPO / "k8s"
OVERLAYS = ("single-gpu", "cluster")
# Services of the repository: directory under services/ -> Python package.
SERVICES = {name: f"advisor_{name}" for name in ("inference", "evaluator", "auditor", "trainer")}

_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\}")


# --- compose ---------------------------------------------------------------------------------


@cache
def compose_text() -> str:
    return COMPOSE_FILE.read_text()


@cache
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(compose_text())
    assert isinstance(loaded, dict)
    return loaded


@cache
def local_compose() -> dict[str, Any]:
    """compose.yaml with compose.local.yaml, merged as deploy/local/compose_v1.py does for v1."""
    spec = importlib.util.spec_from_file_location("compose_v1", REPO / "deploy/local/compose_v1.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rendered = module.render([COMPOSE_FILE, REPO / "compose.local.yaml"])
    assert isinstance(rendered, dict)
    return rendered


def interpolations(text: str) -> list[tuple[str, str, str]]:
    """Every `${NAME<op><arg>}` in `text` as (name, op, arg); op is '' for a bare `${NAME}`."""
    unescaped = text.replace("$$", "")
    return [(m["name"], m["op"] or "", m["arg"]) for m in _INTERPOLATION.finditer(unescaped)]


def interpolate(value: str, env: dict[str, str]) -> str:
    """Resolve compose interpolation the way `docker compose` does for the forms we use."""

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"] or "", match["arg"]
        if op in (":?", "?"):
            if not env.get(name):
                raise KeyError(f"{name}: {arg}")
            return env[name]
        if op in (":-", "-"):
            return env.get(name) or arg
        return env.get(name, "")

    return _INTERPOLATION.sub(substitute, value).replace("$$", "$")


def command_words(command: str | list[str] | None) -> list[str]:
    if command is None:
        return []
    return shlex.split(command) if isinstance(command, str) else [str(w) for w in command]


def healthcheck_words(service: dict[str, Any]) -> list[str]:
    test = service.get("healthcheck", {}).get("test", [])
    if isinstance(test, str):
        return shlex.split(test)
    if test and test[0] == "CMD-SHELL":
        return shlex.split(test[1])
    return list(test[1:]) if test and test[0] == "CMD" else list(test)


def env_example_assignments() -> dict[str, str]:
    """`NAME=value` lines of .env.example (the variables an operator sets)."""
    found: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            found[match[1]] = match[2]
    return found


def env_example_mentions() -> set[str]:
    """Every variable name written in .env.example, assigned or documented in a comment."""
    return set(re.findall(r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b", ENV_EXAMPLE.read_text()))


# --- commands and the modules they name ------------------------------------------------------


@dataclass(frozen=True)
class AppReference:
    """`module:attribute` (uvicorn --factory) or `module` (celery -A) named by a command."""

    module: str
    attribute: str | None
    kind: str  # "uvicorn-factory", "uvicorn-protocol" (`--http`) or "celery-app"


def app_references(words: list[str]) -> list[AppReference]:
    """What a uvicorn or celery command line asks Python to import."""
    if not words:
        return []
    program = Path(words[0]).name
    if program == "uvicorn" and "--factory" in words:
        target = next(w for w in words[1:] if not w.startswith("-") and ":" in w)
        module, attribute = target.split(":", 1)
        found = [AppReference(module, attribute, "uvicorn-factory")]
        if "--http" in words and ":" in words[words.index("--http") + 1]:
            module, attribute = words[words.index("--http") + 1].split(":", 1)
            found.append(AppReference(module, attribute, "uvicorn-protocol"))
        return found
    if program == "celery" and "-A" in words:
        return [AppReference(words[words.index("-A") + 1], None, "celery-app")]
    if program in ("sh", "/bin/sh") and "-c" in words:
        return app_references(shlex.split(words[words.index("-c") + 1]))
    return []


def module_file(module: str) -> Path:
    """Where `advisor_<name>.x.y` lives in this repository (a module file or a package)."""
    package, *rest = module.split(".")
    service = package.removeprefix("advisor_")
    root = REPO / ("shared" if service == "shared" else f"services/{service}") / package
    candidate = root.joinpath(*rest) if rest else root
    if (candidate / "__init__.py").is_file():
        return candidate / "__init__.py"
    return candidate.with_suffix(".py")


def top_level_names(path: Path) -> set[str]:
    """Functions, classes and assigned names defined at the top of a module."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                elements = target.elts if isinstance(target, ast.Tuple) else [target]
                names.update(e.id for e in elements if isinstance(e, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def missing_app_reference(ref: AppReference) -> str | None:
    """Why `ref` would fail to import in its image, or None when the module defines it."""
    path = module_file(ref.module)
    if not path.is_file():
        return f"{ref.module}: no module at {path.relative_to(REPO)}"
    names = top_level_names(path)
    if ref.kind in ("uvicorn-factory", "uvicorn-protocol") and ref.attribute not in names:
        return f"{ref.module}: defines no `{ref.attribute}`"
    # `celery -A module` looks for module.app, then module.celery.
    if ref.kind == "celery-app" and not names & {"app", "celery"}:
        return f"{ref.module}: defines neither `app` nor `celery`"
    return None


def queues(words: list[str]) -> list[str]:
    return words[words.index("-Q") + 1].split(",") if "-Q" in words else []


# --- Dockerfiles -----------------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    arguments: str
    stage: int


@dataclass
class Dockerfile:
    path: Path
    instructions: list[Instruction]
    args: dict[str, str] = field(default_factory=dict)

    def stage(self, index: int) -> list[Instruction]:
        return [i for i in self.instructions if i.stage == index]

    @property
    def final_stage(self) -> list[Instruction]:
        return self.stage(max(i.stage for i in self.instructions))

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(text: str, path: Path = Path("Dockerfile")) -> Dockerfile:
    """Instructions with continuation lines joined and comments dropped; stages numbered from 0
    at each FROM (global ARGs before the first FROM are stage -1). ARG defaults are collected."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    if pending:
        logical.append(pending)
    instructions: list[Instruction] = []
    args: dict[str, str] = {}
    stage = -1
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        if keyword == "ARG":
            name, _, default = arguments.strip().partition("=")
            args.setdefault(name, default.strip('"'))
        instructions.append(Instruction(keyword, arguments.strip(), stage))
    return Dockerfile(path, instructions, args)


def expand_args(text: str, args: dict[str, str]) -> str:
    # `${NAME:+word}`: the word when NAME is set and not empty, as the shell expands it.
    text = re.sub(
        r"\$\{([A-Za-z_][A-Za-z0-9_]*):\+([^}]*)\}",
        lambda m: m[2] if args.get(m[1]) else "",
        text,
    )
    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: args.get(m[1], m[0]), text)


@dataclass(frozen=True)
class PipInstall:
    """One `pip install` command: its options and what it installs."""

    targets: tuple[str, ...]
    index_url: str | None
    constraints: tuple[str, ...]


_PIP_OPTIONS_WITH_VALUE = {
    "-c": "constraint",
    "--constraint": "constraint",
    "-i": "index",
    "--index-url": "index",
    "--extra-index-url": "extra-index",
    "-r": "requirement",
    "--requirement": "requirement",
    "-f": "find-links",
    "--find-links": "find-links",
}


def shell_commands(text: str) -> list[list[str]]:
    """The simple commands of a shell line, split at `&&`, `||` and `;` outside quotes."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token in (";", "&&", "||"):
            commands.append([])
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def pip_installs(dockerfile: Dockerfile) -> list[PipInstall]:
    """Every `pip install` in RUN instructions, with ARG defaults substituted."""
    found: list[PipInstall] = []
    for run in dockerfile.all("RUN"):
        for words in shell_commands(expand_args(run.arguments, dockerfile.args)):
            if "pip" not in [Path(w).name for w in words[:2]] or "install" not in words:
                continue
            rest = words[words.index("install") + 1 :]
            targets: list[str] = []
            index_url: str | None = None
            constraints: list[str] = []
            position = 0
            while position < len(rest):
                word = rest[position]
                option, _, inline = word.partition("=")
                if option in _PIP_OPTIONS_WITH_VALUE:
                    value = inline or rest[position + 1]
                    position += 1 if inline else 2
                    kind = _PIP_OPTIONS_WITH_VALUE[option]
                    if kind == "index":
                        index_url = value
                    elif kind == "constraint":
                        constraints.append(value)
                    elif kind in ("extra-index", "find-links", "requirement"):
                        targets.append(f"{option}={value}")
                    continue
                if not word.startswith("-"):
                    targets.append(word)
                position += 1
            if targets:  # an optional install whose ARG is empty by default installs nothing
                found.append(PipInstall(tuple(targets), index_url, tuple(constraints)))
    return found


@dataclass(frozen=True)
class LocalProject:
    path: str  # relative to the build context, e.g. "services/trainer"
    extras: frozenset[str]


def local_project(target: str) -> LocalProject | None:
    """`./shared[models]` -> LocalProject('shared', {'models'}); None for a PyPI requirement."""
    match = re.match(r"^\./(?P<path>[^\[\]]+?)/?(?:\[(?P<extras>[^\]]*)\])?$", target)
    if not match:
        return None
    extras = frozenset(e.strip() for e in (match["extras"] or "").split(",") if e.strip())
    return LocalProject(match["path"], extras)


# --- kustomize -------------------------------------------------------------------------------


def kubectl() -> str | None:
    return shutil.which("kubectl")


@cache
def rendered(path: str) -> tuple[dict[str, Any], ...]:
    """`kubectl kustomize k8s/<path>` as parsed objects."""
    binary = kubectl()
    assert binary is not None
    result = subprocess.run(
        [binary, "kustomize", str(K8S / path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def workloads(objects: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] in ("Deployment", "StatefulSet", "Job")]


def find(objects: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} objects"
    return matches[0]


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = workload["spec"]["template"]["spec"]
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def container_words(container: dict[str, Any]) -> list[str]:
    return [str(w) for w in container.get("command", []) + container.get("args", [])]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())
