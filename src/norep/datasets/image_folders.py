"""Image folders: the ImageNet validation set in its common layouts, or any labelled folder.

Layouts :func:`open_image_folder` reads:

- **ImageNet, class folders**: one sub-folder per class named by its WordNet id
  (``n01440764/ILSVRC2012_val_00000293.JPEG``), as torchvision's ``ImageFolder`` expects.
- **ImageNet, flat**: all images in one folder plus the official labels, found beside
  the images or in their parent folder (or given as ``labels``): Kaggle's
  ``LOC_val_solution.csv`` (``ImageId,PredictionString``, the WordNet id first), or the
  devkit's ``ILSVRC2012_validation_ground_truth.txt`` (line k labels image k with a
  devkit id) with the devkit's ``meta.mat`` beside it (devkit id -> WordNet id).
- **Any folder with a class list**: a text file with one class name per line; each
  class's images sit in the sub-folder of that name.

Multi-label downstream folders (:func:`open_multilabel_folder`, a
:class:`MultiLabelSet`: any number of classes per image):

- **labels.csv**: the images plus a ``labels.csv`` beside them with the columns
  ``image`` (path relative to the folder) and ``labels`` (class names separated by
  ``;``, empty for none), and optionally ``split`` (``train``, ``held_out`` or ``test``
  on every row; without it the chapter draws a seeded split).
- **Pascal VOC** (the folder ``VOC2007`` of the devkit): ``JPEGImages/<id>.jpg`` and
  ``ImageSets/Main/<class>_<split>.txt``, one ``<id> <flag>`` per line, flag 1 (present),
  -1 (absent) or 0 (present only as "difficult" objects). VOC's ``train``, ``val`` and
  ``test`` files give the parts train, held_out and test when every class has all
  three; otherwise every listed image is pooled for a seeded split. A difficult class
  counts as present when training and is ignored when scoring, as in VOC.

ImageNet classes follow timm's and torchvision's order (sorted WordNet ids, from
:func:`norep.datasets.imagenet.imagenet_classes`); their names are open_clip's bundled
``IMAGENET_CLASSNAMES`` (the names its zero-shot heads are built on). ImageNet example
ids are file names, so both ImageNet layouts of the same images give the same examples.
"""

from __future__ import annotations

import hashlib
import multiprocessing
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from norep.datasets.imagenet import class_range, imagenet_classes
from norep.errors import NorepError

IMAGENET = "imagenet-1k"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".ppm", ".tif", ".tiff")
LABELS_CSV = "labels.csv"
VOC_MAIN = Path("ImageSets") / "Main"
PARTS = ("train", "held_out", "test")
"""The parts of a downstream set, in order."""
VOC_PARTS = {"train": "train", "val": "held_out", "test": "test"}
"""VOC's splits that give the parts, and which part each gives."""
VOC_SPLITS = (*VOC_PARTS, "trainval")
LOC_SOLUTION = "LOC_val_solution.csv"
GROUND_TRUTH = "ILSVRC2012_validation_ground_truth.txt"
DEVKIT_META = "meta.mat"


@dataclass(frozen=True)
class ImageSet:
    """Labelled images on disk: where they are, their labels and the class names.

    Attributes:
        name: The dataset name (``imagenet-1k``, or the folder's name).
        root: The folder the relative file names start from.
        files: Relative file names, in order; they are the example ids.
        labels: One class index per file.
        classes: Class names; labels index into this list.
        skipped: Files left out because they could not be read.
    """

    name: str
    root: Path
    files: tuple[str, ...]
    labels: np.ndarray
    classes: list[str]
    skipped: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.files)

    def path(self, index: int) -> Path:
        """Return the path of image ``index``."""
        return self.root / self.files[index]

    @property
    def example_ids(self) -> list[str]:
        """Example ids: file names for ImageNet, paths relative to the root otherwise."""
        if self.name == IMAGENET:
            return [Path(file).name for file in self.files]
        return list(self.files)

    @property
    def fingerprint(self) -> str:
        """A sha256 of the example ids and labels, in order."""
        digest = hashlib.sha256()
        for example_id, label in zip(self.example_ids, self.labels):
            digest.update(f"{example_id}\t{label}\n".encode())
        return digest.hexdigest()

    def subdomains(self) -> pd.DataFrame:
        """Return the subdomain columns: the paper's class-id ranges for ImageNet, else none."""
        if self.name == IMAGENET:
            return pd.DataFrame({"class_range": class_range(self.labels)})
        return pd.DataFrame(index=range(len(self)))

    def take(self, indices: np.ndarray) -> "ImageSet":
        """Return the images at ``indices`` (in that order)."""
        indices = np.asarray(indices, dtype=np.int64)
        return replace(self, files=tuple(self.files[i] for i in indices), labels=self.labels[indices])


