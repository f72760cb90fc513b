"""The chapters "Specialization" and "Low-accuracy models help", and their figures.

The notebook tests execute both chapters once per module with papermill (through
``norep.book.run_chapter`` and the CI profile) on a small synthetic store: the six
models of ``make_synthetic_store`` (one partner of the base per divergence category),
plus a strong anchor, a weak differently trained model and an accuracy control, with
the metadata columns the chapters read (``role``, ``display_name``). The plot tests are
fast unit tests of the figure functions these chapters add to ``norep.book.plots``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pandas as pd
import pytest
from conftest import make_synthetic_store
from notebook_checks import assert_no_error_or_stderr, output_text, outputs

from norep.book import build as book
from norep.book.plots import greedy as plots_greedy
from norep.book.plots import specialization as plots_specialization
from norep.zoo.roster import BASE_LABEL, CONTROL_LABEL

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ("specialization", "low_accuracy")
EXTRA_MODELS = [
    # model_id, architecture, objective, training_data, seed, hyperparameters, role, skill
    ("strong", "vit", "cross-entropy", "train-A", 0, {"lr": 0.003}, "member", 3.0),
    ("weak-data", "cnn", "contrastive", "train-C", 0, {"lr": 0.003}, "member", 0.6),
    ("control", "cnn", "cross-entropy", "train-A", 0, {"lr": 0.003, "target_accuracy": 0.6},
     "accuracy-control", 0.7),
]


def make_chapter_store(path):
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


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Both chapters executed on the synthetic store, by chapter name."""
    folder = tmp_path_factory.mktemp("chapters")
    make_chapter_store(folder / "store")
    notebooks = {}
    with contextlib.chdir(ROOT):
        for chapter in CHAPTERS:
            path = book.run_chapter(chapter, folder / f"{chapter}.ipynb", profile="ci", parameters=[
                ["store", str(folder / "store")], ["base", "base"], ["band", "0.05"], ["n_bootstrap", "50"],
            ])
            notebooks[chapter] = nbformat.read(path, as_version=4)
    return notebooks


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_parameters_cell_takes_the_profile_keys(chapter):
    parameters = book.notebook_parameters(ROOT / "book" / "chapters" / f"{chapter}.py")
    assert {"store", "base", "band", "seed", "n_bootstrap"} <= set(parameters)


@pytest.mark.notebooks
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_without_errors_or_stderr(executed, chapter):
    assert_no_error_or_stderr(executed[chapter])


@pytest.mark.notebooks
@pytest.mark.parametrize("chapter, n_figures", [("specialization", 4), ("low_accuracy", 3)])
def test_chapter_has_its_figures(executed, chapter, n_figures):
    figures = [o for o in outputs(executed[chapter]) if "image/png" in o.get("data", {})]
    assert len(figures) >= n_figures


@pytest.mark.notebooks
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_ends_with_paper_vs_book(executed, chapter):
    notebook = executed[chapter]
    assert "## Paper vs this book" in "".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    last = outputs(notebook)[-1].get("data", {}).get("text/plain", "")
    assert "reproduces?" in last
    assert "yes" in last or "no" in last or "partly" in last


@pytest.mark.notebooks
def test_specialization_picks_one_pair_per_example_category(executed):
    text = output_text(executed["specialization"])
    # reinit, arch and the Dataset member in the band (dataset) are the rule's picks
    for pair in ("base vs reinit", "base vs arch", "base vs dataset"):
        assert pair in text
    assert "confident-right share" in text


@pytest.mark.notebooks
def test_low_accuracy_uses_the_strong_anchor_and_the_control(executed):
    text = output_text(executed["low_accuracy"])
    # the anchor is the only member above the cap; the weak partner is the weakest Dataset or
    # Framework member, its reference the accuracy control
    assert "strong" in text
    assert "base + weak-data" in text and "base + control" in text
    assert "accuracy control" in text


# -- the figure functions ---------------------------------------------------------------------


