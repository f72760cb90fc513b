"""Mixed embeddings, the diversity ranking and compression curves (norep.analysis.features)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from norep.analysis import features
from norep.analysis.bootstrap import bootstrap_sums
from norep.analysis.features import ProbeData, ProbeLabels


def test_sample_mix_keeps_the_budget_and_is_reproducible_by_seed():
    for share in features.MIX_SHARES:
        base, other = features.sample_mix(128, 96, share, 96, seed=[3, 1])
        assert len(base) + len(other) == 96 and len(base) == round(share * 96)
        assert len(set(base)) == len(base) and base.max(initial=0) < 128 and other.max(initial=0) < 96
        again = features.sample_mix(128, 96, share, 96, seed=[3, 1])
        assert all(np.array_equal(a, b) for a, b in zip((base, other), again))
    different = features.sample_mix(128, 96, 0.5, 96, seed=[3, 2])
    assert not np.array_equal(different[0], features.sample_mix(128, 96, 0.5, 96, seed=[3, 1])[0])
    with pytest.raises(ValueError, match="does not fit"):
        features.sample_mix(64, 128, 0.5, 128, seed=0)  # the budget exceeds the base's dimensions


def naive_ranking(x):
    """Greedy by residual variance, each step a least-squares fit on the chosen columns."""
    z = (x - x.mean(0)) / x.std(0)
    chosen = []
    for _ in range(x.shape[1]):
        residual = []
        for j in range(x.shape[1]):
            if j in chosen:
                residual.append(-np.inf)
                continue
            fitted = (z[:, chosen] @ np.linalg.lstsq(z[:, chosen], z[:, j], rcond=None)[0]
                      if chosen else 0.0)
            residual.append(np.mean((z[:, j] - fitted) ** 2))
        residual = np.array(residual)
        chosen.append(int(np.flatnonzero(residual >= residual.max() - 1e-9)[0]))
    return chosen


def test_diversity_ranking_on_a_hand_made_case():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 500))
    # 0: a; 1: a again (redundant); 2: b; 3: a + b (a combination); 4: constant.
    x = np.column_stack([a, a, b, a + b, np.ones(500)])
    assert features.diversity_ranking(x).tolist() == [0, 2, 1, 3, 4]
    y = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
    assert features.diversity_ranking(y).tolist() == naive_ranking(y)


def blobs(n, d, classes, seed):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(classes, d))
    labels = rng.integers(0, classes, n)
    return centers[labels] + 1.5 * rng.normal(size=(n, d)), labels


def probe_inputs(d=6):
    x, y = blobs(900, d, 3, 0)
    return (ProbeData(x[:400], x[400:500], x[500:]),
            ProbeLabels(y[:400], y[400:500], y[500:], 3))


def test_mixed_probes_probe_each_selection_once_and_match_a_direct_probe():
    data, labels = probe_inputs()
    base, other = data.columns(np.arange(3)), data.columns(np.arange(3, 6))
    cache = {}
    table, correct = features.mixed_probes(base, other, labels, n_draws=2, seed=5, l2=1e-2,
                                           cache=cache, names=("b", "o"))
    assert table["share"].tolist() == [s for s in features.MIX_SHARES for _ in range(2)]
    assert (table["n_base"] + table["n_other"] == 3).all() and correct.shape == (10, 400)
    # 0/100 and 100/0 take every dimension of one model: one probe each for both draws.
    assert sum(len(key) == 1 for key in cache) == 2
    columns = features.sample_mix(3, 3, 0.25, 3, [5, 1])
    direct, _ = features.probe_correct(ProbeData.stack([base.columns(columns[0]), other.columns(columns[1])]),
                                       labels, l2=1e-2)
    # A cold probe on the same columns: the warm start only shortens the way to its optimum.
    assert np.mean(correct[3] != direct) <= 0.01
    assert table["accuracy"][3] == pytest.approx(correct[3].mean())


def test_share_accuracies_and_gain_resample_test_examples():
    table = pd.DataFrame({"share": [0.0, 0.0, 0.5, 0.5, 1.0, 1.0]})
    rng = np.random.default_rng(1)
    correct = rng.random((6, 50)) < 0.7
    accuracy, samples = features.share_accuracies(table, correct, n_bootstrap=20, seed=3)
    np.testing.assert_allclose(accuracy.to_numpy(), [correct[i:i + 2].mean() for i in (0, 2, 4)])
    mean_right = np.stack([correct[i:i + 2].mean(0) for i in (0, 2, 4)], 1)
    np.testing.assert_allclose(samples, bootstrap_sums(mean_right, 20, 3) / 50)
    gain = features.mix_gain(samples, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(gain, samples[:, 1] - np.maximum(samples[:, 0], samples[:, 2]))


def test_compression_curve_probes_the_top_k_and_reads_the_target():
    data, labels = probe_inputs()
    curve = features.compression_curve(data, labels, [2, 6], l2=1e-2)
    top = features.diversity_ranking(data.train)[:2]
    right, _ = features.probe_correct(data.columns(top), labels, l2=1e-2)
    assert curve["accuracy"][0] == pytest.approx(right.mean())
    assert curve["k"].tolist() == [2, 6] and curve["accuracy"][1] > curve["accuracy"][0]
    # k = 6 started from the k = 2 probe: the same convex problem as a cold start.
    cold, _ = features.probe_correct(data, labels, l2=1e-2)
    assert curve["accuracy"][1] == pytest.approx(cold.mean(), abs=0.005)
    assert features.features_to_reach(curve, curve["accuracy"][1]) == 6
    assert np.isnan(features.features_to_reach(curve, 1.01))


def test_probe_correct_without_a_fixed_strength_chooses_one_from_the_grid():
    data, labels = probe_inputs()
    right, probe = features.probe_correct(data, labels, grid=(1e-4, 1e-1))
    assert probe.l2 in (1e-4, 1e-1) and right.shape == (400,) and right.mean() > 0.6


def test_imagenet_shaped_features_1000_classes_512_dimensions():
    rng = np.random.default_rng(2)
    n_classes, d = 1000, 512
    centers = rng.normal(size=(n_classes, d))
    labels = np.tile(np.arange(n_classes), 3)
    x = centers[labels] + 0.5 * rng.normal(size=(len(labels), d))
    data = ProbeData(x[:1000], x[1000:2000], x[2000:])
    probe_labels = ProbeLabels(labels[:1000], labels[1000:2000], labels[2000:], n_classes)
    base, other = data.columns(np.arange(256)), data.columns(np.arange(256, 512))
    table, correct = features.mixed_probes(base, other, probe_labels, n_draws=1, seed=0,
                                           shares=(0.5,), l2=1e-3)
    assert correct.shape == (1, 1000) and table["n_base"][0] == 128 and table["accuracy"][0] > 0.5
