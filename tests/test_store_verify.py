"""Verification that scales: unchanged files are not hashed again; every change is caught."""

from __future__ import annotations

import os

import numpy as np
import pytest

from norep.errors import NorepError
from norep.store import Store
from norep.store import store as store_module


@pytest.fixture
def counted(monkeypatch):
    """Count the files the store hashes."""
    hashed = []
    original = store_module.sha256_file

    def counting(path, *args, **kwargs):
        hashed.append(os.path.basename(path))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(store_module, "sha256_file", counting)
    return hashed


def logits_path(store: Store, model_id: str = "base"):
    return store.path / "models" / model_id / "logits.npy"


def test_unchanged_files_are_hashed_once(synthetic_store, counted):
    (synthetic_store.path / ".verified.json").unlink()
    Store(synthetic_store.path).logits("base")
    first = list(counted)
    assert "logits.npy" in first and "examples.parquet" in first
    counted.clear()
    reopened = Store(synthetic_store.path)
    np.asarray(reopened.logits("base"))
    assert counted == []  # every file's record still matches: nothing hashed


def test_an_edited_byte_after_the_record_is_caught_on_open(synthetic_store):
    Store(synthetic_store.path).logits("base")
    path = logits_path(synthetic_store)
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(NorepError, match=r"logits.npy is corrupt"):
        Store(synthetic_store.path).logits("base")


def test_a_truncated_file_is_caught_on_open(synthetic_store):
    Store(synthetic_store.path).logits("base")
    path = logits_path(synthetic_store)
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(NorepError, match=r"logits.npy is corrupt"):
        Store(synthetic_store.path).logits("base")


def test_a_rewrite_with_its_old_time_restored_is_caught_by_verify(synthetic_store):
    Store(synthetic_store.path).logits("base")
    path = logits_path(synthetic_store)
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    with open(path, "r+b") as handle:  # in place: same inode, same size
        handle.write(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    Store(synthetic_store.path).logits("base")  # the record matches: not hashed on open
    with pytest.raises(NorepError, match=r"logits.npy is corrupt"):
        Store(synthetic_store.path).verify()


def test_verify_hashes_everything(synthetic_store, counted):
    store = Store(synthetic_store.path)
    counted.clear()
    assert store.verify() == len(store.manifest["files"])
    assert len(counted) == len(store.manifest["files"])


def test_a_store_that_cannot_keep_records_still_opens(synthetic_store, counted, monkeypatch):
    (synthetic_store.path / ".verified.json").unlink()

    def read_only(path, data):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(store_module, "atomic_write_bytes", read_only)
    for _ in range(2):  # no record kept: each open hashes again, and succeeds
        np.asarray(Store(synthetic_store.path).logits("base"))
    assert counted.count("logits.npy") == 2