@dataclass(frozen=True)
class MultiLabelSet(ImageSet):
    """Images with any number of classes each: ``labels`` is a 0/1 matrix of shape (N, C).

    Attributes:
        difficult: Shape (N, C), bool: the class is present only as "difficult" objects
            (VOC's flag 0; its label is 1); scoring that class ignores the image. None: none.
        parts: The part (one of :data:`PARTS`) of each image when the folder gives them,
            else None.
    """

    difficult: np.ndarray | None = None
    parts: tuple[str, ...] | None = None

    def take(self, indices: np.ndarray) -> "MultiLabelSet":
        """Return the images at ``indices`` (in that order), with their flags and parts."""
        indices = np.asarray(indices, dtype=np.int64)
        return replace(super().take(indices),
                       difficult=None if self.difficult is None else self.difficult[indices],
                       parts=None if self.parts is None else tuple(self.parts[i] for i in indices))

    def given_parts(self) -> dict[str, np.ndarray] | None:
        """Indices of each part of :data:`PARTS` when the folder gives them, else None."""
        if self.parts is None:
            return None
        parts = np.asarray(self.parts)
        return {part: np.flatnonzero(parts == part) for part in PARTS}


def is_multilabel_folder(path: str | Path) -> bool:
    """Whether a folder is in a multi-label layout (a ``labels.csv``, or VOC's ``ImageSets/Main``)."""
    root = Path(path)
    return (root / LABELS_CSV).is_file() or (root / VOC_MAIN).is_dir()


def open_multilabel_folder(path: str | Path) -> MultiLabelSet:
    """Open a multi-label downstream folder in a layout of the module docstring.

    Args:
        path: The folder (holding ``labels.csv``, or VOC's ``JPEGImages`` and ``ImageSets``).

    Returns:
        The images, sorted by path, with their (N, C) labels; classes sorted by name.

    Raises:
        NorepError: One line naming the problem and the fix for a malformed folder.

    Example:
        >>> voc = open_multilabel_folder("/data/VOCdevkit/VOC2007")      # doctest: +SKIP
        >>> voc.labels.shape, voc.classes[:2]                            # doctest: +SKIP
        ((9963, 20), ['aeroplane', 'bicycle'])
    """
    root = Path(path)
    if (root / LABELS_CSV).is_file():
        return _labels_csv_folder(root / LABELS_CSV)
    if (root / VOC_MAIN).is_dir():
        return _voc_folder(root)
    raise NorepError(f"{root} has neither {LABELS_CSV} nor {VOC_MAIN}; add a {LABELS_CSV} "
                     "(columns image, labels[, split]) or pass a Pascal VOC folder such as VOC2007")


def _labels_csv_folder(file: Path) -> MultiLabelSet:
    table = pd.read_csv(file, dtype=str, keep_default_na=False, skipinitialspace=True)
    missing = [column for column in ("image", "labels") if column not in table.columns]
    if missing:
        raise NorepError(f"{file} has no column {missing[0]!r}; its header must be image,labels (and optionally split)")
    names = [[name.strip() for name in cell.split(";") if name.strip()] for cell in table["labels"]]
    classes = sorted({name for row in names for name in row})
    index_of = {name: k for k, name in enumerate(classes)}
    labels = np.zeros((len(table), len(classes)), dtype=np.uint8)
    for row, row_names in enumerate(names):
        labels[row, [index_of[name] for name in row_names]] = 1
    parts = None
    if "split" in table.columns:
        parts = tuple(table["split"].str.strip())
        unknown = sorted(set(parts) - set(PARTS))
        if unknown:
            raise NorepError(f"{file}: split {unknown[0]!r} is not one of {', '.join(PARTS)}; "
                             "fix the split column, or drop it for a seeded split")
    return _multilabel_set(file.parent, list(table["image"].str.strip()), labels, classes, None, parts, file)


