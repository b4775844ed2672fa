"""Import a LoRA adapter saved by PEFT or Unsloth (`model.save_pretrained(DIR)`) as a bundle.

The folder must hold `adapter_config.json` and `adapter_model.safetensors`. Before anything is
written, the adapter is checked as the gateway would check it: a plain LoRA, rank and target
modules within the serving limits, finite weights, and tensors shaped like the base model's
Linear layers (read from the base's config.json or its safetensors headers, never loaded).
The bundle keeps the chat template the adapter was trained with: the folder's own
(`chat_template.jinja`, or the one in its tokenizer_config.json, as `tokenizer.save_pretrained`
leaves it), else the base model's. It is then read back and verified like any other bundle.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import lora_checks
from .bundle import BundleRef, read_bundle, validate_adapter_name, write_bundle
from .chat_template import template_fingerprint
from .errors import BundleError
from .model_files import hub_snapshot, read_chat_template, read_linear_shapes
from .models import ResolvedModel
from .safetensors_header import inspect_safetensors, non_finite_tensors
from .store import ObjectStore

IMPORT_FORMAT = "advisor-imported-adapter/1"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
# What a hub download fetches: the adapter, its template, an HF Trainer checkpoint's state.
HUB_FILES = (*ADAPTER_FILES, "chat_template.jinja", "tokenizer_config.json", "trainer_state.json")
# An HF Trainer checkpoint's own trainer_state.json is kept in the ledger up to this size.
MAX_SOURCE_STATE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class BaseModelFiles:
    """What the import compares an adapter with: the base's identity, and its files if local."""

    resolved: ResolvedModel
    folder: Path | None

    @property
    def linear_shapes(self) -> dict[str, tuple[int, int]] | None:
        return read_linear_shapes(self.folder) if self.folder else None

    @property
    def chat_template(self) -> str | None:
        return read_chat_template(self.folder) if self.folder else None


@dataclass
class ImportResult:
    ref: BundleRef
    rank: int
    target_modules: tuple[str, ...]
    chat_template_source: str
    warnings: list[str] = field(default_factory=list)


def find_adapter_folder(source: Path) -> Path:
    """`source` if it holds a PEFT adapter; otherwise a BundleError that says what is missing
    (and names the checkpoint folders inside, as a training run's output folder has)."""
    folder = Path(source).expanduser()
    if not folder.is_dir():
        raise BundleError(f"{str(source)[:200]!r} is not a folder")
    missing = [f for f in ADAPTER_FILES if not (folder / f).is_file()]
    if not missing:
        return folder
    if "adapter_model.safetensors" in missing and (folder / "adapter_model.bin").is_file():
        raise BundleError(
            f"{folder.name}: the weights are a pickle (adapter_model.bin); only safetensors are "
            "imported: save again with `save_pretrained(..., safe_serialization=True)`"
        )
    checkpoints = sorted(p.name for p in folder.glob("checkpoint-*") if p.is_dir())
    hint = f"; it holds {', '.join(checkpoints[:5])}: import one of them" if checkpoints else ""
    raise BundleError(
        f"{folder.name}: no {' and no '.join(missing)} (not a PEFT adapter folder){hint}"
    )


def download_from_hub(repo_id: str, dest: Path) -> Path:
    """A PEFT adapter repository on the Hugging Face hub, its adapter files only."""
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HfHubHTTPError
    except ImportError:
        raise BundleError("importing from the hub needs the huggingface_hub package") from None
    try:
        path = snapshot_download(repo_id, local_dir=dest, allow_patterns=list(HUB_FILES))
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise BundleError(
            f"cannot download adapter {repo_id!r} from the hub: {str(exc)[:200]}"
        ) from None
    return Path(path)


