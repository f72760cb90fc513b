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
from norep.analysis.ensembles import ensemble_predictions
from norep.book import build as book
from norep.book.chapter import open_zoo
from norep.book.chapters import ensembles as chapter
from norep.book.plots import ensembles as plots_ensembles
from norep.store import read_scores
from norep.zoo import Methodology, divergence_category
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
                          "n_bootstrap": 1000, "device": "cpu"}


def test_chapter_cells_are_short_and_narrow():
    notebook = book.read_notebook(ROOT / "book" / "chapters" / "ensembles.py")
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert max(len(cell.source.splitlines()) for cell in code) <= 15
    assert max(len(line) for cell in notebook.cells for line in cell.source.splitlines()) <= 88
    first = next(i for i, cell in enumerate(code) if "parameters" in cell.metadata.get("tags", []))
    assert "hide-input" in code[first + 1].metadata.get("tags", [])  # the set-up cell after the parameters


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
    assert "agrees with the example-by-example one on the base pairs and on every pair of members: yes" in text
    assert "the identity is exact" in text and "Every Reinit model as the base" in source
    assert "showcased (chosen on the calibration split)" in text
    assert "p-value" not in text  # no p-values over pairs that share models
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
        both_wrong, both_right = ~right[0] & ~right[k + 1], right[0] & right[k + 1]
        assert np.isclose(full["ensemble_accuracy"][k], ensemble_right[k].mean())
        assert np.isclose(full["improvement"][k],
                          ensemble_right[k].mean() - (right[0].mean() + right[k + 1].mean()) / 2)
        assert np.isclose(full["over_better"][k],
                          ensemble_right[k].mean() - max(right[0].mean(), right[k + 1].mean()))
        assert np.isclose(full["conversion_rate"][k], ensemble_right[k][one].mean())
        assert np.isclose(full["error_inconsistency"][k], one.mean())
        assert np.isclose(full["rescues"][k], np.mean(ensemble_right[k] & both_wrong))
        assert np.isclose(full["losses"][k], np.mean(~ensemble_right[k] & both_right))
        assert np.isclose(full["disagreement_term"][k], one.mean() * (ensemble_right[k][one].mean() - 0.5))
    # the identity holds on every resample too
    assert np.allclose(boot["disagreement_term"] + boot["rescues"] - boot["losses"], boot["improvement"])
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


def test_headline_showcases_a_pair_chosen_on_calibration(pairs, store):
    claim, _, book_text, verdict = chapter.headline(pairs)
    assert "(Dataset)" in claim
    # the showcased partner: the best calibration ensemble of the base with a Dataset partner
    t = pairs.temperatures
    calibration = store.labels("calibration")

    def scaled(m):
        return np.exp(log_softmax(np.asarray(store.logits(m, "calibration"), np.float64) / t[m], axis=1))

    dataset = [m for m in pairs.table.index if pairs.table.loc[m, "category"] == "Dataset"]
    best = max(dataset, key=lambda m: np.mean((scaled("base") + scaled(m)).argmax(axis=1) == calibration))
    assert "showcased (chosen on the calibration split): base " in book_text and f" + {best} " in book_text
    table = pairs.table
    over_better = table["ensemble_accuracy"] - np.maximum(pairs.base_accuracy, table["accuracy"])
    difference = over_better[table["category"] == "Dataset"].mean() - over_better[table["category"] == "Reinit"].mean()
    assert f"Dataset − Reinit: {100 * difference:+.1f} [" in book_text
    low, high = (float(x) for x in book_text.split("Dataset − Reinit: ")[1].split("[")[1].split("]")[0].split(", "))
    assert verdict == ("yes" if low > 0 else "no" if high < 0 else "cannot tell at this size")


def test_partner_weights_redraw_partners_within_their_category():
    categories = np.array(["Reinit", "Reinit", "Reinit", "Dataset", "Dataset", "Architecture"])
    keep = np.array([True, True, True, True, True, False])
    weights = chapter.partner_weights(categories, keep, 400, seed=1)
    assert weights.shape == (400, 6)
    assert (weights[:, :3].sum(axis=1) == 3).all() and (weights[:, 3:5].sum(axis=1) == 2).all()
    assert (weights[:, 5] == 1).all()  # not averaged: never redrawn
    assert np.allclose(weights[:, :5].mean(axis=0), 1, atol=0.15)  # each partner drawn once on average
    assert (weights[:, 0] == 0).any() and (weights[:, 0] == 3).any()
    np.testing.assert_array_equal(weights, chapter.partner_weights(categories, keep, 400, seed=1))


@pytest.fixture(scope="module")
def crowded(tmp_path_factory):
    """The synthetic zoo plus Reinit and Dataset partners of very different strength."""
    store = synthetic_zoo(tmp_path_factory.mktemp("crowded") / "store")
    rng = np.random.default_rng(4)
    labels = store.labels()
    for k, (data, skill) in enumerate([("train-A", 0.2), ("train-A", 3.0), ("train-B", 0.4), ("train-B", 2.5)]):
        logits = rng.normal(size=(len(labels), len(store.classes)))
        logits[np.arange(len(labels)), labels] += skill
        meta = {**store.meta("base"), "display_name": f"extra-{k}", "seed": 10 + k, "training_data": data,
                "category": "Reinit" if data == "train-A" else "Dataset"}
        store.add_model(f"extra-{k}", meta, {"logits": (2 * logits).astype(np.float32)})
    return chapter.base_ensembles(chapter.ensemble_members(open_zoo(str(store.path), "base", 0.05)), 200, 3)


