"""Which difference matters: the per-field regression and its bootstrap over models."""

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from norep.analysis.fields import ACCURACY_TERMS, _weighted_fit, field_effects

FIELDS = ("seed", "architecture", "training_data")


def simulated_zoo(n_models=16, noise=0.0, seed=0):
    """Models with random fields; a pair metric linear in the fields that differ."""
    rng = np.random.default_rng(seed)
    fields = np.column_stack([np.arange(n_models), rng.integers(0, 3, n_models), rng.integers(0, 2, n_models)])
    fields[1, 0] = fields[0, 0]  # one pair shares its seed
    accuracy = rng.uniform(0.8, 0.9, n_models)
    first, second = np.triu_indices(n_models, 1)
    differs = (fields[first] != fields[second]).astype(float)
    truth = np.array([0.02, 0.05, 0.08, -0.3, 0.5])
    x = np.column_stack([differs, (accuracy[first] + accuracy[second]) / 2, np.abs(accuracy[first] - accuracy[second])])
    metric = 0.4 + x @ truth + noise * rng.standard_normal(len(first))
    return metric, differs, accuracy, np.column_stack([first, second]), truth, x


def test_noiseless_fit_recovers_every_coefficient():
    metric, differs, accuracy, pairs, truth, _ = simulated_zoo()
    effects = field_effects(metric, differs, accuracy, pairs, FIELDS, n_boot=50)
    assert effects.table.index.tolist() == [*FIELDS, *ACCURACY_TERMS]
    np.testing.assert_allclose(effects.table["estimate"], truth, atol=1e-9)
    # Every bootstrap refit of an exact linear relation gives the same coefficients
    # (or NaN where a sample leaves a field without variation, e.g. the shared seed).
    finite = np.isfinite(effects.samples)
    np.testing.assert_allclose(effects.samples[finite], np.broadcast_to(truth, effects.samples.shape)[finite],
                               atol=1e-8)
    assert effects.table.loc["seed", "pairs"] == len(pairs) - 1


def test_weighted_fit_matches_scikit_learn():
    metric, _, _, pairs, _, x = simulated_zoo(noise=0.02)
    weights = np.random.default_rng(1).integers(0, 4, len(pairs)).astype(float)
    reference = LinearRegression().fit(x, metric, sample_weight=weights)
    ours = _weighted_fit(np.column_stack([np.ones(len(x)), x]), metric, weights)
    np.testing.assert_allclose(ours, [reference.intercept_, *reference.coef_], atol=1e-8)


def test_model_bootstrap_is_wider_than_treating_pairs_as_independent():
    # A model-level effect shared by all of a model's pairs: pairs are not independent.
    rng = np.random.default_rng(3)
    metric, differs, accuracy, pairs, _, x = simulated_zoo(n_models=20, noise=0.005, seed=3)
    model_effect = rng.normal(0, 0.05, len(accuracy))
    metric = metric + model_effect[pairs[:, 0]] + model_effect[pairs[:, 1]]
    effects = field_effects(metric, differs, accuracy, pairs, FIELDS, n_boot=300, seed=0)
    width = effects.table.loc["architecture", "high"] - effects.table.loc["architecture", "low"]
    # The naive pairs-as-independent standard error of the same coefficient.
    design = np.column_stack([np.ones(len(x)), x])
    residual = metric - design @ np.linalg.lstsq(design, metric, rcond=None)[0]
    covariance = residual.var(ddof=design.shape[1]) * np.linalg.inv(design.T @ design)
    naive_width = 2 * 1.96 * np.sqrt(covariance[2, 2])
    assert width > 1.5 * naive_width


def test_a_field_that_never_differs_is_not_estimated():
    metric, differs, accuracy, pairs, _, _ = simulated_zoo()
    differs[:, 2] = 0
    effects = field_effects(metric, differs, accuracy, pairs, FIELDS, n_boot=20)
    assert np.isnan(effects.table.loc["training_data", "estimate"])
    assert effects.table.loc["training_data", "pairs"] == 0
    assert np.isfinite(effects.table.loc["architecture", "estimate"])


@pytest.mark.parametrize("weights", [np.zeros(5), np.array([1.0, 0, 0, 0, 0])])
def test_too_few_weighted_pairs_give_nan(weights):
    design = np.column_stack([np.ones(5), np.arange(5.0)])
    assert np.isnan(_weighted_fit(design, np.arange(5.0), weights)).all()