def _angles(rng, panels):
    rows = []
    for panel, group in panels:
        a_right = rng.random(60) < 0.5
        rows.append(pd.DataFrame({"panel": panel, "group": group, "theta": rng.uniform(0, 90, 60),
                                  "a_right": a_right, "name_a": "base", "name_b": panel}))
    return pd.concat(rows)


def test_theta_histograms_one_panel_per_pair():
    figure = plots_specialization.theta_histograms(_angles(np.random.default_rng(0), [("r", "Reinit"), ("d", "Dataset")]))
    axes = [ax for ax in figure.axes if ax.get_visible()]
    assert len(axes) == 2
    assert [ax.get_title() for ax in axes] == ["r", "d"]
    assert axes[0].get_xlim() == (0, 90)
    plt.close(figure)


def test_pair_effects_marks_out_of_band_and_controls():
    table = pd.DataFrame({"label": ["a", "b", "c"], "group": ["Reinit", "Dataset", CONTROL_LABEL],
                          "value": [55.0, 70.0, 52.0], "low": [50.0, 65.0, 47.0], "high": [60.0, 75.0, 57.0],
                          "in_band": [True, False, True]})
    figure = plots_specialization.pair_effects(table, "share (%)", reference=50)
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert {"Reinit", "Dataset", CONTROL_LABEL, "out of band"} <= set(labels)
    ax = figure.axes[0]
    by_height = dict(zip(ax.get_yticks(), (tick.get_text() for tick in ax.get_yticklabels())))
    assert [by_height[y] for y in sorted(by_height, reverse=True)] == ["a", "b", "c"]  # first row on top
    plt.close(figure)


@pytest.mark.parametrize("n_subdomains, stacked", [(10, False), (200, True)])
def test_subdomain_wins_layout(n_subdomains, stacked):
    rng = np.random.default_rng(0)
    difference = rng.normal(size=2 * n_subdomains)
    table = pd.DataFrame({
        "panel": np.repeat(["p1", "p2"], n_subdomains), "group": np.repeat(["Reinit", "Dataset"], n_subdomains),
        "subdomain": np.tile(np.arange(n_subdomains), 2), "difference": difference,
        "low": difference - 1, "high": difference + 1,
        "winner": np.select([difference > 1, difference < -1], ["a", "b"], "neither"),
    })
    figure = plots_specialization.subdomain_wins(table)
    axes = figure.axes
    assert len(axes) == 2
    figure.canvas.draw()
    first, second = axes[0].get_position(), axes[1].get_position()
    assert (first.y0 > second.y0) if stacked else (first.x0 < second.x0)
    plt.close(figure)


def test_greedy_curves_and_ensemble_gains():
    steps = pd.DataFrame({"panel": ["A"] * 3 + ["B"] * 2, "size": [1, 2, 3, 1, 2],
                          "name": ["A", "x", "y", "B", "z"],
                          "group": [BASE_LABEL, "Dataset", "Architecture", BASE_LABEL, "Reinit"],
                          "member_accuracy": [90, 85, 84, 89, 86], "ensemble_accuracy": [90, 91, 91.5, 89, 89.5],
                          "low": [90, 90.5, 91, 89, 89], "high": [90, 91.5, 92, 89, 90]})
    figure = plots_greedy.greedy_curves(steps, cap=87, ncols=1)
    visible = [ax for ax in figure.axes if ax.get_visible()]
    assert len(visible) == 2
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert "anchor" in labels and "added: Dataset" in labels
    plt.close(figure)
    gains = pd.DataFrame({"panel": ["A", "A", "B"], "accuracy": [80.0, 85.0, 82.0], "gain": [0.5, -0.2, 1.0],
                          "low": [0.1, -0.5, 0.4], "high": [0.9, 0.1, 1.6],
                          "group": ["Dataset", CONTROL_LABEL, "Reinit"], "label": ["x", "c", "z"]})
    figure = plots_greedy.ensemble_gains(gains)
    assert len(figure.axes) == 2
    assert [t.get_text() for t in figure.axes[0].texts] == ["x", "c"]
    plt.close(figure)
