"""Ensembles against dense per-pair averaging, and greedy selection blind to the test split."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special

from norep.analysis.ensembles import (
    ensemble_predictions,
    greedy_selection,
    improvement_decomposition,
    pair_ensemble_correctness,
    pairwise_ensembles,
)
from norep.book.views import fit_temperatures, greedy_ensemble, zoo_ensembles
from norep.errors import NorepError
from norep.store import Store, read_scores, scaled_scores


def dense_pairs(scores: np.ndarray, labels: np.ndarray):
    """Accuracy, conversion rate and improvement of every pair, pair by pair over all classes."""
    n = len(scores)
    single = np.array([np.mean(s.argmax(axis=1) == labels) for s in scores])
    accuracy, conversion = np.diag(single).astype(float), np.full((n, n), np.nan)
    for a in range(n):
        for b in range(n):
            if a == b:
                continue
            right = (scores[a] + scores[b]).argmax(axis=1) == labels
            accuracy[a, b] = right.mean()
            one = (scores[a].argmax(axis=1) == labels) != (scores[b].argmax(axis=1) == labels)
            if one.any():
                conversion[a, b] = right[one].mean()
    return accuracy, conversion, accuracy - (single[:, None] + single[None, :]) / 2


@pytest.mark.parametrize("n_classes", [2, 3, 10, 40])
@pytest.mark.parametrize("k", [0, 1, 2])
@pytest.mark.parametrize("quantized", [False, True])
def test_all_pairs_equal_dense_averaging(n_classes, k, quantized):
    rng = np.random.default_rng(n_classes * 10 + k)
    labels = rng.integers(0, n_classes, 300)
    scores = scipy.special.softmax(rng.normal(size=(7, 300, n_classes)) * 2, axis=2).astype(np.float32)
    if quantized:  # many exact ties between classes and between pairs of classes
        scores = (np.round(scores * 4) / 4).astype(np.float32)
    scores[1] = scores[0]  # a model paired with its copy
    scores[2, :, :] = 0
    scores[2, np.arange(300), labels] = 1  # always right
    fast = pairwise_ensembles(scores, labels, k=k)
    accuracy, conversion, improvement = dense_pairs(scores, labels)
    np.testing.assert_array_equal(fast.accuracy, accuracy)
    np.testing.assert_allclose(fast.conversion_rate, conversion, equal_nan=True)
    np.testing.assert_allclose(fast.improvement, improvement)


def test_hand_worked_pair():
    scores = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.3, 0.7], [0.45, 0.55]]], np.float32)
    pairs = pairwise_ensembles(scores, np.array([0, 1]))
    # model 0 is right on both, model 1 only on the second; the ensemble on both
    assert pairs.accuracy.tolist() == [[1.0, 1.0], [1.0, 0.5]]
    assert pairs.conversion_rate[0, 1] == 1.0
    assert pairs.improvement[0, 1] == pytest.approx(1.0 - 0.75)


def test_improvement_decomposition_is_exact_on_every_pair():
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 6, 500)
    scores = scipy.special.softmax(rng.normal(size=(8, 500, 6)) + 0.8 * np.eye(6)[labels], axis=2)
    first, second = np.triu_indices(8, 1)
    right = scores.argmax(axis=2) == labels
    ensemble_right = pair_ensemble_correctness(scores, labels, first, second)
    terms = improvement_decomposition(right[first], right[second], ensemble_right)
    dense_accuracy, dense_conversion, dense_improvement = dense_pairs(scores, labels)
    np.testing.assert_allclose(terms["improvement"], dense_improvement[first, second], atol=1e-12)
    np.testing.assert_allclose(terms["conversion_rate"], dense_conversion[first, second])
    np.testing.assert_allclose(terms["error_inconsistency"], (right[first] != right[second]).mean(axis=1))
    identity = terms["disagreement_term"] + terms["rescues"] - terms["losses"]
    np.testing.assert_allclose(identity, terms["improvement"], atol=1e-12)
    assert (terms["losses"] == 0).all()  # both members right: so is their average
    assert (terms["rescues"] > 0).any()


def test_improvement_decomposition_is_an_identity_for_any_ensemble():
    # the accounting holds for any third classifier, losses included
    rng = np.random.default_rng(2)
    a, b, ensemble = (rng.random((40, 30)) < p for p in (0.7, 0.6, 0.65))
    terms = improvement_decomposition(a, b, ensemble)
    assert (terms["losses"] > 0).any()
    np.testing.assert_allclose(terms["disagreement_term"] + terms["rescues"] - terms["losses"],
                               terms["improvement"], atol=1e-12)


def test_improvement_decomposition_by_hand():
    # 8 examples: both right 3 (the ensemble loses 1), one right 4 (converts 3), both wrong 1 (rescued)
    a = np.array([1, 1, 1, 1, 1, 0, 0, 0], bool)
    b = np.array([1, 1, 1, 0, 0, 1, 1, 0], bool)
    ensemble = np.array([1, 1, 0, 1, 1, 1, 0, 1], bool)
    row = improvement_decomposition(a, b, ensemble).iloc[0]
    assert row["error_inconsistency"] == 4 / 8 and row["conversion_rate"] == 3 / 4
    assert row["disagreement_term"] == pytest.approx(4 / 8 * (3 / 4 - 1 / 2))
    assert row["rescues"] == 1 / 8 and row["losses"] == 1 / 8
    # ensemble 6/8, members 5/8 and 5/8: improvement 1/8 = 1/8 + 1/8 - 1/8
    assert row["improvement"] == pytest.approx(1 / 8)
    no_disagreement = improvement_decomposition(a, a, a).iloc[0]
    assert np.isnan(no_disagreement["conversion_rate"]) and no_disagreement["disagreement_term"] == 0
    with pytest.raises(ValueError, match="different shapes"):
        improvement_decomposition(a, b[:4], ensemble)


def test_member_scores_and_ensemble_predictions():
    logits = np.random.default_rng(0).normal(size=(3, 50, 6))
    probabilities = scaled_scores(logits[0], 2.0)
    np.testing.assert_allclose(probabilities, scipy.special.softmax(logits[0] / 2, axis=1), rtol=1e-5)
    np.testing.assert_allclose(scaled_scores(logits[0], 2.0, "logits"), logits[0] / 2, rtol=1e-6)
    with pytest.raises(ValueError, match="unknown ensemble rule"):
        scaled_scores(logits[0], rule="vote")
    scores = np.stack([scaled_scores(z) for z in logits])
    np.testing.assert_array_equal(ensemble_predictions(scores), scores.mean(axis=0).argmax(axis=1))


def test_zoo_ensembles_use_calibrated_probabilities(synthetic_store):
    pairs = zoo_ensembles(synthetic_store)
    temperatures = fit_temperatures(synthetic_store)
    scores = read_scores(synthetic_store, synthetic_store.model_ids, "test", temperatures)
    for row, model_id in enumerate(synthetic_store.model_ids):
        expected = scipy.special.softmax(synthetic_store.logits(model_id, "test") / temperatures[model_id], axis=1)
        np.testing.assert_allclose(scores[row], expected, rtol=1e-5, atol=1e-7)
    accuracy, _, _ = dense_pairs(scores, synthetic_store.labels("test"))
    np.testing.assert_array_equal(pairs.accuracy, accuracy)
    assert np.all(pairs.improvement[~np.eye(6, dtype=bool)] > 0)  # these models ensemble well


def test_top1_only_models_cannot_be_ensembled(synthetic_store, tmp_path):
    store = Store.create(tmp_path / "top1", dataset="toy", classes=["a", "b"],
                         examples=synthetic_store.examples.iloc[:3].assign(label=[0, 1, 0]),
                         fingerprint="toy")
    for model_id in ("m1", "m2"):
        store.add_model(model_id, {}, {"predictions": np.array([0, 1, 1]),
                                       "confidences": np.array([0.9, 0.6, 0.8])})
    with pytest.raises(NorepError, match="only top-1 predictions"):
        zoo_ensembles(store, calibration_split=None, split="calibration")


def test_greedy_selection_adds_the_best_candidate_each_step():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 5, 400)
    scores = scipy.special.softmax(rng.normal(size=(6, 400, 5)) + 1.2 * np.eye(5)[labels], axis=2)
    members, accuracies = greedy_selection(scores, labels, anchor=2, candidates=[0, 1, 3, 4, 5], max_size=4)
    assert members[0] == 2 and len(members) == 4 and len(set(members)) == 4
    for step in range(1, 4):
        chosen = members[:step]
        options = [c for c in [0, 1, 3, 4, 5] if c not in chosen]
        gains = [np.mean(scores[chosen + [c]].sum(axis=0).argmax(axis=1) == labels) for c in options]
        assert members[step] == options[int(np.argmax(gains))]
        assert accuracies[step] == pytest.approx(max(gains))


def test_greedy_ensemble_never_looks_at_the_test_split(synthetic_store, tmp_path):
    # the same calibration split, but test labels and test logits replaced by noise
    rng = np.random.default_rng(9)
    examples = synthetic_store.examples.copy()
    test = (examples["split"] == "test").to_numpy()
    examples.loc[test, "label"] = rng.integers(0, 5, test.sum())
    poisoned = Store.create(tmp_path / "poisoned", dataset="synthetic", classes=synthetic_store.classes,
                            examples=examples, fingerprint="poisoned")
    for model_id in synthetic_store.model_ids:
        logits = np.array(synthetic_store.logits(model_id))
        logits[test] = rng.normal(size=(test.sum(), 5)) * 3
        poisoned.add_model(model_id, synthetic_store.meta(model_id), {"logits": logits.astype(np.float32)})

    candidates = synthetic_store.model_ids[1:]
    clean = greedy_ensemble(synthetic_store, "base", candidates, max_size=4)
    dirty = greedy_ensemble(poisoned, "base", candidates, max_size=4)
    assert clean["model_id"].tolist() == dirty["model_id"].tolist()
    np.testing.assert_array_equal(clean["select_accuracy"], dirty["select_accuracy"])
    assert not np.allclose(clean["ensemble_accuracy"], dirty["ensemble_accuracy"])  # the test split did change


def test_greedy_ensemble_reports_each_step_on_the_test_split(synthetic_store):
    table = greedy_ensemble(synthetic_store, "base", ["reinit", "arch", "dataset"], max_size=3)
    temperatures = fit_temperatures(synthetic_store, ["base", "reinit", "arch", "dataset"])
    labels = synthetic_store.labels("test")
    for step, row in table.iterrows():
        members = table["model_id"].tolist()[:step + 1]
        scores = read_scores(synthetic_store, members, "test", temperatures)
        assert row.ensemble_accuracy == pytest.approx(np.mean(scores.sum(axis=0).argmax(axis=1) == labels))
    assert table["step"].tolist() == [1, 2, 3]
