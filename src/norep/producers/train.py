"""Train a zoo spec on Fashion-MNIST into a prediction store, resuming where it stopped."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from norep.datasets.fashion_mnist import (
    CLASSES,
    examples_table,
    load_fashion_mnist,
    make_splits,
    split_fingerprint,
    store_images,
)
from norep.errors import NorepError
from norep.producers.architectures import Classifier, build_backbone
from norep.producers.learners import TrainingData, recipe_hyperparameters, train_member
from norep.runtime import seed_all
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


def _save_checkpoint(store: Store, model_id: str, network: torch.nn.Module) -> str:
    path = checkpoint_path(store, model_id)
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    torch.save(network.state_dict(), tmp)
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


def _train_one(member: Member, spec: ZooSpec, store: Store, data: TrainingData, images: np.ndarray,
               labels: np.ndarray) -> None:
    method = member.methodology
    recipe = recipe_hyperparameters(method.architecture, method.objective, method.hyperparameters)
    started = time.perf_counter()
    seed_all(method.seed)
    trained = train_member(method.architecture, method.objective, method.hyperparameters, method.seed,
                           data, desc=member.id)
    logits, embeddings = trained.predict(images)
    seconds = time.perf_counter() - started
    test_rows = store.rows("test")
    meta = {
        **member.as_meta(),
        "base": spec.base,
        "category": spec.category(member.id),
        "source": f"norep zoo spec {spec.name}",
        "recipe": recipe,
        **trained.info,
        "test_accuracy": float((logits[test_rows].argmax(1) == labels[test_rows]).mean()),
        "target_accuracy": data.target_accuracy if recipe.get("checkpoint") == "matched" else None,
        "in_band": bool(abs(trained.info["calibration_accuracy"] - spec.target_accuracy) <= spec.band),
        "train_seconds": round(seconds, 1),
    }
    arrays = {"logits": logits.astype(np.float32)}
    if trained.network is not None:
        meta["checkpoint_sha256"] = _save_checkpoint(store, member.id, trained.network)
        arrays["embeddings"] = embeddings.astype(np.float32)
    store.add_model(member.id, meta, arrays)
    tqdm.write(f"{member.id:<28} {meta['category'] or 'base':<16} calibration {meta['calibration_accuracy']:.4f}"
               f"  test {meta['test_accuracy']:.4f}  {seconds:6.1f} s")


def _same_recipe(stored: dict, member: Member) -> bool:
    """Return whether a stored model was trained from this spec entry's methodology."""
    return all(stored.get(key) == value for key, value in member.methodology.as_meta().items())


def train_zoo(spec_path: str | Path, store_path: str | Path, data_path: str | Path | None = None,
              only: list[str] | None = None) -> Store:
    """Train every member of a zoo spec that the store does not hold yet.

    Args:
        spec_path: The YAML zoo spec.
        store_path: The store directory (created when absent).
        data_path: A folder with the Fashion-MNIST files (else the usual places).
        only: Train only these model ids (the base is always included).

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
    images, labels = store_images(fashion, splits), store.examples["label"].to_numpy()
    for member in spec.members:
        if store.has_model(member.id) and not _same_recipe(store.meta(member.id), member):
            raise NorepError(f"{store.path} holds a {member.id!r} trained from another version of its spec "
                             "entry; train into a new --store (or delete that store)")
    todo = [m for m in spec.members if not store.has_model(m.id)]
    if len(todo) < len(spec.members):
        tqdm.write(f"{store.path}: {len(spec.members) - len(todo)} of {len(spec.members)} models done, "
                   f"training the other {len(todo)}")
    for member in tqdm(todo, desc="zoo", unit="model"):
        subset = splits.subsets[member.methodology.training_data]
        target = member.methodology.hyperparameters.get("target_accuracy") or spec.target_accuracy
        data = TrainingData(
            images=fashion.train_images[subset], labels=fashion.train_labels[subset],
            calibration_images=fashion.train_images[splits.calibration],
            calibration_labels=fashion.train_labels[splits.calibration],
            target_accuracy=target, teacher=lambda model_id: load_network(store, model_id),
        )
        _train_one(member, spec, store, data, images, labels)
    return store