def import_adapter(
    store: ObjectStore,
    source: Path,
    name: str,
    base: BaseModelFiles,
    *,
    origin: str,
    max_rank: int = lora_checks.DEFAULT_MAX_LORA_RANK,
    allowed_targets: Iterable[str] = lora_checks.DEFAULT_TARGET_MODULES,
) -> ImportResult:
    """Check the adapter in `source` against `base`, then write and verify the next version
    of `name`. `origin` (a folder name or hub id) is recorded in the bundle's ledger."""
    validate_adapter_name(name)
    folder = find_adapter_folder(source)
    config = _read_json_object(folder / "adapter_config.json")
    spec = lora_checks.check_lora_config(config, max_rank=max_rank, allowed_targets=allowed_targets)
    tensors = inspect_safetensors(folder / "adapter_model.safetensors")
    shapes = base.linear_shapes
    lora_checks.check_tensors(tensors, spec, shapes, config.get("rank_pattern"))
    broken = non_finite_tensors(folder / "adapter_model.safetensors")
    if broken:
        raise BundleError(
            f"adapter_model.safetensors: {len(broken)} tensor(s) hold NaN or "
            f"infinite values (e.g. {broken[0][:100]})"
        )
    warnings = (
        []
        if shapes
        else [
            f"the shapes of {base.resolved.name!r} are unknown here: checked by the engine at load"
        ]
    )
    template, template_source = _training_template(folder, base, warnings)
    declared = config.get("base_model_name_or_path")
    if isinstance(declared, str) and declared and declared != base.resolved.name:
        warnings.append(
            f"adapter_config.json names base {declared[:100]!r}; checked against "
            f"{base.resolved.name!r} (same shapes)"
        )
    with tempfile.TemporaryDirectory(prefix="advisor-import-") as staging:
        stage = Path(staging)
        for filename in ADAPTER_FILES:
            shutil.copyfile(folder / filename, stage / filename)
        (stage / "chat_template.jinja").write_text(template, encoding="utf-8")
        ledger = _import_ledger(folder, origin, config, template_source)
        (stage / "trainer_state.json").write_text(json.dumps(ledger, indent=2), encoding="utf-8")
        peft_version = config.get("peft_version")
        ref = write_bundle(
            store,
            name,
            stage,
            base_model_id=base.resolved.name,
            base_fingerprint=base.resolved.fingerprint,
            chat_template_sha256=template_fingerprint(template),
            libraries={"peft": peft_version} if isinstance(peft_version, str) else {},
        )
        read_bundle(store, ref, stage / "verify")  # as every reader will: sha256 and header
    return ImportResult(ref, spec.rank, spec.target_modules, template_source, warnings)


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BundleError(f"{path.name} is not valid JSON") from None
    if not isinstance(value, dict):
        raise BundleError(f"{path.name} must be a JSON object")
    return value


def _training_template(folder: Path, base: BaseModelFiles, warnings: list[str]) -> tuple[str, str]:
    """The template the adapter was trained with, and where it came from."""
    own = read_chat_template(folder)
    base_template = base.chat_template
    if own is not None:
        if base_template is not None and own != base_template:
            warnings.append(
                "the adapter's chat template differs from the base model's: the gateway "
                "refuses it unless ADVISOR_TEMPLATE_MISMATCH=flag (it serves the base's template)"
            )
        return own, "adapter folder"
    if base_template is not None:
        warnings.append(
            "the folder has no chat template: recorded the base model's, assuming "
            "the adapter was trained with it"
        )
        return base_template, "base model"
    raise BundleError(
        f"{folder.name}: no chat template in the folder (chat_template.jinja or "
        "tokenizer_config.json) and none readable from the base model; save the tokenizer "
        "the adapter was trained with into the folder"
    )


def _import_ledger(
    folder: Path, origin: str, config: dict[str, Any], template_source: str
) -> dict[str, Any]:
    """The ledger of an imported bundle: where it came from. It has no sessions of ours, so
    `advisor train --resume` refuses it as a starting point, by its format."""
    ledger: dict[str, Any] = {
        "format": IMPORT_FORMAT,
        "imported_from": origin,
        "imported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "adapter_config_base_model": config.get("base_model_name_or_path"),
        "peft_version": config.get("peft_version"),
        "chat_template_from": template_source,
    }
    source_state = folder / "trainer_state.json"
    if source_state.is_file() and source_state.stat().st_size <= MAX_SOURCE_STATE_BYTES:
        try:
            # An HF Trainer checkpoint (Unsloth, TRL): its steps and loss history.
            ledger["source_trainer_state"] = json.loads(source_state.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            pass  # not worth refusing the adapter over; the bundle simply lacks it
    return ledger


def base_model_files(resolved: ResolvedModel, hub_cache: Path | None = None) -> BaseModelFiles:
    """A local base is read from its folder. A hub id is read from a Hugging Face cache that
    holds it (`hub_cache`: in the gateway's container, the engine's, mounted read-only), else
    its config and tokenizer files are fetched (a few kB, no weights) when the hub client is
    installed; without either, the shapes stay unchecked here (the engine checks them)."""
    if resolved.is_local:
        return BaseModelFiles(resolved, Path(resolved.location))
    cached = hub_snapshot(hub_cache, resolved.location) if hub_cache else None
    if cached is not None:
        return BaseModelFiles(resolved, cached)
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HfHubHTTPError
    except ImportError:
        return BaseModelFiles(resolved, None)
    patterns = ["config.json", "tokenizer_config.json", "chat_template.jinja"]
    try:
        return BaseModelFiles(
            resolved, Path(snapshot_download(resolved.location, allow_patterns=patterns))
        )
    except (HfHubHTTPError, OSError, ValueError):
        return BaseModelFiles(resolved, None)
