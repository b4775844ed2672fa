"""Merge compose.yaml with an override file that uses Compose v2's `!reset` and `!override`,
for Compose v1 (docker-compose 1.29), which has neither.

compose.local.yaml must take keys away from compose.yaml: a container on the host's network
cannot also join the private networks or publish a port, and v1 refuses both combinations. v2
(2.24 and newer) reads the override as it is:

    docker compose -f compose.yaml -f compose.local.yaml up -d

v1 reads the single file this writes, with the same merge rules for what the override uses:

    python3 deploy/local/compose_v1.py compose.yaml compose.local.yaml -o compose.local.rendered.yaml
    docker-compose -f compose.local.rendered.yaml up -d

Rules (those of Compose v2 for the keys an override of ours may hold): mappings merge key by
key; `!reset` removes the key; `!override` replaces the value whole; `command`, `entrypoint`
and a healthcheck's `test` are replaced. Any other list without a tag is refused: v2 would
append to it, and an override of ours states what it wants instead. Interpolation (`${...}`)
is left to docker-compose. Only PyYAML is needed (Debian's docker-compose brings it along).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

# Lists that Compose v2 replaces instead of appending to when an override sets them.
REPLACED_LISTS = frozenset({"command", "entrypoint", "test"})


class Reset:
    """`!reset`: the key goes away."""


class Override:
    """`!override VALUE`: the value replaces the base's whole."""

    def __init__(self, value: Any):
        self.value = value


class OverrideLoader(yaml.SafeLoader):
    """Reads compose files with the two tags of Compose v2 (anchors and `<<` as usual)."""


def _reset(loader: yaml.SafeLoader, node: yaml.Node) -> Reset:
    return Reset()


def _override(loader: yaml.SafeLoader, node: yaml.Node) -> Override:
    if isinstance(node, yaml.MappingNode):
        return Override(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return Override(loader.construct_sequence(node, deep=True))
    return Override(loader.construct_scalar(node))  # type: ignore[arg-type]


OverrideLoader.add_constructor("!reset", _reset)
OverrideLoader.add_constructor("!override", _override)


class MergeError(ValueError):
    """An override that this merge (or Compose v2) would not read the way its author meant."""


def merge(base: Any, override: Any, path: str = "") -> Any:
    """`override` applied to `base` under the rules in the module's docstring."""
    if isinstance(override, Override):
        return _plain(override.value, path)
    if isinstance(override, dict):
        if base is None:
            base = {}
        if not isinstance(base, dict):
            raise MergeError(
                f"{path}: a mapping in the override, a {type(base).__name__} in the base"
            )
        merged = dict(base)
        for key, value in override.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(value, Reset):
                merged.pop(key, None)
            elif key in merged:
                merged[key] = merge(merged[key], value, where)
            else:
                merged[key] = _plain(value, where)
        return merged
    if isinstance(override, list):
        name = path.rsplit(".", 1)[-1]
        if base is not None and name not in REPLACED_LISTS:
            raise MergeError(
                f"{path}: Compose v2 appends to this list; write `!override [...]` to replace it "
                "or `!reset []` to remove it"
            )
        return _plain(override, path)
    return override


def _plain(value: Any, path: str) -> Any:
    """A value of the override with no tag left inside it."""
    if isinstance(value, Override):
        return _plain(value.value, path)
    if isinstance(value, Reset):
        raise MergeError(f"{path}: `!reset` only removes a key of the base")
    if isinstance(value, dict):
        return {k: _plain(v, f"{path}.{k}") for k, v in value.items() if not isinstance(v, Reset)}
    if isinstance(value, list):
        return [_plain(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def load(path: Path) -> dict[str, Any]:
    loaded = yaml.load(path.read_text(), Loader=OverrideLoader)  # noqa: S506 (safe loader subclass)
    if not isinstance(loaded, dict):
        raise MergeError(f"{path}: not a compose file (a mapping at the top)")
    return loaded


def render(files: list[Path]) -> dict[str, Any]:
    """The files merged left to right, with extension fields (`x-...`) dropped: their anchors
    are resolved by then, and v1 would only carry them along."""
    merged: dict[str, Any] = _plain(load(files[0]), "")
    for path in files[1:]:
        merged = merge(merged, load(path))
    return {k: v for k, v in merged.items() if not str(k).startswith("x-")}


class _Dumper(yaml.SafeDumper):
    """Block style, no aliases: the rendered file reads like a hand-written one."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="compose.yaml, then the overrides")
    parser.add_argument("-o", "--output", type=Path, help="where to write (default: stdout)")
    args = parser.parse_args(argv)
    try:
        rendered = render(args.files)
    except (OSError, yaml.YAMLError, MergeError) as exc:
        print(f"compose_v1: {exc}", file=sys.stderr)
        return 2
    header = (
        "# Written by deploy/local/compose_v1.py from "
        + " + ".join(str(p) for p in args.files)
        + "; edit those, not this.\n"
    )
    text = header + yaml.dump(rendered, Dumper=_Dumper, sort_keys=False, width=100)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
