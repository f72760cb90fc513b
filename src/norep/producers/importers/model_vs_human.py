"""model-vs-human: trial-by-trial decisions of models and human observers, one store per dataset.

The input folder holds, for each of the 17 out-of-distribution datasets, one CSV per
observer named ``<dataset>_<observer>_session[-_]N.csv`` with the columns
``object_response`` (the decision, ``na`` when a human gave none), ``category`` (the
true class), ``condition`` and ``imagename``. Dataset folders are found by name
anywhere up to two levels below the input (``humans/<dataset>``, ``models/<dataset>``
or upstream's flat ``raw-data/<dataset>``). Observers called ``subject-NN`` are humans.

Pairing: an example is a (condition, image) pair. The image's identity is the last
underscore-separated token of ``imagename``, or the last two when they form an ImageNet
file id (``n03041632_7380.png``): the leading tokens carry a trial number and an
observer token. A missing condition (empty or ``NaN``, as in the model files of the
single-condition sets) is read as ``0``, the value the human files use.

The stored arrays are ``predictions`` only: the files record decisions, not
confidences. A response is stored as it was given: a human's ``na`` (no answer in
time) is the store's last class, :data:`NO_ANSWER` (after the 16 categories of
:data:`CLASSES`), so that, read as stored, it is a wrong answer, as model-vs-human
counts it (its analyses use ``is_correct = object_response == category``). An example
the observer never saw is -1 (missing). A reader that prefers to leave no-answer
trials out treats the class :data:`NO_ANSWER` as missing (see
``norep.book.chapters.real_models.NO_ANSWER_RULES``).
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from norep.datasets.download import fetch_files
from norep.errors import NorepError
from norep.producers.importers import (
    IMAGENET_1K,
    SPLIT,
    ImportedModel,
    ImportedStore,
    class_indices,
    methodology_meta,
    read_csv_checked,
    reject_duplicates,
)

DATASETS = (
    "colour", "contrast", "cue-conflict", "edge", "eidolonI", "eidolonII", "eidolonIII",
    "false-colour", "high-pass", "low-pass", "phase-scrambling", "power-equalisation",
    "rotation", "silhouette", "sketch", "stylized", "uniform-noise",
)
CLASSES = (
    "airplane", "bear", "bicycle", "bird", "boat", "bottle", "car", "cat", "chair", "clock",
    "dog", "elephant", "keyboard", "knife", "oven", "truck",
)
NO_ANSWER = "na"
"""A human's response when no answer came in time; the store's last class."""
STORE_CLASSES = (*CLASSES, NO_ANSWER)
"""The classes of every model-vs-human store: the 16 categories, then :data:`NO_ANSWER`."""
REQUIRED_COLUMNS = ("object_response", "category", "condition", "imagename")
UPSTREAM = "https://raw.githubusercontent.com/bethgelab/model-vs-human/{commit}/raw-data/{dataset}/{name}"
COMMITS = {
    "humans": "79ed7cd1d9ac3a114e71b6638f0a98bdd627316c",  # default branch
    "models": "93ee6766db71bc99de23a16cf5216acff181b470",  # branch swag
}
_HUMAN = re.compile(r"^subject-\d+$")
# The last token, with the one before it when that is an ImageNet synset (n + 8 digits).
_IDENTITY = r"(?:^|_)((?:n\d{8}_)?[^_]*)$"
_SWAG = ("weakly-supervised", "Instagram hashtags + ImageNet-1k")
# observer -> (architecture, objective, training data), as model-vs-human documents them.
METHODOLOGY = {
    "resnet50": ("ResNet-50", "cross-entropy", IMAGENET_1K),
    "bagnet33": ("BagNet-33", "cross-entropy", IMAGENET_1K),
    "simclr-resnet50x1": ("ResNet-50", "nt-xent", IMAGENET_1K),
    "swag-regnety-16gf-in1k": ("RegNetY-16GF", *_SWAG),
    "swag-regnety-32gf-in1k": ("RegNetY-32GF", *_SWAG),
    "swag-regnety-128gf-in1k": ("RegNetY-128GF", *_SWAG),
    "swag-vit-b16-in1k": ("ViT-B/16", *_SWAG),
    "swag-vit-l16-in1k": ("ViT-L/16", *_SWAG),
    "swag-vit-h14-in1k": ("ViT-H/14", *_SWAG),
}


def upstream_files() -> dict[str, tuple[str, str]]:
    """Return the public files of the 17 datasets: relative path -> (url, sha256)."""
    listing = resources.files("norep.producers.importers").joinpath("model_vs_human.sha256").read_text()
    files = {}
    for line in listing.splitlines():
        sha256, relpath = line.split()
        group, dataset, name = relpath.split("/")
        files[relpath] = (UPSTREAM.format(commit=COMMITS[group], dataset=dataset, name=name), sha256)
    return files


def read_model_vs_human(path: str | None, store: Path) -> list[ImportedStore]:
    """Read and validate every dataset found under ``path``, one store per dataset.

    Args:
        path: The folder with the CSV files; None downloads the public files.
        store: Parent directory; dataset ``sketch`` goes to ``store/sketch``.

    Returns:
        One validated store per dataset, in alphabetical order.

    Example:
        >>> stores = read_model_vs_human("../shared/data/model-vs-human", Path("runs/mvh"))  # doctest: +SKIP
    """
    root = Path(path) if path else fetch_files("model-vs-human", upstream_files())
    if not root.is_dir():
        raise NorepError(f"{root} is not a folder; pass the folder holding the model-vs-human CSV files")
    folders: dict[str, list[Path]] = {}
    for folder in [root, *root.iterdir(), *root.glob("*/*")]:
        if folder.is_dir() and folder.name in DATASETS:
            folders.setdefault(folder.name, []).append(folder)
    if not folders:
        raise NorepError(
            f"{root} holds no model-vs-human dataset folder ({', '.join(DATASETS[:3])}, ...); "
            "pass the folder with humans/<dataset> and models/<dataset>"
        )
    return [read_dataset(name, folders[name], store / name) for name in sorted(folders)]


def image_identities(imagenames: pd.Series) -> pd.Series:
    """Return the identity of the image shown in each trial (see the module docstring).

    Args:
        imagenames: The ``imagename`` fields of trials.

    Returns:
        The images' identities, shared by every observer who saw the same image.

    Example:
        >>> image_identities(pd.Series(["0001_cl_s01_cr_oven_40_n04111531_14126.png",
        ...                             "0001_ske_dnn_0_boat_00_boat-0068-sketch-23.png"])).tolist()
        ['n04111531_14126.png', 'boat-0068-sketch-23.png']
    """
    return imagenames.str.extract(_IDENTITY, expand=False)


def read_trials(file: Path) -> pd.DataFrame:
    """Read and validate one observer's file.

    Args:
        file: The CSV file.

    Returns:
        One row per trial: ``example_id`` (``condition/image``), ``label`` and
        ``response`` (indices into :data:`STORE_CLASSES`; a no-answer is the index of
        :data:`NO_ANSWER`).
    """
    frame = read_csv_checked(file, REQUIRED_COLUMNS, ("object_response", "category", "imagename"))
    condition = frame["condition"].fillna("").replace({"": "0", "NaN": "0", "nan": "0"})
    example_id = condition + "/" + image_identities(frame["imagename"])
    reject_duplicates(example_id, str(file))
    responses = {name: i for i, name in enumerate(STORE_CLASSES)}
    labels = {name: i for i, name in enumerate(CLASSES)}
    return pd.DataFrame({
        "example_id": example_id,
        "condition": condition,
        "label": class_indices(frame["category"], labels, str(file)),
        "response": class_indices(frame["object_response"], responses, str(file)),
    })


def read_dataset(dataset: str, folders: list[Path], path: Path) -> ImportedStore:
    """Read every observer of one dataset and pair their trials by example.

    Args:
        dataset: The dataset name, e.g. ``sketch``.
        folders: The folders holding its files.
        path: The store directory it goes to.

    Returns:
        The validated store: examples sorted by condition and image, models first,
        then human observers.
    """
    pattern = re.compile(rf"^{re.escape(dataset)}_(?P<observer>.+)_session[-_]\d+\.csv$")
    trials: dict[str, pd.DataFrame] = {}
    sources: dict[str, Path] = {}
    for file in sorted(f for folder in folders for f in folder.glob("*.csv")):
        match = pattern.match(file.name)
        if not match:
            raise NorepError(f"{file} is not named {dataset}_<observer>_session-N.csv; it belongs to another dataset")
        observer = match["observer"]
        if observer in trials:
            raise NorepError(f"{file} and {sources[observer]} are both observer {observer!r}; keep one")
        trials[observer], sources[observer] = read_trials(file), file
    if not trials:
        raise NorepError(f"{', '.join(map(str, folders))}: no observer files for {dataset}")
    everything = pd.concat(trials.values(), keys=list(trials), names=["observer", None]).reset_index(0)
    examples = everything.drop_duplicates("example_id").sort_values(["condition", "example_id"])
    conflicts = everything.groupby("example_id")["label"].nunique()
    if (conflicts > 1).any():
        raise NorepError(
            f"{dataset}: image {conflicts.idxmax()!r} has different true classes in different files; "
            "the files come from different image sets"
        )
    seen_by = everything.groupby("example_id")["observer"].nunique()
    for observer, frame in trials.items():
        if len(trials) > 1 and (seen_by[frame["example_id"]] == 1).all():
            raise NorepError(
                f"{sources[observer]} shares no image with the other {dataset} files; "
                "it comes from another image set"
            )
    index = pd.Index(examples["example_id"])
    models = []
    for observer in sorted(trials, key=lambda o: (bool(_HUMAN.match(o)), o)):
        frame = trials[observer]
        predictions = np.full(len(index), -1, dtype=np.int64)
        predictions[index.get_indexer(frame["example_id"])] = frame["response"].to_numpy()
        models.append(ImportedModel(observer, observer_meta(observer, sources[observer]),
                                    {"predictions": predictions}))
    return ImportedStore(
        path=path,
        dataset=f"model-vs-human/{dataset}",
        classes=list(STORE_CLASSES),
        examples=pd.DataFrame({
            "example_id": examples["example_id"].to_numpy(),
            "label": examples["label"].to_numpy(),
            "split": SPLIT,
            "condition": examples["condition"].to_numpy(),
        }),
        models=models,
    )


def observer_meta(observer: str, source: Path) -> dict:
    """Return the store metadata of one observer: humans, known models, or unknown models.

    Args:
        observer: The observer token of the file name (``subject-01``, ``resnet50``).
        source: The file it was read from.

    Returns:
        Display name, observer kind and methodology; what is undocumented is None.
    """
    human = bool(_HUMAN.match(observer))
    architecture, objective, training_data = (
        ("human", None, None) if human else METHODOLOGY.get(observer, (None, None, None))
    )
    return {
        "display_name": observer,
        "observer": "human" if human else "model",
        **methodology_meta(architecture, objective, training_data),
        "source": f"model-vs-human {source.name}",
    }
