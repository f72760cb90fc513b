"""Pair metrics against scikit-learn, a naive per-pair implementation and a hand-worked case."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from norep.analysis.bootstrap import bootstrap_sums, nanquantile
from norep.analysis.pairs import (
    PAIR_METRICS,
    all_pairs,
    bootstrap_pairs,
    pair_counts,
    pair_metrics,
)
from norep.store import Store, read_outcomes


def random_zoo(n_models: int, n_examples: int, n_classes: int, seed: int, missing: bool = False):
    """Labels, predictions, correctness and validity of a zoo with degenerate members.

    Model 1 copies model 0 (ties everywhere), model 2 is always right, model 3 always
    wrong, model 4 always right too; with ``missing`` some models skip answers.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n_examples)
    skill = rng.uniform(0.2, 0.9, n_models)[:, None]
    right = rng.random((n_models, n_examples)) < skill
    guesses = rng.integers(0, n_classes, (n_models, n_examples))
    guesses = np.where(guesses == labels, (guesses + 1) % n_classes, guesses)
    predictions = np.where(right, labels, guesses)
    predictions[1] = predictions[0]
    predictions[2] = labels
    predictions[3] = (labels + 1) % n_classes
    predictions[4] = labels
    if missing:
        skip = rng.random((n_models, n_examples)) < 0.1
        skip[:5] = False
        skip[5, :] = rng.random(n_examples) < 0.5
        predictions = np.where(skip, -1, predictions)
    valid = predictions >= 0
    return labels, predictions, (predictions == labels) & valid, valid


def naive_pair(correct, predictions, valid, i, j) -> dict[str, float]:
    """Every pair metric of (i, j), straight from the definitions."""
    both = valid[i] & valid[j]
    a, b = correct[i][both], correct[j][both]
    p_a, p_b = a.mean(), b.mean()
    expected = p_a * p_b + (1 - p_a) * (1 - p_b)
    rr, ww = np.sum(a & b), np.sum(~a & ~b)
    rw, wr = np.sum(a & ~b), np.sum(~a & b)
    return {
        "accuracy": p_a,
        "error_inconsistency": np.mean(a != b),
        "kappa": np.nan if expected == 1 else (np.mean(a == b) - expected) / (1 - expected),
        "disagreement": np.mean(predictions[i][both] != predictions[j][both]),
        "double_fault": np.mean(~a & ~b),
        "either_right": np.mean(a | b),
        "yules_q": np.nan if rr * ww + rw * wr == 0 else (rr * ww - rw * wr) / (rr * ww + rw * wr),
    }


def test_hand_worked_pair():
    correct = np.array([[1, 1, 1, 0, 0], [1, 0, 0, 1, 0]], dtype=bool)
    predictions = np.array([[0, 1, 2, 9, 7], [0, 5, 5, 3, 7]])
    counts = pair_counts(correct, predictions)
    assert (counts.both_right[0, 1], counts.right_wrong[0, 1], counts.wrong_right[0, 1]) == (1, 2, 1)
    assert counts.same_wrong[0, 1] == 1  # the last example: both say 7
    metrics = pair_metrics(correct, predictions)
    # p_a = 3/5, p_b = 2/5, c_obs = 2/5, c_exp = 6/25 + 6/25 = 12/25
    assert metrics["kappa"][0, 1] == pytest.approx((2 / 5 - 12 / 25) / (1 - 12 / 25))
    assert metrics["error_inconsistency"][0, 1] == pytest.approx(3 / 5)
    assert metrics["disagreement"][0, 1] == pytest.approx(3 / 5)
    assert metrics["yules_q"][0, 1] == pytest.approx((1 * 1 - 2 * 1) / (1 * 1 + 2 * 1))
    assert metrics["either_right"][0, 1] == pytest.approx(4 / 5)


def test_kappa_equals_scikit_learn():
    _, _, correct, _ = random_zoo(10, 300, 4, seed=1)
    kappa = pair_metrics(correct)["kappa"]
    for i, j in all_pairs(len(correct)):
        if {i, j} == {2, 4}:  # both always right: undefined in both implementations
            assert np.isnan(kappa[i, j])
            continue
        assert kappa[i, j] == pytest.approx(cohen_kappa_score(correct[i], correct[j]), abs=1e-12)


@pytest.mark.parametrize("n_models, n_classes, missing", [(8, 3, False), (12, 5, True), (80, 4, True)])
def test_every_metric_equals_naive_per_pair(n_models, n_classes, missing):
    # 80 models over 4 classes: many (example, label) groups large enough for the matrix
    # product path of the same-wrong counts, and many small ones for the direct path
    _, predictions, correct, valid = random_zoo(n_models, 500, n_classes, seed=n_models, missing=missing)
    matrices = pair_metrics(correct, predictions, valid)
    naive = [[naive_pair(correct, predictions, valid, i, j) for j in range(n_models)] for i in range(n_models)]
    for name in PAIR_METRICS:
        reference = np.array([[cell[name] for cell in row] for row in naive])
        np.testing.assert_allclose(matrices[name], reference, rtol=1e-12, atol=1e-12, equal_nan=True,
                                   err_msg=name)


