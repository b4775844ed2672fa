"""Adapter bundles read for display: the manifest, the handoff ledger (`trainer_state.json`)
and the LoRA config, each checked against the manifest's sha256 (a bundle that does not verify
is shown as such, never as good). Only small JSON files are read: no weights are downloaded."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from advisor_shared.bundle import (
    BundleRef,
    Manifest,
    list_adapters,
    list_versions,
    read_manifest,
    resolve_ref,
)
from advisor_shared.errors import AdvisorError
from advisor_shared.store import ObjectStore

from .charts import Marker, Series


@dataclass
class BundleView:
    ref: BundleRef
    manifest: Manifest | None = None
    ledger: dict[str, Any] = field(default_factory=dict)
    lora: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None

    @property
    def verified(self) -> bool:
        return self.problem is None and self.manifest is not None


def _verified_json(store: ObjectStore, ref: BundleRef, manifest: Manifest, name: str) -> Any:
    data = store.get_bytes(f"adapters/{ref.name}/{ref.version}/{name}")
    entry = manifest.files[name]
    if len(data) != entry.size or hashlib.sha256(data).hexdigest() != entry.sha256:
        raise AdvisorError(f"{name} does not match the manifest")
    return json.loads(data)


def read_bundle_view(store: ObjectStore, ref: BundleRef) -> BundleView:
    """The bundle's manifest, ledger and LoRA config, or the reason it cannot be shown."""
    try:
        ref = resolve_ref(store, ref)
        manifest = read_manifest(store, ref)
    except AdvisorError as exc:
        return BundleView(ref, problem=str(exc))
    view = BundleView(ref, manifest)
    try:
        view.ledger = _verified_json(store, ref, manifest, "trainer_state.json")
        view.lora = _verified_json(store, ref, manifest, "adapter_config.json")
    except (AdvisorError, ValueError) as exc:
        view.problem = f"bundle {ref}: {exc}"
    return view


@dataclass(frozen=True)
class AdapterEntry:
    name: str
    versions: list[str]
    latest: BundleView


def adapter_catalog(store: ObjectStore) -> list[AdapterEntry]:
    """Every adapter with committed bundles, its versions newest first, the latest read."""
    entries = []
    for name in list_adapters(store):
        versions = list_versions(store, name)
        if versions:
            latest = read_bundle_view(store, BundleRef(name, versions[-1]))
            entries.append(AdapterEntry(name, versions[::-1], latest))
    return entries


def session_label(session: dict[str, Any]) -> str:
    """What ran the session: the simulated card when there was one, else the device."""
    simulated = session.get("simulated_device") or {}
    return str(simulated.get("name") or session.get("device_name") or "session")


def handoff_markers(ledger: dict[str, Any]) -> list[Marker]:
    """A marker where each session after the first started: the handoff."""
    return [
        # Steps are numbered from 1: a session starting after step N first trains step N + 1.
        Marker(float(session.get("first_step", 0)) + 0.5, f"handoff → {session_label(session)}")
        for session in (ledger.get("sessions") or [])[1:]
    ]


def loss_series(ledger: dict[str, Any]) -> list[Series]:
    history = ledger.get("loss_history") or []
    evals = ledger.get("eval_history") or []
    series = [
        Series(
            "training loss",
            [(float(h["step"]), float(h["loss"])) for h in history if h.get("loss") is not None],
            "series-a",
        )
    ]
    if evals:
        series.append(
            Series(
                "validation loss",
                [(float(e["step"]), float(e["eval_loss"])) for e in evals],
                "series-b",
            )
        )
    return series


def lr_series(ledger: dict[str, Any]) -> list[Series]:
    history = ledger.get("loss_history") or []
    return [
        Series(
            "learning rate",
            [(float(h["step"]), float(h["lr"])) for h in history if h.get("lr") is not None],
            "series-c",
        )
    ]
