"""The chapter "Downstream transfer" (Fig 7), its helpers and its figure functions.

The chapter runs once per module with papermill (through ``norep.book.run_chapter`` and
the CI profile) on a tiny Fashion-MNIST-shaped store whose checkpoints are random
networks (three with a network, one scikit-learn member without), on a 200-digit
sample, with the embedding cache in a temporary folder. Its printed numbers are checked
against the store and against a probe assembled here.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from notebook_checks import (
    assert_no_error_or_stderr,
    execute_chapter,
    output_text,
    outputs,
)
from test_downstream import tiny_mini_zoo

from norep.analysis.probes import select_probe
from norep.analysis.transfer import PROBE_GRID
from norep.book import build as book
from norep.book.chapter import open_zoo
from norep.book.chapters.downstream import downstream_transfer
from norep.book.plots.downstream import pair_accuracy_heatmaps, upstream_vs_downstream
from norep.datasets.downstream import downstream_splits, load_sklearn_digits
from norep.datasets.image_folders import load_image
from norep.producers.learners import network_outputs
from norep.producers.train import load_network

ROOT = Path(__file__).resolve().parents[1]
SIZE = 200


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return tiny_mini_zoo(tmp_path_factory.mktemp("downstream") / "store")


@pytest.fixture(scope="module")
def executed(store, tmp_path_factory):
    """The chapter executed on the tiny store, its embedding cache in a temporary folder."""
    output = tmp_path_factory.mktemp("executed") / "downstream.ipynb"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NOREP_CACHE", str(tmp_path_factory.mktemp("cache")))
        notebook = execute_chapter("downstream", output, store=store.path, base="base", band=0.5,
                                   n_bootstrap=50, downstream="[sklearn-digits]", downstream_size=SIZE)
        cached = sorted(Path(os.environ["NOREP_CACHE"]).glob("downstream/*/*.npy"))
    return notebook, cached


def test_parameters_cell():
    parameters = book.notebook_parameters(ROOT / "book" / "chapters" / "downstream.py")
    assert parameters == {"store": "runs/fashion_mnist", "base": "cnn-seed0", "band": 0.01, "seed": 0,
                          "n_bootstrap": 1000, "device": "auto",
                          "downstream": ["mnist-5k", "sklearn-digits"], "downstream_size": None,
                          "downstream_folder": None}


def test_chapter_cells_are_short_and_narrow():
    notebook = book.read_notebook(ROOT / "book" / "chapters" / "downstream.py")
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert max(len(cell.source.splitlines()) for cell in code) <= 15
    assert max(len(line) for cell in notebook.cells for line in cell.source.splitlines()) <= 88
    tags = [cell.metadata.get("tags", []) for cell in code]
    assert "hide-input" in tags[tags.index(["parameters"]) + 1]
    assert "paper_vs_book(" in code[-1].source


@pytest.mark.notebooks
def test_chapter_runs_without_errors_or_stderr(executed):
    notebook, cached = executed
    assert_no_error_or_stderr(notebook)
    assert len(cached) == 3  # one embedding file per network, none for the forest
    figures = [o for o in outputs(notebook) if "image/png" in o.get("data", {})]
    assert len(figures) == 2
    text = output_text(notebook)
    assert "listed only: forest" in text and "3 (3 pairs)" in text and "reproduces?" in text


def singles_table(notebook) -> str:
    """The text of the single-models table (the first output with an upstream column)."""
    return next(o["data"]["text/plain"] for o in outputs(notebook)
                if "upstream test accuracy" in o.get("data", {}).get("text/plain", ""))


@pytest.mark.notebooks
def test_printed_accuracies_match_an_independent_computation(executed, store):
    table = singles_table(executed[0])
    labels = store.labels("test")
    # group, in the band, upstream (%), sklearn-digits (%), its rank; pandas may wrap the table
    row = [t for line in table.splitlines() if line.startswith("reinit ") for t in line.split()[1:]]
    upstream = 100 * np.mean(np.asarray(store.logits("reinit", "test")).argmax(1) == labels)
    assert row[2] == f"{upstream:.1f}"
    data = load_sklearn_digits().sample(SIZE, seed=0)
    parts = downstream_splits(data.labels, 0)
    x = network_outputs(load_network(store, "reinit"), data.images)[1]
    probe, _ = select_probe(x[parts["train"]], data.labels[parts["train"]], x[parts["held_out"]],
                            data.labels[parts["held_out"]], PROBE_GRID, 10)
    accuracy = 100 * np.mean(probe.predict(x[parts["test"]]) == data.labels[parts["test"]])
    assert row[3] == f"{accuracy:.1f}"


def test_imagenet_store_is_explained_not_evaluated(tmp_path):
    from norep.store import Store

    examples = pd.DataFrame({"example_id": ["a", "b"], "label": [0, 1], "split": "test"})
    store = Store.create(tmp_path / "imagenet", dataset="imagenet-1k", classes=["x", "y"],
                         examples=examples, fingerprint="f")
    for model_id in ("base", "other"):
        store.add_model(model_id, {"display_name": model_id, "architecture": "resnet50",
                                   "objective": "cross-entropy", "training_data": "imagenet-1k",
                                   "seed": 0, "hyperparameters": {}},
                        {"logits": np.eye(2, dtype=np.float32)})
    result = downstream_transfer(open_zoo(str(store.path), "base", 0.5), ["sklearn-digits"], 50, 0,
                                 10, "cpu")
    assert result.results == {} and result.figure() is None and result.summary() is None
    assert "pass a downstream image folder" in result.members().data
    assert "not measured" in result.claims()[0][2]


def test_figure_functions():
    matrix = pd.DataFrame([[90.0, 92.0], [92.0, 89.0]], ["a", "b"], ["a", "b"])
    fig = pair_accuracy_heatmaps({"one": matrix, "two": matrix}, "t")
    assert len(fig.axes) == 4 and fig.axes[0].get_title() == "one"  # two heatmaps, two bars
    table = pd.DataFrame({"set": "one", "model": ["a", "b"], "group": ["Base", "Reinit"],
                          "upstream": [88.0, 87.0], "downstream": [90.0, 91.0]})
    fig = upstream_vs_downstream(table, "t")
    assert fig.axes[0].texts[0].get_text() == "a"  # the best upstream model is labelled
    plt.close("all")


def pretrained_store(path, checkpoints: dict[str, Path]):
    """An ImageNet-shaped store of random-initialized timm models, their checkpoints in the metadata."""
    from norep.store import Store

    examples = pd.DataFrame({"example_id": ["a", "b", "c"], "label": [0, 1, 1], "split": "test"})
    store = Store.create(path, dataset="imagenet-1k", classes=["x", "y"], examples=examples, fingerprint="f")
    base = next(iter(checkpoints))
    for model_id, checkpoint in checkpoints.items():
        store.add_model(model_id, {"display_name": model_id.split("/")[1], "architecture": model_id,
                                   "objective": "cross-entropy", "training_data": "imagenet-1k", "seed": 0,
                                   "hyperparameters": {}, "base": base, "role": "member",
                                   "category": None if model_id == base else "Architecture",
                                   "source": "timm", "checkpoint": str(checkpoint)},
                        {"logits": np.eye(3, 2, dtype=np.float32)})
    return store


def test_pretrained_store_transfers_to_an_image_folder(tmp_path, monkeypatch):
    from inference_checks import timm_checkpoint, write_images

    from norep.datasets.downstream import open_downstream_folder
    from norep.producers.downstream import embed_folder
    from norep.producers.inference import load_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("NOREP_CACHE", str(tmp_path / "cache"))
    names = ("test_resnet.r160_in1k", "test_efficientnet.r160_in1k")
    store = pretrained_store(tmp_path / "store", {f"timm/{n}": timm_checkpoint(tmp_path, n) for n in names})
    for k, name in enumerate(("cat", "dog", "eel")):
        write_images(tmp_path / "pets" / name, [f"{i}.png" for i in range(10)], seed=k)
    transfer = downstream_transfer(open_zoo(str(store.path), f"timm/{names[0]}", 0.5), [], None, 0, 20,
                                   "cpu", folder=tmp_path / "pets")
    assert transfer.problem is None and list(transfer.results) == ["pets"]
    evaluation = transfer.results["pets"].evaluation
    assert evaluation.pairs.tolist() == [[0, 1]] and transfer.results["pets"].sizes["train"] == 18
    # The embeddings: a bare forward pass of each model on each image, here.
    images = open_downstream_folder(tmp_path / "pets")
    model, transform = load_model(f"timm/{names[1]}", checkpoint=store.meta(f"timm/{names[1]}")["checkpoint"])
    with torch.no_grad():
        bare = np.concatenate([model.forward_with_embeddings(transform(load_image(images.path(i)))[None])[1]
                               for i in range(len(images))])
    embeddings = embed_folder(store, f"timm/{names[1]}", images)  # from the cache
    np.testing.assert_allclose(embeddings, bare, rtol=1e-4, atol=1e-4)
    # The single model's test accuracy: a probe fitted here on those embeddings.
    parts = downstream_splits(images.labels, 0)
    probe, _ = select_probe(embeddings[parts["train"]], images.labels[parts["train"]],
                            embeddings[parts["held_out"]], images.labels[parts["held_out"]], PROBE_GRID, 3)
    assert evaluation.single_accuracy[1] == np.mean(probe.predict(embeddings[parts["test"]])
                                                    == images.labels[parts["test"]])


def test_image_folder_needs_a_pretrained_store(store, tmp_path):
    result = downstream_transfer(open_zoo(str(store.path), "base", 0.5), [], None, 0, 10, "cpu",
                                 folder=tmp_path)
    assert result.results == {} and "embedded only by pretrained ImageNet models" in result.problem


def test_pretrained_store_transfers_to_a_multilabel_folder(tmp_path, monkeypatch):
    from inference_checks import timm_checkpoint, write_images
    from test_multilabel import naive_ap

    from norep.analysis.multilabel import one_vs_rest_scores, select_one_vs_rest
    from norep.analysis.transfer import RankingEvaluation
    from norep.datasets.image_folders import open_multilabel_folder
    from norep.producers.downstream import embed_folder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("NOREP_CACHE", str(tmp_path / "cache"))
    names = ("test_resnet.r160_in1k", "test_efficientnet.r160_in1k")
    store = pretrained_store(tmp_path / "store", {f"timm/{n}": timm_checkpoint(tmp_path, n) for n in names})
    files = [f"{k:02d}.png" for k in range(40)]
    write_images(tmp_path / "scenes", files, seed=1)
    rng = np.random.default_rng(0)
    labels = [";".join(c for c in ("cat", "dog", "eel") if rng.random() < 0.5) for _ in files]
    splits = ["train"] * 20 + ["held_out"] * 10 + ["test"] * 10
    table = pd.DataFrame({"image": files, "labels": labels, "split": splits})
    table.to_csv(tmp_path / "scenes" / "labels.csv", index=False)
    zoo = open_zoo(str(store.path), f"timm/{names[0]}", 0.5)
    transfer = downstream_transfer(zoo, [], None, 0, 20, "cpu", folder=tmp_path / "scenes")
    assert transfer.problem is None and list(transfer.results) == ["scenes"]
    result = transfer.results["scenes"]
    evaluation = result.evaluation
    assert isinstance(evaluation, RankingEvaluation) and evaluation.pairs.tolist() == [[0, 1]]
    assert result.sizes == {"train": 20, "held_out": 10, "test": 10}  # the folder's parts
    assert "multi-label folder" in result.source and "the folder gives the parts" in result.source
    # The base's mAP: one-vs-rest probes fitted here on its embeddings, scored by a naive AP.
    images = open_multilabel_folder(tmp_path / "scenes")
    x = embed_folder(store, f"timm/{names[0]}", images)  # from the cache
    y, parts = images.labels, images.given_parts()
    probes, _ = select_one_vs_rest(x[parts["train"]], y[parts["train"]], x[parts["held_out"]],
                                   y[parts["held_out"]], None, PROBE_GRID)
    scores, test = one_vs_rest_scores(probes, x[parts["test"]]), y[parts["test"]]
    naive = np.nanmean([naive_ap(scores[:, c], test[:, c]) for c in range(3)])
    assert evaluation.single_score[0] == pytest.approx(naive, abs=1e-6)
    assert evaluation.single_l2[1] == evaluation.single_l2[0] == probes[0].l2
    # The pages say mAP where the set is multi-label, and compare with the paper's VOC mAP.
    assert "scenes 11-point mAP (%)" in transfer.singles().columns
    assert transfer.summary().loc["scenes", "score"] == "test 11-point mAP (%)"
    claims = transfer.claims()
    assert "11-point mAP (gain" in claims[0][2] and claims[0][1].endswith("mAP (+0.7; Pascal VOC)")
    assert claims[-1][2] == "scenes (11-point mAP)"
    labels_of = [ax.get_ylabel() for ax in transfer.figure().axes]
    assert "test 11-point mAP (%)" in labels_of
    assert transfer.ranks_figure().axes[0].get_ylabel() == "downstream test 11-point mAP (%)"
    plt.close("all")
    # Without a split column: a seeded shuffle in the shares of the single-label folders.
    table.drop(columns="split").to_csv(tmp_path / "scenes" / "labels.csv", index=False)
    again = downstream_transfer(zoo, [], None, 0, 20, "cpu", folder=tmp_path / "scenes")
    assert again.results["scenes"].sizes == {"train": 24, "held_out": 8, "test": 8}
    assert "a seeded shuffle gives the parts" in again.results["scenes"].source
