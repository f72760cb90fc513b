"""Train a zoo spec on Fashion-MNIST into a prediction store, resuming where it stopped."""

from __future__ import annotations

import ctypes
import hashlib
import multiprocessing
import os
import queue
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from norep.datasets.fashion_mnist import (
    CLASSES,
    FashionMNIST,
    Splits,
    examples_table,
    load_fashion_mnist,
    make_splits,
    split_fingerprint,
    store_images,
)
from norep.errors import NorepError
from norep.producers.architectures import Classifier, build_backbone
from norep.producers.learners import TrainingData, recipe_hyperparameters, train_member
from norep.runtime import resolve_jobs, seed_all
from norep.store import Store, model_dirname
from norep.zoo.spec import Member, ZooSpec, load_spec


def check_trainable(spec: ZooSpec, subsets: dict) -> None:
    """Raise a NorepError for the first member that cannot be trained as written."""
    seen = set()
    for member in spec.members:
        method = member.methodology
        try:
            hp = recipe_hyperparameters(method.architecture, method.objective, method.hyperparameters)
        except NorepError as error:
            raise NorepError(f"model {member.id!r}: {error}") from None
        if method.training_data not in subsets:
            raise NorepError(f"model {member.id!r}: training_data {method.training_data!r} is not one of "
                             f"the spec's subsets {sorted(subsets)}")
        teacher = hp.get("teacher")
        if teacher is not None and teacher not in seen:
            raise NorepError(f"model {member.id!r}: teacher {teacher!r} must be a model listed before it")
        seen.add(member.id)


def checkpoint_path(store: Store, model_id: str) -> Path:
    """Return where the trained weights of a neural member are kept."""
    return store.path / "checkpoints" / f"{model_dirname(model_id)}.pt"


def _save_checkpoint(store: Store, model_id: str, state: dict) -> str:
    path = checkpoint_path(store, model_id)
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_network(store: Store, model_id: str) -> Classifier:
    """Rebuild a trained neural member of the store from its checkpoint.

    Args:
        store: The store the member was trained into.
        model_id: The member's id.

    Returns:
        The network in evaluation mode, its checkpoint verified against the metadata.
    """
    meta = store.meta(model_id)
    path = checkpoint_path(store, model_id)
    if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != meta.get("checkpoint_sha256"):
        raise NorepError(f"checkpoint {path} is missing or corrupt; retrain {model_id} into a fresh store")
    backbone, width = build_backbone(meta["architecture"])
    network = Classifier(backbone, width, len(store.classes)).to(memory_format=torch.channels_last)
    network.load_state_dict(torch.load(path, weights_only=True))
    return network.eval()


RELATIVE_COST = {"timm-vit": 12, "timm-convnext": 8, "timm-resnet": 6, "rbf-svm": 5, "cnn": 2, "lenet": 1.5,
                 "random-forest": 1.5, "mlp-deep": 0.6, "mlp": 0.3}
"""Rough seconds per epoch of each architecture on one thread: only orders the work, longest first."""

_WORKER: dict = {}


def _expected_cost(member: Member) -> float:
    method = member.methodology
    hp = recipe_hyperparameters(method.architecture, method.objective, method.hyperparameters)
    return RELATIVE_COST.get(method.architecture, 1.0) * hp.get("epochs", 1) * hp.get("train_fraction", 1.0)


def _teacher(member: Member) -> str | None:
    return member.methodology.hyperparameters.get("teacher")


