"""Import predictions made elsewhere into prediction stores.

Each importer reads and validates *all* its input first and returns what it would
write; only then are stores created and filled, so bad input leaves no half-written
store. Imported examples all go to the split ``test``: these sources give no held-out
calibration split, so analyses that fit something (temperatures, greedy selection)
must carve one out themselves.

Methodologies use the vocabulary of :mod:`norep.zoo.methodology`, shared with trained
models, so that equal methodologies compare equal across sources; a field a source does
not document stays None (unknown), and so do the seed and hyper-parameters, which no
source records.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from norep.errors import NorepError
from norep.store import MANIFEST, Store, check_model_id
from norep.zoo import OBJECTIVES, Methodology

SPLIT = "test"
IMAGENET_1K = "ImageNet-1k"
KINDS = ("model-vs-human", "imagenet-x", "timm")


@dataclass(frozen=True)
class ImportedModel:
    """One model (or observer) ready to be written: id, metadata and arrays."""

    model_id: str
    meta: dict
    arrays: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        check_model_id(self.model_id)


@dataclass(frozen=True)
class ImportedStore:
    """One store ready to be written: where, which dataset, its examples and models."""

    path: Path
    dataset: str
    classes: list[str]
    examples: pd.DataFrame
    models: list[ImportedModel]

    @property
    def fingerprint(self) -> str:
        """Return a sha256 of the example ids and labels, in order."""
        digest = hashlib.sha256()
        for example_id, label in zip(self.examples["example_id"], self.examples["label"]):
            digest.update(f"{example_id}\t{label}\n".encode())
        return digest.hexdigest()

    def dataset_entry(self) -> dict:
        """Return the dataset entry this store's manifest holds once written."""
        return {"name": self.dataset, "fingerprint": self.fingerprint, "classes": list(self.classes)}


def methodology_meta(architecture: str | None, objective: str | None, training_data: str | None) -> dict:
    """Return the methodology fields of an imported model as store metadata.

    Args:
        architecture: The network, or None when the source does not say.
        objective: A name from :data:`norep.zoo.OBJECTIVES`, or None.
        training_data: The (pre)training data, or None.

    Returns:
        Every methodology field; the seed and hyper-parameters are unknown (None).
    """
    if objective is not None and objective not in OBJECTIVES:
        raise ValueError(f"objective {objective!r} is not in the shared vocabulary {sorted(OBJECTIVES)}")
    return Methodology(architecture, objective, training_data, seed=None, hyperparameters=None).as_meta()


def import_predictions(kind: str, path: str | None, store: str, logits_dtype: str | None = None) -> None:
    """Read, validate and write imported predictions.

    Args:
        kind: ``model-vs-human``, ``imagenet-x`` or ``timm``.
        path: The files to import; None downloads the public files (checksummed)
            for ``model-vs-human`` and ``imagenet-x``.
        store: The store directory (``model-vs-human`` fills ``STORE/<dataset>``).
        logits_dtype: How a new store keeps logits (:meth:`Store.create`): ``"float16"``
            for timm's full outputs; None: float32, or as the existing store does.

    Example:
        >>> import_predictions("imagenet-x", "../shared/data/imagenet-x", "runs/imagenet-x")  # doctest: +SKIP
    """
    if kind == "model-vs-human":
        from norep.producers.importers.model_vs_human import (
            read_model_vs_human as reader,
        )
    elif kind == "imagenet-x":
        from norep.producers.importers.imagenet_x import read_imagenet_x as reader
    elif kind == "timm":
        from norep.producers.importers.timm_output import read_timm_output as reader
    else:
        raise NorepError(f"unknown import kind {kind!r}; use one of {', '.join(KINDS)}")
    stores = reader(path, Path(store))
    write_stores(stores, logits_dtype)
    for imported in stores:
        print(f"{imported.path}: {len(imported.models)} models x {len(imported.examples)} examples")


