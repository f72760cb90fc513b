"""The chapter "Ensembles" (Fig 2), its helpers and its figure functions.

The chapter runs once per module with papermill on the synthetic store of
``test_chapter_error_inconsistency`` (accuracy controls and a top-1-only model, which
ensembles leave out); the tests read the executed notebook and check its numbers
against the store. The helpers of ``norep.book.chapters.ensembles`` and the figure
functions are tested directly, against naive computations.
"""

from __future__ import annotations

from math import comb
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from notebook_checks import (
    assert_no_error_or_stderr,
    execute_chapter,
    output_text,
    outputs,
)
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax
from test_chapter_error_inconsistency import CONTROLS, pair_table, synthetic_zoo

from norep.analysis.bootstrap import resample_weights
from norep.book import build as book
from norep.book.chapter import open_zoo
from norep.book.chapters import ensembles as chapter
from norep.book.plots import ensembles as plots_ensembles
from norep.zoo.roster import BASE_LABEL, CONTROL_LABEL

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return synthetic_zoo(tmp_path_factory.mktemp("ensembles") / "store")


@pytest.fixture(scope="module")
def executed(store, tmp_path_factory):
    """The chapter executed on the synthetic store."""
    output = tmp_path_factory.mktemp("executed") / "ensembles.ipynb"
    return execute_chapter("ensembles", output, store=store.path, base="base", band=0.05, n_bootstrap=50)


def temperature(store, model_id: str) -> float:
    """The NLL-minimizing temperature on the calibration split, fitted here independently."""
    logits = np.asarray(store.logits(model_id, "calibration"), dtype=np.float64)
    labels = store.labels("calibration")
    nll = lambda t: -log_softmax(logits / t, axis=1)[np.arange(len(labels)), labels].mean()  # noqa: E731
    return minimize_scalar(nll, bounds=(0.05, 20), method="bounded", options={"xatol": 1e-7}).x


def probabilities(store, model_id: str, t: float) -> np.ndarray:
    """Test-split softmax(logits / t)."""
    return np.exp(log_softmax(np.asarray(store.logits(model_id, "test"), dtype=np.float64) / t, axis=1))


def test_parameters_cell():
    parameters = book.notebook_parameters(ROOT / "book" / "chapters" / "ensembles.py")
    assert parameters == {"store": "runs/fashion_mnist", "base": "cnn-seed0", "band": 0.01, "seed": 0,
                          "n_bootstrap": 1000}


def test_chapter_cells_are_short_and_narrow():
    notebook = book.read_notebook(ROOT / "book" / "chapters" / "ensembles.py")
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert max(len(cell.source.splitlines()) for cell in code) <= 15
    assert max(len(line) for cell in notebook.cells for line in cell.source.splitlines()) <= 88
    assert "hide-input" in code[1].metadata.get("tags", [])


@pytest.mark.notebooks
def test_chapter_runs_without_errors_or_stderr(executed):
    assert_no_error_or_stderr(executed)


@pytest.mark.notebooks
def test_chapter_states_its_choices_and_leaves_out_top1(executed):
    figures = [output for output in outputs(executed) if "image/png" in output.get("data", {})]
    assert len(figures) == 3  # Fig 2 left, Fig 2 center and right, temperature scaling
    text = output_text(executed)
    source = "".join(cell.source for cell in executed.cells)
    assert "temperature-scaled softmax" in source and "calibration" in source
    assert "left out: top-1 only" in text
    assert "agrees with the example-by-example one on the base pairs: yes" in text
    assert "reproduces?" in text and "Paper vs this book" in source


@pytest.mark.notebooks
def test_chapter_numbers_match_the_store(executed, store):
    """Accuracies, temperatures and an ensemble accuracy, recomputed from the store's arrays."""
    text = output_text(executed)
    labels = store.labels("test")
    base_right = np.asarray(store.logits("base", "test")).argmax(axis=1) == labels
    assert f"The base alone: {100 * base_right.mean():.1f}% test accuracy" in text
    t_base, t_reinit = temperature(store, "base"), temperature(store, "reinit")
    assert f"T = {t_base:.2f}." in text
    ensemble = (probabilities(store, "base", t_base) + probabilities(store, "reinit", t_reinit)).argmax(axis=1)
    # the Reinit category (one pair) of ensemble accuracy, in the verdicts
    assert f"Reinit {100 * np.mean(ensemble == labels):.1f}" in text
    members = 1 + 5 + len(CONTROLS)  # the base, its five partners with logits, the controls
    assert f"Over the {comb(members, 2)} pairs" in text


# -- the chapter's helpers ----------------------------------------------------------------

