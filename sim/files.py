"""Files: atomic writing (a reader sees the old file or the new one, never half of one) and strict UTF-8 reading."""

from __future__ import annotations

import codecs
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sim.errors import ScenarioError, ShopfloorError


def write_atomic(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    ensure_dir(path.parent)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ShopfloorError(f"{path}: cannot write here ({exc.strerror or exc})") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def ensure_dir(folder: str | Path) -> Path:
    """Create ``folder`` (and its parents) if needed; a user error naming it if that is impossible."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ShopfloorError(f"{folder}: exists and is not a folder") from None
    except OSError as exc:
        raise ShopfloorError(f"{folder}: cannot create the folder ({exc.strerror or exc})") from None
    return folder


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | Path, text: str) -> Path:
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: str | Path, data: Any) -> Path:
    return write_text(path, json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def write_parquet(path: str | Path, table: pa.Table) -> Path:
    """Write a Parquet file (zstd, statistics) atomically; same table, same bytes."""
    return write_atomic(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def read_text(path: str | Path, source: str | None = None, what: str = "file", keep_line_ends: bool = False) -> str:
    """The text of a UTF-8 file (a UTF-8 byte-order mark is skipped).

    A file that cannot be read or is not UTF-8 raises a ``ScenarioError`` naming ``source`` (default: the path), with
    the offset and line of the first bad byte. Line ends become ``\\n`` as with ``Path.read_text``, unless kept (csv).
    """
    source = source or str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ScenarioError(source, [("", f"cannot read {what} ({exc.strerror or exc})")]) from None
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        text = data[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(source, [("", _not_utf8(data, start + exc.start))]) from None
    return text if keep_line_ends else text.replace("\r\n", "\n").replace("\r", "\n")


def _not_utf8(data: bytes, offset: int) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        hint = "it looks like UTF-16; save the file as UTF-8"
    elif b"\0" in data[:4096]:
        hint = "it looks like a binary file"
    else:
        hint = "save the file as UTF-8"
    line = data.count(b"\n", 0, offset) + 1
    return f"not UTF-8 text: byte 0x{data[offset]:02x} at offset {offset} (line {line}); {hint}"
