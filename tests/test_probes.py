"""Linear probes against scikit-learn's LogisticRegression and hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import torch

from norep.analysis import probes
from norep.analysis.probes import Memory, select_probe, train_probe


def blobs(n=600, d=20, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=1.2, size=(classes, d))
    labels = rng.integers(0, classes, n)
    return centers[labels] + rng.normal(size=(n, d)) * rng.uniform(0.5, 3, d), labels


def objective(x, y, weight, bias, l2):
    """Mean cross-entropy plus l2 / 2 times the squared weights, in float64."""
    logits = x @ np.asarray(weight, np.float64) + bias
    logits -= logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(y)), y].mean() + l2 / 2 * np.sum(np.asarray(weight, np.float64) ** 2)


def test_matches_sklearn_at_the_same_strength():
    x, y = blobs()
    test_x, test_y = blobs(seed=1)
    scaled = (x - x.mean(0)) / x.std(0)
    for c in (0.01, 1.0):
        probe = train_probe(x, y, l2=1 / (len(x) * c))
        reference = LogisticRegression(C=c, max_iter=5000, tol=1e-8).fit(scaled, y)
        ours = probe.accuracy(test_x, test_y)
        theirs = reference.score((test_x - x.mean(0)) / x.std(0), test_y)
        assert abs(ours - theirs) <= 0.005
        # Both minimize the same convex objective: they reach the same value.
        ours_objective = objective(scaled, y, probe.weight, probe.bias, 1 / (len(x) * c))
        theirs_objective = objective(scaled, y, reference.coef_.T, reference.intercept_, 1 / (len(x) * c))
        assert ours_objective == pytest.approx(theirs_objective, rel=1e-3)


def correlated(n=2000, d=60, classes=5, seed=0):
    """Features like a trained network's embedding: a few strong directions, mixed into every dimension."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    latent = rng.normal(size=(classes, 8))[labels] + rng.normal(size=(n, 8))
    mixing = rng.normal(size=(8, d)) * np.logspace(0, -2, 8)[:, None]
    return latent @ mixing + 0.05 * rng.normal(size=(n, d)), labels


def test_whitened_lbfgs_reaches_sklearns_optimum_in_fewer_iterations_on_correlated_features(monkeypatch):
    x, y = correlated()
    scaled = (x - x.mean(0)) / x.std(0)
    l2 = 1 / len(x)
    reference = LogisticRegression(C=1.0, max_iter=20_000, tol=1e-8).fit(scaled, y)
    theirs = objective(scaled, y, reference.coef_.T, reference.intercept_, l2)
    whitened = train_probe(x, y, l2=l2, max_iter=5000)
    monkeypatch.setattr(probes, "whitening", lambda objective, n_classes: torch.eye(x.shape[1]))  # plain L-BFGS
    plain = train_probe(x, y, l2=l2, max_iter=5000)
    for probe in (whitened, plain):
        assert objective(scaled, y, probe.weight, probe.bias, l2) == pytest.approx(theirs, rel=1e-4)
    assert 4 * whitened.iterations < plain.iterations


def test_a_dominant_penalty_shifts_the_whitening_towards_plain_coordinates(monkeypatch):
    # 50 classes, few rows each, a strong penalty: the Hessian is mostly the penalty's.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 64)) @ rng.normal(size=(64, 64)) * 0.3 + rng.normal(size=(400, 64))
    y = rng.integers(0, 50, 400)
    whitening = probes.whitening
    shifted = train_probe(x, y, l2=1.0, max_iter=5000)
    monkeypatch.setattr(probes, "whitening", lambda objective, n_classes: whitening(objective, 0))
    unshifted = train_probe(x, y, l2=1.0, max_iter=5000)
    monkeypatch.setattr(probes, "whitening", lambda objective, n_classes: torch.eye(x.shape[1]))
    plain = train_probe(x, y, l2=1.0, max_iter=5000)
    scaled = (x - x.mean(0)) / x.std(0)
    values = [objective(scaled, y, p.weight, p.bias, 1.0) for p in (shifted, unshifted, plain)]
    assert values == pytest.approx([values[2]] * 3, rel=1e-4)
    assert 2 * shifted.iterations < plain.iterations < unshifted.iterations


def test_standardization_uses_training_rows_only_and_bias_is_free():
    x, y = blobs()
    probe = train_probe(x + 100.0, y, l2=10.0)
    np.testing.assert_allclose(probe.mean, (x + 100.0).mean(0), rtol=1e-5)
    strong = train_probe(x, np.zeros(len(x), int) + (np.arange(len(x)) % 10 == 0), l2=1e6)
    # A huge penalty zeroes the weights; the free bias still learns the 9:1 class prior.
    assert np.abs(strong.weight).max() < 1e-4
    assert strong.bias[0] - strong.bias[1] == pytest.approx(np.log(9), abs=0.05)


def test_selection_prefers_the_penalty_that_generalizes_and_refits():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 200))  # more features than rows: weak penalties overfit
    y = (x[:, 0] > 0).astype(int)
    held = rng.normal(size=(400, 200))
    probe, table = select_probe(x, y, held, (held[:, 0] > 0).astype(int), grid=(1e-6, 1e-2, 1.0))
    assert table["l2"].tolist() == [1e-6, 1e-2, 1.0]
    assert probe.l2 == table["l2"][table["held_out_accuracy"].idxmax()]
    assert table["held_out_accuracy"].max() > table["held_out_accuracy"][0]


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="same rows"):
        train_probe(np.zeros((5, 2)), np.zeros(4, int), l2=1.0)


@pytest.mark.parametrize("n_pairs", [4, 7])
def test_compact_memory_matches_the_two_loop_recursion(monkeypatch, n_pairs):
    monkeypatch.setattr(probes, "HISTORY", 5)  # 7 pairs: the two oldest are dropped
    rng = np.random.default_rng(4)
    factor = rng.normal(size=(6, 6))
    hessian = factor @ factor.T + np.eye(6)
    memory, steps, changes = Memory(), [], []
    for _ in range(n_pairs):
        step = rng.normal(size=6)
        steps.append(step); changes.append(hessian @ step)  # curvature pairs of a quadratic
        memory.add(torch.tensor(step, dtype=torch.float32), torch.tensor(changes[-1], dtype=torch.float32))
    steps, changes = steps[-5:], changes[-5:]
    # The inner products, updated pair by pair, equal those of the kept vectors recomputed.
    stacked = np.array(steps + changes)
    np.testing.assert_allclose(memory.inner, stacked @ stacked.T, rtol=1e-5, atol=1e-5)
    vector = rng.normal(size=6)
    # Nocedal and Wright, Algorithm 7.4, written out in float64.
    q, alphas = vector.copy(), []
    for s, y in zip(reversed(steps), reversed(changes)):
        alphas.append(s @ q / (y @ s)); q -= alphas[-1] * y
    r = q * (steps[-1] @ changes[-1]) / (changes[-1] @ changes[-1])
    for s, y, alpha in zip(steps, changes, reversed(alphas)):
        r += s * (alpha - y @ r / (y @ s))
    ours = memory.inverse_hessian_times(torch.tensor(vector, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(ours, r, rtol=1e-3, atol=1e-4)
