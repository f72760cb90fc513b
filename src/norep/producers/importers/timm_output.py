"""timm's ``inference.py`` output: top-k classes or full outputs of ImageNet-1k classifiers.

PATH is one results file or a folder of them (``.csv``, ``.json`` in the ``index``,
``split`` or ``records`` layouts, ``.parquet``), one model per file, model id
``timm/<file stem>`` (inference.py names its file ``<model>-<img size>``). Columns as
inference.py writes them, with its default names: ``filename``; ``index`` (with
``--include-index``) and/or ``label`` (class names: WordNet ids with ``--label-type
name``, descriptions by default); ``prob`` or ``logit``; each either one column of
lists or separate columns ``<name>_0, <name>_1, ...`` (``--results-separate-col``).

What is stored:

- full outputs (``--topk 0``, or top-k with k = 1000 and indices): ``logits``; for
  probabilities, their logarithm (softmax of log-probabilities gives them back; zeros
  are clipped to the smallest positive float32);
- top-k outputs (k < 1000): ``predictions`` (top-1 class) with ``confidences`` (its
  probability) for ``prob`` output, and predictions only for ``logit`` output (a top
  logit is not a probability).

True labels: ``labels.csv`` beside the results (columns ``filename`` or ``file_name``
and ``label``: class index, WordNet id or description); without it, the parent folder
of each file name (``inference.py --fullname`` on class folders named by WordNet id).
Every results file must cover exactly the same images as the labels.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from norep.datasets.imagenet import class_range, imagenet_classes
from norep.errors import NorepError
from norep.producers.importers import (
    SPLIT,
    ImportedModel,
    ImportedStore,
    aligned_rows,
    class_indices,
    methodology_meta,
    read_csv_checked,
    reject_duplicates,
)
from norep.producers.importers.imagenet_x import class_index_column

LABELS = "labels.csv"
RESULT_SUFFIXES = (".csv", ".json", ".parquet")
FILENAME = "filename"
OUTPUT_TYPES = ("prob", "logit")
_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")


def read_timm_output(path: str | None, store: Path) -> list[ImportedStore]:
    """Read and validate timm inference results into one store.

    Args:
        path: A results file or a folder of results files (see the module docstring).
        store: The store directory.

    Returns:
        The validated store (a list of one).

    Example:
        >>> [imported] = read_timm_output("results/", Path("runs/timm"))  # doctest: +SKIP
    """
    if path is None:
        raise NorepError("`norep import timm` needs PATH: a results file of timm's inference.py or a folder of them")
    root = Path(path)
    if not root.exists():
        raise NorepError(f"{root} does not exist; pass a results file of timm's inference.py or a folder of them")
    folder = root if root.is_dir() else root.parent
    files = [root] if root.is_file() else sorted(
        f for f in root.iterdir() if f.suffix in RESULT_SUFFIXES and f.name != LABELS
    )
    if not files:
        raise NorepError(f"{root} holds no results file ({', '.join(RESULT_SUFFIXES)}) of timm's inference.py")
    stems = [f.stem for f in files]
    if len(set(stems)) < len(stems):
        twice = next(s for s in stems if stems.count(s) > 1)
        raise NorepError(f"{folder} has several results files named {twice}.*; keep one format per model")
    tables = {file: read_table(file) for file in files}
    wnids, names = imagenet_classes()
    labelled = (read_labels(folder / LABELS, wnids) if (folder / LABELS).is_file()
                else folder_labels(tables[files[0]][FILENAME], wnids))
    labelled = labelled.sort_values(FILENAME, ignore_index=True)
    reference = pd.Index(labelled[FILENAME])
    models = [read_model(file, table, reference, wnids) for file, table in tables.items()]
    examples = pd.DataFrame({
        "example_id": labelled[FILENAME],
        "label": labelled["label"],
        "split": SPLIT,
        "class_range": class_range(labelled["label"].to_numpy()),
    })
    return [ImportedStore(path=store, dataset="imagenet-1k", classes=names, examples=examples, models=models)]


def read_table(file: Path) -> pd.DataFrame:
    """Read one results file into a table with a ``filename`` column.

    Args:
        file: A ``.csv``, ``.json`` or ``.parquet`` file written by inference.py.

    Returns:
        The table; list-valued cells stay lists, arrays or their printed form.
    """
    if file.suffix == ".csv":
        table = read_csv_checked(file, (FILENAME,))
    elif file.suffix == ".parquet":
        try:
            table = pd.read_parquet(file).reset_index()
        except Exception as error:  # pyarrow raises several types for damaged files
            raise NorepError(f"{file} is not a readable parquet file ({type(error).__name__}); it is truncated or damaged") from None
    else:
        table = _read_json(file)
    if FILENAME not in table.columns:
        raise NorepError(
            f"{file} has no {FILENAME!r} column (it has {', '.join(map(str, table.columns[:6]))}); "
            "write it with inference.py's default column names"
        )
    reject_duplicates(table[FILENAME].astype(str), str(file))
    return table.assign(**{FILENAME: table[FILENAME].astype(str)})


def _read_json(file: Path) -> pd.DataFrame:
    text = file.read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        try:
            return pd.DataFrame([json.loads(line) for line in text.splitlines() if line.strip()])
        except json.JSONDecodeError:
            raise NorepError(f"{file} is not valid JSON; it is truncated or damaged") from None
    if isinstance(data, dict) and FILENAME in data:
        return pd.DataFrame([data])
    if isinstance(data, dict) and set(data) >= {"columns", "data"}:
        return pd.DataFrame(data["data"], columns=data["columns"])
    if isinstance(data, dict):
        return pd.DataFrame.from_dict(data, orient="index").rename_axis(FILENAME).reset_index()
    return pd.DataFrame(data)


def read_labels(file: Path, wnids: list[str]) -> pd.DataFrame:
    """Read true labels from a labels file.

    Args:
        file: ``labels.csv`` with ``filename`` (or ``file_name``) and ``label``.
        wnids: WordNet ids in class order.

    Returns:
        ``filename`` and integer ``label`` columns.
    """
    table = read_csv_checked(file, ("label",))
    name_column = next((c for c in (FILENAME, "file_name") if c in table.columns), None)
    if name_column is None:
        raise NorepError(f"{file} needs a {FILENAME!r} (or 'file_name') column naming the images")
    reject_duplicates(table[name_column], str(file))
    values = table["label"]
    numeric = values.str.fullmatch(r"\d+").all()
    labels = class_index_column(values, len(wnids), file) if numeric else class_names_to_indices(values, wnids, file)
    return pd.DataFrame({FILENAME: table[name_column], "label": labels})


def folder_labels(filenames: pd.Series, wnids: list[str]) -> pd.DataFrame:
    """Derive true labels from class folders named by WordNet id in the file names.

    Args:
        filenames: File names as inference.py wrote them with ``--fullname``.
        wnids: WordNet ids in class order.

    Returns:
        ``filename`` and integer ``label`` columns.
    """
    folders = filenames.map(lambda name: Path(name).parent.name)
    if not folders.isin(wnids).all():
        example = filenames[~folders.isin(wnids)].iloc[0]
        raise NorepError(
            f"no {LABELS} beside the results and {example!r} is not inside a folder named by a WordNet "
            f"id; add {LABELS} (filename,label) or run inference.py with --fullname on class folders"
        )
    return pd.DataFrame({FILENAME: filenames, "label": pd.Index(wnids).get_indexer(folders)})


def class_names_to_indices(values: pd.Series, wnids: list[str], source: Path) -> np.ndarray:
    """Map ImageNet class names (WordNet ids or timm's descriptions) to class indices.

    Args:
        values: The names.
        wnids: WordNet ids in class order.
        source: The file, for the error message.

    Returns:
        Integer class indices.
    """
    from timm.data import ImageNetInfo

    info = ImageNetInfo("imagenet-1k")
    index_of = {wnid: i for i, wnid in enumerate(wnids)}
    descriptions = pd.Series(info.label_descriptions() + info.label_descriptions(detailed=True))
    ambiguous = set(descriptions[descriptions.duplicated()])
    present = ambiguous & set(values)
    if present:
        raise NorepError(
            f"{source}: the class name {sorted(present)[0]!r} names several ImageNet classes; "
            "rerun inference.py with --include-index or --label-type name"
        )
    for i, description in enumerate(descriptions):
        if description not in ambiguous:
            index_of[description] = i % len(wnids)
    return class_indices(values, index_of, str(source))


def column_block(table: pd.DataFrame, name: str, numeric: bool, source: Path) -> np.ndarray | None:
    """Return one output of the results as an (N, k) array, or None when absent.

    Args:
        table: The results table.
        name: ``index``, ``label``, ``prob`` or ``logit``.
        numeric: Parse numbers (else class-name strings).
        source: The file, for error messages.

    Returns:
        The column of lists (or scalars), or the separate columns ``name_0..``, stacked.
    """
    dtype = np.float64 if numeric else object
    try:
        if name in table.columns:
            return np.array([_cell_values(cell, numeric) for cell in table[name]], dtype=dtype)
        if f"{name}_0" in table.columns:
            count = next(i for i in range(len(table.columns) + 1) if f"{name}_{i}" not in table.columns)
            block = table[[f"{name}_{i}" for i in range(count)]].to_numpy()
            return block.astype(dtype) if numeric else block.astype(str).astype(object)
    except ValueError:
        raise NorepError(
            f"{source}: {name!r} has rows of different lengths or values that are not numbers; "
            "the file is damaged"
        ) from None
    return None


def _cell_values(cell: object, numeric: bool) -> object:
    if isinstance(cell, str):
        text = cell.strip()
        if not text.startswith("["):
            return [cell]
        inner = text[1:-1]
        return inner.replace(",", " ").split() if numeric else [a or b for a, b in _QUOTED.findall(inner)]
    if isinstance(cell, (list, tuple, np.ndarray)):
        return cell
    return [cell]


def read_model(file: Path, table: pd.DataFrame, reference: pd.Index, wnids: list[str]) -> ImportedModel:
    """Turn one results table into a model aligned with the labelled images.

    Args:
        file: The results file.
        table: Its table (see :func:`read_table`).
        reference: The example ids (sorted labelled file names).
        wnids: WordNet ids in class order.

    Returns:
        The model with ``logits`` or ``predictions`` (+ ``confidences``).
    """
    n_classes = len(wnids)
    rows = aligned_rows(table[FILENAME], reference, str(file), LABELS)
    top = column_block(table, "index", True, file)
    if top is not None:
        bad = (top % 1 != 0) | (top < 0) | (top >= n_classes)
        if bad.any():
            raise NorepError(f"{file}: unknown class index {top[bad][0]:g}; ImageNet class indices lie in 0..{n_classes - 1}")
        top = top.astype(np.int64)
    else:
        names = column_block(table, "label", False, file)
        if names is not None:
            flat = class_names_to_indices(pd.Series(names.ravel()), wnids, file)
            top = flat.reshape(names.shape)
    blocks = {kind: column_block(table, kind, True, file) for kind in OUTPUT_TYPES}
    present = [kind for kind, block in blocks.items() if block is not None]
    if len(present) > 1:
        raise NorepError(f"{file} has both prob and logit outputs; keep one")
    output_type = present[0] if present else None
    outputs = blocks[output_type] if output_type else None
    if outputs is not None and not np.isfinite(outputs).all():
        raise NorepError(f"{file}: {output_type} holds NaN or infinite values; the file is damaged")
    if output_type == "prob" and not ((outputs >= 0) & (outputs <= 1)).all():
        raise NorepError(f"{file}: probabilities must lie in [0, 1]; was it written with --output-type logit?")
    meta = {"display_name": file.stem, **methodology_meta(None, None, None), "output_type": output_type, "source": f"timm inference.py {file.name}"}
    model_id = f"timm/{file.stem}"
    full = outputs is not None and outputs.shape[1] == n_classes
    if full and (top is None or top.shape[1] == n_classes):
        if top is not None and not (np.sort(top, axis=1) == np.arange(n_classes)).all():
            raise NorepError(f"{file}: a row lists a class index twice among its {n_classes} outputs; the file is damaged")
        scores = outputs if top is None else np.take_along_axis(outputs, np.argsort(top, axis=1), axis=1)
        if output_type == "prob":
            scores = np.log(np.maximum(scores, np.finfo(np.float32).tiny))
        logits = np.empty((len(reference), n_classes), dtype=np.float32)
        logits[rows] = scores
        return ImportedModel(model_id, meta, {"logits": logits})
    if top is None:
        width = 0 if outputs is None else outputs.shape[1]
        raise NorepError(
            f"{file} has neither class indices nor names and {width} outputs per image; "
            f"norep imports ImageNet-1k classifiers: rerun inference.py with --include-index or --topk 0"
        )
    predictions = np.empty(len(reference), dtype=np.int64)
    predictions[rows] = top[:, 0]
    arrays = {"predictions": predictions}
    if output_type == "prob":
        arrays["confidences"] = np.empty(len(reference), dtype=np.float64)
        arrays["confidences"][rows] = outputs[:, 0]
    return ImportedModel(model_id, meta, arrays)
