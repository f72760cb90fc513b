"""Confidence angles and per-subdomain differences against loops and simulated truths."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.special
import scipy.stats

from norep.analysis.power import detectable_difference
from norep.analysis.specialization import (
    category_trend,
    class_spread,
    confidence_angles,
    confident_right_share,
    pair_mean,
    subdomain_differences,
    subdomain_differences_many,
)
from norep.book.views import pair_angles, who_wins_where, who_wins_where_many
from norep.errors import NorepError
from norep.store import Store


def test_angles_match_a_loop():
    rng = np.random.default_rng(0)
    conf_a, conf_b = rng.random(200), rng.random(200)
    right_a, right_b = rng.random(200) < 0.6, rng.random(200) < 0.6
    rows, theta, a_right = confidence_angles(conf_a, conf_b, right_a, right_b)
    expected = [(m, math.atan2(conf_b[m], conf_a[m]), bool(right_a[m]))
                for m in range(200) if right_a[m] != right_b[m]]
    assert rows.tolist() == [m for m, _, _ in expected]
    np.testing.assert_allclose(theta, [t for _, t, _ in expected])
    assert a_right.tolist() == [r for _, _, r in expected]
    assert np.all((theta >= 0) & (theta <= np.pi / 2))


@pytest.fixture
def mixed_store(synthetic_store, tmp_path):
    """The synthetic store's examples with one logit model and one top-1-only model."""
    store = Store.create(tmp_path / "mixed", dataset="synthetic", classes=synthetic_store.classes,
                         examples=synthetic_store.examples, fingerprint="mixed")
    store.add_model("net", synthetic_store.meta("base"), {"logits": np.asarray(synthetic_store.logits("base"))})
    predictions = np.asarray(synthetic_store.logits("dataset")).argmax(axis=1)
    predictions[::7] = -1  # no answer
    confidences = np.random.default_rng(1).uniform(0.2, 1.0, len(predictions))
    store.add_model("human", {}, {"predictions": predictions, "confidences": confidences})
    return store


def test_pair_angles_work_from_top1_confidences(mixed_store):
    angles = pair_angles(mixed_store, "net", "human")
    labels = mixed_store.labels("test")
    logits = mixed_store.logits("net", "test")
    pred_h, conf_h = mixed_store.array("human", "predictions", "test"), mixed_store.array("human", "confidences", "test")
    right_n, right_h = logits.argmax(axis=1) == labels, pred_h == labels
    one = (right_n != right_h) & (pred_h >= 0)
    assert angles["example_id"].tolist() == mixed_store.examples["example_id"][mixed_store.rows("test")[one]].tolist()
    conf_n = scipy.special.softmax(logits.astype(float), axis=1).max(axis=1)
    np.testing.assert_allclose(angles["theta"], np.arctan2(conf_h[one], conf_n[one]), rtol=1e-6)
    assert set(angles["right"]) == {"net", "human"}
    assert {"label", "superclass", "conf_a", "conf_b"} <= set(angles.columns)


def test_pair_angles_with_temperatures(mixed_store):
    scaled = pair_angles(mixed_store, "net", "human", temperatures={"net": 2.0})
    logits = mixed_store.logits("net", "test").astype(float)
    conf = scipy.special.softmax(logits / 2.0, axis=1).max(axis=1)
    rows = mixed_store.examples["example_id"].to_numpy()[mixed_store.rows("test")]
    expected = dict(zip(rows, conf))
    np.testing.assert_allclose(scaled["conf_a"], [expected[e] for e in scaled["example_id"]], rtol=1e-5)
    with pytest.raises(NorepError, match="only top-1 confidences"):
        pair_angles(mixed_store, "net", "human", temperatures={"human": 2.0})


def test_subdomain_differences_match_group_means():
    rng = np.random.default_rng(2)
    groups = rng.choice(["sky", "sea", "land"], 900)
    right_a, right_b = rng.random(900) < 0.7, rng.random(900) < 0.5
    valid = rng.random(900) < 0.9
    table = subdomain_differences(right_a, right_b, groups, valid, n_boot=300, seed=4)
    assert table["group"].tolist() == ["land", "sea", "sky"]
    for row in table.itertuples():
        inside = (groups == row.group) & valid
        assert row.n == inside.sum()
        assert row.difference == pytest.approx(right_a[inside].mean() - right_b[inside].mean())
        assert row.low < row.difference < row.high
    again = subdomain_differences(right_a, right_b, groups, valid, n_boot=300, seed=4)
    np.testing.assert_array_equal(table[["low", "high"]], again[["low", "high"]])