def _start_worker(fashion: FashionMNIST, splits: Splits, store_path: str) -> None:
    """Set up a training process: one thread, the data at hand, gone with its parent."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: no orphan outlives a killed run
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
    threadpool_limits(1)  # numpy's BLAS too: one core per process
    _WORKER.update(fashion=fashion, splits=splits, store_path=store_path, images=store_images(fashion, splits))


def _train_in_worker(member: Member, target: float) -> dict:
    """Train one member in a worker process; return its outputs, weights and details."""
    fashion, splits = _WORKER["fashion"], _WORKER["splits"]
    method = member.methodology
    subset = splits.subsets[method.training_data]
    data = TrainingData(
        images=fashion.train_images[subset], labels=fashion.train_labels[subset],
        calibration_images=fashion.train_images[splits.calibration],
        calibration_labels=fashion.train_labels[splits.calibration],
        target_accuracy=target, teacher=lambda model_id: load_network(Store(_WORKER["store_path"]), model_id),
    )
    started = time.perf_counter()
    seed_all(method.seed)
    trained = train_member(method.architecture, method.objective, method.hyperparameters, method.seed, data,
                           desc=None)
    logits, embeddings = trained.predict(_WORKER["images"])
    return {"info": trained.info, "logits": logits, "embeddings": embeddings,
            "state": None if trained.network is None else trained.network.state_dict(),
            "seconds": time.perf_counter() - started}


def _store_trained(store: Store, spec: ZooSpec, member: Member, target: float, trained: dict) -> str:
    """Write a trained member into the store; return its one-line report."""
    method = member.methodology
    recipe = recipe_hyperparameters(method.architecture, method.objective, method.hyperparameters)
    logits, test_rows = trained["logits"], store.rows("test")
    meta = {
        **member.as_meta(),
        "base": spec.base,
        "category": spec.category(member.id),
        "source": f"norep zoo spec {spec.name}",
        "recipe": recipe,
        **trained["info"],
        "test_accuracy": float((logits[test_rows].argmax(1) == store.labels("test")).mean()),
        "target_accuracy": target if recipe.get("checkpoint") == "matched" else None,
        "in_band": bool(abs(trained["info"]["calibration_accuracy"] - spec.target_accuracy) <= spec.band),
        "train_seconds": round(trained["seconds"], 1),
    }
    arrays = {"logits": logits.astype(np.float32)}
    if trained["state"] is not None:
        meta["checkpoint_sha256"] = _save_checkpoint(store, member.id, trained["state"])
        arrays["embeddings"] = trained["embeddings"].astype(np.float32)
    store.add_model(member.id, meta, arrays)
    return (f"{member.id:<28} {meta['category'] or 'base':<16} calibration {meta['calibration_accuracy']:.4f}"
            f"  test {meta['test_accuracy']:.4f}  {trained['seconds']:6.1f} s")


def _train_in_parallel(todo: list[Member], spec: ZooSpec, store: Store, fashion: FashionMNIST, splits: Splits,
                       jobs: int) -> None:
    """Train ``todo`` in ``jobs`` processes, longest first (a teacher counting its students' time too),
    each student after its teacher."""
    def target(member: Member) -> float:
        return member.methodology.hyperparameters.get("target_accuracy") or spec.target_accuracy

    def priority(member: Member) -> float:
        return _expected_cost(member) + sum(_expected_cost(m) for m in todo if _teacher(m) == member.id)

    jobs = min(jobs, len(todo))
    pending = sorted(todo, key=priority, reverse=True)
    done, running, results = set(store.model_ids), {}, queue.Queue()
    pool = multiprocessing.get_context("spawn").Pool(jobs, initializer=_start_worker,
                                                     initargs=(fashion, splits, str(store.path)))
    started = time.perf_counter()
    try:
        with tqdm(total=len(todo), desc="zoo", unit="model") as bar:
            while pending or running:
                ready = [m for m in pending if _teacher(m) is None or _teacher(m) in done]
                if not ready and not running:
                    member = pending[0]
                    raise NorepError(f"model {member.id!r}: teacher {_teacher(member)!r} is neither in the store "
                                     "nor in the spec; train it first")
                for member in ready[:jobs - len(running)]:
                    pending.remove(member)
                    running[member.id] = member
                    pool.apply_async(_train_in_worker, (member, target(member)),
                                     callback=lambda out, m=member: results.put((m, out)),
                                     error_callback=lambda error, m=member: results.put((m, error)))
                bar.set_postfix_str("training " + ", ".join(running))
                member, out = results.get()
                del running[member.id]
                if isinstance(out, BaseException):
                    raise out
                tqdm.write(_store_trained(store, spec, member, target(member), out))
                done.add(member.id)
                bar.update()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.close()  # workers that end normally release their semaphores: no leak warning at exit
        pool.join()
    tqdm.write(f"{store.path}: trained {len(todo)} models in {(time.perf_counter() - started) / 60:.1f} min "
               f"({jobs} processes)")


def _same_recipe(stored: dict, member: Member) -> bool:
    """Return whether a stored model was trained from this spec entry's methodology."""
    return all(stored.get(key) == value for key, value in member.methodology.as_meta().items())


def train_zoo(spec_path: str | Path, store_path: str | Path, data_path: str | Path | None = None,
              only: list[str] | None = None, jobs: int | None = None) -> Store:
    """Train every member of a zoo spec that the store does not hold yet.

    Members train in ``jobs`` processes of one torch thread each, so a member's weights
    do not depend on how many run beside it; each is written to the store as it ends.

    Args:
        spec_path: The YAML zoo spec.
        store_path: The store directory (created when absent).
        data_path: A folder with the Fashion-MNIST files (else the usual places).
        only: Train only these model ids (the base is always included).
        jobs: Training processes (default: one per CPU core).

    Returns:
        The store, holding every member of the spec (or of ``only``).
    """
    spec = load_spec(spec_path)
    if only:
        spec = spec.subset(only)
    if spec.dataset != "fashion-mnist":
        raise NorepError(f"zoo spec {spec_path} is for {spec.dataset!r}; `norep zoo train` trains fashion-mnist zoos")
    fashion = load_fashion_mnist(data_path)
    splits = make_splits(len(fashion.train_labels), len(fashion.test_labels), spec.splits)
    check_trainable(spec, splits.subsets)
    store = Store.create(store_path, dataset="fashion-mnist", classes=list(CLASSES),
                         examples=examples_table(fashion, splits),
                         fingerprint=split_fingerprint(fashion, spec.splits))
    for member in spec.members:
        if store.has_model(member.id) and not _same_recipe(store.meta(member.id), member):
            raise NorepError(f"{store.path} holds a {member.id!r} trained from another version of its spec "
                             "entry; train into a new --store (or delete that store)")
    todo = [m for m in spec.members if not store.has_model(m.id)]
    if len(todo) < len(spec.members):
        tqdm.write(f"{store.path}: {len(spec.members) - len(todo)} of {len(spec.members)} models done, "
                   f"training the other {len(todo)}")
    if todo:
        _train_in_parallel(todo, spec, store, fashion, splits, resolve_jobs(jobs))
        store.order_models([m.id for m in spec.members])
    return store