def test_ensemble_gains_against_a_naive_loop():
    rng = np.random.default_rng(0)
    right = rng.random((4, 50)) < 0.7  # the base and three partners
    ensemble_right = rng.random((3, 50)) < 0.8
    full, boot = chapter.ensemble_gains(right, ensemble_right, n_bootstrap=7, seed=3)
    for k in range(3):
        one = right[0] != right[k + 1]
        assert np.isclose(full["ensemble_accuracy"][k], ensemble_right[k].mean())
        assert np.isclose(full["improvement"][k],
                          ensemble_right[k].mean() - (right[0].mean() + right[k + 1].mean()) / 2)
        assert np.isclose(full["conversion_rate"][k], ensemble_right[k][one].mean())
        assert np.isclose(full["error_inconsistency"][k], one.mean())
    # the bootstrap: the same statistics on the resampled examples, resample by resample
    weights = np.concatenate([w for _, w in resample_weights(50, 7, 3)])
    for b, w in enumerate(weights):
        rows = np.repeat(np.arange(50), w)
        one = right[0, rows] != right[1, rows]
        assert np.isclose(boot["conversion_rate"][b, 0], ensemble_right[0, rows][one].mean())
        assert np.isclose(boot["accuracy"][b, 2], right[3, rows].mean())


def test_ensemble_gains_conversion_is_nan_without_disagreement():
    right = np.ones((2, 5), bool)
    full, _ = chapter.ensemble_gains(right, np.ones((1, 5), bool), 3, 0)
    assert np.isnan(full["conversion_rate"][0]) and full["improvement"][0] == 0


@pytest.fixture(scope="module")
def pairs(store):
    return chapter.base_ensembles(chapter.ensemble_members(open_zoo(str(store.path), "base", 0.05)), 30, 0)


def test_members_leave_out_top1_models(pairs):
    members = pairs.members
    assert "top1-only" in members.left_out and "top1-only" not in members.order
    assert members.order[-len(CONTROLS):] == list(CONTROLS) and members.fit_split == "calibration"


def test_base_ensembles_against_dense_averaging(pairs, store):
    labels = store.labels("test")
    t = pairs.temperatures
    for model_id in ("reinit", "dataset"):
        dense = probabilities(store, "base", t["base"]) + probabilities(store, model_id, t[model_id])
        assert np.isclose(pairs.table.loc[model_id, "ensemble_accuracy"], np.mean(dense.argmax(axis=1) == labels),
                          atol=2 / len(labels))  # float32 scores in the package, float64 here
    assert np.allclose(pairs.ensembles.accuracy[0, 1:], pairs.table["ensemble_accuracy"])


def test_member_pairs_and_fits(pairs):
    every = chapter.member_pairs(pairs)
    assert len(every) == comb(1 + len(pairs.members.partners), 2)  # controls are left out
    row = every[every["pair"] == "reinit + dataset"].iloc[0]
    i, j = pairs.members.order.index("reinit"), pairs.members.order.index("dataset")
    assert np.isclose(row["error_inconsistency"], np.mean(pairs.right[i] != pairs.right[j]))
    assert row["group"] == "Dataset"
    fits = chapter.improvement_fits(pairs)
    fit = fits.fits["every pair of members"]["all pairs"]
    slope, intercept = np.polyfit(every["error_inconsistency"], every["improvement"], 1)
    assert np.isclose(fit.slope, slope) and np.isclose(fit.intercept, intercept) and fit.n == len(every)
    assert fits.table().loc["every pair of members: all pairs", "slope (points per point)"] == round(slope, 3)


def test_temperature_scaling_counts_every_pair(pairs):
    scaling = chapter.temperature_scaling(pairs)
    n = len(pairs.members.order)
    assert len(scaling.pairs) == comb(n, 2)
    assert set(scaling.pairs["group"]) >= {CONTROL_LABEL, "Reinit"}
    assert np.isclose(scaling.means().loc["temperature", "mean over models"],
                      np.mean(list(pairs.temperatures.values())), atol=5e-4)
    empty = chapter.TemperatureScaling(None, None)
    assert empty.figure() is None and empty.means() is None and "no calibration split" in empty.text().data


def test_headline_compares_the_most_divergent_category_with_reinit(pairs):
    claim, _, book_text, verdict = chapter.headline(pairs)
    assert claim.endswith("(Dataset)")
    table = pairs.table
    over_better = table["ensemble_accuracy"] - np.maximum(pairs.base_accuracy, table["accuracy"])
    dataset_gain, reinit_gain = over_better[["dataset"]].mean(), over_better["reinit"]
    assert f"mean over Dataset pairs {100 * dataset_gain:+.1f}, over Reinit pairs {100 * reinit_gain:+.1f}" in book_text
    assert verdict == ("yes" if dataset_gain > reinit_gain and over_better["dataset"] > 0 else "no")


# -- the figure functions -----------------------------------------------------------------

def test_improvement_vs_inconsistency_draws_fits_with_r():
    pairs = pair_table().assign(improvement=lambda t: 0.3 * t["error_inconsistency"] - 0.01)
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