def test_subdomain_intervals_cover_the_true_difference():
    # 200 subdomains of 300 examples; in each, a is right with p 0.75 and b with p 0.65
    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(200), 300)
    right_a, right_b = rng.random(groups.size) < 0.75, rng.random(groups.size) < 0.65
    table = subdomain_differences(right_a, right_b, groups, n_boot=300, level=0.9, seed=1)
    coverage = np.mean((table["low"] <= 0.1) & (0.1 <= table["high"]))
    assert 0.83 <= coverage <= 0.96


def test_who_wins_where_names_the_winner(synthetic_store, tmp_path):
    # "good" is always right on the "low" superclass and always wrong on "high"
    examples = synthetic_store.examples
    store = Store.create(tmp_path / "winner", dataset="synthetic", classes=synthetic_store.classes,
                         examples=examples, fingerprint="winner")
    labels = examples["label"].to_numpy()
    low = (examples["superclass"] == "low").to_numpy()
    good = np.where(low, labels, (labels + 1) % 5)
    store.add_model("good", {}, {"predictions": good, "confidences": np.full(len(good), 0.9)})
    store.add_model("other", {}, {"predictions": np.asarray(synthetic_store.logits("base")).argmax(axis=1),
                                  "confidences": np.full(len(good), 0.9)})
    table = who_wins_where(store, "good", "other", by="superclass", n_boot=200).set_index("superclass")
    assert table.loc["low", "winner"] == "good" and table.loc["high", "winner"] == "other"
    by_class = who_wins_where(store, "good", "other", by="class", n_boot=50)
    assert by_class["class"].tolist() == synthetic_store.classes
    with pytest.raises(NorepError, match="no subdomain 'colour'.*superclass"):
        who_wins_where(store, "good", "other", by="colour")


def naive_subdomains(right_a, right_b, groups, keep, n_boot, seed, level):
    """Per-group n, accuracies, difference and percentile interval, straight from the
    definitions: the kept examples are redrawn with replacement (the package's draws,
    50 resamples at a time) and each group's mean difference recomputed."""
    rows = np.flatnonzero(keep)
    names = sorted(set(groups[rows]))
    rng = np.random.default_rng(seed)
    samples = np.empty((n_boot, len(names)))
    for start in range(0, n_boot, 50):
        draws = rng.integers(0, len(rows), size=(min(50, n_boot - start), len(rows)))
        for b, draw in enumerate(draws):
            chosen = rows[draw]
            for g, name in enumerate(names):
                inside = chosen[groups[chosen] == name]
                samples[start + b, g] = np.mean(right_a[inside].astype(int) - right_b[inside]) if len(inside) else np.nan
    tail = (1 - level) / 2
    low, high = np.nanquantile(samples, [tail, 1 - tail], axis=0)
    result = []
    for g, name in enumerate(names):
        inside = rows[groups[rows] == name]
        result.append((name, len(inside), right_a[inside].mean(), right_b[inside].mean(),
                       right_a[inside].mean() - right_b[inside].mean(), low[g], high[g]))
    return result


def imagenet_x_like(n: int = 400, seed: int = 5):
    """Correctness of two models and a subdomain column with missing values (None and
    NaN, as ImageNet-X's ``top_factor`` for images without annotation)."""
    rng = np.random.default_rng(seed)
    factors = np.array(["pose", "background", "color", "size"], dtype=object)[rng.integers(0, 4, n)]
    factors[rng.random(n) < 0.25] = np.nan
    factors[rng.random(n) < 0.05] = None
    return rng.random(n) < 0.7, rng.random(n) < 0.55, factors


