"""Confidence angles and per-subdomain differences against loops and simulated truths."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special

from norep.errors import NorepError
from norep.specialization import confidence_angles, pair_angles, subdomain_differences, who_wins_where
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
