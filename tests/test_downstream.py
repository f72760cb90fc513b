"""Downstream transfer: offline loaders, the embedding cache, and the linear evaluations.

The loaders are checked with every network call blocked; the cache on a tiny
Fashion-MNIST-shaped store whose checkpoints are random networks saved here; the
analysis against naive loops and a hand-written bootstrap.
"""

from __future__ import annotations

import hashlib
import itertools
import socket
import urllib.request

import numpy as np
import pandas as pd
import pytest
import torch

from norep.analysis import transfer
from norep.analysis.probes import select_probe
from norep.datasets import downstream as data_module
from norep.datasets.fashion_mnist import CLASSES
from norep.errors import NorepError
from norep.producers import downstream as producer
from norep.producers.architectures import Classifier, build_backbone
from norep.producers.learners import network_outputs
from norep.producers.train import checkpoint_path, load_network
from norep.store import Store

MINI_ZOO = [  # model_id, architecture, objective, seed, category; None: no network
    ("base", "cnn", "cross-entropy", 0, None),
    ("reinit", "cnn", "cross-entropy", 1, "Reinit"),
    ("arch", "mlp", "cross-entropy", 0, "Architecture"),
    ("forest", "random-forest", "gini-impurity", 0, "Architecture"),
]


def tiny_mini_zoo(path, n_calibration: int = 100, n_test: int = 100) -> Store:
    """A Fashion-MNIST-shaped store: random networks saved as checkpoints, random logits."""
    rng = np.random.default_rng(0)
    n = n_calibration + n_test
    labels = rng.integers(0, len(CLASSES), n)
    examples = pd.DataFrame({"example_id": [f"ex-{i}" for i in range(n)], "label": labels,
                             "split": ["calibration"] * n_calibration + ["test"] * n_test})
    store = Store.create(path, dataset="fashion-mnist", classes=list(CLASSES), examples=examples,
                         fingerprint="tiny")
    for skill, (model_id, architecture, objective, seed, category) in enumerate(MINI_ZOO):
        meta = {"display_name": model_id, "architecture": architecture, "objective": objective,
                "training_data": "train-A", "seed": seed, "hyperparameters": {}, "base": "base",
                "role": "member", "category": category}
        if architecture in ("cnn", "mlp"):
            torch.manual_seed(seed)
            backbone, width = build_backbone(architecture)
            target = checkpoint_path(store, model_id)
            target.parent.mkdir(exist_ok=True)
            torch.save(Classifier(backbone, width, len(CLASSES)).state_dict(), target)
            meta["checkpoint_sha256"] = hashlib.sha256(target.read_bytes()).hexdigest()
        logits = rng.normal(size=(n, len(CLASSES)))
        logits[np.arange(n), labels] += 1.0 + 0.3 * skill
        store.add_model(model_id, meta, {"logits": logits.astype(np.float32)})
    return store


@pytest.fixture
def offline(monkeypatch):
    """Fail on any attempt to open a network connection or a URL."""
    def refuse(*args, **kwargs):
        raise AssertionError("network access in a downstream loader")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def test_mnist_5k_loads_offline(offline):
    data = data_module.load_downstream("mnist-5k")
    assert data.images.shape == (5000, 28, 28) and data.images.dtype == np.uint8
    assert np.bincount(data.labels).tolist() == [500] * 10
    assert data.images.max() == 255 and data.images.min() == 0
    assert data.images[:, 0, :].max() == 0  # MNIST's black border: white ink on black


def test_sklearn_digits_load_offline_in_mnist_layout(offline):
    data = data_module.load_downstream("sklearn-digits")
    assert data.images.shape == (1797, 28, 28) and data.images.dtype == np.uint8
    assert set(data.labels.tolist()) == set(range(10)) and data.classes == [str(d) for d in range(10)]
    margin = np.ones((28, 28), bool)
    margin[4:24, 4:24] = False
    assert data.images[:, margin].max() == 0 and data.images.max() == 255
    with pytest.raises(NorepError, match="unknown downstream set 'voc'"):
        data_module.load_downstream("voc")


def naive_bilinear(image: np.ndarray, size: int) -> np.ndarray:
    """Half-pixel-centre bilinear upsampling with clamped edges, one pixel at a time."""
    n = image.shape[0]
    out = np.zeros((size, size))
    for i, j in itertools.product(range(size), repeat=2):
        y, x = [min(max((k + 0.5) * n / size - 0.5, 0), n - 1) for k in (i, j)]
        y0, x0 = int(y), int(x)
        y1, x1 = min(y0 + 1, n - 1), min(x0 + 1, n - 1)
        dy, dx = y - y0, x - x0
        out[i, j] = ((1 - dy) * ((1 - dx) * image[y0, x0] + dx * image[y0, x1])
                     + dy * ((1 - dx) * image[y1, x0] + dx * image[y1, x1]))
    return out


