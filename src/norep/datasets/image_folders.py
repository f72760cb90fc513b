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
