"""Embed downstream images with every trained network of a mini-zoo store, cached on disk.

A member's downstream embeddings are the penultimate-layer outputs of its network
(:func:`norep.producers.learners.network_outputs`, the same normalization as in
training) rebuilt from its checkpoint by :func:`norep.producers.train.load_network`.

**Where they are kept.** In a cache folder outside every store (default
``<norep cache>/downstream``, i.e. ``$NOREP_CACHE`` or ``~/.cache/norep``), one file
per (checkpoint, downstream set): ``<set name>-<set sha256>/<checkpoint sha256>.npy``.
A store is a verified record of one dataset's predictions, written only by its
producers, so downstream arrays stay out of its manifest; and because the key is the
content of both the checkpoint and the images, an entry can never be stale (a
retrained network or changed images get a new key), stores holding the same network
share it, and deleting the folder only costs a recomputation. Separate stores per
downstream set would need examples tables, fingerprints and metadata per upstream
store for arrays that are a pure function of (checkpoint, images).

**Stores of pretrained models** (filled by ``norep predict``: timm and open_clip models,
store metadata ``source``) embed a downstream image folder
(:func:`norep.datasets.downstream.open_downstream_folder`, or a multi-label one from
:func:`norep.datasets.image_folders.open_multilabel_folder`) instead: each model is
rebuilt by :func:`norep.producers.inference.load_model` from its id (the published
weights, or the local ``checkpoint`` its metadata names) and its penultimate
embeddings come from the same forward passes as the store's
(:mod:`norep.producers.inference.batches`). They are cached the same way, keyed by the
model id, the weights (the checkpoint's sha256, or "published") and the folder's files
(relative path, size and modification time of each).

Imported stores (no networks) are refused with a :class:`~norep.errors.NorepError`
naming what to pass.

Example:
    >>> data = load_downstream("sklearn-digits")                        # doctest: +SKIP
    >>> embeddings = downstream_embeddings(store, ["cnn-seed0"], data)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from norep.datasets.download import cache_dir
from norep.datasets.downstream import DownstreamData
from norep.datasets.image_folders import ImageSet
from norep.errors import NorepError
from norep.producers.inference.batches import Forward, image_batches
from norep.producers.inference.models import load_model
from norep.producers.learners import network_outputs
from norep.producers.train import checkpoint_path, load_network
from norep.store import Store, sha256_file

MINI_ZOO_DATASET = "fashion-mnist"
"""The upstream dataset whose networks take 28 x 28 grayscale images."""

PRETRAINED_SOURCES = ("timm", "open_clip")
"""Sources of the models :func:`norep.producers.inference.load_model` rebuilds."""


def embedded_models(store: Store, model_ids: list[str]) -> tuple[list[str], list[str]]:
    """Split models into those with a network to embed images and those without.

    A mini-zoo member has one when its checkpoint was saved (scikit-learn members have
    none); a model of a store filled by ``norep predict`` when its ``source`` is one of
    :data:`PRETRAINED_SOURCES`.

    Args:
        store: A store.
        model_ids: Models of the store.

    Returns:
        (models with a network, models without one), each in the given order.
    """
    with_network = [m for m in model_ids if store.meta(m).get("checkpoint_sha256")
                    or store.meta(m).get("source") in PRETRAINED_SOURCES]
    return with_network, [m for m in model_ids if m not in with_network]


def is_mini_zoo(store: Store) -> bool:
    """Whether the store's networks take 28 x 28 digits (a Fashion-MNIST mini zoo)."""
    return store.manifest["dataset"]["name"] == MINI_ZOO_DATASET


def check_mini_zoo(store: Store) -> None:
    """Raise a one-line NorepError unless the store's networks can embed 28 x 28 digits."""
    if not is_mini_zoo(store):
        raise NorepError(
            f"store {store.path} holds {store.manifest['dataset']['name']} models: the digit sets are "
            f"embedded only by {MINI_ZOO_DATASET} mini-zoo networks; pass a downstream image folder "
            "(one sub-folder per class, a labels.csv, or a Pascal VOC folder) instead")


