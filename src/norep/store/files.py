"""File primitives of the store: checksums, atomic writes, JSON and parquet."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd


def sha256_file(path: Path, chunk_size: int = 1 << 22) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_table(path: Path, table: pd.DataFrame) -> None:
    """Write a parquet table through a temporary file and a rename."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    table.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def dump_json(value: dict) -> bytes:
    """Return ``value`` as sorted, indented JSON bytes with a final newline."""
    return (json.dumps(value, indent=1, sort_keys=True) + "\n").encode()