@pytest.mark.parametrize("with_valid", [False, True])
def test_missing_subdomains_are_left_out_and_match_a_naive_computation(with_valid):
    right_a, right_b, factors = imagenet_x_like()
    valid = np.random.default_rng(6).random(len(factors)) < 0.9 if with_valid else None
    table = subdomain_differences(right_a, right_b, factors, valid, n_boot=120, seed=3)
    keep = np.array([isinstance(f, str) for f in factors]) & (True if valid is None else valid)
    expected = naive_subdomains(right_a, right_b, factors, keep, 120, 3, 0.95)
    assert table["group"].tolist() == ["background", "color", "pose", "size"]
    for row, (name, n, acc_a, acc_b, difference, low, high) in zip(table.itertuples(), expected):
        assert (row.group, row.n) == (name, n)
        assert (row.acc_a, row.acc_b, row.difference) == pytest.approx((acc_a, acc_b, difference), abs=1e-12)
        assert (row.low, row.high) == pytest.approx((low, high), abs=1e-12)


def test_missing_subdomains_as_their_own_group():
    right_a, right_b, factors = imagenet_x_like()
    table = subdomain_differences(right_a, right_b, factors, n_boot=120, seed=3, missing="unknown")
    assert table["group"].tolist() == ["background", "color", "pose", "size", "unknown"]
    named = np.array([f if isinstance(f, str) else "unknown" for f in factors], dtype=object)
    expected = naive_subdomains(right_a, right_b, named, np.ones(len(named), bool), 120, 3, 0.95)
    expected = sorted(expected, key=lambda e: (e[0] == "unknown", e[0]))
    for row, (name, n, _, _, difference, low, high) in zip(table.itertuples(), expected):
        assert (row.group, row.n) == (name, n)
        assert (row.difference, row.low, row.high) == pytest.approx((difference, low, high), abs=1e-12)


def test_who_wins_where_with_a_missing_subdomain(synthetic_store, tmp_path):
    # a subdomain column with NaN used to crash (pd.factorize codes NaN as -1)
    examples = synthetic_store.examples.copy()
    rng = np.random.default_rng(7)
    examples["top_factor"] = np.array(["pose", "texture", "light"], dtype=object)[rng.integers(0, 3, len(examples))]
    examples.loc[rng.random(len(examples)) < 0.3, "top_factor"] = np.nan
    store = Store.create(tmp_path / "x", dataset="synthetic", classes=synthetic_store.classes,
                         examples=examples, fingerprint="x")
    for model_id in ("base", "dataset"):
        store.add_model(model_id, synthetic_store.meta(model_id), {"logits": np.asarray(synthetic_store.logits(model_id))})
    table = who_wins_where(store, "base", "dataset", by="top_factor", n_boot=100)
    assert table["top_factor"].tolist() == ["light", "pose", "texture"]
    test = store.examples.iloc[store.rows("test")]
    assert table["n"].sum() == test["top_factor"].notna().sum()
    with_missing = who_wins_where(store, "base", "dataset", by="top_factor", n_boot=100, missing="none")
    assert with_missing["top_factor"].tolist() == ["light", "pose", "texture", "none"]
    assert with_missing["n"].sum() == len(test)


@pytest.mark.parametrize("budget", [None, 3 * 40 * 4])
def test_many_pairs_in_one_call_equal_pair_by_pair(monkeypatch, budget):
    # models 4 and 5 skip answers, so some pairs keep other examples than the rest;
    # a small budget splits the pairs into chunks that reuse the stored resamples
    if budget is not None:
        monkeypatch.setattr("norep.analysis.specialization._SUM_BUDGET", budget)
    rng = np.random.default_rng(8)
    correct = rng.random((6, 500)) < rng.uniform(0.4, 0.9, (6, 1))
    valid = np.ones((6, 500), bool)
    valid[4:] = rng.random((2, 500)) < 0.85
    groups = rng.choice(["a", "b", "c", "d"], 500).astype(object)
    groups[::17] = None
    pairs = [(0, m) for m in range(1, 6)] + [(4, 5), (2, 3)]
    many = subdomain_differences_many(correct, groups, pairs, valid, n_boot=40, seed=9, level=0.9)
    assert list(zip(many["model_a"], many["model_b"])) == [p for p in pairs for _ in range(4)]
    for a, b in pairs:
        one = subdomain_differences(correct[a], correct[b], groups, valid[a] & valid[b], n_boot=40, seed=9, level=0.9)
        rows = many[(many["model_a"] == a) & (many["model_b"] == b)].drop(columns=["model_a", "model_b"])
        pd.testing.assert_frame_equal(rows.reset_index(drop=True), one)  # identical, not just close


