"""Accuracy band, accuracy-adjusted diversity, its leave-one-model-out refits and extrapolation flags,
against least squares on the pair matrices."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from test_chapter_error_inconsistency import synthetic_zoo  # the mini zoo's columns, three accuracy controls

from norep.analysis.adjust import accuracy_adjusted, extrapolated, leave_one_model_out
from norep.analysis.pairs import pair_metrics
from norep.book.chapter import open_zoo
from norep.book.chapters.error_inconsistency import METRICS, adjust_for_accuracy, base_pairs, reference_models
from norep.book.views import adjusted_diversity, band_models
from norep.errors import NorepError
from norep.store import read_outcomes


def zoo(n_models: int = 12, n_examples: int = 2000, seed: int = 0) -> np.ndarray:
    """Correctness of models of varied accuracy that share a per-example difficulty."""
    rng = np.random.default_rng(seed)
    difficulty = rng.normal(size=n_examples)
    skill = np.linspace(-0.5, 1.5, n_models)[:, None]
    return skill - difficulty + rng.normal(size=(n_models, n_examples)) > 0


def test_band_keeps_models_within_the_accuracy_range(synthetic_store):
    accuracy = read_outcomes(synthetic_store, "test").correct.mean(axis=1)
    low, high = np.sort(accuracy)[1], np.sort(accuracy)[3]
    kept = band_models(synthetic_store, low, high)
    assert kept == [m for m, a in zip(synthetic_store.model_ids, accuracy) if low <= a <= high]
    assert len(kept) == 3


@pytest.mark.parametrize("metric", ["kappa", "error_inconsistency"])
def test_adjustment_equals_least_squares_on_the_pair_matrices(metric):
    correct = zoo()
    reference = np.array(list(itertools.combinations(range(12), 2)))
    pairs = np.array([(0, 5), (3, 11), (7, 8)])
    result = accuracy_adjusted(correct, pairs, reference, metric, n_boot=200)
    matrices = pair_metrics(correct)
    accuracy = matrices["accuracy"]

    def design(p):
        acc_a, acc_b = accuracy[p[:, 0], p[:, 1]], accuracy[p[:, 1], p[:, 0]]
        return np.column_stack([np.ones(len(p)), (acc_a + acc_b) / 2, np.abs(acc_a - acc_b)])

    coefficients, *_ = np.linalg.lstsq(design(reference), matrices[metric][reference[:, 0], reference[:, 1]],
                                       rcond=None)
    value = matrices[metric][pairs[:, 0], pairs[:, 1]]
    np.testing.assert_allclose(result["coefficients"], coefficients, rtol=1e-8)
    np.testing.assert_allclose(result["value"], value, rtol=1e-12)
    np.testing.assert_allclose(result["adjusted"], value - design(pairs) @ coefficients, atol=1e-10)
    assert np.all(result["low"] <= result["adjusted"]) and np.all(result["adjusted"] <= result["high"])


@pytest.mark.parametrize("metric", ["kappa", "error_inconsistency"])
def test_leave_one_model_out_equals_a_naive_loop_of_refits(metric):
    correct = zoo(seed=3)
    models = [0, 2, 5, 7, 9, 11]
    reference = np.array(list(itertools.combinations(models, 2)))
    pairs = np.array([(0, 1), (4, 8), (3, 10)])
    out = leave_one_model_out(correct, pairs, reference, metric)
    matrices = pair_metrics(correct)
    accuracy = matrices["accuracy"]

    def design(p):
        acc_a, acc_b = accuracy[p[:, 0], p[:, 1]], accuracy[p[:, 1], p[:, 0]]
        return np.column_stack([np.ones(len(p)), (acc_a + acc_b) / 2, np.abs(acc_a - acc_b)])

    assert out["models"].tolist() == models
    for k, left_out in enumerate(models):
        kept = np.array([p for p in reference if left_out not in p])
        coefficients, *_ = np.linalg.lstsq(design(kept), matrices[metric][kept[:, 0], kept[:, 1]], rcond=None)
        np.testing.assert_allclose(out["coefficients"][k], coefficients, rtol=1e-8)
        residual = matrices[metric][pairs[:, 0], pairs[:, 1]] - design(pairs) @ coefficients
        np.testing.assert_allclose(out["adjusted"][k], residual, atol=1e-10)


def test_leave_one_model_out_without_enough_pairs_gives_nan():
    correct = zoo(seed=4)
    reference = np.array([(0, 1), (0, 2), (1, 2), (0, 3)])  # without model 0 only (1, 2) is left
    out = leave_one_model_out(correct, [(4, 5)], reference, "error_inconsistency")
    assert out["models"].tolist() == [0, 1, 2, 3]
    assert np.isnan(out["coefficients"][0]).all() and np.isnan(out["adjusted"][0]).all()
    assert np.isfinite(out["coefficients"][3]).all()  # without 3: (0, 1), (0, 2), (1, 2)


def test_extrapolated_by_hand():
    reference = np.array([0.80, 0.86, 0.88, 0.84])  # the reference models span 0.80 to 0.88
    accuracy_a = np.array([0.88, 0.88, 0.88, 0.88, 0.80])
    accuracy_b = np.array([0.80, 0.79, 0.885, 0.84, 0.80])
    assert extrapolated(accuracy_a, accuracy_b, reference).tolist() == [False, True, True, False, False]


def test_adjustment_flags_pairs_outside_the_reference_accuracies():
    correct = zoo(seed=5)  # skill rises with the model index, and so does accuracy
    accuracy = correct.mean(axis=1)
    reference = np.array(list(itertools.combinations(range(3, 9), 2)))
    pairs = np.array([(4, 6), (4, 11), (0, 5), (3, 8)])
    result = accuracy_adjusted(correct, pairs, reference, "error_inconsistency", n_boot=20)
    inside = [(accuracy[3:9].min() <= accuracy[a] <= accuracy[3:9].max())
              and (accuracy[3:9].min() <= accuracy[b] <= accuracy[3:9].max()) for a, b in pairs]
    assert result["extrapolated"].tolist() == [not i for i in inside] == [False, True, True, False]
    np.testing.assert_allclose(np.nanquantile(result["samples"], [0.025, 0.975], axis=0),
                               [result["low"], result["high"]])


def test_residuals_of_the_reference_pairs_average_zero():
    correct = zoo(seed=1)
    reference = np.array(list(itertools.combinations(range(12), 2)))
    result = accuracy_adjusted(correct, reference, reference, "kappa", n_boot=50)
    assert np.mean(result["adjusted"]) == pytest.approx(0, abs=1e-10)  # least squares with an intercept


def test_a_pair_more_diverse_than_its_accuracies_predict_stands_out():
    # model 12 is as accurate as model 6 but decides by its own difficulty: low kappa
    rng = np.random.default_rng(99)  # not the zoo's generator: its own difficulty
    correct = zoo(seed=2)
    independent = 0.5 - rng.normal(size=2000) + rng.normal(size=2000) > 0
    correct = np.vstack([correct, independent])
    reference = np.array(list(itertools.combinations(range(12), 2)))
    result = accuracy_adjusted(correct, [(6, 12), (6, 7)], reference, "kappa", n_boot=300)
    assert result["high"][0] < 0 < result["high"][1]


def test_too_few_reference_pairs_is_a_clear_error():
    correct = zoo()
    correct[1] = True
    correct[2] = True  # kappa(1, 2) is undefined: both always right
    with pytest.raises(NorepError, match="at least 3 reference pairs"):
        accuracy_adjusted(correct, [(0, 3)], [(1, 2), (0, 4), (3, 4)], "kappa", n_boot=10)


def test_store_wrapper_reports_named_pairs(synthetic_store):
    pairs = [("base", m) for m in synthetic_store.model_ids[1:]]
    table = adjusted_diversity(synthetic_store, pairs, metric="error_inconsistency", n_boot=100)
    assert table.columns.tolist() == ["model_a", "model_b", "acc_a", "acc_b", "error_inconsistency",
                                      "expected", "adjusted", "low", "high"]
    assert table["model_b"].tolist() == synthetic_store.model_ids[1:]
    accuracy = read_outcomes(synthetic_store, "test").correct.mean(axis=1)
    np.testing.assert_allclose(table["acc_b"], accuracy[1:])
    np.testing.assert_allclose(table["adjusted"], table["error_inconsistency"] - table["expected"])


def test_chapter_refits_and_flags_against_naive_least_squares(tmp_path):
    zoo = open_zoo(str(synthetic_zoo(tmp_path / "zoo").path), "base", 0.05)
    adjusted = adjust_for_accuracy(base_pairs(zoo, 20, 0), 20, 0)
    models, _ = reference_models(zoo.roster)
    partners = zoo.roster.partners
    order = ["base", *partners, *[m for m in models if m not in partners and m != "base"]]
    outcomes = read_outcomes(zoo.store, "test", order)
    matrices = pair_metrics(outcomes.correct, None, outcomes.valid)
    accuracy = matrices["accuracy"]
    at = {m: k for k, m in enumerate(order)}

    def design(p):
        acc_a, acc_b = accuracy[p[:, 0], p[:, 1]], accuracy[p[:, 1], p[:, 0]]
        return np.column_stack([np.ones(len(p)), (acc_a + acc_b) / 2, np.abs(acc_a - acc_b)])

    targets = np.array([(0, at[m]) for m in partners])
    categories = zoo.roster.table.loc[partners, "category"].to_numpy()
    for metric in METRICS:
        refits = adjusted.refits[metric]
        assert list(refits.index) == sorted(models, key=lambda m: at[m])
        for left_out in models:
            kept = np.array([(at[a], at[b]) for a, b in itertools.combinations(models, 2) if left_out not in (a, b)])
            coefficients, *_ = np.linalg.lstsq(design(kept), matrices[metric][kept[:, 0], kept[:, 1]], rcond=None)
            np.testing.assert_allclose(refits.loc[left_out, ["b0", "b1", "b2"]].to_numpy(float), coefficients,
                                       rtol=1e-8)
            residual = matrices[metric][targets[:, 0], targets[:, 1]] - design(targets) @ coefficients
            for category in set(categories):
                assert refits.loc[left_out, category] == pytest.approx(residual[categories == category].mean())
        shown = adjusted.stability(metric)
        b1 = refits["b1"].to_numpy(float)
        assert shown.loc["range without one model", "b1"] == f"{b1.min():+.4f} to {b1.max():+.4f}"
    reference = outcomes.accuracy[[at[m] for m in models]]
    partner_accuracy = outcomes.accuracy[targets[:, 1]]
    outside = (partner_accuracy < reference.min()) | (partner_accuracy > reference.max())
    assert adjusted.table["extrapolated"].tolist() == outside.tolist()
    assert adjusted.reference_range == pytest.approx((reference.min(), reference.max()))
