"""Safe model files: a directory with `model.safetensors` (tensors) and `model.json` (metadata).

Loading parses only safetensors and JSON, so a model file can never run code (no pickle, no `torch.load`).
Each file is written to a temporary file in the same directory and moved into place with `os.replace`.
`model.json` records the SHA-256 of the tensor file, so a swapped or half-written pair is refused on load.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch

TENSORS_FILE = "model.safetensors"
METADATA_FILE = "model.json"
FORMAT = "shopfloor-model"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class StoredModel:
    """What `load_model` read: the tensors by name, the model's kind and its metadata."""

    kind: str
    tensors: dict[str, torch.Tensor]
    metadata: dict[str, Any]

    def restore(self, module: torch.nn.Module, path: str | os.PathLike[str]) -> torch.nn.Module:
        """Load the tensors into a freshly built `module` (on the tensors' device) and return it in eval mode; a
        ValueError naming `path` if they do not fit it."""
        try:
            module.load_state_dict(self.tensors)
        except RuntimeError as exc:
            raise ValueError(f"{path}: the tensors do not fit the described model: {exc}") from None
        return module.eval()


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def save_model(path: str | os.PathLike[str], kind: str, tensors: Mapping[str, torch.Tensor], metadata: Mapping) -> Path:
    """Write `tensors` and JSON-able `metadata` of a model of `kind` into directory `path`; return the directory."""
    directory = Path(path)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"cannot save a model to {directory}: it exists and is not a directory")
    directory.mkdir(parents=True, exist_ok=True)
    plain = {name: tensor.detach().to("cpu").contiguous().clone() for name, tensor in tensors.items()}
    blob = safetensors.torch.save(plain)
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "tensors_sha256": hashlib.sha256(blob).hexdigest(),
        "versions": {"torch": torch.__version__, "numpy": np.__version__, "safetensors": safetensors.__version__},
        "metadata": dict(metadata),
    }
    text = json.dumps(document, indent=1, ensure_ascii=False)
    _write_atomic(directory / TENSORS_FILE, blob)
    _write_atomic(directory / METADATA_FILE, text.encode("utf-8"))
    return directory


def load_model(
    path: str | os.PathLike[str], kind: str | None = None, device: str | torch.device = "cpu"
) -> StoredModel:
    """Read a model directory written by `save_model`; check its format, kind and checksum. Never runs code."""
    directory = Path(path)
    if not directory.is_dir():
        raise FileNotFoundError(f"no model directory at {directory}")
    meta_path, tensor_path = directory / METADATA_FILE, directory / TENSORS_FILE
    for required in (meta_path, tensor_path):
        if not required.is_file():
            raise FileNotFoundError(f"model directory {directory} has no {required.name}")
    try:
        document = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{meta_path} is not valid JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"{meta_path} is not a shopfloor model file (no format {FORMAT!r})")
    if document.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{meta_path}: unsupported format_version {document.get('format_version')!r}")
    if kind is not None and document.get("kind") != kind:
        raise ValueError(f"{meta_path} holds a {document.get('kind')!r} model, not a {kind!r}")
    blob = tensor_path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != document.get("tensors_sha256"):
        raise ValueError(f"{tensor_path} does not match {meta_path} (SHA-256 differs): replaced or damaged")
    try:
        tensors = safetensors.torch.load(blob)
    except Exception as exc:  # the parser's own error type; any failure means "not a safetensors file"
        raise ValueError(f"{tensor_path} is not a valid safetensors file: {exc}") from None
    device = torch.device(device)
    return StoredModel(
        kind=str(document["kind"]),
        tensors={name: tensor.to(device) for name, tensor in tensors.items()},
        metadata=dict(document.get("metadata") or {}),
    )
