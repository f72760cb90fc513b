"""Finished chunks of one model's outputs, kept in the store until the model is complete.

A long model's rows are split into fixed chunks (``rows-<start>-<stop>.npz`` under
``<store>/.inference/<model dir>/``), each written atomically once computed. A killed run
leaves finished chunks; the next run computes only the missing ones, then assembles
them into the store (:meth:`norep.store.Store.add_model`) and removes the folder.
Chunks computed under other settings (chunk size, precision, device type, weights) are
discarded, so an assembled model never mixes settings.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from norep.store import model_dirname

WORK = ".inference"
SETTINGS = "settings.json"


class Chunks:
    """The chunk folder of one model in one store.

    Args:
        store_path: The store directory.
        model_id: The model.
        rows: The number of rows (examples) of the store.
        chunk_size: Rows per chunk (the last one may be shorter).
        settings: What the outputs depend on beyond the model id; other settings on disk
            discard the chunks there.
    """

    def __init__(self, store_path: str | Path, model_id: str, rows: int, chunk_size: int, settings: dict):
        self.folder = Path(store_path) / WORK / model_dirname(model_id)
        self.ranges = [(start, min(start + chunk_size, rows)) for start in range(0, rows, chunk_size)]
        self.settings = {**settings, "chunk_size": chunk_size, "rows": rows}

    def open(self) -> None:
        """Create the folder, discarding chunks of other settings and stale temporary files."""
        settings_file = self.folder / SETTINGS
        if self.folder.is_dir():
            try:
                kept = json.loads(settings_file.read_text())
            except (OSError, ValueError):
                kept = None
            if kept != self.settings:
                shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob(".*.tmp-*"):
            stale.unlink()
        if not settings_file.is_file():
            _atomic_write(settings_file, lambda handle: handle.write(json.dumps(self.settings, sort_keys=True).encode()))

    def file(self, start: int, stop: int) -> Path:
        """Return the file of the chunk of rows ``start:stop``."""
        return self.folder / f"rows-{start:09d}-{stop:09d}.npz"

    def missing(self) -> list[tuple[int, int]]:
        """Return the row ranges not computed yet."""
        return [(start, stop) for start, stop in self.ranges if not self.file(start, stop).is_file()]

    def save(self, start: int, stop: int, arrays: dict[str, np.ndarray]) -> None:
        """Write one chunk atomically."""
        _atomic_write(self.file(start, stop), lambda handle: np.savez(handle, **arrays))

    def assemble(self) -> dict[str, np.ndarray]:
        """Return every array with the chunks concatenated in row order."""
        parts = []
        for start, stop in self.ranges:
            with np.load(self.file(start, stop)) as chunk:
                parts.append({name: chunk[name] for name in chunk.files})
        return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}

    def remove(self) -> None:
        """Delete the chunk folder (after the model is in the store)."""
        shutil.rmtree(self.folder, ignore_errors=True)


def rows_done(store_path: str | Path, model_id: str) -> int:
    """Return how many rows of a model have finished chunks in a store (0 when none).

    Args:
        store_path: The store directory.
        model_id: The model.
    """
    folder = Path(store_path) / WORK / model_dirname(model_id)
    spans = [name.stem.split("-")[1:] for name in folder.glob("rows-*-*.npz")]
    return sum(int(stop) - int(start) for start, stop in spans)


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
