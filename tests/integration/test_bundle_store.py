"""Adapter bundles through both stores: the round trip and every refusal the contract requires
(docs/design.md#adapter-bundle)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor_shared.bundle import (
    BundleRef,
    list_versions,
    read_bundle,
    sha256_file,
    write_bundle,
)
from advisor_shared.chat_template import template_fingerprint
from advisor_shared.errors import BundleError, InvalidNameError, ObjectExistsError
from tests.fixtures.bundles import TEMPLATE, make_bundle_dir

pytestmark = pytest.mark.integration


def _write(store, tmp_path: Path, name: str = "advisor") -> BundleRef:
    source = make_bundle_dir(tmp_path / "src")
    return write_bundle(
        store,
        name,
        source,
        base_model_id="tiny",
        base_fingerprint="sha256:abc",
        chat_template_sha256=template_fingerprint(TEMPLATE),
    )


def _tamper(store, ref: BundleRef, filename: str, change) -> None:
    key = f"adapters/{ref.name}/{ref.version}/{filename}"
    store.put_bytes(key, change(store.get_bytes(key)), overwrite=True)


def test_bundle_round_trips_with_hashes_verified(any_store, tmp_path: Path) -> None:
    ref = _write(any_store, tmp_path)
    bundle = read_bundle(any_store, BundleRef("advisor"), tmp_path / "dl")
    assert bundle.ref == BundleRef("advisor", "v0001") == ref
    for filename, entry in bundle.manifest.files.items():
        assert sha256_file(bundle.path / filename) == entry.sha256
        assert (bundle.path / filename).read_bytes() == (tmp_path / "src" / filename).read_bytes()
    assert bundle.manifest.chat_template_sha256 == template_fingerprint(TEMPLATE)
    assert bundle.adapter_config["r"] == 4
    assert sorted(bundle.tensors) == [
        "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
        "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight",
    ]


def test_versions_are_never_overwritten(any_store, tmp_path: Path) -> None:
    first = _write(any_store, tmp_path)
    second = _write(any_store, tmp_path)
    assert (first.version, second.version) == ("v0001", "v0002")
    assert list_versions(any_store, "advisor") == ["v0001", "v0002"]
    with pytest.raises(ObjectExistsError):
        any_store.put_bytes("adapters/advisor/v0001/manifest.json", b"{}")


def test_flipped_byte_is_refused(any_store, tmp_path: Path) -> None:
    ref = _write(any_store, tmp_path)

    def flip(data: bytes) -> bytes:
        middle = len(data) // 2
        return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]

    _tamper(any_store, ref, "adapter_model.safetensors", flip)
    with pytest.raises(BundleError, match="adapter_model.safetensors does not match its sha256"):
        read_bundle(any_store, ref, tmp_path / "dl")


def test_truncated_file_is_refused(any_store, tmp_path: Path) -> None:
    ref = _write(any_store, tmp_path)
    _tamper(any_store, ref, "adapter_model.safetensors", lambda data: data[: len(data) // 3])
    with pytest.raises(BundleError, match=r"adapter_model.safetensors is \d+ bytes, manifest says"):
        read_bundle(any_store, ref, tmp_path / "dl")


def test_missing_manifest_means_no_bundle(any_store, tmp_path: Path) -> None:
    ref = _write(any_store, tmp_path)
    any_store.delete(f"adapters/advisor/{ref.version}/manifest.json")
    with pytest.raises(BundleError, match="has no committed bundle"):
        read_bundle(any_store, BundleRef("advisor"), tmp_path / "dl")
    with pytest.raises(BundleError, match="never committed"):
        read_bundle(any_store, ref, tmp_path / "dl")


def test_interrupted_upload_is_invisible_and_its_version_not_reused(
    any_store, tmp_path: Path
) -> None:
    committed = _write(any_store, tmp_path)
    # An upload that died before its manifest: files of v0002 exist, no manifest.
    any_store.put_bytes("adapters/advisor/v0002/adapter_config.json", b"{}")
    latest = read_bundle(any_store, BundleRef("advisor"), tmp_path / "dl")
    assert latest.ref == committed
    assert _write(any_store, tmp_path).version == "v0003"


def test_invalid_manifest_is_refused(any_store, tmp_path: Path) -> None:
    ref = _write(any_store, tmp_path)

    def add_pickle(data: bytes) -> bytes:
        manifest = json.loads(data)
        manifest["files"]["evil.pkl"] = {"sha256": "0" * 64, "size": 1}
        return json.dumps(manifest).encode()

    _tamper(any_store, ref, "manifest.json", add_pickle)
    with pytest.raises(BundleError, match="unexpected file"):
        read_bundle(any_store, ref, tmp_path / "dl")
    _tamper(any_store, ref, "manifest.json", lambda data: b"not json")
    with pytest.raises(BundleError, match="invalid manifest"):
        read_bundle(any_store, ref, tmp_path / "dl")


@pytest.mark.parametrize("name", ["../x", "a/b", "..", "UPPER", "x" * 80, "", "-lead", "a..b"])
def test_hostile_names_are_refused(any_store, tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidNameError):
        _write(any_store, tmp_path, name=name)
    with pytest.raises(InvalidNameError):
        BundleRef.parse(f"{name}@v0001")


def test_store_keys_cannot_escape_their_prefix(local_store) -> None:
    for key in ("../outside", "a/../../b", "/abs", "a//b", "a/./b"):
        with pytest.raises(InvalidNameError):
            local_store.put_bytes(key, b"x")
    assert not (local_store.root.parent / "outside").exists()
