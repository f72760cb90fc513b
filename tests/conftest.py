"""Shared fixtures: a small synthetic prediction store with real methodology metadata."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from norep.store import Store

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NOREP_DEVICE", "cpu")

SYNTHETIC_ZOO = [
    # model_id, architecture, objective, training_data, seed, hyperparameters, skill
    ("base", "cnn", "cross-entropy", "train-A", 0, {"lr": 0.003}, 1.6),
    ("reinit", "cnn", "cross-entropy", "train-A", 1, {"lr": 0.003}, 1.6),
    ("hyper", "cnn", "cross-entropy", "train-A", 0, {"lr": 0.01}, 1.5),
    ("arch", "mlp", "cross-entropy", "train-A", 0, {"lr": 0.003}, 1.4),
    ("framework", "cnn", "simclr", "train-A", 0, {"lr": 0.003}, 1.3),
    ("dataset", "cnn", "cross-entropy", "train-B", 0, {"lr": 0.003}, 1.5),
]


def make_synthetic_store(path, n_classes: int = 5, n_calibration: int = 300, n_test: int = 600,
                         seed: int = 0) -> Store:
    """Create a store whose models share a per-example difficulty, plus their own noise."""
    rng = np.random.default_rng(seed)
    n = n_calibration + n_test
    labels = rng.integers(0, n_classes, n)
    examples = pd.DataFrame({
        "example_id": [f"ex-{i}" for i in range(n)],
        "label": labels,
        "split": ["calibration"] * n_calibration + ["test"] * n_test,
        "superclass": np.where(labels < n_classes // 2, "low", "high"),
    })
    store = Store.create(path, dataset="synthetic", classes=[f"class-{c}" for c in range(n_classes)],
                         examples=examples, fingerprint=f"synthetic-{seed}")
    shared = rng.normal(size=(n, n_classes))
    for model_id, architecture, objective, data, model_seed, hyper, skill in SYNTHETIC_ZOO:
        own = rng.normal(size=(n, n_classes))
        logits = 0.7 * shared + own
        logits[np.arange(n), labels] += skill
        store.add_model(model_id, {
            "display_name": model_id, "architecture": architecture, "objective": objective,
            "training_data": data, "seed": model_seed, "hyperparameters": hyper,
        }, {"logits": (2.0 * logits).astype(np.float32),
            "embeddings": rng.normal(size=(n, 8)).astype(np.float32)})
    return store


EXTRA_MODELS = [
    # model_id, architecture, objective, training_data, seed, hyperparameters, role, skill
    ("strong", "vit", "cross-entropy", "train-A", 0, {"lr": 0.003}, "member", 3.0),
    ("weak-data", "cnn", "contrastive", "train-C", 0, {"lr": 0.003}, "member", 0.6),
    ("control", "cnn", "cross-entropy", "train-A", 0, {"lr": 0.003, "target_accuracy": 0.6},
     "accuracy-control", 0.7),
]


def make_chapter_store(path) -> Store:
    """The synthetic store plus a strong anchor, a weak Dataset member and an accuracy control."""
    store = make_synthetic_store(path)
    rng = np.random.default_rng(1)
    labels = store.labels()
    n, n_classes = len(labels), len(store.classes)
    for model_id, architecture, objective, data, seed, hyper, role, skill in EXTRA_MODELS:
        logits = rng.normal(size=(n, n_classes))
        logits[np.arange(n), labels] += skill
        store.add_model(model_id, {
            "display_name": model_id, "architecture": architecture, "objective": objective,
            "training_data": data, "seed": seed, "hyperparameters": hyper, "role": role,
        }, {"logits": (2.0 * logits).astype(np.float32)})
    return store


@pytest.fixture(scope="session")
def fashion_mnist():
    """The real Fashion-MNIST folder; CI installs it, elsewhere tests skip without it."""
    from norep.datasets.fashion_mnist import find_fashion_mnist
    from norep.errors import NorepError

    try:
        return find_fashion_mnist()
    except NorepError as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(error))


@pytest.fixture(scope="session")
def ci_store(fashion_mnist) -> Store:
    """The CI-profile mini zoo at runs/fashion_mnist_ci, trained (or resumed) once per session."""
    from norep.producers.train import train_zoo

    return train_zoo("zoos/fashion_mnist_ci.yaml", "runs/fashion_mnist_ci")


@pytest.fixture
def synthetic_store(tmp_path) -> Store:
    """A six-model synthetic store, one partner of the base per divergence category."""
    return make_synthetic_store(tmp_path / "store")
