"""Temperature scaling and ECE against a grid search, scipy and a per-bin loop."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special

from norep.analysis.calibration import expected_calibration_error, fit_temperature, nll
from norep.book.views import calibration_table, fit_temperatures
from norep.store import Store, softmax


def overconfident(n: int, n_classes: int = 10, scale: float = 4.0, seed: int = 0):
    """Logits of a model whose true probabilities are softmax(logits / scale)."""
    rng = np.random.default_rng(seed)
    true_logits = rng.normal(size=(n, n_classes)) * 1.5
    probabilities = scipy.special.softmax(true_logits, axis=1)
    labels = (probabilities.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)
    return scale * true_logits, np.minimum(labels, n_classes - 1)


def test_softmax_matches_scipy():
    logits = np.random.default_rng(1).normal(size=(20, 7)) * 30
    np.testing.assert_allclose(softmax(logits, 2.5), scipy.special.softmax(logits / 2.5, axis=1), rtol=1e-5)


def test_fitted_temperature_is_the_nll_minimum_of_a_grid():
    logits, labels = overconfident(2000)
    temperature = fit_temperature(logits, labels)
    grid = np.exp(np.linspace(np.log(0.5), np.log(20), 2001))
    best = grid[np.argmin([nll(logits, labels, t) for t in grid])]
    assert temperature == pytest.approx(best, rel=5e-3)
    assert temperature == pytest.approx(4.0, rel=0.15)  # the scale the logits were inflated by


def test_temperature_scaling_lowers_nll_on_held_out_data():
    logits, labels = overconfident(4000, seed=2)
    temperature = fit_temperature(logits[:2000], labels[:2000])
    held_out = logits[2000:], labels[2000:]
    assert nll(*held_out, temperature) < nll(*held_out) - 0.1


def test_ece_matches_a_per_bin_loop_and_a_hand_worked_case():
    assert expected_calibration_error([0.9, 0.9, 0.3, 0.0], [1, 0, 0, 0], n_bins=10) == pytest.approx(
        (2 * abs(0.5 - 0.9) + abs(0 - 0.3) + abs(0 - 0.0)) / 4)
    rng = np.random.default_rng(3)
    confidences, correct = rng.random(1000), rng.random(1000) < 0.6
    edges = np.linspace(0, 1, 16)
    reference = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (confidences > low) & (confidences <= high)
        if inside.any():
            reference += inside.mean() * abs(correct[inside].mean() - confidences[inside].mean())
    assert expected_calibration_error(confidences, correct) == pytest.approx(reference)


def test_store_temperatures_come_from_the_calibration_split(synthetic_store):
    temperatures = fit_temperatures(synthetic_store, ["base", "arch"])
    labels = synthetic_store.labels("calibration")
    for model_id, temperature in temperatures.items():
        assert temperature == fit_temperature(synthetic_store.logits(model_id, "calibration"), labels)


def test_calibration_table_handles_top1_only_models(synthetic_store, tmp_path):
    table = calibration_table(synthetic_store, ["base"])
    row = table.iloc[0]
    logits, labels = synthetic_store.logits("base", "test"), synthetic_store.labels("test")
    assert row.nll_before == pytest.approx(nll(logits, labels))
    assert row.nll_after == pytest.approx(nll(logits, labels, row.temperature))
    assert row.ece_before == pytest.approx(expected_calibration_error(
        softmax(logits).max(axis=1), logits.argmax(axis=1) == labels))

    examples = synthetic_store.examples.iloc[:4].assign(label=[0, 1, 0, 1])
    store = Store.create(tmp_path / "top1", dataset="toy", classes=["a", "b"], examples=examples,
                         fingerprint="toy")
    store.add_model("human", {}, {"predictions": np.array([0, 1, 1, -1]),
                                  "confidences": np.array([0.9, 0.6, 0.8, 0.0])})
    row = calibration_table(store, fit_split="calibration", eval_split="calibration").iloc[0]
    # answered: right at 0.9 and 0.6, wrong at 0.8 -> bins 13, 8, 11 of 15
    assert row.ece_before == pytest.approx((0.1 + 0.4 + 0.8) / 3)
    assert np.isnan(row.temperature) and np.isnan(row.ece_after)