def test_who_wins_where_many_equals_pair_by_pair(synthetic_store):
    others = ["reinit", "arch", "dataset"]
    many = who_wins_where_many(synthetic_store, [("base", m) for m in others], by="class", n_boot=60)
    for m in others:
        one = who_wins_where(synthetic_store, "base", m, by="class", n_boot=60)
        rows = many[many["model_b"] == m]
        assert (rows["model_a"] == "base").all()
        pd.testing.assert_frame_equal(rows.drop(columns=["model_a", "model_b"]).reset_index(drop=True), one)


def naive_draws(n_examples, n_boot, seed):
    """The package's bootstrap draws, 50 resamples at a time, as index arrays."""
    rng = np.random.default_rng(seed)
    return [draw for start in range(0, n_boot, 50)
            for draw in rng.integers(0, n_examples, size=(min(50, n_boot - start), n_examples))]


def test_confident_right_share_matches_a_loop():
    rng = np.random.default_rng(11)
    one = rng.random((3, 300)) < 0.2
    confident = one & (rng.random((3, 300)) < [[0.5], [0.7], [0.9]])
    share = confident_right_share(one, confident, n_boot=80, seed=5, level=0.9)
    for k in range(3):
        assert share.estimate[k] == pytest.approx(100 * confident[k].sum() / one[k].sum())
        draws = [100 * confident[k][d].sum() / one[k][d].sum() for d in naive_draws(300, 80, 5)]
        np.testing.assert_allclose(share.samples[:, k], draws)
        assert (share.low[k], share.high[k]) == pytest.approx(tuple(np.quantile(draws, [0.05, 0.95])))


def test_class_spread_matches_a_loop():
    rng = np.random.default_rng(12)
    groups = rng.choice(["c", "a", "b", "d"], 400)
    correct = rng.random((3, 400)) < [[0.8], [0.6], [0.7]]
    spread = class_spread(correct, groups, [(1, 0), (1, 2)], n_boot=60, seed=2)

    def naive(rows, m):
        differences = [correct[1][rows][groups[rows] == g].mean() - correct[m][rows][groups[rows] == g].mean()
                       for g in "abcd"]
        return 100 * np.std(differences, ddof=1)

    everything = np.arange(400)
    for k, m in enumerate([0, 2]):
        assert spread.estimate[k] == pytest.approx(naive(everything, m))
        np.testing.assert_allclose(spread.samples[:, k], [naive(d, m) for d in naive_draws(400, 60, 2)])


def test_category_trend_by_hand():
    categories = np.array(["Reinit", "Reinit", "Architecture", "Dataset", "Framework", None], dtype=object)
    estimate = np.array([1.0, 3.0, 4.0, 6.0, 8.0, 100.0])
    samples = np.array([estimate, estimate + 1, [np.nan, 3.0, 4.0, 5.0, 9.0, 0.0]])
    trend = category_trend(categories, estimate, samples, np.ones(6, bool), level=0.5)
    assert list(trend.means) == ["Reinit", "Architecture", "Framework", "Dataset"]
    assert trend.pairs == {"Reinit": 2, "Architecture": 1, "Framework": 1, "Dataset": 1}
    reinit = trend.means["Reinit"]  # draws 2, 3 and 3 (NaN ignored)
    assert (reinit.estimate, reinit.low, reinit.high) == pytest.approx((2.0, 2.5, 3.0))
    assert trend.top == ["Framework", "Dataset"] and trend.n == 5
    assert float(trend.contrast.estimate) == pytest.approx(7.0 - 2.0)
    np.testing.assert_allclose(trend.contrast.samples, [5.0, 5.0, 4.0])
    assert trend.rho == pytest.approx(scipy.stats.spearmanr([0, 0, 2, 4, 3], estimate[:5]).statistic)
    only = category_trend(categories, estimate, samples, np.array([1, 1, 1, 0, 0, 0], bool))
    assert only.top == ["Architecture"] and float(only.contrast.estimate) == pytest.approx(2.0)
    alone = category_trend(categories, estimate, samples, np.array([1, 1, 0, 0, 0, 0], bool))
    assert alone.top == ["Reinit"] and alone.contrast is None and np.isnan(alone.rho)


