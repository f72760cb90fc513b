"""The zoo's design checks: same-seed lesson, data-only subgroup, effect of each field."""

import numpy as np
import pytest

from norep.book.chapter import open_zoo
from norep.book.chapters.zoo_design import (
    compare_groups,
    data_only_subgroup,
    methodology_effects,
    same_seed_lesson,
    twin,
)
from norep.store import Store, read_outcomes

MODELS = [
    # model_id, architecture, objective, training_data, seed, hyperparameters, role, skill
    ("base", "cnn", "cross-entropy", "train-A", 0, {}, "member", 1.6),
    ("seed1", "cnn", "cross-entropy", "train-A", 1, {}, "member", 1.6),
    ("seed2", "cnn", "cross-entropy", "train-A", 2, {}, "member", 1.5),
    ("wd", "cnn", "cross-entropy", "train-A", 3, {"weight_decay": 0.05}, "member", 1.5),
    ("dropout", "cnn", "cross-entropy", "train-A", 4, {"dropout": 0.3}, "member", 1.5),
    ("wd-same", "cnn", "cross-entropy", "train-A", 0, {"weight_decay": 0.05}, "same-seed", 1.5),
    ("dropout-same", "cnn", "cross-entropy", "train-A", 0, {"dropout": 0.3}, "same-seed", 1.5),
    ("cnn-B1", "cnn", "cross-entropy", "train-B", 5, {}, "data-only", 1.5),
    ("cnn-B2", "cnn", "cross-entropy", "train-B", 6, {}, "data-only", 1.5),
    ("mlp-B", "mlp", "cross-entropy", "train-B", 7, {"epochs": 6}, "member", 1.4),
    ("forest-B", "random-forest", "gini-impurity", "train-B", 8, {}, "member", 1.3),
]


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    import pandas as pd

    rng = np.random.default_rng(0)
    n, n_classes = 800, 5
    labels = rng.integers(0, n_classes, n)
    examples = pd.DataFrame({"example_id": [f"ex-{i}" for i in range(n)], "label": labels,
                             "split": ["calibration"] * 200 + ["test"] * 600})
    store = Store.create(tmp_path_factory.mktemp("zoo") / "store", dataset="synthetic",
                         classes=[f"c{c}" for c in range(n_classes)], examples=examples, fingerprint="design")
    shared = rng.normal(size=(n, n_classes))
    base_noise = rng.normal(size=(n, n_classes))
    for model_id, architecture, objective, data, seed, hyper, role, skill in MODELS:
        # Models started from the base's seed share part of its noise: they err alike.
        own = 0.6 * base_noise + 0.8 * rng.normal(size=(n, n_classes)) if seed == 0 else rng.normal(size=(n, n_classes))
        logits = 0.7 * shared + own
        logits[np.arange(n), labels] += skill
        store.add_model(model_id, {"architecture": architecture, "objective": objective, "training_data": data,
                                   "seed": seed, "hyperparameters": hyper, "role": role},
                        {"logits": logits.astype(np.float32)})
    return open_zoo(str(store.path), "base", 0.05)


def test_twins_differ_only_in_their_seed(zoo):
    assert twin(zoo, "wd-same") == "wd"
    assert twin(zoo, "dropout-same") == "dropout"
    assert twin(zoo, "mlp-B") is None


def test_group_means_are_the_means_of_their_pairs(zoo):
    comparison = compare_groups(zoo, {"a": ["seed1", "seed2"], "b": ["wd"]}, n_bootstrap=200, seed=0)
    test = read_outcomes(zoo.store, "test", ["base", "seed1", "seed2", "wd"])
    right = test.correct
    inconsistency = [(right[0] != right[k]).mean() for k in (1, 2, 3)]
    assert comparison.groups.loc["a", "error_inconsistency"] == pytest.approx(np.mean(inconsistency[:2]))
    assert comparison.groups.loc["b", "error_inconsistency"] == pytest.approx(inconsistency[2])
    # A one-model group is never redrawn: its crossed interval is the example-only one.
    single = comparison.models.loc["wd"]
    assert comparison.groups.loc["b", "error_inconsistency_low"] == pytest.approx(single["error_inconsistency_low"])
    # A contrast in words: the difference and its interval.
    assert comparison.contrast("error_inconsistency", "b", "a").startswith("b − a: ")


def test_same_seed_lesson_shows_that_a_shared_seed_errs_alike(zoo):
    lesson = same_seed_lesson(zoo, n_bootstrap=200, seed=0)
    assert lesson.twins == {"wd-same": "wd", "dropout-same": "dropout"}
    groups = lesson.comparison.groups
    assert list(groups.index) == ["same seed", "same recipes, own seeds", "Reinit"]
    assert groups.loc["same seed", "kappa"] > groups.loc["same recipes, own seeds", "kappa"]
    assert "Same seed minus own seeds" in lesson.verdict().data


def test_data_only_subgroup_sits_between_its_neighbours(zoo):
    subgroup = data_only_subgroup(zoo, n_bootstrap=100, seed=0)
    groups = subgroup.comparison.groups
    assert list(groups.index) == ["Reinit", "data only", "Dataset"]
    assert groups["models"].tolist() == [2, 2, 2]
    assert "data only − Reinit" in subgroup.verdict().data


def test_methodology_effects_fit_every_pair(zoo):
    effects = methodology_effects(zoo, n_bootstrap=100, seed=0)
    assert effects.n_pairs == len(MODELS) * (len(MODELS) - 1) // 2
    table = effects.effects["kappa"].table
    # Pairs that share a seed: among base, wd-same and dropout-same.
    assert table.loc["seed", "pairs"] == effects.n_pairs - 3
    # Sharing the base's noise raises kappa, so differing in the seed lowers it.
    assert table.loc["seed", "estimate"] < 0
    assert set(effects.table().columns) == {"pairs that differ", "error inconsistency", "kappa"}
