"""Fashion-MNIST: finding and verifying the IDX files, reading them, and the fixed splits.

The four files are looked for, in order, in an explicit folder, ``$NOREP_DATA``, the
Debian/Ubuntu package ``dataset-fashion-mnist`` and the user cache (filled on request
by a download from the official release). Each file may be gzipped or not; its
*decompressed* content is checked against a sha256, so any faithful copy is accepted.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from norep.datasets.download import cache_dir, fetch
from norep.errors import NorepError

CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
SUPERCLASSES = {
    "tops": ("T-shirt/top", "Pullover", "Coat", "Shirt"),
    "footwear": ("Sandal", "Sneaker", "Ankle boot"),
    "other": ("Trouser", "Dress", "Bag"),
}
"""Natural superclasses of the ten classes, used as subdomains."""

# sha256 of the decompressed IDX files of the official release.
FILES = {
    "train_images": ("train-images-idx3-ubyte", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    "train_labels": ("train-labels-idx1-ubyte", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    "test_images": ("t10k-images-idx3-ubyte", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    "test_labels": ("t10k-labels-idx1-ubyte", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
}
RELEASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
DEBIAN_PATH = Path("/usr/share/datasets/fashion-mnist")
SPLIT_NAMES = ("calibration", "probe", "test")


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzipped or not) into an unsigned-byte array.

    Args:
        path: The file.

    Returns:
        An array whose shape is given by the file's header.
    """
    data = _read_bytes(Path(path))
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise NorepError(f"{path} is not an unsigned-byte IDX file (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if len(data) != header + int(np.prod(shape)):
        raise NorepError(f"{path} is truncated or padded: its header announces shape {shape}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _read_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError):
            raise NorepError(f"{path} is a damaged gzip file; delete it and fetch it again") from None
    return raw


def _locate(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def candidate_folders(path: str | Path | None = None) -> list[tuple[str, Path | None]]:
    """Return the places searched for the data, in order, as (description, folder)."""
    env = os.environ.get("NOREP_DATA")
    return [
        ("--data", Path(path) if path else None),
        ("$NOREP_DATA", Path(env) if env else None),
        ("Debian package dataset-fashion-mnist", DEBIAN_PATH),
        ("user cache", cache_dir() / "fashion-mnist"),
    ]


def find_fashion_mnist(path: str | Path | None = None) -> Path:
    """Return the first folder that holds all four Fashion-MNIST files.

    Args:
        path: An explicit folder; when given it must hold the files.

    Returns:
        The folder.
    """
    places = candidate_folders(path)
    for description, folder in places:
        if folder is not None and all(_locate(folder, stem) for stem, _ in FILES.values()):
            return folder
        if description == "--data" and folder is not None:
            raise NorepError(
                f"{folder} does not hold the four Fashion-MNIST IDX files "
                f"({', '.join(stem for stem, _ in FILES.values())}, optionally .gz)"
            )
    looked = "; ".join(f"{d} ({f if f else 'unset'})" for d, f in places)
    raise NorepError(
        f"Fashion-MNIST not found. Looked in: {looked}. Fix: `apt-get install "
        "dataset-fashion-mnist`, pass --data FOLDER, set NOREP_DATA, or run "
        "`norep data download`"
    )


def download_fashion_mnist() -> Path:
    """Download the official release into the user cache and verify it.

    Returns:
        The cache folder holding the verified files.
    """
    folder = cache_dir() / "fashion-mnist"
    for stem, expected in FILES.values():
        if _locate(folder, stem) is None:
            fetch(RELEASE_URL + stem + ".gz", folder / (stem + ".gz"))
        target = _locate(folder, stem)
        if hashlib.sha256(_read_bytes(target)).hexdigest() != expected:
            target.unlink()
            raise NorepError(f"downloaded {target.name} failed its checksum and was deleted; retry")
    return folder


@dataclass(frozen=True)
class FashionMNIST:
    """The verified arrays of Fashion-MNIST and a fingerprint of their content."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    fingerprint: str


def load_fashion_mnist(path: str | Path | None = None) -> FashionMNIST:
    """Find, verify and read Fashion-MNIST.

    Args:
        path: An explicit folder (see :func:`find_fashion_mnist` for the search order).

    Returns:
        The four arrays (images uint8 N x 28 x 28, labels uint8 N).
    """
    folder = find_fashion_mnist(path)
    arrays = {}
    for key, (stem, expected) in FILES.items():
        file = _locate(folder, stem)
        if hashlib.sha256(_read_bytes(file)).hexdigest() != expected:
            raise NorepError(
                f"{file} is not the official Fashion-MNIST file (sha256 mismatch); "
                "replace it with a fresh copy"
            )
        arrays[key] = read_idx(file)
    fingerprint = hashlib.sha256("".join(sha for _, sha in FILES.values()).encode()).hexdigest()
    return FashionMNIST(**arrays, fingerprint=fingerprint)


@dataclass(frozen=True)
class Splits:
    """Index sets into the official train set, and the official test set.

    Attributes:
        calibration: Held out from all training; temperature fitting and selection.
        subsets: Disjoint training subsets by name (e.g. ``train-A``, ``train-B``).
        probe: Training images whose embeddings feed linear probes.
        n_test: Number of official test images used (all of them by default).
    """

    calibration: np.ndarray
    subsets: dict[str, np.ndarray]
    probe: np.ndarray
    n_test: int


def make_splits(n_train: int, n_test: int, settings: dict) -> Splits:
    """Carve the fixed, seeded splits out of the official train set.

    Args:
        n_train: Size of the official train set.
        n_test: Size of the official test set.
        settings: ``seed``, ``calibration`` (size), ``probe`` (size), ``subsets``
            (names of the disjoint training subsets, equal shares of what remains after
            the calibration split), optional ``subset_size`` (cap per subset) and
            ``test`` (cap on the number of test images).

    Returns:
        The splits; the same settings always give the same indices.
    """
    allowed = {"seed", "calibration", "probe", "subsets", "subset_size", "test"}
    unknown = set(settings) - allowed
    if unknown:
        raise NorepError(f"unknown split setting(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    rng = np.random.default_rng(settings.get("seed", 0))
    order = rng.permutation(n_train)
    n_calibration = int(settings.get("calibration", 5000))
    names = list(settings.get("subsets", ["train-A", "train-B"]))
    rest = order[n_calibration:]
    share = len(rest) // len(names)
    size = min(share, int(settings.get("subset_size", share)))
    subsets = {name: np.sort(rest[i * share: i * share + size]) for i, name in enumerate(names)}
    probe = np.sort(rng.choice(rest, size=int(settings.get("probe", 10000)), replace=False))
    return Splits(
        calibration=np.sort(order[:n_calibration]),
        subsets=subsets,
        probe=probe,
        n_test=min(n_test, int(settings.get("test", n_test))),
    )


def examples_table(data: FashionMNIST, splits: Splits) -> pd.DataFrame:
    """Return the store's examples: calibration, probe and test rows with subdomains."""
    superclass_of = {CLASSES.index(c): name for name, members in SUPERCLASSES.items() for c in members}
    parts = []
    for split, source, indices in (
        ("calibration", "train", splits.calibration),
        ("probe", "train", splits.probe),
        ("test", "test", np.arange(splits.n_test)),
    ):
        labels = (data.train_labels if source == "train" else data.test_labels)[indices]
        parts.append(pd.DataFrame({
            "example_id": [f"{source}-{i}" for i in indices],
            "label": labels.astype(np.int64),
            "split": split,
            "class_name": [CLASSES[label] for label in labels],
            "superclass": [superclass_of[label] for label in labels],
        }))
    return pd.concat(parts, ignore_index=True)


def store_images(data: FashionMNIST, splits: Splits) -> np.ndarray:
    """Return the images of the store's examples, row-aligned with :func:`examples_table`."""
    return np.concatenate([
        data.train_images[splits.calibration],
        data.train_images[splits.probe],
        data.test_images[: splits.n_test],
    ])


def split_fingerprint(data: FashionMNIST, settings: dict) -> str:
    """Return a fingerprint of the data content together with the split settings."""
    blob = json.dumps({"data": data.fingerprint, "splits": settings}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()