def test_models_right_on_the_same_examples_have_no_angle_and_no_trend(recwarn):
    # Every model right on the same examples (e.g. all at 0%): no example has exactly one right.
    correct = np.tile(np.arange(8) % 4 == 0, (4, 1))
    rows, theta, a_right = confidence_angles(np.linspace(0.2, 0.9, 8), np.full(8, 0.5), correct[0], correct[1])
    assert rows.size == theta.size == a_right.size == 0
    share = confident_right_share(np.zeros((1, 8), bool), np.zeros((1, 8), bool), n_boot=20, seed=0)
    assert np.isnan(share.estimate).all() and np.isnan(share.samples).all()
    spread = class_spread(correct, np.arange(8) % 3, [(0, k) for k in (1, 2, 3)], n_boot=20, seed=0)
    np.testing.assert_array_equal(spread.estimate, 0.0)
    categories = np.array(["Reinit", "Architecture", "Dataset"], dtype=object)
    trend = category_trend(categories, spread.estimate, spread.samples, np.ones(3, bool))
    assert np.isnan(trend.rho) and float(trend.contrast.estimate) == 0.0
    assert not [w for w in recwarn if issubclass(w.category, (RuntimeWarning, scipy.stats.ConstantInputWarning))]


def test_pair_mean_against_a_naive_loop():
    rng = np.random.default_rng(13)
    samples = rng.normal(size=(30, 6))
    samples[3, 1] = np.nan  # a resample without an example of its kind
    weights = rng.integers(0, 3, size=(30, 6))
    weights[5, [0, 2]] = 0  # both kept pairs drawn 0 times: that sample is NaN
    mask = np.array([True, False, True, False, False, False])
    estimate = rng.normal(size=6)
    mean = pair_mean(estimate, samples, mask, weights, level=0.8)
    expected = []
    for b in range(30):
        pairs = [p for p in np.flatnonzero(mask) if not np.isnan(samples[b, p])]
        total = sum(weights[b, p] for p in pairs)
        expected.append(sum(weights[b, p] * samples[b, p] for p in pairs) / total if total else np.nan)
    np.testing.assert_allclose(mean.samples, expected)
    assert float(mean.estimate) == pytest.approx(estimate[mask].mean())
    assert (mean.low, mean.high) == pytest.approx(tuple(np.nanquantile(expected, [0.1, 0.9])))
    unweighted = pair_mean(estimate, samples, ~mask)
    np.testing.assert_allclose(unweighted.samples, np.nanmean(samples[:, ~mask], axis=1))


def test_crossed_category_trend_by_hand():
    categories = np.array(["Reinit", "Reinit", "Dataset", "Dataset", "Framework"], dtype=object)
    estimate = np.array([1.0, 2.0, 4.0, 6.0, 9.0])
    samples = np.array([estimate, estimate + 1])
    weights = np.array([[2, 0, 1, 1, 1], [1, 1, 0, 2, 1]])  # partners redrawn within their category
    trend = category_trend(categories, estimate, samples, np.ones(5, bool), weights=weights)
    np.testing.assert_allclose(trend.means["Reinit"].samples, [1.0, 2.5])
    np.testing.assert_allclose(trend.means["Dataset"].samples, [5.0, 7.0])
    # Framework and Dataset against Reinit: the mean of their two means minus Reinit's
    np.testing.assert_allclose(trend.contrast.samples, [(5.0 + 9.0) / 2 - 1.0, (7.0 + 10.0) / 2 - 2.5])
    pooled = estimate[2:]
    assert trend.detectable == pytest.approx(detectable_difference(np.std(pooled, ddof=1), 3,
                                                                   np.std(estimate[:2], ddof=1), 2))
    alone = category_trend(categories, estimate, samples, np.array([1, 0, 1, 1, 0], bool))
    assert np.isnan(alone.detectable)  # one Reinit pair: no model-level spread on that side
