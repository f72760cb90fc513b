"""Accuracy band and accuracy-adjusted diversity against least squares on the pair matrices."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from norep.analysis.adjust import accuracy_adjusted
from norep.analysis.pairs import pair_metrics
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
