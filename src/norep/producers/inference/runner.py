"""Fill a prediction store with the logits and embeddings of a catalog's models on an image folder.

:func:`predict_zoo` opens the images (:mod:`norep.datasets.image_folders`), creates (or
reopens) the store with one example per image, then, model by model, computes the
models not yet in the store: chunk by chunk (:mod:`norep.producers.inference.chunks`),
so that a run killed at any point resumes where it stopped and ends with the same
store. ``shard="I/N"`` computes every N-th model starting at I (0 <= I < N), so N
processes (a SLURM job array) fill one store together; the store's lock keeps their
writes apart. :func:`zoo_status` says what is done.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from norep.datasets.image_folders import ImageSet, open_image_folder, without_unreadable
from norep.errors import NorepError
from norep.producers.inference.batches import Forward, image_batches
from norep.producers.inference.catalog import Catalog, CatalogEntry, load_catalog
from norep.producers.inference.chunks import Chunks, rows_done
from norep.producers.inference.models import load_model
from norep.runtime import resolve_device
from norep.store import MANIFEST, Store

CHUNK_SIZE = 10_000


def parse_shard(shard: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """Return (index, count) of a shard; None means the whole zoo.

    Args:
        shard: ``"I/N"`` or ``(I, N)`` with 0 <= I < N; None reads a SLURM job array's
            ``SLURM_ARRAY_TASK_ID`` (minus ``SLURM_ARRAY_TASK_MIN``) and
            ``SLURM_ARRAY_TASK_COUNT`` when they are set.

    Returns:
        The shard, or None.

    Example:
        >>> parse_shard("1/4")
        (1, 4)
    """
    if shard is None:
        if "SLURM_ARRAY_TASK_COUNT" not in os.environ:
            return None
        task = int(os.environ["SLURM_ARRAY_TASK_ID"]) - int(os.environ.get("SLURM_ARRAY_TASK_MIN", 0))
        shard = (task, int(os.environ["SLURM_ARRAY_TASK_COUNT"]))
    if isinstance(shard, str):
        index, _, count = shard.partition("/")
        try:
            shard = (int(index), int(count))
        except ValueError:
            raise NorepError(f"shard {shard!r} must look like I/N (e.g. 0/4)") from None
    index, count = shard
    if not 0 <= index < count:
        raise NorepError(f"shard {index}/{count}: I must lie in 0..N-1")
    return index, count


def shard_entries(entries: list[CatalogEntry], shard: tuple[int, int] | None) -> list[CatalogEntry]:
    """Return the entries of one shard: every N-th, starting at I (all for None)."""
    return entries if shard is None else entries[shard[0]::shard[1]]


def open_images(catalog: Catalog, data: str | Path, *, labels: str | Path | None = None,
                class_list: str | Path | None = None, limit: int | None = None,
                skip_corrupt: bool = False, workers: int = 0) -> ImageSet:
    """Open the image folder, keep ``limit`` images (a seeded sample), drop unreadable ones.

    Args:
        catalog: The catalog (its split seed draws the sample).
        data: The image folder.
        labels: Labels file of a flat ImageNet folder (found when None).
        class_list: Class list of a non-ImageNet folder.
        limit: Keep this many images (all when None).
        skip_corrupt: Decode every image first and leave out unreadable ones.
        workers: Processes for that check.

    Returns:
        The images the store will hold.
    """
    images = open_image_folder(data, labels=labels, class_list=class_list)
    if limit is not None and limit < len(images):
        rng = np.random.default_rng(catalog.split_seed)
        images = images.take(np.sort(rng.choice(len(images), size=limit, replace=False)))
    if skip_corrupt:
        images = without_unreadable(images, workers)
        if images.skipped:
            print(f"skipped {len(images.skipped)} unreadable image(s), e.g. {images.skipped[0]}")
        if not len(images):
            raise NorepError(f"no readable image in {data}")
    return images


def open_store(catalog: Catalog, images: ImageSet, store: str | Path, logits_dtype: str | None = None) -> Store:
    """Create (or reopen) the store of ``images``: a seeded calibration/test split, subdomains.

    Args:
        catalog: The catalog (its ``splits``: calibration share and seed).
        images: The images.
        store: The store directory.
        logits_dtype: How a new store keeps logits (``"float32"`` or ``"float16"``, see
            :meth:`Store.create`); None: float32, or as the existing store does.

    Returns:
        The store.
    """
    n = len(images)
    calibration = np.random.default_rng(catalog.split_seed).permutation(n)[: round(catalog.calibration * n)]
    split = np.full(n, "test", dtype=object)
    split[calibration] = "calibration"
    examples = pd.concat([
        pd.DataFrame({"example_id": images.example_ids, "label": images.labels, "split": split}),
        images.subdomains(),
    ], axis=1)
    return Store.create(store, dataset=images.name, classes=images.classes, examples=examples,
                        fingerprint=images.fingerprint, logits_dtype=logits_dtype)


def predict_zoo(
    spec: str | Path | Catalog,
    data: str | Path,
    store: str | Path,
    device: str = "auto",
    models: list[str] | None = None,
    limit: int | None = None,
    batch_size: int = 64,
    workers: int | None = None,
    skip_corrupt: bool = False,
    shard: str | tuple[int, int] | None = None,
    *,
    labels: str | Path | None = None,
    class_list: str | Path | None = None,
    precision: str = "bf16",
    logits_dtype: str | None = None,
    chunk_size: int = CHUNK_SIZE,
    progress: bool = True,
) -> list[str]:
    """Compute the logits and embeddings of a catalog's models on images into a store.

    Args:
        spec: The catalog (a YAML path or a loaded :class:`Catalog`).
        data: The image folder (see :mod:`norep.datasets.image_folders`).
        store: The store directory; models already there are skipped.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:K``.
        models: Ids of the models to run (all when None).
        limit: Use this many images (a seeded sample; all when None).
        batch_size: Images per forward pass (halved on CUDA out-of-memory).
        workers: DataLoader worker processes (default: up to 8, one of this process's cores left free).
        skip_corrupt: Leave out unreadable images (else the first one stops the run).
        shard: ``"I/N"``: run only every N-th model from I (see :func:`parse_shard`).
        labels: Labels file of a flat ImageNet folder (found when None).
        class_list: Class list of a non-ImageNet folder.
        precision: ``bf16``, ``fp16`` or ``fp32`` autocast on CUDA (the CPU runs fp32).
        logits_dtype: How a new store keeps logits: ``"float32"`` or ``"float16"`` (each
            row minus its maximum, its top 3 exact: about half the disk at 1,000 classes;
            see :meth:`Store.add_model`); None:
            float32, or as the existing store does. An existing store of the other
            dtype is a one-line error.
        chunk_size: Images per resumable chunk.
        progress: Show a progress bar (images per second) per model.

    Returns:
        The ids of the models this call added to the store.

    Example:
        >>> predict_zoo("zoos/imagenet_paper.yaml", "/data/imagenet/val", "runs/imagenet",
        ...             shard="0/4")                                  # doctest: +SKIP
    """
    catalog = spec if isinstance(spec, Catalog) else load_catalog(spec)
    entries = shard_entries(catalog.select(models), parse_shard(shard))
    workers = min(8, len(os.sched_getaffinity(0)) - 1) if workers is None else workers
    device = resolve_device(device)
    images = open_images(catalog, data, labels=labels, class_list=class_list, limit=limit,
                         skip_corrupt=skip_corrupt, workers=workers)
    opened = open_store(catalog, images, store, logits_dtype)
    added = []
    for entry in entries:
        chunks = Chunks(opened.path, entry.id, len(images), chunk_size,
                        {"device": device.split(":")[0], "precision": precision,
                         "checkpoint": str(entry.checkpoint) if entry.checkpoint else None})
        if opened.has_model(entry.id):
            chunks.remove()
            continue
        predict_model(entry, images, opened, chunks, device=device, batch_size=batch_size,
                      workers=workers, precision=precision, progress=progress)
        added.append(entry.id)
    return added


def predict_model(entry: CatalogEntry, images: ImageSet, store: Store, chunks: Chunks, *, device: str,
                  batch_size: int, workers: int, precision: str, progress: bool) -> None:
    """Compute one model's missing chunks, then add the assembled model to the store.

    Args:
        entry: The catalog entry.
        images: The store's images, in store order.
        store: The store.
        chunks: The model's chunk folder.
        device: A resolved torch device string.
        batch_size: Images per forward pass.
        workers: DataLoader worker processes.
        precision: Autocast precision on CUDA.
        progress: Show a progress bar.
    """
    model, transform = load_model(entry.id, checkpoint=entry.checkpoint, classnames=images.classes,
                                  device=device)
    if model.num_classes != len(images.classes):
        raise NorepError(
            f"{entry.id} has {model.num_classes} outputs but {images.name} has {len(images.classes)} "
            "classes; run models trained on these classes"
        )
    forward = Forward(model, device, precision)
    chunks.open()
    missing = chunks.missing()
    batches = [list(range(b, min(b + batch_size, stop))) for start, stop in missing
               for b in range(start, stop, batch_size)]
    bar = tqdm(total=sum(stop - start for start, stop in missing), unit="img", desc=entry.id,
               disable=not progress, dynamic_ncols=True)
    pending = iter(missing)
    start, stop = next(pending, (0, 0))
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    for tensor, rows in image_batches(images, transform, batches, workers, pin_memory=forward.cuda):
        parts.append(forward(tensor))
        bar.update(len(rows))
        if rows[-1] + 1 == stop:
            chunks.save(start, stop, {"logits": np.concatenate([p[0] for p in parts]),
                                      "embeddings": np.concatenate([p[1] for p in parts])})
            parts = []
            start, stop = next(pending, (0, 0))
    bar.close()
    arrays = chunks.assemble()
    meta = {
        **entry.as_meta(),
        "accuracy": float(np.mean(arrays["logits"].argmax(axis=1) == images.labels)),
        "parameter_count": int(sum(p.numel() for p in model.parameters())),
        "precision": forward.precision,
        "images_skipped": len(images.skipped),
        "checkpoint": str(entry.checkpoint) if entry.checkpoint else None,  # to rebuild it (downstream)
    }
    store.add_model(entry.id, meta, arrays)
    chunks.remove()


def zoo_status(spec: str | Path | Catalog, store: str | Path, models: list[str] | None = None) -> pd.DataFrame:
    """Return what is done: one row per catalog model with its state in the store.

    Args:
        spec: The catalog (a YAML path or a loaded :class:`Catalog`).
        store: The store directory (it may not exist yet).
        models: Ids to report (all when None).

    Returns:
        ``model_id``, ``category`` (relative to the base), ``state`` (``done``,
        ``partial`` or ``pending``), ``rows_done``, ``rows`` and the measured ``accuracy``.
    """
    catalog = spec if isinstance(spec, Catalog) else load_catalog(spec)
    opened = Store(store) if (Path(store) / MANIFEST).is_file() else None
    rows = len(opened.examples) if opened is not None else 0
    records = []
    for entry in catalog.select(models):
        done = opened is not None and opened.has_model(entry.id)
        partial = 0 if opened is None or done else rows_done(opened.path, entry.id)
        records.append({
            "model_id": entry.id,
            "category": catalog.category(entry.id),
            "state": "done" if done else "partial" if partial else "pending",
            "rows_done": rows if done else partial,
            "rows": rows,
            "accuracy": opened.meta(entry.id).get("accuracy") if done else None,
        })
    return pd.DataFrame(records)