def cache_file(store: Store, model_id: str, data: DownstreamData, cache: Path | None = None) -> Path:
    """Return where a member's embeddings of a downstream set are cached.

    The key is the sha256 of the checkpoint file as it is on disk (not the one its
    metadata records) and the set's :attr:`~DownstreamData.fingerprint`.
    """
    folder = (cache_dir() / "downstream" if cache is None else Path(cache))
    path = checkpoint_path(store, model_id)
    if not path.is_file():
        raise NorepError(f"{store.path} holds no checkpoint of {model_id!r}: only its neural members "
                         "have embeddings; name one of them")
    checkpoint = sha256_file(path)
    return folder / f"{data.name}-{data.fingerprint[:16]}" / f"{checkpoint}.npy"


def embed_downstream(store: Store, model_id: str, data: DownstreamData, cache: Path | None = None) -> np.ndarray:
    """Return a member's penultimate embeddings of a downstream set, from the cache or computed.

    Args:
        store: A mini-zoo store (see :func:`check_mini_zoo`).
        model_id: A member with a checkpoint.
        data: The downstream set.
        cache: The cache folder (default ``<norep cache>/downstream``).

    Returns:
        float32, shape (N, D), rows in the set's order.
    """
    check_mini_zoo(store)
    return _cached(cache_file(store, model_id, data, cache), len(data.images),
                   lambda: network_outputs(load_network(store, model_id), data.images)[1])


def _cached(path: Path, n_rows: int, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """Return the embeddings cached at ``path`` when they have ``n_rows`` rows, else compute them
    and write them there atomically (a killed run leaves no partial file), as float32."""
    if path.is_file():
        embeddings = np.load(path)
        if embeddings.shape[0] == n_rows:
            return embeddings
    embeddings = compute().astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.npy")
    np.save(tmp, embeddings)
    os.replace(tmp, path)
    return embeddings


def folder_cache_file(store: Store, model_id: str, images: ImageSet, cache: Path | None = None) -> Path:
    """Return where a pretrained model's embeddings of a downstream image folder are cached.

    The key is the model id with its weights (the sha256 of the checkpoint its metadata
    names, or "published") and the folder's files (relative path, size, modification
    time), in order.
    """
    checkpoint = store.meta(model_id).get("checkpoint")
    weights = sha256_file(Path(checkpoint)) if checkpoint else "published"
    model_key = hashlib.sha256(f"{model_id}\n{weights}".encode()).hexdigest()
    files = hashlib.sha256()
    for index, file in enumerate(images.files):
        stat = images.path(index).stat()
        files.update(f"{file}\t{images.labels[index]}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    folder = (cache_dir() / "downstream" if cache is None else Path(cache))
    return folder / f"{images.name}-{files.hexdigest()[:16]}" / f"{model_key}.npy"


def embed_folder(store: Store, model_id: str, images: ImageSet, device: str = "cpu", cache: Path | None = None,
                 batch_size: int = 32, workers: int = 0) -> np.ndarray:
    """Return a pretrained model's penultimate embeddings of a downstream image folder, cached.

    Args:
        store: A store filled by ``norep predict``.
        model_id: A model of it with a ``source`` of :data:`PRETRAINED_SOURCES`.
        images: The downstream images.
        device: Torch device of the forward passes (a resolved one: "cpu", "cuda", ...).
        cache: The cache folder (default ``<norep cache>/downstream``).
        batch_size: Images per forward pass.
        workers: DataLoader worker processes (0: decode in this process).

    Returns:
        float32, shape (N, D), rows in the folder's order.
    """

    def compute() -> np.ndarray:
        checkpoint = store.meta(model_id).get("checkpoint")
        model, transform = load_model(model_id, checkpoint=checkpoint or None, device=device)
        forward = Forward(model, device)
        batches = [list(range(start, min(start + batch_size, len(images))))
                   for start in range(0, len(images), batch_size)]
        return np.concatenate([forward(tensor)[1] for tensor, _ in
                               image_batches(images, transform, batches, workers, pin_memory=forward.cuda)])

    return _cached(folder_cache_file(store, model_id, images, cache), len(images), compute)


def downstream_embeddings(store: Store, model_ids: list[str], data: DownstreamData | ImageSet,
                          cache: Path | None = None, device: str = "cpu") -> dict[str, np.ndarray]:
    """Embed a downstream set with several models: digits by mini-zoo networks
    (:func:`embed_downstream`), an image folder by pretrained models (:func:`embed_folder`).

    Returns:
        Embeddings per model id, in the given order.
    """
    if isinstance(data, ImageSet):
        return {m: embed_folder(store, m, data, device, cache) for m in model_ids}
    return {m: embed_downstream(store, m, data, cache) for m in model_ids}
