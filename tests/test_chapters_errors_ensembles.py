"""The chapters "Error inconsistency" (Fig 1) and "Ensembles" (Fig 2), and their figure functions.

The chapters run once per module with papermill (through ``norep.book.run_chapter`` and
the CI profile, its store replaced by a synthetic one made here with the mini zoo's
metadata columns, an accuracy control and a top-1-only model); the tests read the
executed notebooks. The figure functions are tested directly, without notebooks.
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
from matplotlib.colors import same_color
from matplotlib.figure import Figure
from notebook_checks import assert_no_error_or_stderr, output_text, outputs

from norep.book import build as book
from norep.book.plots import categories as plots_categories
from norep.book.plots import ensembles as plots_ensembles
from norep.book.plots.style import CATEGORY_COLORS
from norep.zoo import Methodology, divergence_category
from norep.zoo.roster import BASE_LABEL, CONTROL_LABEL

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ("error_inconsistency", "ensembles")


def synthetic_zoo(path: Path):
    """The synthetic store with the mini zoo's columns, a weaker control and a top-1-only model."""
    store = make_synthetic_store(path)
    rng = np.random.default_rng(1)
    base_logits = np.asarray(store.logits("base"))
    labels = store.labels()
    # The base recipe, less accurate: the base's logits with noise, the label's margin shrunk.
    control = base_logits + 4.0 * rng.normal(size=base_logits.shape)
    control[np.arange(len(labels)), labels] -= 1.0
    top1 = np.asarray(store.logits("dataset")) + 3.0 * rng.normal(size=base_logits.shape)
    base_meta = store.meta("base")
    store.add_model("control", {**base_meta, "display_name": "base stopped early",
                                "hyperparameters": {**base_meta["hyperparameters"], "target_accuracy": 0.4},
                                "role": "accuracy-control"}, {"logits": control.astype(np.float32)})
    store.add_model("top1-only", {**base_meta, "display_name": "top-1 only", "training_data": "train-C"},
                    {"predictions": top1.argmax(axis=1), "confidences": np.full(len(labels), 0.5)})
    base_method = Methodology.from_meta(store.meta("base"))
    for model_id in store.model_ids:  # the columns the mini zoo's training writes
        meta = store.meta(model_id)
        meta.update(base="base", role=meta.get("role", "member"),
                    category=None if model_id == "base" else divergence_category(base_method,
                                                                                  Methodology.from_meta(meta)))
        arrays = ({"logits": np.array(store.logits(model_id))} if store.has_array(model_id, "logits") else
                  {name: np.array(store.array(model_id, name)) for name in ("predictions", "confidences")})
        store.add_model(model_id, meta, arrays)
    return store


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Both chapters executed on the synthetic store: notebook by chapter name."""
    folder = tmp_path_factory.mktemp("errors_ensembles")
    store = synthetic_zoo(folder / "store")
    notebooks = {}
    with contextlib.chdir(ROOT):
        for chapter in CHAPTERS:
            path = book.run_chapter(chapter, folder / f"{chapter}.ipynb", profile="ci", parameters=[
                ["store", str(store.path)], ["base", "base"], ["band", "0.05"], ["n_bootstrap", "50"]])
            notebooks[chapter] = nbformat.read(path, as_version=4)
    return notebooks


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_parameters_cell(chapter):
    parameters = book.notebook_parameters(ROOT / "book" / "chapters" / f"{chapter}.py")
    assert set(parameters) == {"store", "base", "band", "seed", "n_bootstrap"}


@pytest.mark.notebooks
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_without_errors_or_stderr(executed, chapter):
    assert_no_error_or_stderr(executed[chapter])


@pytest.mark.notebooks
@pytest.mark.parametrize(("chapter", "n_figures"), [("error_inconsistency", 3), ("ensembles", 3)])
def test_chapter_has_its_figures_and_verdicts(executed, chapter, n_figures):
    notebook = executed[chapter]
    figures = [output for output in outputs(notebook) if "image/png" in output.get("data", {})]
    assert len(figures) >= n_figures
    text = output_text(notebook)
    assert "reproduces?" in text
    assert "Paper vs this book" in "".join(cell.source for cell in notebook.cells)


@pytest.mark.notebooks
def test_error_inconsistency_chapter_uses_controls_and_all_categories(executed):
    text = output_text(executed["error_inconsistency"])
    assert "base stopped early" in text  # the accuracy control is the yardstick
    assert "top-1 only" in text  # a top-1-only model has error inconsistency, not ensembles
    for category in ("Reinit", "Hyper-parameters", "Architecture", "Framework", "Dataset"):
        assert category in text
    assert "partners in the band" in text


@pytest.mark.notebooks
def test_ensembles_chapter_states_its_choices_and_leaves_out_top1(executed):
    notebook = executed["ensembles"]
    text = output_text(notebook)
    source = "".join(cell.source for cell in notebook.cells)
    assert "temperature-scaled softmax" in source and "calibration" in source
    assert "left out: top-1 only" in text
    assert "agrees with the example-by-example one on the base pairs: yes" in text


# -- the figure functions -----------------------------------------------------------------

def pair_table(n_per_category=2, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for category in ("Reinit", "Architecture", "Dataset"):
        for _ in range(n_per_category):
            value = rng.uniform(0.05, 0.2)
            rows.append({"category": category, "group": category, "in_band": bool(rng.integers(2)),
                         "error_inconsistency": value, "error_inconsistency_low": value - 0.01,
                         "error_inconsistency_high": value + 0.01, "kappa": 1 - 3 * value,
                         "improvement": 0.3 * value - 0.01})
    return pd.DataFrame(rows)


def test_category_metrics_draws_one_panel_per_metric():
    pairs = pair_table()
    summary = pairs.groupby("category")[["error_inconsistency", "kappa"]].mean()
    for metric in ("error_inconsistency", "kappa"):
        summary[f"{metric}_low"], summary[f"{metric}_high"] = summary[metric] - 0.01, summary[metric] + 0.01
    fig = plots_categories.category_metrics(pairs, {"all partners": summary},
                                 {"error_inconsistency": "error inconsistency", "kappa": "kappa"},
                                 {"kappa": [(0.5, "control")]}, title="Fig 1")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert [ax.get_ylabel() for ax in fig.axes] == ["error inconsistency", "kappa"]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["Reinit", "Architecture", "Dataset"]
    assert fig._suptitle.get_text() == "Fig 1"
    plt.close(fig)


def test_pair_heatmap_orders_models_and_colors_groups():
    matrix = np.array([[np.nan, 0.1, 0.2], [0.1, np.nan, 0.3], [0.2, 0.3, np.nan]])
    fig = plots_categories.pair_heatmap({"error inconsistency": matrix, "kappa": 1 - matrix}, ["base", "seed", "clip"],
                             [BASE_LABEL, "Reinit", "Dataset"], cmaps={"kappa": "viridis_r"})
    heatmaps = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in heatmaps] == ["error inconsistency", "kappa"]
    ticks = heatmaps[0].get_yticklabels()
    assert [t.get_text() for t in ticks] == ["base", "seed", "clip"]
    assert same_color(ticks[2].get_color(), CATEGORY_COLORS["Dataset"])
    plt.close(fig)


def test_improvement_vs_inconsistency_draws_fits_with_r():
    pairs = pair_table()
    fig = plots_ensembles.improvement_vs_inconsistency({"base pairs": pairs, "all pairs": pairs},
                                             {"base pairs": {"all": (0.3, -0.01, 0.99)}})
    assert len(fig.axes) == 2
    assert fig.axes[0].get_xlabel() == "error inconsistency (% of test examples)"
    assert "points" in fig.axes[0].get_ylabel()
    assert "r = 0.99" in fig.axes[0].get_legend().get_texts()[0].get_text()
    assert fig.axes[1].get_legend() is None
    plt.close(fig)


def test_temperature_effect_has_three_panels():
    calibration = pd.DataFrame({"label": ["base", "seed"], "group": [BASE_LABEL, "Reinit"],
                                "nll_before": [0.5, 0.6], "nll_after": [0.4, 0.5],
                                "ece_before": [0.05, 0.06], "ece_after": [0.01, 0.02]})
    ensembles = pd.DataFrame({"group": ["Reinit", CONTROL_LABEL], "accuracy_unscaled": [0.8, 0.7],
                              "accuracy_scaled": [0.81, 0.7]})
    fig = plots_ensembles.temperature_effect(calibration, ensembles)
    assert len(fig.axes) == 3
    assert fig.axes[0].get_xlabel() == "test NLL (nats)"
    assert fig.axes[2].get_ylabel() == "ensemble accuracy, T fitted (%)"
    assert {t.get_text() for t in fig.axes[0].get_yticklabels()} == {"base", "seed"}
    plt.close(fig)
