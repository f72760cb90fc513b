"""The prediction store: one dataset, many models, their per-example outputs on disk.

Layout of a store directory::

    manifest.json          dataset (name, fingerprint, classes), versions, model order,
                           and the sha256 of every other file but models.parquet
    examples.parquet       one row per example: example_id, label, split, subdomains
    models/<id>/meta.json  the model's metadata
    models.parquet         one row per model: the metadata as one table, for readers
                           outside norep (norep reads the verified meta.json files)
    models/<id>/<name>.npy one row per example, aligned with examples.parquet:
                           logits (N x C; in a float16 store each row minus its maximum,
                           see :meth:`Store.add_model`), embeddings (N x D), or, for models that
                           only give a top-1 answer, predictions (N) and, where known, confidences (N);
                           in a float16 store also top_logits (N): each row's EXACT_TOP
                           largest classes and their exact shifted logits (float32)

Every write is atomic (temporary file or directory, then rename) and the manifest is
the commit point, so a killed writer leaves either the old or the new store, and a model
whose directory is not in the manifest counts as unfinished. ``models.parquet`` is
derived from the committed metadata and rewritten after the manifest (and when a
store is reopened for writing), so no kill can leave it disagreeing with a checksum.

Writers in several processes (shards of one zoo) may fill one store at once: creation
and :meth:`Store.add_model` hold an exclusive lock on ``.lock`` in the store (``flock``)
and re-read the manifest inside it, so no writer's model is lost.

Files are checked against their sha256 on first use. Hashing a 20 GB store on every
open would dominate every analysis, so ``.verified.json`` records, per file, the size,
modification time and inode it had when its hash last matched: a file whose record
still matches is not hashed again. An edit or a truncation changes the size or the
modification time and is caught on the next open; :meth:`Store.verify` (``norep
verify``) hashes every file regardless, and also catches a file rewritten in place with
its old modification time restored.

A float16 store reads back float32 logits: the float16 rows with each row's top
classes set to their exact values (:class:`Float16Logits`, a block of rows at a time),
so that the decisions of models and ensembles, which live among the top classes, are
those of the float32 logits nearly always (see :data:`EXACT_TOP`).

Small arrays derived from a model's logits (top-1 predictions and confidences, fitted
temperatures, ranked classes for ensembles) are computed once and cached under
``derived/<id>/`` (:meth:`Store.derived`): each file is named by a hash of the model's
logits checksum (and its top_logits' in a float16 store), the examples table's checksum
and what was derived, so a replaced model or examples table never reads a stale one.
They are not in the manifest: deleting ``derived/`` only costs their recomputation.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import sys
from importlib import metadata as importlib_metadata
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd

from norep.errors import NorepError
from norep.store.files import atomic_write_bytes, dump_json, sha256_file, write_table

FORMAT_VERSION = 1
ARRAY_NAMES = ("logits", "embeddings", "predictions", "confidences")
LOGITS_DTYPES = ("float32", "float16")
MANIFEST = "manifest.json"
EXAMPLES = "examples.parquet"
MODELS = "models.parquet"
VERIFIED = ".verified.json"
DERIVED = "derived"
DERIVED_VERSION = 1  # raise when a derived array's definition changes
LOCK = ".lock"
BLOCK_BYTES = 1 << 26
"""Float64 bytes of logits processed at a time (rows of a block of examples)."""
EXACT_TOP = 3
"""Classes per row whose logits a float16 store also keeps exactly (float32, in ``top_logits``).