def _voc_folder(root: Path) -> MultiLabelSet:
    main = root / VOC_MAIN
    flags: dict[str, dict[str, dict[str, int]]] = {}  # split -> class -> image id -> flag
    for file in sorted(main.glob("*_*.txt")):
        name, _, split = file.stem.rpartition("_")
        if split in VOC_SPLITS:
            flags.setdefault(split, {})[name] = _voc_flags(file)
    classes = sorted({name for per_class in flags.values() for name in per_class})
    if not classes:
        raise NorepError(f"{main} holds no <class>_<split>.txt files (split: {', '.join(VOC_SPLITS)}); "
                         "pass a Pascal VOC folder such as VOC2007")
    for split, per_class in flags.items():
        first, *_ = lists = [(name, sorted(ids)) for name, ids in per_class.items()]
        odd = next((name for name, ids in lists if ids != first[1]), None)
        if odd is not None:
            raise NorepError(f"{main}: {odd}_{split}.txt and {first[0]}_{split}.txt list different images; "
                             "use the ImageSets/Main of one VOC release")
    complete = [split for split in flags if len(flags[split]) == len(classes)]
    given = all(split in complete for split in VOC_PARTS)
    splits = list(VOC_PARTS) if given else complete
    if not splits:
        raise NorepError(f"{main}: no split has a file for each of the {len(classes)} classes; "
                         "add the missing <class>_<split>.txt files")
    part_of, flag_of = {}, {}
    for split in splits:
        for name, ids in flags[split].items():
            for image, flag in ids.items():
                if given and part_of.setdefault(image, VOC_PARTS[split]) != VOC_PARTS[split]:
                    raise NorepError(f"{main}: image {image} is in two of the train, val and test lists; "
                                     "use the ImageSets/Main of one VOC release")
                flag_of[image, name] = flag
    images = sorted({image for image, _ in flag_of})
    flag_matrix = np.array([[flag_of.get((image, name), -1) for name in classes] for image in images])
    return _multilabel_set(root, [f"JPEGImages/{image}.jpg" for image in images], (flag_matrix >= 0).astype(np.uint8),
                           classes, flag_matrix == 0, tuple(part_of[i] for i in images) if given else None, main)