def test_validity_defaults_to_answered_predictions():
    _, predictions, correct, valid = random_zoo(7, 200, 3, seed=3, missing=True)
    implicit = pair_metrics(correct, predictions)
    explicit = pair_metrics(correct, predictions, valid)
    for name in PAIR_METRICS:
        np.testing.assert_array_equal(implicit[name], explicit[name])


def test_disagreement_needs_predictions():
    _, _, correct, _ = random_zoo(6, 50, 3, seed=4)
    assert "disagreement" not in pair_metrics(correct)
    with pytest.raises(ValueError, match="predictions"):
        pair_metrics(correct, metrics=("disagreement",))
    with pytest.raises(ValueError, match="unknown pair metric"):
        pair_metrics(correct, metrics=("agreement",))


def test_misaligned_inputs_are_rejected():
    _, predictions, correct, _ = random_zoo(6, 50, 3, seed=5)
    with pytest.raises(ValueError, match="same examples"):
        pair_metrics(correct, predictions[:, :-1])


def test_bootstrap_estimate_matches_full_data_and_is_seeded():
    _, predictions, correct, valid = random_zoo(6, 300, 3, seed=6, missing=True)
    pairs = all_pairs(6)
    intervals = bootstrap_pairs(correct, predictions, valid, n_boot=200, seed=3)
    matrices = pair_metrics(correct, predictions, valid)
    again = bootstrap_pairs(correct, predictions, valid, n_boot=200, seed=3)
    for name, interval in intervals.items():
        np.testing.assert_allclose(interval.estimate, matrices[name][pairs[:, 0], pairs[:, 1]],
                                   rtol=1e-12, equal_nan=True)
        np.testing.assert_array_equal(interval.samples, again[name].samples)
        assert interval.samples.shape == (200, len(pairs))
        finite = np.isfinite(interval.low)
        assert np.all(interval.low[finite] <= interval.high[finite])


def test_bootstrap_sums_resample_rows_with_replacement():
    values = np.arange(1, 6, dtype=float)[:, None] * np.array([[1.0, 10.0]])
    sums = bootstrap_sums(values, n_boot=300, seed=1)
    # each sample is the sum of 5 rows drawn with replacement: column 1 is 10 x column 0,
    # and column 0 is a sum of five values from 1..5
    np.testing.assert_allclose(sums[:, 1], 10 * sums[:, 0])
    assert np.all((sums[:, 0] >= 5) & (sums[:, 0] <= 25))
    assert np.mean(sums[:, 0]) == pytest.approx(15, abs=0.5)


def test_bootstrap_intervals_cover_the_true_value_at_the_nominal_rate():
    # 300 independent pairs, each 400 examples from one joint law of (a right, b right)
    rng = np.random.default_rng(7)
    n_pairs, n_examples = 300, 400
    cells = rng.choice(4, size=(n_pairs, n_examples), p=[0.6, 0.1, 0.15, 0.15])  # RR RW WR WW
    correct = np.empty((2 * n_pairs, n_examples), bool)
    correct[0::2] = (cells == 0) | (cells == 1)
    correct[1::2] = (cells == 0) | (cells == 2)
    pairs = np.stack([np.arange(0, 2 * n_pairs, 2), np.arange(1, 2 * n_pairs, 2)], axis=1)
    truth = {"error_inconsistency": 0.25, "kappa": (0.75 - 0.6) / (1 - 0.6), "double_fault": 0.15}
    intervals = bootstrap_pairs(correct, pairs=pairs, metrics=tuple(truth), n_boot=400, level=0.9, seed=0)
    for name, value in truth.items():
        coverage = np.mean((intervals[name].low <= value) & (value <= intervals[name].high))
        assert 0.84 <= coverage <= 0.96, (name, coverage)


def test_zoo_correctness_reads_logit_and_top1_models(synthetic_store, tmp_path):
    zc = read_outcomes(synthetic_store, "test")
    np.testing.assert_array_equal(zc.correct, read_outcomes(synthetic_store, "test").correct)
    assert zc.valid.all() and zc.model_ids == synthetic_store.model_ids
    assert len(zc.example_ids) == zc.correct.shape[1] == len(synthetic_store.labels("test"))

    store = Store.create(tmp_path / "imported", dataset="toy", classes=["a", "b", "c"],
                         examples=synthetic_store.examples.iloc[:6].assign(label=[0, 1, 2, 0, 1, 2]),
                         fingerprint="toy")
    store.add_model("m1", {}, {"predictions": np.array([0, 1, -1, 0, 2, 2]),
                               "confidences": np.array([0.9, 0.8, 0.0, 0.6, 0.5, 0.7])})
    store.add_model("m2", {}, {"predictions": np.array([0, 2, 2, -1, 2, 2]),
                               "confidences": np.array([0.7, 0.6, 0.9, 0.0, 0.8, 0.4])})
    zc = read_outcomes(store, split=None)
    np.testing.assert_array_equal(zc.valid[0], [1, 1, 0, 1, 1, 1])
    assert np.isnan(zc.confidences[0, 2])
    metrics = pair_metrics(zc.correct, zc.predictions, zc.valid)
    # jointly answered: examples 0, 1, 4, 5 -> m1 right on 0, 1, 5; m2 right on 0, 5
    assert metrics["accuracy"][0, 1] == pytest.approx(3 / 4)
    assert metrics["accuracy"][1, 0] == pytest.approx(2 / 4)
    assert metrics["error_inconsistency"][0, 1] == pytest.approx(1 / 4)
    assert metrics["disagreement"][0, 1] == pytest.approx(1 / 4)