The smallest count that keeps every ensemble accuracy within 0.01 points (one test
example in 10,000) of the float32 logits, measured by ``benchmarks/float16_effect.py``
(calibrated pair-ensemble decisions): on runs/fashion_mnist (43 models, 903 pairs,
10,000 test examples) the shifted float16 rows alone change 46 of 9,030,000 decisions
and move an ensemble accuracy by 0.02 points; with the top 2 exact, 13 decisions and
0.02 points; with the top 3 exact, 2 decisions and 0.01 points (on runs/fashion_mnist_ci,
1 of 1,200,000 decisions, 0.01 points). Decisions are made among the top classes, so
the same count serves 1,000 classes: float16 plus 3 float32 logits and 3 int16 classes
per row are about half of float32's bytes (on 10 classes, 38 bytes of 40).
"""
TOP_LOGITS = "top_logits"
"""The array of a float16 store's model with each row's exact top logits (see :func:`exact_top_logits`)."""
VERSIONED_PACKAGES = ("norep", "numpy", "pandas", "pyarrow", "torch", "timm", "scikit-learn")
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/+@-]*$")


def _versions() -> dict[str, str]:
    versions = {"python": ".".join(map(str, sys.version_info[:3]))}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = importlib_metadata.version(package)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


def model_dirname(model_id: str) -> str:
    """Return the directory name of a model id (``/`` and ``:`` percent-encoded)."""
    return quote(model_id, safe="")


def row_blocks(n_rows: int, n_classes: int) -> Iterator[slice]:
    """Slices of consecutive rows holding at most :data:`BLOCK_BYTES` of float64 logits."""
    size = max(1, BLOCK_BYTES // (8 * max(1, n_classes)))
    for start in range(0, n_rows, size):
        yield slice(start, min(start + size, n_rows))


def _shifted_blocks(logits: np.ndarray) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield blocks of rows of logits minus each row's maximum, in float64 (exact for float32 logits)."""
    for block in row_blocks(len(logits), logits.shape[1]):
        rows = np.asarray(logits[block], dtype=np.float64)
        yield block, rows - rows.max(axis=1, keepdims=True)


def half_precision_logits(logits: np.ndarray) -> np.ndarray:
    """Return each row of logits minus its maximum, rounded once to float16.

    Softmax, temperature scaling and the argmax are unchanged by a constant subtracted
    from a row; the shifted rows put the top class at exactly 0 and its close
    competitors near 0, where float16's steps are smallest (a plain cast of a logit near
    20 rounds to steps of 1/64; a shifted competitor at -0.1 to steps of 1/16384). The
    difference is taken in float64 (exact for float32 logits) a block of rows at a time.
    A row spanning more than 65504 gets -inf.

    Args:
        logits: Shape (N, C).

    Returns:
        Shape (N, C), float16, every row's maximum 0.

    Example:
        >>> half_precision_logits(np.array([[20.1, 20.0, 3.0]], np.float32)).tolist()
        [[0.0, -0.0999755859375, -17.09375]]
    """
    logits = np.asarray(logits)
    half = np.empty(logits.shape, dtype=np.float16)
    with np.errstate(over="ignore", invalid="ignore"):
        for block, shifted in _shifted_blocks(logits):
            half[block] = shifted
    return half


def exact_top_logits(logits: np.ndarray, k: int = EXACT_TOP) -> np.ndarray:
    """Return each row's ``k`` largest logits minus the row's maximum, in float32, and their classes.

    What a float16 store keeps beside :func:`half_precision_logits` (as ``top_logits``):
    the difference is taken in float64 and rounded once to float32 (exact whenever the
    two logits are within a factor of 2 of each other, e.g. every logit of a row near 20).

    Args:
        logits: Shape (N, C).
        k: Classes per row (at most C are kept).

    Returns:
        Shape (N,), a structured array: ``classes`` (int16, or int32 beyond 32,768
        classes) and ``logits`` (float32), each of shape (min(k, C),), largest first.

    Example:
        >>> top = exact_top_logits(np.array([[20.1, 20.0, 3.0]], np.float32), k=2)
        >>> top["classes"].tolist(), top["logits"].tolist()
        ([[0, 1]], [[0.0, -0.10000038146972656]])
    """
    logits = np.asarray(logits)
    k = min(k, logits.shape[1])
    index = np.int16 if logits.shape[1] <= np.iinfo(np.int16).max + 1 else np.int32
    top = np.empty(len(logits), dtype=[("classes", index, (k,)), ("logits", np.float32, (k,))])
    for block, shifted in _shifted_blocks(logits):
        classes = np.argpartition(-shifted, k - 1, axis=1)[:, :k]
        values = np.take_along_axis(shifted, classes, axis=1)
        order = np.argsort(-values, axis=1, kind="stable")
        top["classes"][block] = np.take_along_axis(classes, order, axis=1)
        top["logits"][block] = np.take_along_axis(values, order, axis=1)
    return top