def _voc_flags(file: Path) -> dict[str, int]:
    flags = {}
    for number, line in enumerate(file.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("1", "-1", "0"):
            raise NorepError(f"{file}: line {number} is not '<image id> <1, -1 or 0>'; the file is damaged")
        flags[fields[0]] = int(fields[1])
    return flags


def _multilabel_set(root: Path, files: list[str], labels: np.ndarray, classes: list[str],
                    difficult: np.ndarray | None, parts: tuple[str, ...] | None, source: Path) -> MultiLabelSet:
    """Check a multi-label set read from ``source`` and return it sorted by file."""
    if len(classes) < 2:
        raise NorepError(f"{source} names {len(classes)} class(es); a multi-label set needs at least two")
    duplicate = next((f for f, n in pd.Series(files).value_counts().items() if n > 1), None)
    if duplicate is not None:
        raise NorepError(f"{source} lists {duplicate} twice; give each image one row")
    missing = next((f for f in files if not (root / f).is_file()), None)
    if missing is not None:
        raise NorepError(f"{source} lists {missing}, which is not in {root}; add the image or remove its row")
    if parts is not None:
        empty = next((part for part in PARTS if part not in parts), None)
        if empty is not None:
            raise NorepError(f"{source} puts no image in the {empty} part; give every part of {', '.join(PARTS)} "
                             "images, or drop the split for a seeded split")
    order = np.argsort(files, kind="stable")
    return MultiLabelSet(root.name, root, tuple(files[i] for i in order), labels[order], classes,
                         difficult=None if difficult is None else difficult[order],
                         parts=None if parts is None else tuple(parts[i] for i in order))


def imagenet_class_names() -> list[str]:
    """Return open_clip's bundled names of the 1,000 ImageNet classes, in class order."""
    from open_clip import IMAGENET_CLASSNAMES

    return list(IMAGENET_CLASSNAMES)


def open_image_folder(path: str | Path, labels: str | Path | None = None,
                      class_list: str | Path | None = None) -> ImageSet:
    """Find the images and labels of a folder in one of the layouts of the module docstring.

    Args:
        path: The image folder.
        labels: The labels file of a flat ImageNet folder (found automatically when None).
        class_list: A text file of class names, one per line, for a non-ImageNet folder.

    Returns:
        The images, sorted by file name, with their labels.

    Example:
        >>> images = open_image_folder("/data/imagenet/val")        # doctest: +SKIP
        >>> len(images), images.classes[0]                          # doctest: +SKIP
        (50000, 'tench')
    """
    root = Path(path)
    if not root.is_dir():
        raise NorepError(f"image folder {root} does not exist; pass the folder of the validation images")
    if class_list is not None:
        return _class_list_folder(root, Path(class_list))
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    wnids, _ = imagenet_classes()
    if folders and not _images_in(root):
        return _wnid_folders(root, folders, wnids)
    files = _images_in(root)
    if not files:
        raise NorepError(
            f"{root} holds no images ({', '.join(IMAGE_SUFFIXES)}) and no class folders; "
            "pass the folder of the validation images"
        )
    labels_file = Path(labels) if labels is not None else _find_labels(root)
    if labels_file is None:
        raise NorepError(
            f"{root} is a flat folder of images without labels: put {LOC_SOLUTION} or the "
            f"devkit's {GROUND_TRUTH} (with {DEVKIT_META}) beside it, or pass --labels"
        )
    if not labels_file.is_file():
        raise NorepError(f"labels file {labels_file} does not exist")
    if labels_file.name.endswith(".csv"):
        label_of = _loc_solution(labels_file, wnids)
    else:
        label_of = _ground_truth(labels_file, wnids)
    missing = [f for f in files if f not in label_of]
    if missing:
        raise NorepError(
            f"{labels_file} does not match the images in {root}: {len(missing)} of {len(files)} images "
            f"have no label (e.g. {missing[0]}); use the labels file of these images"
        )
    return ImageSet(IMAGENET, root, tuple(files), np.array([label_of[f] for f in files], dtype=np.int64),
                    imagenet_class_names())


def load_image(path: Path):
    """Open an image as RGB; an unreadable file is a one-line error naming it.

    Args:
        path: The image file.

    Returns:
        The decoded ``PIL.Image`` in RGB.
    """
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, SyntaxError, ValueError) as error:  # PIL's errors for damaged files
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        raise NorepError(
            f"{path} is not a readable image ({reason}); replace it, or skip such files with --skip-corrupt"
        ) from None


def without_unreadable(images: ImageSet, workers: int = 0) -> ImageSet:
    """Decode every image once and return the set without the unreadable ones.

    Args:
        images: The images.
        workers: Processes that decode in parallel (0: this process).

    Returns:
        The readable images; ``skipped`` names the others.
    """
    paths = [images.path(i) for i in range(len(images))]
    if workers > 0:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            readable = pool.map(_readable, paths, chunksize=64)
    else:
        readable = [_readable(p) for p in paths]
    keep = np.flatnonzero(readable)
    bad = tuple(images.files[i] for i in np.flatnonzero(~np.asarray(readable, dtype=bool)))
    return replace(images.take(keep), skipped=images.skipped + bad)


def _readable(path: Path) -> bool:
    try:
        load_image(path)
    except NorepError:
        return False
    return True


