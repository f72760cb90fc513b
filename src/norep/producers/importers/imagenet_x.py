"""ImageNet-X: top-1 predictions of four pretrained models on the 50,000 ImageNet validation images.

The input folder holds ``labels.csv`` (``file_name,label``) and one ``<Model>.csv`` per
model (``file_name,predicted_class,predicted_probability``: the top-1 class index in
the standard ImageNet order and its probability), the format of the ImageNet-X
repository (``model_predictions/base/``); any other model saved in that format is
imported too, with its methodology left empty.

Examples are the validation images sorted by file name, all in the split ``test``.
Each model's arrays are ``predictions`` and ``confidences`` (the probability of the
predicted class, as given: uncalibrated, and without the full probabilities no
temperature can rescale it). Subdomain columns:

- ``class_range``: ``nature`` for class ids in [0, 300), ``anthropogenic`` for ids in
  [500, 900), ``other`` otherwise: the two ranges the paper's Figure 4 contrasts, read
  as half-open intervals;
- ``metaclass``: the ImageNet-X metaclass of the true class (16 named ones, else
  ``other``), as the ``imagenet-x`` package maps it;
- ``top_factor``: the annotators' main factor of variation, and ``factor_<name>``
  (true/false) for each of the 16 factors of the multi-factor annotation; empty (null)
  for the images ImageNet-X did not annotate;
- ``prototype``: the images ImageNet-X used as class prototypes (its own analyses leave
  them out).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from norep.datasets.download import fetch_files
from norep.datasets.imagenet import class_range, imagenet_classes, imagenet_x_subdomains
from norep.errors import NorepError
from norep.producers.importers import (
    IMAGENET_1K,
    SPLIT,
    ImportedModel,
    ImportedStore,
    aligned_rows,
    methodology_meta,
    read_csv_checked,
    reject_duplicates,
)

LABELS = "labels.csv"
PREDICTION_COLUMNS = ("file_name", "predicted_class", "predicted_probability")
COMMIT = "6403d41a5cc435543a63060e336bc2452e3ad223"
_RAW = f"https://raw.githubusercontent.com/facebookresearch/imagenetx/{COMMIT}/"
UPSTREAM = {
    "DINO.csv": (_RAW + "model_predictions/base/DINO.csv",
                 "e46713518b13144daebaadd63a67a0466cb9efc91370b1408c8cb8f38c7bdef4"),
    "ResNet50.csv": (_RAW + "model_predictions/base/ResNet50.csv",
                     "313b702ffb5c7dc3a97b1d5caf23c7190d1633039ba0cf5c0399c256e7a35f15"),
    "SimCLR.csv": (_RAW + "model_predictions/base/SimCLR.csv",
                   "f028b8beb17de3d643e82ff6bdce324a485b05fa5cf9f4cbf1a569c2f993cd19"),
    "ViT.csv": (_RAW + "model_predictions/base/ViT.csv",
                "a9487bc285348f298c389057d039da7a626337a68f9e91f083267dad16e256e4"),
    LABELS: (_RAW + "imagenet_x/annotations/filename_label.csv",
             "e279a4972518474b373b02b06a35ad21c3572626715eea574d5f7d55302a92bf"),
}
# model -> (display name, architecture, objective, training data), as ImageNet-X documents
# them: the ViT's (pre)training data and the self-supervised models' networks are not stated.
METHODOLOGY = {
    "ResNet50": ("ResNet-50", "ResNet-50", "cross-entropy", IMAGENET_1K),
    "ViT": ("ViT", "ViT", "cross-entropy", None),
    "SimCLR": ("SimCLR", None, "nt-xent", IMAGENET_1K),
    "DINO": ("DINO", None, "dino", IMAGENET_1K),
}


def read_imagenet_x(path: str | None, store: Path) -> list[ImportedStore]:
    """Read and validate ImageNet-X prediction files into one store.

    Args:
        path: The folder with ``labels.csv`` and the ``<Model>.csv`` files; None
            downloads the public files.
        store: The store directory.

    Returns:
        The validated store (a list of one).

    Example:
        >>> [imported] = read_imagenet_x("../shared/data/imagenet-x", Path("runs/imagenet-x"))  # doctest: +SKIP
    """
    root = Path(path) if path else fetch_files("imagenet-x", UPSTREAM)
    if not (root / LABELS).is_file():
        raise NorepError(f"{root} has no {LABELS}; pass the folder with labels.csv and the <Model>.csv files")
    model_files = sorted(f for f in root.glob("*.csv") if f.name != LABELS)
    if not model_files:
        raise NorepError(f"{root} has no <Model>.csv prediction files beside {LABELS}")
    wnids, names = imagenet_classes()
    labels = read_csv_checked(root / LABELS, ("file_name", "label"))
    reject_duplicates(labels["file_name"], str(root / LABELS))
    labels = labels.sort_values("file_name", ignore_index=True)
    label = class_index_column(labels["label"], len(names), root / LABELS)
    reference = pd.Index(labels["file_name"])
    models = [read_model(file, reference, len(names)) for file in model_files]
    examples = pd.DataFrame({
        "example_id": labels["file_name"],
        "label": label,
        "split": SPLIT,
        "class_range": class_range(label),
    })
    examples = pd.concat([examples, imagenet_x_subdomains(labels["file_name"], label)], axis=1)
    return [ImportedStore(path=store, dataset="imagenet-x", classes=names, examples=examples, models=models)]


def class_index_column(values: pd.Series, n_classes: int, source: Path) -> np.ndarray:
    """Parse a column of class indices, refusing anything outside 0..n_classes-1.

    Args:
        values: The column, as strings.
        n_classes: Number of classes.
        source: The file, for the error message.

    Returns:
        Integer class indices.
    """
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() | (numbers % 1 != 0) | (numbers < 0) | (numbers >= n_classes)
    if bad.any():
        raise NorepError(
            f"{source}: unknown class index {values[bad].iloc[0]!r}; "
            f"ImageNet class indices lie in 0..{n_classes - 1}"
        )
    return numbers.to_numpy(dtype=np.int64)


def read_model(file: Path, reference: pd.Index, n_classes: int) -> ImportedModel:
    """Read one model's predictions, aligned with the labels' images.

    Args:
        file: ``<Model>.csv``.
        reference: The example ids (sorted file names of ``labels.csv``).
        n_classes: Number of classes.

    Returns:
        The model with ``predictions`` and ``confidences`` (the predicted class's
        probability), and its documented methodology.
    """
    frame = read_csv_checked(file, PREDICTION_COLUMNS)
    reject_duplicates(frame["file_name"], str(file))
    rows = aligned_rows(frame["file_name"], reference, str(file), LABELS)
    probability = pd.to_numeric(frame["predicted_probability"], errors="coerce").to_numpy()
    if not np.all((probability >= 0) & (probability <= 1)):
        raise NorepError(f"{file}: predicted_probability must be a number in [0, 1]; the file is damaged")
    predictions = np.empty(len(reference), dtype=np.int64)
    confidences = np.empty(len(reference), dtype=np.float64)
    predictions[rows] = class_index_column(frame["predicted_class"], n_classes, file)
    confidences[rows] = probability
    display, architecture, objective, training_data = METHODOLOGY.get(file.stem, (file.stem, None, None, None))
    meta = {
        "display_name": display,
        **methodology_meta(architecture, objective, training_data),
        "source": f"ImageNet-X {file.name}",
    }
    return ImportedModel(file.stem, meta, {"predictions": predictions, "confidences": confidences})