def with_exact_top(half: np.ndarray, top: np.ndarray) -> np.ndarray:
    """Return float16 logits as float32 with each row's top classes set to their exact logits.

    Args:
        half: Rows of a float16 store's logits, shape (n, C) (or one row, (C,)).
        top: The same rows of its ``top_logits`` (:func:`exact_top_logits`), shape (n,).

    Returns:
        Shape of ``half``, float32 (a new array).

    Example:
        >>> logits = np.array([[20.1, 20.0, 3.0]], np.float32)
        >>> with_exact_top(half_precision_logits(logits), exact_top_logits(logits, k=2)).tolist()
        [[0.0, -0.10000038146972656, -17.09375]]
    """
    logits = np.asarray(half).astype(np.float32)
    np.put_along_axis(logits, np.asarray(top["classes"], dtype=np.intp), top["logits"], axis=-1)
    return logits


def float16_store_logits(logits: np.ndarray) -> np.ndarray:
    """Return what a float16 store reads back for these logits: :func:`with_exact_top` of what it keeps.

    Args:
        logits: Shape (N, C).

    Returns:
        Shape (N, C), float32: each row minus its maximum, rounded to float16 except at
        its :data:`EXACT_TOP` largest classes.
    """
    return with_exact_top(half_precision_logits(logits), exact_top_logits(logits))


class Float16Logits:
    """A float16 store's logits of one model, read as float32 with each row's top classes exact.

    Indexing by rows (an int, a slice or an index array; rows only) reads those rows of
    the memory-mapped float16 array and of its ``top_logits`` and overlays them
    (:func:`with_exact_top`); ``np.asarray`` reads the whole array a block of rows at a
    time. Nothing is read before.

    Attributes:
        half: The stored float16 logits (memory-mapped), shape (N, C).
        top: The stored top logits (:func:`exact_top_logits`), shape (N,).

    Example:
        >>> logits = store.array("resnet50", "logits")     # doctest: +SKIP
        >>> logits[:100].dtype                              # doctest: +SKIP
        dtype('float32')
    """

    dtype = np.dtype(np.float32)
    ndim = 2

    def __init__(self, half: np.ndarray, top: np.ndarray):
        self.half, self.top = half, top

    @property
    def shape(self) -> tuple[int, int]:
        """(N, C)."""
        return self.half.shape

    def __len__(self) -> int:
        return len(self.half)

    def __getitem__(self, rows) -> np.ndarray:
        return self.overlay(self.half[rows], rows)

    def overlay(self, half_rows: np.ndarray, rows) -> np.ndarray:
        """Return rows of the float16 logits, read elsewhere, with their top classes exact."""
        return with_exact_top(half_rows, self.top[rows])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        logits = np.empty(self.shape, dtype=np.float32)
        for block in row_blocks(*self.shape):
            logits[block] = self[block]
        return logits if dtype is None else logits.astype(dtype)


def check_model_id(model_id: str) -> str:
    """Return ``model_id`` if it is a valid id, else raise a NorepError."""
    if not isinstance(model_id, str) or not _MODEL_ID.match(model_id):
        raise NorepError(
            f"invalid model id {model_id!r}: use letters, digits and _.:/+@- "
            "(starting with a letter or digit)"
        )
    return model_id