def _images_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _wnid_folders(root: Path, folders: list[Path], wnids: list[str]) -> ImageSet:
    index_of = {wnid: i for i, wnid in enumerate(wnids)}
    unknown = [f.name for f in folders if f.name not in index_of]
    if unknown:
        raise NorepError(
            f"{root / unknown[0]} is not named by an ImageNet WordNet id (like n01440764); "
            "for other classes pass a class list (--classes FILE)"
        )
    files, labels = [], []
    for folder in folders:
        names = _images_in(folder)
        files += [f"{folder.name}/{name}" for name in names]
        labels += [index_of[folder.name]] * len(names)
    if not files:
        raise NorepError(f"the class folders of {root} hold no images ({', '.join(IMAGE_SUFFIXES)})")
    order = np.argsort([Path(f).name for f in files], kind="stable")
    return ImageSet(IMAGENET, root, tuple(files[i] for i in order),
                    np.asarray(labels, dtype=np.int64)[order], imagenet_class_names())


def _class_list_folder(root: Path, class_list: Path) -> ImageSet:
    if not class_list.is_file():
        raise NorepError(f"class list {class_list} does not exist; give a text file, one class name per line")
    classes = [line.strip() for line in class_list.read_text().splitlines() if line.strip()]
    if not classes:
        raise NorepError(f"class list {class_list} is empty; give one class name per line")
    known = set(classes)
    strays = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in known)
    if strays:
        raise NorepError(f"{root / strays[0]} is not a class of {class_list}; add it there or move it out")
    files, labels = [], []
    for label, name in enumerate(classes):
        if (root / name).is_dir():
            names = _images_in(root / name)
            files += [f"{name}/{file}" for file in names]
            labels += [label] * len(names)
    if not files:
        raise NorepError(f"{root} holds no images in the folders of the classes of {class_list}")
    return ImageSet(root.name, root, tuple(files), np.asarray(labels, dtype=np.int64), classes)


def _find_labels(root: Path) -> Path | None:
    for folder in (root, root.parent):
        for name in (LOC_SOLUTION, GROUND_TRUTH):
            if (folder / name).is_file():
                return folder / name
    return None


def _loc_solution(file: Path, wnids: list[str]) -> dict[str, int]:
    table = pd.read_csv(file, dtype=str)
    if list(table.columns[:2]) != ["ImageId", "PredictionString"]:
        raise NorepError(f"{file} is not {LOC_SOLUTION}: its header must be ImageId,PredictionString")
    first = table["PredictionString"].fillna("").str.split().str[0]
    index_of = pd.Index(wnids).get_indexer(first)
    if (index_of < 0).any():
        row = int(np.argmax(index_of < 0))
        raise NorepError(f"{file}: line {row + 2} does not start with an ImageNet WordNet id; the file is damaged")
    return {f"{image}.JPEG": int(i) for image, i in zip(table["ImageId"], index_of)}


def _ground_truth(file: Path, wnids: list[str]) -> dict[str, int]:
    meta = file.parent / DEVKIT_META
    if not meta.is_file():
        raise NorepError(
            f"{file} gives devkit class ids: it needs the devkit's {DEVKIT_META} beside it to map them to "
            "WordNet ids (keep the devkit's data/ folder together)"
        )
    devkit_to_index = _devkit_ids(meta, wnids)
    try:
        ids = [int(line) for line in file.read_text().split()]
    except ValueError:
        raise NorepError(f"{file} must hold one integer devkit class id per line; the file is damaged") from None
    unknown = sorted(set(ids) - set(devkit_to_index))
    if unknown:
        raise NorepError(f"{file}: devkit class id {unknown[0]} is not in {meta}; the files do not belong together")
    return {f"ILSVRC2012_val_{k + 1:08d}.JPEG": devkit_to_index[i] for k, i in enumerate(ids)}


def _devkit_ids(meta: Path, wnids: list[str]) -> dict[int, int]:
    from scipy.io import loadmat

    try:
        synsets = loadmat(meta, squeeze_me=True)["synsets"]
    except (ValueError, KeyError, OSError) as error:
        raise NorepError(f"{meta} is not the devkit's meta.mat ({type(error).__name__}); use the devkit's file") from None
    index_of = {wnid: i for i, wnid in enumerate(wnids)}
    return {int(i): index_of[str(w)] for i, w in zip(synsets["ILSVRC2012_ID"], synsets["WNID"]) if str(w) in index_of}