def test_pairs_bootstrapped_in_chunks_share_the_same_resamples(monkeypatch):
    _, predictions, correct, valid = random_zoo(7, 300, 3, seed=8, missing=True)
    whole = bootstrap_pairs(correct, predictions, valid, n_boot=60, seed=2)
    monkeypatch.setattr("norep.analysis.pairs._CELL_BUDGET", 5 * 300 * 2)  # two pairs at a time
    chunked = bootstrap_pairs(correct, predictions, valid, n_boot=60, seed=2)
    for name in whole:
        np.testing.assert_array_equal(whole[name].samples, chunked[name].samples)


@pytest.mark.parametrize("sort_block, column_budget", [(7, 40 * 3), (64, 1 << 26)])
def test_same_wrong_counts_in_blocks_and_batches_equal_naive(monkeypatch, sort_block, column_budget):
    # small sort blocks and column batches: many blocks, and large groups multiplied
    # out in several batches; labels far from 0 and negative (keys shifted by the
    # smallest label), missing answers
    monkeypatch.setattr("norep.analysis.pairs._SORT_BLOCK", sort_block)
    monkeypatch.setattr("norep.analysis.pairs._COLUMN_BUDGET", column_budget)
    _, predictions, correct, valid = random_zoo(60, 400, 3, seed=11, missing=True)
    shifted = np.where(valid, predictions * 1000 - 7, -1)
    matrices = pair_metrics(correct, shifted, valid)
    for i, j in [(0, 1), (0, 7), (5, 9), (13, 59), (3, 3)]:
        assert matrices["disagreement"][i, j] == pytest.approx(
            naive_pair(correct, shifted, valid, i, j)["disagreement"], abs=1e-12)


@pytest.mark.parametrize("labels", ["huge", "negative"])
def test_same_wrong_with_extreme_label_values(labels):
    rng = np.random.default_rng(12)
    base = rng.integers(0, 4, (30, 200))
    offset = 0 if labels == "huge" else -(2**40)
    predictions = base * (2**40 if labels == "huge" else 1) + offset
    correct = predictions == offset  # label 0 (shifted) is the true label everywhere
    counts = pair_counts(correct, predictions, np.ones_like(correct))
    for i, j in [(0, 1), (2, 29), (4, 4)]:
        same = np.sum(~correct[i] & ~correct[j] & (predictions[i] == predictions[j]))
        assert counts.same_wrong[i, j] == same


def test_a_single_example_is_counted_exactly():
    # torch's integer matrix product is wrong for an inner size of 1; it is not used there
    _, predictions, correct, _ = random_zoo(9, 1, 3, seed=13)
    counts = pair_counts(correct, predictions)
    np.testing.assert_array_equal(counts.both_right, np.outer(correct[:, 0], correct[:, 0]))
    same = ~correct[:, 0, None] & ~correct[None, :, 0] & (predictions[:, 0, None] == predictions[None, :, 0])
    np.testing.assert_array_equal(counts.same_wrong, same)


def test_nanquantile_equals_numpy():
    rng = np.random.default_rng(14)
    for n_boot in (1, 2, 5, 300):
        samples = rng.normal(size=(n_boot, 30, 4))
        samples[rng.random(samples.shape) < 0.3] = np.nan
        samples[:, 0, 0] = np.nan  # a column without any value
        samples[:, 1, 1] = 2.5  # a constant column
        for quantiles in ((0.025, 0.975), (0.0, 0.5, 1.0), (1 / 3,)):
            with warnings.catch_warnings():  # numpy warns about the column without values
                warnings.simplefilter("ignore", RuntimeWarning)
                expected = np.nanquantile(samples, quantiles, axis=0)
            np.testing.assert_array_equal(nanquantile(samples, quantiles), expected)


def test_bootstrap_sums_per_group_equal_a_loop_over_the_draws():
    rng = np.random.default_rng(15)
    values = rng.normal(size=(120, 3))
    groups = rng.integers(0, 5, 120)
    sums = bootstrap_sums(values, n_boot=70, seed=4, groups=groups)
    draws = np.random.default_rng(4)  # the package draws 50 resamples at a time
    expected = np.zeros((70, 5, 3))
    for start in (0, 50):
        for b, draw in enumerate(draws.integers(0, 120, size=(min(50, 70 - start), 120))):
            for m in draw:
                expected[start + b, groups[m]] += values[m]
    np.testing.assert_allclose(sums, expected, rtol=1e-12, atol=1e-12)