class Store:
    """A prediction store on disk, opened for reading and appending.

    Args:
        path: The store directory, made by :meth:`Store.create`.

    Example:
        >>> store = Store("runs/fashion_mnist")          # doctest: +SKIP
        >>> store.labels("test")                          # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        manifest_path = self.path / MANIFEST
        if not manifest_path.is_file():
            raise NorepError(
                f"{self.path} is not a prediction store (no {MANIFEST}); "
                "fill one with `norep zoo train` or `norep import`"
            )
        try:
            self.manifest = json.loads(manifest_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise NorepError(f"{manifest_path} is corrupt ({error}); re-create the store") from None
        if self.manifest.get("format_version") != FORMAT_VERSION:
            raise NorepError(
                f"{manifest_path} has format version {self.manifest.get('format_version')}, "
                f"this norep reads version {FORMAT_VERSION}; re-create the store"
            )
        self._verified: set[str] = set()
        self._records = _read_records(self.path / VERIFIED)
        self.examples = pd.read_parquet(self._verified_path(EXAMPLES))
        self.models = _models_table([self._read_meta(m) for m in self.manifest["models"]])

    # -- creation and writing -------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike,
        *,
        dataset: str,
        classes: list[str],
        examples: pd.DataFrame,
        fingerprint: str,
        logits_dtype: str | None = None,
    ) -> "Store":
        """Create a store, or reopen it when it already holds the same dataset.

        Args:
            path: Directory to create (parents included).
            dataset: Dataset name, e.g. ``"fashion-mnist"``.
            classes: Class names; labels index into this list.
            examples: One row per example with at least ``example_id``, ``label``
                and ``split``; further columns are subdomains.
            fingerprint: A string identifying the exact data (e.g. a sha256).
            logits_dtype: ``"float16"`` stores every model's logits in half precision,
                each row shifted to its maximum, with each row's :data:`EXACT_TOP`
                largest logits also kept exactly (see :meth:`add_model`; about half the
                disk and reading time; reads give float32); None or ``"float32"``
                keeps them as given. Fixed when the store is created.

        Returns:
            The opened store. Stale temporary files of killed writers are removed.
        """
        path = Path(path)
        missing = {"example_id", "label", "split"} - set(examples.columns)
        if missing:
            raise NorepError(f"examples table lacks column(s) {sorted(missing)}")
        if examples["example_id"].duplicated().any():
            duplicate = examples["example_id"][examples["example_id"].duplicated()].iloc[0]
            raise NorepError(f"example id {duplicate!r} appears twice; example ids must be unique")
        labels = examples["label"].to_numpy()
        if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
            raise NorepError(f"labels must lie in 0..{len(classes) - 1} (one per class name)")
        try:
            path.mkdir(parents=True, exist_ok=True)
            (path / "models").mkdir(exist_ok=True)
            probe = path / f".write-test-{os.getpid()}"
            probe.touch()
            probe.unlink()
        except OSError as error:
            raise NorepError(
                f"cannot write the store at {path} ({error.strerror}); choose a writable --store"
            ) from None
        with _locked(path):
            return cls._create_locked(path, dataset, classes, examples, fingerprint, logits_dtype)

    @classmethod
    def _create_locked(
        cls, path: Path, dataset: str, classes: list[str], examples: pd.DataFrame, fingerprint: str,
        logits_dtype: str | None = None,
    ) -> "Store":
        for stale in list(path.glob(".*.tmp-*")) + list((path / "models").glob(".tmp-*")):
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
        dataset_entry = {"name": dataset, "fingerprint": fingerprint, "classes": list(classes)}
        if (path / MANIFEST).exists():
            store = cls(path)
            if store.manifest["dataset"] != dataset_entry:
                raise NorepError(
                    f"{path} holds another dataset ({store.manifest['dataset']['name']}, "
                    f"fingerprint {store.manifest['dataset']['fingerprint'][:12]}); "
                    "use another --store"
                )
            if logits_dtype not in (None, store.logits_dtype):
                raise NorepError(f"{path} stores logits as {store.logits_dtype}, not {logits_dtype}; "
                                 "use another --store or the same --dtype")
            store._export_models_table()
            return store
        examples = examples.reset_index(drop=True).astype({"example_id": str, "split": str})
        write_table(path / EXAMPLES, examples)
        manifest = {
            "format_version": FORMAT_VERSION,
            "dataset": dataset_entry,
            "versions": _versions(),
            "models": [],
            "files": {EXAMPLES: sha256_file(path / EXAMPLES)},
        }
        if logits_dtype not in (None, *LOGITS_DTYPES):
            raise NorepError(f"logits dtype {logits_dtype!r} is not one of {LOGITS_DTYPES}")
        if logits_dtype == "float16":
            manifest["logits_dtype"] = logits_dtype
        atomic_write_bytes(path / MANIFEST, dump_json(manifest))
        return cls(path)

    def add_model(self, model_id: str, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        """Write one model's metadata and arrays, replacing an earlier version.

        A float16 store keeps each row of logits minus its maximum
        (:func:`half_precision_logits`): the top class at exactly 0, its close competitors
        at small magnitudes where float16 is most precise. Beside them, as the array
        ``top_logits`` (checksummed and verified like every array), it keeps each row's
        :data:`EXACT_TOP` largest classes (int16) and their shifted logits in float32
        (:func:`exact_top_logits`). :meth:`logits` returns the shifted rows as float32
        with those classes exact (:class:`Float16Logits`). Every analysis of logits
        (softmax, temperature scaling and its fit, top-1 predictions and confidences,
        ensembles of probabilities or of scaled logits) is unchanged by a constant added
        to a row, so only the rounding of the other classes differs from the float32
        logits. A float32 store keeps logits as given.

        Args:
            model_id: Unique id of the model in this store.
            meta: JSON-serializable metadata (methodology, accuracy, source, ...).
            arrays: Any of ``logits`` (N x C), ``embeddings`` (N x D), or
                ``predictions`` (N, int) with ``confidences`` (N, float) where known, with one
                row per example of the store.
        """
        check_model_id(model_id)
        self._check_arrays(model_id, arrays)
        if self.logits_dtype == "float16" and "logits" in arrays:
            arrays = {**arrays, "logits": half_precision_logits(arrays["logits"]),
                      TOP_LOGITS: exact_top_logits(arrays["logits"])}
            if not np.isfinite(arrays["logits"]).all():
                raise NorepError(f"{model_id}: logits of a row span more than float16's range (65504); "
                                 "store them in a float32 store (--dtype float32)")
        with _locked(self.path):
            self.manifest = json.loads((self.path / MANIFEST).read_text())
            self._add_model_locked(model_id, meta, arrays)

    def order_models(self, model_ids: list[str]) -> None:
        """Put these models first, in this order; the others follow as they were.

        Args:
            model_ids: Ids of models in the store (e.g. a zoo spec's order).
        """
        with _locked(self.path):
            manifest = json.loads((self.path / MANIFEST).read_text())
            held = [m for m in model_ids if m in manifest["models"]]
            manifest["models"] = held + [m for m in manifest["models"] if m not in held]
            atomic_write_bytes(self.path / MANIFEST, dump_json(manifest))
            self.manifest = manifest
            self.models = _models_table([self._read_meta(m) for m in manifest["models"]])
            self._export_models_table()

    def _add_model_locked(self, model_id: str, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        models_dir = self.path / "models"
        final = models_dir / model_dirname(model_id)
        tmp = models_dir / f".tmp-{model_dirname(model_id)}-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        for name, array in arrays.items():
            with open(tmp / f"{name}.npy", "wb") as handle:
                np.save(handle, np.ascontiguousarray(array))
                handle.flush()
                os.fsync(handle.fileno())
        meta = {**meta, "model_id": model_id}
        (tmp / "meta.json").write_bytes(dump_json(meta))
        if final.exists():
            shutil.rmtree(final)
        shutil.rmtree(self.path / DERIVED / model_dirname(model_id), ignore_errors=True)
        os.rename(tmp, final)

        manifest = json.loads(json.dumps(self.manifest))
        prefix = f"models/{model_dirname(model_id)}/"
        manifest["files"] = {k: v for k, v in manifest["files"].items() if not k.startswith(prefix)}
        for file in sorted(final.iterdir()):
            manifest["files"][prefix + file.name] = sha256_file(file)
        if model_id not in manifest["models"]:
            manifest["models"].append(model_id)
        metas = [self._read_meta(m) if m != model_id else meta for m in manifest["models"]]
        manifest["versions"] = _versions()
        atomic_write_bytes(self.path / MANIFEST, dump_json(manifest))
        self.manifest = manifest
        self.models = _models_table(metas)
        self._verified = {k for k in self._verified if not k.startswith(prefix)} | {prefix + "meta.json"}
        self._export_models_table()

    def _export_models_table(self) -> None:
        write_table(self.path / MODELS, self.models)

    def _check_arrays(self, model_id: str, arrays: dict[str, np.ndarray]) -> None:
        unknown = set(arrays) - set(ARRAY_NAMES)
        if unknown:
            raise NorepError(f"{model_id}: unknown array(s) {sorted(unknown)}; use {ARRAY_NAMES}")
        if "logits" not in arrays and "predictions" not in arrays:
            raise NorepError(f"{model_id}: give logits, or predictions (with confidences where known)")
        if "confidences" in arrays and "predictions" not in arrays:
            raise NorepError(f"{model_id}: confidences need predictions")
        n = len(self.examples)
        for name, array in arrays.items():
            if array.shape[0] != n:
                raise NorepError(
                    f"{model_id}: {name} has {array.shape[0]} rows, the store has {n} examples"
                )
            if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
                raise NorepError(f"{model_id}: {name} contains NaN or infinite values")
        if "logits" in arrays and arrays["logits"].shape[1:] != (len(self.classes),):
            raise NorepError(
                f"{model_id}: logits have shape {arrays['logits'].shape}, "
                f"expected (N, {len(self.classes)})"
            )
        if "predictions" in arrays:
            predictions = arrays["predictions"]
            if not np.issubdtype(predictions.dtype, np.integer) or predictions.ndim != 1:
                raise NorepError(f"{model_id}: predictions must be a 1-d integer array")
            if predictions.min() < -1 or predictions.max() >= len(self.classes):
                raise NorepError(
                    f"{model_id}: predictions must lie in 0..{len(self.classes) - 1} "
                    "(-1 marks a missing answer)"
                )
        if "confidences" in arrays:
            confidences = arrays["confidences"][arrays["predictions"] >= 0]
            if np.any((confidences < 0) | (confidences > 1)):
                raise NorepError(f"{model_id}: confidences must lie in [0, 1]")

    # -- reading --------------------------------------------------------------------

    @property
    def classes(self) -> list[str]:
        """Class names; labels index into this list."""
        return self.manifest["dataset"]["classes"]

    @property
    def logits_dtype(self) -> str:
        """How logits are stored: ``"float16"``, or ``"float32"`` (as given) by default."""
        return self.manifest.get("logits_dtype", "float32")

    @property
    def model_ids(self) -> list[str]:
        """Model ids in the order they were added."""
        return list(self.manifest["models"])

    def has_model(self, model_id: str) -> bool:
        """Return whether the model is complete in this store."""
        return model_id in self.manifest["models"]

    def has_array(self, model_id: str, name: str) -> bool:
        """Return whether the model has the array ``name`` (e.g. ``"logits"``)."""
        return f"models/{model_dirname(model_id)}/{name}.npy" in self.manifest["files"]

    def meta(self, model_id: str) -> dict:
        """Return the metadata of one model."""
        self._require(model_id)
        return self._read_meta(model_id)

    def rows(self, split: str | None = None) -> np.ndarray:
        """Return the row indices of a split (all rows when ``split`` is None)."""
        if split is None:
            return np.arange(len(self.examples))
        mask = (self.examples["split"] == split).to_numpy()
        if not mask.any():
            splits = sorted(self.examples["split"].unique())
            raise NorepError(f"split {split!r} is not in this store; it has {splits}")
        return np.flatnonzero(mask)

    def labels(self, split: str | None = None) -> np.ndarray:
        """Return the labels of a split."""
        return self.examples["label"].to_numpy()[self.rows(split)]

    def array(self, model_id: str, name: str, split: str | None = None) -> np.ndarray | Float16Logits:
        """Return one array of one model (memory-mapped, checksum verified on first use).

        The logits of a float16 store are a :class:`Float16Logits` (float32 rows with
        each row's top classes exact, read when indexed); with ``split``, every array
        is read into memory.
        """
        self._require(model_id)
        if not self.has_array(model_id, name):
            raise NorepError(f"model {model_id} has no {name} in {self.path}")
        relpath = f"models/{model_dirname(model_id)}/{name}.npy"
        array = np.load(self._verified_path(relpath), mmap_mode="r")
        if name == "logits" and self.has_array(model_id, TOP_LOGITS):
            array = Float16Logits(array, self.array(model_id, TOP_LOGITS))
        return array if split is None else array[self.rows(split)]

    def logits(self, model_id: str, split: str | None = None) -> np.ndarray | Float16Logits:
        """Return a model's logits (see :meth:`array`); a clear error for top-1-only models."""
        if not self.has_array(model_id, "logits"):
            self._require(model_id)
            raise NorepError(
                f"model {model_id} has only top-1 predictions; "
                "this analysis needs full logits or probabilities"
            )
        return self.array(model_id, "logits", split)

    def derived(self, model_id: str, name: str, key: dict,
                compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """Return small arrays derived from a model's logits, computed once and cached in the store.

        The cache file is named by a hash of the logits' (and in a float16 store their
        top_logits') and the examples table's sha256 (from the manifest), ``name`` and
        ``key``, so a changed model or examples table is computed afresh. A read-only store
        computes without caching.

        Args:
            model_id: A model with logits.
            name: What is derived, e.g. ``"top1"``.
            key: Everything else the arrays depend on (JSON-serializable), e.g. the split
                and temperature.
            compute: Returns the arrays by name when they are not cached.

        Returns:
            The arrays by name (in memory).

        Example:
            >>> store.derived("resnet50", "top1", {"temperature": 1.0}, compute)   # doctest: +SKIP
        """
        prefix = f"models/{model_dirname(model_id)}/"
        sources = [self.manifest["files"][EXAMPLES], self.manifest["files"].get(prefix + "logits.npy")]
        if prefix + f"{TOP_LOGITS}.npy" in self.manifest["files"]:
            sources.append(self.manifest["files"][prefix + f"{TOP_LOGITS}.npy"])
        digest = hashlib.sha256(json.dumps([DERIVED_VERSION, sources, name, key], sort_keys=True).encode())
        path = self.path / DERIVED / model_dirname(model_id) / f"{name}-{digest.hexdigest()[:24]}.npz"
        with contextlib.suppress(OSError, ValueError, EOFError):  # absent or unreadable: computed again
            with np.load(path) as cached:
                return {array: cached[array] for array in cached.files}
        arrays = compute()
        with contextlib.suppress(OSError):  # a read-only store caches nothing
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.npz")
            np.savez(tmp, **arrays)
            os.replace(tmp, path)
        return arrays

    def verify(self) -> int:
        """Hash every file in the manifest, whatever its record says; raise naming the first bad one.

        Returns:
            The number of files checked.
        """
        for relpath in self.manifest["files"]:
            self._verified.discard(relpath)
            self._verified_path(relpath, rehash=True)
        return len(self.manifest["files"])

    def _require(self, model_id: str) -> None:
        if not self.has_model(model_id):
            raise NorepError(
                f"model {model_id!r} is not in {self.path}; it has {len(self.model_ids)} "
                f"models, e.g. {self.model_ids[:3]}"
            )

    def _read_meta(self, model_id: str) -> dict:
        relpath = f"models/{model_dirname(model_id)}/meta.json"
        return json.loads(self._verified_path(relpath).read_text())

    def _verified_path(self, relpath: str, rehash: bool = False) -> Path:
        path = self.path / relpath
        if relpath in self._verified:
            return path
        expected = self.manifest["files"].get(relpath)
        if expected is None:
            raise NorepError(f"{path} is not listed in the store's manifest; re-create the store")
        if not path.is_file():
            raise NorepError(f"{path} is missing from the store; re-create it")
        record = [*_file_state(path), expected]
        if rehash or self._records.get(relpath) != record:
            if sha256_file(path) != expected:
                raise NorepError(
                    f"{path} is corrupt (its sha256 differs from the manifest: truncated or "
                    "edited); delete the store and re-create it"
                )
            self._records[relpath] = record
            _write_records(self.path / VERIFIED, self._records)
        self._verified.add(relpath)
        return path


@contextlib.contextmanager
def _locked(path: Path):
    """Hold an exclusive inter-process lock on the store at ``path`` (``flock`` on ``.lock``)."""
    with open(path / LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _file_state(path: Path) -> list[int]:
    """Size, modification time (ns) and inode of a file: what changes when it is rewritten."""
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns, stat.st_ino]


def _read_records(path: Path) -> dict[str, list]:
    """Return the verification records of a store; none when absent or unreadable."""
    try:
        records = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return records if isinstance(records, dict) else {}


def _write_records(path: Path, records: dict[str, list]) -> None:
    """Write the verification records atomically; a read-only store keeps none."""
    with contextlib.suppress(OSError):  # without a record the next open hashes again
        atomic_write_bytes(path, dump_json(records))


def _models_table(metas: list[dict]) -> pd.DataFrame:
    """Return one row per model, ``model_id`` first, nested values as JSON strings."""
    if not metas:
        return pd.DataFrame({"model_id": pd.Series([], dtype=str)})
    models = pd.DataFrame([_flatten(m) for m in metas])
    return models[["model_id"] + sorted(c for c in models.columns if c != "model_id")]


def _flatten(meta: dict) -> dict:
    """Turn nested metadata values into JSON strings so they fit one table cell."""
    return {
        key: json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value
        for key, value in meta.items()
    }
