"""Safe model files: exact round trip, atomic writes, checksums, and refusal of code-carrying files."""

import hashlib
import json
import pickle

import pytest
import torch

from surrogates.persist import load_model, save_model


class _Payload:
    """Unpickling this creates the file `path`."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _tensors() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {"w": torch.randn(4, 3, generator=g), "steps": torch.tensor(7), "mask": torch.ones(5, dtype=torch.bool)}


def test_round_trip_is_exact(tmp_path) -> None:
    tensors = _tensors()
    path = save_model(tmp_path / "m", "Thing", tensors, {"a": [1, 2.5, "x"], "nested": {"b": None}})
    stored = load_model(path, kind="Thing")
    assert stored.kind == "Thing"
    assert stored.metadata == {"a": [1, 2.5, "x"], "nested": {"b": None}}
    assert stored.tensors.keys() == tensors.keys()
    assert all(torch.equal(stored.tensors[k], tensors[k]) for k in tensors)
    assert sorted(p.name for p in path.iterdir()) == ["model.json", "model.safetensors"]  # no temp files left


def test_saving_again_replaces_the_files(tmp_path) -> None:
    save_model(tmp_path / "m", "Thing", _tensors(), {"v": 1})
    save_model(tmp_path / "m", "Thing", {"w": torch.zeros(2)}, {"v": 2})
    stored = load_model(tmp_path / "m")
    assert stored.metadata == {"v": 2} and list(stored.tensors) == ["w"]


def test_missing_and_wrong_files(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no model directory"):
        load_model(tmp_path / "absent")
    path = save_model(tmp_path / "m", "Thing", _tensors(), {})
    with pytest.raises(ValueError, match="'Thing' model, not a 'Other'"):
        load_model(path, kind="Other")
    (path / "model.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_model(path)
    (path / "model.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"model\.json"):
        load_model(path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        save_model(tmp_path / "file", "Thing", {}, {})


@pytest.mark.parametrize("checksum_matches", [False, True])
def test_a_pickle_never_runs(tmp_path, checksum_matches: bool) -> None:
    marker = tmp_path / "pwned"
    path = save_model(tmp_path / "m", "Thing", _tensors(), {})
    blob = pickle.dumps(_Payload(str(marker)))
    (path / "model.safetensors").write_bytes(blob)
    if checksum_matches:  # a crafted pair: the JSON vouches for the pickle, so the parser itself must refuse it
        document = json.loads((path / "model.json").read_text())
        document["tensors_sha256"] = hashlib.sha256(blob).hexdigest()
        (path / "model.json").write_text(json.dumps(document))
    with pytest.raises(ValueError, match="safetensors"):
        load_model(path)
    assert not marker.exists()


def test_a_torch_save_file_is_refused(tmp_path) -> None:
    path = save_model(tmp_path / "m", "Thing", _tensors(), {})
    torch.save(_tensors(), path / "model.safetensors")
    blob = (path / "model.safetensors").read_bytes()
    document = json.loads((path / "model.json").read_text())
    document["tensors_sha256"] = hashlib.sha256(blob).hexdigest()
    (path / "model.json").write_text(json.dumps(document))
    with pytest.raises(ValueError, match="not a valid safetensors file"):
        load_model(path)