def test_resize_digits_is_bilinear_and_centred():
    image = np.random.default_rng(0).integers(0, 17, size=(1, 8, 8))
    resized = data_module.resize_digits(image)[0].astype(float)
    expected = naive_bilinear(np.rint(image[0] * 255 / 16), 20)
    assert np.abs(resized[4:24, 4:24] - expected).max() <= 1.0  # Pillow rounds in fixed point
    assert resized[:4].max() == resized[24:].max() == resized[:, :4].max() == 0


def test_splits_are_stratified_disjoint_and_reproducible():
    labels = np.repeat(np.arange(3), [50, 30, 20])
    parts = data_module.downstream_splits(labels, seed=3)
    everything = np.concatenate(list(parts.values()))
    assert sorted(everything.tolist()) == list(range(100))
    assert [np.bincount(labels[parts[p]]).tolist() for p in parts] == [[30, 18, 12], [10, 6, 4],
                                                                        [10, 6, 4]]
    again = data_module.downstream_splits(labels, seed=3)
    assert all(np.array_equal(parts[p], again[p]) for p in parts)
    other = data_module.downstream_splits(labels, seed=4)
    assert not np.array_equal(parts["test"], other["test"])


def test_sample_is_stratified_and_seeded():
    data = data_module.load_sklearn_digits()
    sample = data.sample(200, seed=0)
    assert len(sample.labels) == 200 and np.bincount(sample.labels).min() >= 19
    assert np.array_equal(sample.images, data.sample(200, seed=0).images)
    assert sample.fingerprint != data.fingerprint != data.sample(200, seed=1).fingerprint


@pytest.fixture
def mini_zoo(tmp_path):
    return tiny_mini_zoo(tmp_path / "store")


def test_embeddings_are_cached_by_checkpoint_and_images(mini_zoo, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    data = data_module.load_sklearn_digits().sample(50, seed=0)
    first = producer.embed_downstream(mini_zoo, "base", data, cache)
    expected = network_outputs(load_network(mini_zoo, "base"), data.images)[1]
    np.testing.assert_allclose(first, expected, rtol=1e-6)
    assert producer.cache_file(mini_zoo, "base", data, cache).is_file()
    assert not (mini_zoo.path / "downstream").exists()  # nothing written into the store

    def no_network(*args):
        raise AssertionError("recomputed although cached")
    monkeypatch.setattr(producer, "load_network", no_network)
    np.testing.assert_array_equal(producer.embed_downstream(mini_zoo, "base", data, cache), first)
    with pytest.raises(AssertionError, match="recomputed"):  # other images: another key
        producer.embed_downstream(mini_zoo, "base", data_module.load_sklearn_digits().sample(50, 1),
                                  cache)
    monkeypatch.undo()

    # A retrained network: the checkpoint's bytes change, so the cached entry is not used;
    # the checkpoint no longer matches the store's metadata and load_network refuses it.
    before = producer.cache_file(mini_zoo, "base", data, cache)
    checkpoint_path(mini_zoo, "base").write_bytes(checkpoint_path(mini_zoo, "reinit").read_bytes())
    assert producer.cache_file(mini_zoo, "base", data, cache) != before
    with pytest.raises(NorepError, match="missing or corrupt"):
        producer.embed_downstream(mini_zoo, "base", data, cache)

    # An entry of the wrong length is recomputed.
    path = producer.cache_file(mini_zoo, "arch", data, cache)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.zeros((3, 128), np.float32))
    assert producer.embed_downstream(mini_zoo, "arch", data, cache).shape == (50, 128)


def test_a_member_without_a_checkpoint_is_one_error_line(mini_zoo, tmp_path):
    data = data_module.load_sklearn_digits().sample(20, seed=0)
    for model_id in ("forest", "no-such-model"):
        with pytest.raises(NorepError, match=f"holds no checkpoint of '{model_id}'"):
            producer.embed_downstream(mini_zoo, model_id, data, tmp_path)


def test_models_without_networks_and_imagenet_stores(mini_zoo, tmp_path):
    assert producer.embedded_models(mini_zoo, mini_zoo.model_ids) == (["base", "reinit", "arch"],
                                                                      ["forest"])
    examples = pd.DataFrame({"example_id": ["a"], "label": [0], "split": ["test"]})
    imagenet = Store.create(tmp_path / "imagenet", dataset="imagenet-1k", classes=["x"],
                            examples=examples, fingerprint="f")
    with pytest.raises(NorepError, match="holds imagenet-1k models.*pass a downstream image folder"):
        producer.check_mini_zoo(imagenet)
    imagenet.add_model("timm/resnet18.tv_in1k", {"display_name": "r", "source": "timm"},
                       {"logits": np.zeros((1, 1), np.float32)})
    imagenet.add_model("imported", {"display_name": "i", "source": "imported"},
                       {"logits": np.zeros((1, 1), np.float32)})
    assert producer.embedded_models(imagenet, ["imported", "timm/resnet18.tv_in1k"]) == (
        ["timm/resnet18.tv_in1k"], ["imported"])


