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

Stores without checkpoints (ImageNet stores filled by ``norep predict``, imported
stores) are refused with a :class:`~norep.errors.NorepError` naming what to pass.

Example:
    >>> data = load_downstream("sklearn-digits")                        # doctest: +SKIP
    >>> embeddings = downstream_embeddings(store, ["cnn-seed0"], data)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from norep.datasets.download import cache_dir
from norep.datasets.downstream import DownstreamData
from norep.errors import NorepError
from norep.producers.learners import network_outputs
from norep.producers.train import checkpoint_path, load_network
from norep.store import Store, sha256_file

MINI_ZOO_DATASET = "fashion-mnist"
"""The upstream dataset whose networks take 28 x 28 grayscale images."""


def embedded_models(store: Store, model_ids: list[str]) -> tuple[list[str], list[str]]:
    """Split models into those with a saved network and those without (scikit-learn members).

    Args:
        store: A mini-zoo store.
        model_ids: Models of the store.

    Returns:
        (models with a checkpoint, models without one), each in the given order.
    """
    with_network = [m for m in model_ids if store.meta(m).get("checkpoint_sha256")]
    return with_network, [m for m in model_ids if m not in with_network]


def check_mini_zoo(store: Store) -> None:
    """Raise a one-line NorepError unless the store's networks can embed 28 x 28 digits."""
    dataset = store.manifest["dataset"]["name"]
    if dataset != MINI_ZOO_DATASET:
        raise NorepError(
            f"store {store.path} holds {dataset} models: downstream embeddings are computed only "
            f"for {MINI_ZOO_DATASET} mini-zoo stores with checkpoints (pass e.g. "
            "store='runs/fashion_mnist'); embedding a downstream image folder with "
            "norep.producers.inference.load_model is not implemented yet")


def cache_file(store: Store, model_id: str, data: DownstreamData, cache: Path | None = None) -> Path:
    """Return where a member's embeddings of a downstream set are cached.

    The key is the sha256 of the checkpoint file as it is on disk (not the one its
    metadata records) and the set's :attr:`~DownstreamData.fingerprint`.
    """
    folder = (cache_dir() / "downstream" if cache is None else Path(cache))
    checkpoint = sha256_file(checkpoint_path(store, model_id))
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
    path = cache_file(store, model_id, data, cache)
    if path.is_file():
        embeddings = np.load(path)
        if embeddings.shape[0] == len(data.images):
            return embeddings
    _, embeddings = network_outputs(load_network(store, model_id), data.images)
    embeddings = embeddings.astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.npy")
    np.save(tmp, embeddings)
    os.replace(tmp, path)
    return embeddings


def downstream_embeddings(store: Store, model_ids: list[str], data: DownstreamData,
                          cache: Path | None = None) -> dict[str, np.ndarray]:
    """Embed a downstream set with several members (see :func:`embed_downstream`).

    Returns:
        Embeddings per model id, in the given order.
    """
    return {m: embed_downstream(store, m, data, cache) for m in model_ids}