def write_stores(stores: list[ImportedStore], logits_dtype: str | None = None) -> None:
    """Write validated stores, after checking that no target holds another dataset.

    Args:
        stores: What the importers read; models replace same-id models already there.
        logits_dtype: How new stores keep logits (:meth:`Store.create`).
    """
    for imported in stores:
        if (imported.path / MANIFEST).is_file():
            held = Store(imported.path).manifest["dataset"]
            if held != imported.dataset_entry():
                raise NorepError(
                    f"{imported.path} holds another dataset ({held['name']}, fingerprint "
                    f"{held['fingerprint'][:12]}); import into another --store"
                )
    for imported in stores:
        store = Store.create(imported.path, dataset=imported.dataset, classes=imported.classes,
                             examples=imported.examples, fingerprint=imported.fingerprint,
                             logits_dtype=logits_dtype)
        for model in imported.models:
            store.add_model(model.model_id, model.meta, model.arrays)


def class_indices(values: pd.Series, index_of: dict[str, int], source: str) -> np.ndarray:
    """Map class names to class indices, naming the first unknown name.

    Args:
        values: Class names (strings).
        index_of: Known name -> index (several names may share an index).
        source: The file the names come from, for the error message.

    Returns:
        Integer indices, one per value.

    Example:
        >>> class_indices(pd.Series(["cat", "dog", "cat"]), {"dog": 0, "cat": 1}, "demo.csv")
        array([1, 0, 1])
    """
    positions = pd.Index(list(index_of)).get_indexer(values)
    if (positions < 0).any():
        raise NorepError(
            f"{source}: unknown class {values.iloc[int(np.argmin(positions))]!r} "
            f"(known: {', '.join(list(index_of)[:4])}, ...); the file is not from this dataset"
        )
    return np.fromiter(index_of.values(), dtype=np.int64, count=len(index_of))[positions]


def read_csv_checked(file: Path, required: Sequence[str], filled: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a CSV file as strings, refusing truncated files and missing columns or fields.

    Args:
        file: The CSV file (with a header line).
        required: Columns it must have.
        filled: Columns that must have a value in every row (None: all of them).

    Returns:
        The table, every cell a string (empty where the file has none).
    """
    raw = file.read_bytes()
    if not raw.endswith(b"\n"):
        raise NorepError(f"{file} does not end with a line break: it is truncated; fetch it again")
    try:
        frame = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise NorepError(f"{file} is not a readable CSV file ({str(error).strip()[:80]}); fetch it again") from None
    missing = [c for c in required if c not in frame.columns]
    if missing or frame.empty:
        raise NorepError(f"{file} has no rows with the columns {', '.join(required)}; is it the right file?")
    checked = frame if filled is None else frame[list(filled)]
    empty = (checked.isna() | (checked == "")).any(axis=1)
    if empty.any():
        raise NorepError(f"{file}: line {int(empty.to_numpy().argmax()) + 2} has empty fields; "
                         "the file is damaged or truncated")
    return frame


def reject_duplicates(ids: pd.Series, source: str) -> None:
    """Raise naming the first id that occurs twice in ``ids`` (duplicated trials or rows).

    Args:
        ids: Example ids of one file.
        source: The file, for the error message.
    """
    duplicated = ids.duplicated()
    if duplicated.any():
        raise NorepError(f"{source}: {ids[duplicated].iloc[0]!r} appears twice; remove the duplicated rows")


def aligned_rows(ids: pd.Series, reference: pd.Index, source: str, reference_name: str) -> np.ndarray:
    """Return where each of a file's ids sits in the reference ids, which it must cover exactly.

    Args:
        ids: Example ids of one file, without duplicates.
        reference: The store's example ids.
        source: The file, for the error message.
        reference_name: What defines the reference ids, for the error message.

    Returns:
        Row positions into ``reference``, one per id.
    """
    rows = reference.get_indexer(ids)
    if (rows < 0).any() or len(ids) != len(reference):
        extra = ids[rows < 0]
        missing = reference.difference(pd.Index(ids))
        example = extra.iloc[0] if len(extra) else missing[0]
        raise NorepError(
            f"{source} and {reference_name} cover different images ({len(extra)} only in the first, "
            f"{len(missing)} only in the second, e.g. {example!r}); they come from different image sets"
        )
    return rows