def toy_problem(seed: int = 0):
    """Three embeddings of a 3-class problem: two informative in different ways, one noise."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(3), 40)
    a = (labels == 0)[:, None] + rng.normal(scale=0.4, size=(120, 2))  # 0 vs the rest
    b = (labels == 2)[:, None] + rng.normal(scale=0.4, size=(120, 2))  # 2 vs the rest
    c = rng.normal(size=(120, 3))
    return [a, b, c], labels, data_module.downstream_splits(labels, seed)


def test_linear_evaluation_matches_a_naive_loop():
    embeddings, labels, parts = toy_problem()
    evaluation = transfer.linear_evaluation(embeddings, labels, parts)
    train, held, test = parts["train"], parts["held_out"], parts["test"]
    naive = {}
    base, _ = select_probe(embeddings[0][train], labels[train], embeddings[0][held], labels[held],
                           transfer.PROBE_GRID)
    for key in [(0,), (1,), (2,), (0, 1), (0, 2), (1, 2)]:
        x = np.hstack([embeddings[k] for k in key])
        probe, _ = select_probe(x[train], labels[train], x[held], labels[held], (base.l2,))
        naive[key] = np.mean(probe.predict(x[test]) == labels[test])
    assert set(evaluation.single_l2) | set(evaluation.pair_l2) == {base.l2}
    assert evaluation.pairs.tolist() == [[0, 1], [0, 2], [1, 2]]
    np.testing.assert_allclose(evaluation.single_accuracy, [naive[(k,)] for k in range(3)])
    np.testing.assert_allclose(evaluation.pair_accuracy, [naive[(0, 1)], naive[(0, 2)], naive[(1, 2)]])
    matrix = evaluation.pair_matrix()
    assert matrix[1, 0] == matrix[0, 1] == naive[(0, 1)] and matrix[2, 2] == naive[(2,)]
    np.testing.assert_allclose(evaluation.pair_gains()[0], naive[(0, 1)] - max(naive[(0,)], naive[(1,)]))
    assert naive[(0, 1)] > max(naive[(0,)], naive[(1,)])  # the two views complement each other


def test_best_single_vs_pair_against_a_hand_written_bootstrap():
    rng = np.random.default_rng(1)
    evaluation = transfer.LinearEvaluation(
        pairs=np.array([[0, 1], [0, 2], [1, 2]]),
        single_correct=rng.random((80, 3)) < [0.6, 0.7, 0.5],
        pair_correct=rng.random((80, 3)) < [0.8, 0.6, 0.7],
        single_held_out=np.array([0.6, 0.65, 0.65]), pair_held_out=np.array([0.7, 0.9, 0.8]),
        single_l2=np.ones(3), pair_l2=np.ones(3))
    best = transfer.best_single_vs_pair(evaluation, n_bootstrap=120, seed=5)
    assert (best.single, best.pair) == (1, 1)  # first maximum of the held-out accuracies
    difference = evaluation.pair_correct[:, 1].astype(float) - evaluation.single_correct[:, 1]
    assert best.gain == pytest.approx(difference.mean())
    draws = np.random.default_rng(5)
    means = np.concatenate([difference[draws.integers(0, 80, size=(n, 80))].mean(axis=1)
                            for n in (50, 50, 20)])  # the package draws 50 resamples at a time
    assert (best.low, best.high) == pytest.approx(tuple(np.quantile(means, [0.025, 0.975])))


def test_downstream_rank():
    assert transfer.downstream_rank(np.array([0.8, 0.9, 0.85]), np.array([0.7, 0.6, 0.9])) == (1, 3)
    assert transfer.downstream_rank(np.array([0.9, 0.8]), np.array([0.7, 0.7])) == (0, 1)  # ties


def test_image_folder_opens_classes_by_sub_folder(tmp_path):
    for name, count in (("b-dog", 2), ("a-cat", 3)):
        for k in range(count):
            (tmp_path / "pets" / name).mkdir(parents=True, exist_ok=True)
            (tmp_path / "pets" / name / f"{k}.JPG").write_bytes(b"")
    (tmp_path / "pets" / "a-cat" / "notes.txt").write_text("not an image")
    images = data_module.open_downstream_folder(tmp_path / "pets")
    assert images.classes == ["a-cat", "b-dog"] and images.labels.tolist() == [0, 0, 0, 1, 1]
    assert images.files[0] == "a-cat/0.JPG" and images.name == "pets"
    (tmp_path / "pets" / "c-eel").mkdir()
    with pytest.raises(NorepError, match="c-eel holds no images"):
        data_module.open_downstream_folder(tmp_path / "pets")
    with pytest.raises(NorepError, match="at least two class sub-folders"):
        data_module.open_downstream_folder(tmp_path / "pets" / "a-cat")
    with pytest.raises(NorepError, match="does not exist"):
        data_module.open_downstream_folder(tmp_path / "nowhere")


def test_stratified_sample_keeps_class_shares():
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    kept = data_module.stratified_sample(labels, 10, seed=3)
    assert np.bincount(labels[kept]).tolist() == [5, 3, 2] and np.all(np.diff(kept) > 0)
    assert np.array_equal(kept, data_module.stratified_sample(labels, 10, seed=3))