def test_category_means_have_crossed_intervals(crowded):
    """The crossed draws are the partner-weighted means of the pairs' example resamples."""
    members, table = crowded.members, crowded.table
    scores = read_scores(members.zoo.store, members.order, "test", crowded.temperatures)
    labels = members.zoo.store.labels("test")
    ensemble_right = np.stack([ensemble_predictions(scores[[0, k]]) == labels for k in range(1, len(members.order))])
    _, boot = chapter.ensemble_gains(crowded.right, ensemble_right, 200, 3)
    weights = chapter.partner_weights(table["category"].to_numpy(), crowded.is_partner, 200, 3)
    summary, draws = crowded.summaries["all partners"]
    for category in ("Reinit", "Dataset"):
        columns = np.flatnonzero((table["category"] == category).to_numpy())
        assert len(columns) == 3
        naive = [np.average(boot["conversion_rate"][b, columns], weights=weights[b, columns]) for b in range(200)]
        np.testing.assert_allclose(draws["conversion_rate"][category], naive)
        # partners this different: the crossed interval is wider than the example-only one
        example_only = np.quantile(boot["conversion_rate"][:, columns].mean(axis=1), [0.025, 0.975])
        crossed = summary.loc[category, ["conversion_rate_low", "conversion_rate_high"]].to_numpy(float)
        assert crossed[1] - crossed[0] > example_only[1] - example_only[0]


def test_decomposition_of_every_pair_matches_dense_ensembles(pairs, store):
    shown = pairs.decomposition()
    terms = chapter.TERMS
    rebuilt = shown[terms["disagreement_term"]] + shown[terms["rescues"]] - shown[terms["losses"]]
    assert np.allclose(rebuilt, shown[terms["improvement"]], atol=0.011)  # rounded to 0.01 points
    t, labels = pairs.temperatures, store.labels("test")
    row = pairs.terms[pairs.terms["pair"] == "reinit + dataset"].iloc[0]
    a, b = (probabilities(store, m, t[m]) for m in ("reinit", "dataset"))
    right_a, right_b = a.argmax(axis=1) == labels, b.argmax(axis=1) == labels
    ensemble = (a + b).argmax(axis=1) == labels
    assert row["rescues"] == pytest.approx(np.mean(ensemble & ~right_a & ~right_b), abs=2 / len(labels))
    assert row["losses"] == pytest.approx(np.mean(~ensemble & right_a & right_b), abs=2 / len(labels))
    assert row["improvement"] == pytest.approx(row["disagreement_term"] + row["rescues"] - row["losses"])
    assert "the identity is exact" in pairs.identity().data


def test_fits_give_no_p_values_and_the_identity_verdict(pairs):
    fits = chapter.improvement_fits(pairs)
    table = fits.table()
    assert "p-value" not in table.columns
    every = chapter.member_pairs(pairs)
    assert table.loc["every pair of members: all pairs", "mean conversion rate − ½"] == round(
        np.nanmean(every["conversion_rate"]) - 0.5, 3)
    fit = fits.fits["every pair of members"]["all pairs"]
    assert chapter.identity_verdict(fit).startswith("yes, by construction" if fit.slope > 0 else "no")
    assert chapter.identity_verdict(None).startswith("cannot tell")


def test_steps_compare_adjacent_categories(pairs):
    steps = pairs.steps("conversion_rate")
    assert list(steps.index) == ["Hyper-parameters − Reinit", "Architecture − Hyper-parameters",
                                 "Framework − Architecture", "Dataset − Framework", "Dataset − Reinit"]
    assert set(steps["verdict"]) <= {"yes", "no", "cannot tell at this size"}
    assert steps["difference [crossed interval]; power"].str.contains("detectable at 80% power").all()


def test_every_base_uses_each_reinit_model_as_the_base(pairs, store):
    bases = chapter.every_base(pairs, 30, 0)
    assert list(bases.summaries) == ["base", "reinit"]  # display names of the base and its Reinit partner
    summary, draws = bases.summaries["reinit"]
    # seen from reinit: the base is its Reinit partner; the others keep their categories
    method = {m: Methodology.from_meta(store.meta(m)) for m in ("base", "reinit", "hyper", "arch", "dataset")}
    assert divergence_category(method["reinit"], method["base"]) == "Reinit"
    assert summary.loc["Dataset", "ensemble_accuracy_n"] == 1
    t, labels = pairs.temperatures, store.labels("test")
    dataset_category = divergence_category(method["reinit"], method["dataset"])
    for partner, category in (("base", "Reinit"), ("dataset", dataset_category)):
        dense = probabilities(store, "reinit", t["reinit"]) + probabilities(store, partner, t[partner])
        assert summary.loc[category, "ensemble_accuracy"] == pytest.approx(
            np.mean(dense.argmax(axis=1) == labels), abs=2 / len(labels))
    # the chapter's own base gives the chapter's category means
    own, _ = bases.summaries["base"]
    np.testing.assert_allclose(own["conversion_rate"], pairs.summaries["all partners"][0]["conversion_rate"])
    spread = bases.spread().loc["conversion rate (%)"]
    assert np.allclose(spread.loc["highest"] - spread.loc["lowest"],
                       (spread.loc[["base", "reinit"]].max() - spread.loc[["base", "reinit"]].min()), atol=0.011)
    assert "SD across bases" in spread.index
    assert list(bases.shown().index.names) == ["base", "metric"]
    assert [claim for claim, *_ in bases.claims()][0].endswith("with each of 2 bases")


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
