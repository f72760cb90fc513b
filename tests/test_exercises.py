"""The helpers behind the chapters' exercises, checked against naive computations.

The store is the CI mini zoo (runs/fashion_mnist_ci, trained by ``make test``); the
references recompute each answer from the stored predictions with plain numpy or
scikit-learn, or from hand-worked tables.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from norep.book.chapter import open_zoo
from norep.book.chapters import ensembles, error_inconsistency, feature_overlap, low_accuracy, specialization
from norep.book.chapters import zoo as zoo_chapter
from norep.book.views import fit_temperatures, greedy_ensemble
from norep.store import read_outcomes
from norep.zoo import CATEGORIES, Methodology, divergence_category

STORE = Path(__file__).resolve().parents[1] / "runs" / "fashion_mnist_ci"
pytestmark = pytest.mark.skipif(not (STORE / "manifest.json").is_file(), reason="needs the CI store")
N_BOOTSTRAP = 50


@pytest.fixture(scope="module")
def zoo():
    return open_zoo(str(STORE), "cnn-seed0", 0.015)


@pytest.fixture(scope="module")
def correct(zoo):
    outcomes = read_outcomes(zoo.store, "test")
    return dict(zip(outcomes.model_ids, outcomes.correct))


def naive_ensemble_accuracy(store, ids, temperatures, split="test"):
    """Average the members' softmax(logits / T) and take the argmax, in float64."""
    probabilities = []
    for m in ids:
        z = store.logits(m, split).astype(np.float64) / temperatures.get(m, 1.0)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        probabilities.append(z / z.sum(axis=1, keepdims=True))
    return float(np.mean(np.mean(probabilities, axis=0).argmax(axis=1) == store.labels(split)))


def test_category_quiz_answers_follow_the_methodologies(zoo):
    quiz = zoo_chapter.category_quiz(zoo, answers=True)
    meta = zoo.store.models.set_index("display_name")
    assert "category" not in zoo_chapter.category_quiz(zoo)
    assert len(quiz) == len(set(quiz["category"])) > 0
    for row in quiz.itertuples():
        first, second = (Methodology.from_meta(meta.loc[name].to_dict()) for name in (row[1], row[2]))
        assert row.category == divergence_category(first, second)
        assert zoo.names[zoo.roster.base] not in (row[1], row[2])
    assert list(quiz["category"]) == [c for c in CATEGORIES if c in set(quiz["category"])]


def test_seed_sharing_pairs_each_same_seed_model_with_its_twin(zoo, correct):
    table = zoo_chapter.seed_sharing(zoo)
    ids = {name: m for m, name in zoo.names.items()}
    base = correct[zoo.roster.base]
    assert len(table) == len(zoo.roster.role("same-seed"))
    for name, row in table.iterrows():
        same, twin = ids[name], ids[row["twin (own seed)"]]
        assert row["its seed"] == zoo.roster.methodologies[zoo.roster.base].seed != row["twin's seed"]
        assert row["error inconsistency with the base"] == pytest.approx(np.mean(base != correct[same]), abs=6e-4)
        assert row["twin: error inconsistency"] == pytest.approx(np.mean(base != correct[twin]), abs=6e-4)
        closer = same if np.mean(base != correct[same]) < np.mean(base != correct[twin]) else twin
        assert row["closer to the base"] == zoo.names[closer]


@pytest.fixture(scope="module")
def base_pairs(zoo):
    return error_inconsistency.base_pairs(zoo, N_BOOTSTRAP, 0)


def test_kappa_by_hand_matches_scikit_learn(zoo, base_pairs, correct):
    table = error_inconsistency.kappa_by_hand(base_pairs)
    base = correct[zoo.roster.base]
    for m in base_pairs.table.index:
        row = table.loc[zoo.names[m]]
        assert row["1 - EI / EI_ind"] == pytest.approx(cohen_kappa_score(base, correct[m]), abs=1e-4)
        assert row["kappa (package)"] == pytest.approx(row["1 - EI / EI_ind"], abs=1e-4)


def test_discordant_partners_are_ordered_alike_by_both_metrics(base_pairs):
    table = base_pairs.table
    shown = error_inconsistency.discordant_partners(base_pairs, top=100)
    brute = [(p, q) for p, q in itertools.permutations(table.index, 2)
             if table.loc[p, "error_inconsistency"] > table.loc[q, "error_inconsistency"]
             and table.loc[p, "kappa"] > table.loc[q, "kappa"]]
    assert len(shown) == len(brute) > 0
    assert (shown["its EI"] >= shown["other's EI"]).all() and (shown["its kappa"] >= shown["other's kappa"]).all()
    weaker = sum(table.loc[p, "accuracy"] < table.loc[q, "accuracy"] for p, q in brute)
    text = error_inconsistency.discordance_summary(base_pairs).data
    assert f"{len(brute)} are discordant" in text and f"in {weaker} of them" in text


@pytest.fixture(scope="module")
def ensemble_pairs(zoo):
    return ensembles.base_ensembles(ensembles.ensemble_members(zoo), N_BOOTSTRAP, 0)


def test_best_pairs_recomputed_by_averaging_probabilities(zoo, ensemble_pairs):
    best = ensembles.best_pairs(ensemble_pairs, top=3)
    temperatures = ensemble_pairs.temperatures
    order = ensemble_pairs.members.order[:1 + len(ensemble_pairs.members.partners)]
    accuracies = {(a, b): naive_ensemble_accuracy(zoo.store, [a, b], temperatures)
                  for a, b in itertools.combinations(order, 2)}
    top = sorted(accuracies.values(), reverse=True)[:3]
    assert best["ensemble (%)"].tolist() == pytest.approx([100 * a for a in top], abs=0.011)
    text = ensembles.strongest_pair_rank(ensemble_pairs).data
    assert f"{100 * top[0]:.2f}%" in text


def test_temperature_effects_compare_scaled_and_unscaled_ensembles(zoo, ensemble_pairs):
    effects = ensembles.temperature_effects(ensemble_pairs, top=2)
    ids = {name: m for m, name in zoo.names.items()}
    for pair, row in effects.iterrows():
        a, b = (ids[name] for name in pair.split(" + "))
        scaled = naive_ensemble_accuracy(zoo.store, [a, b], ensemble_pairs.temperatures)
        unscaled = naive_ensemble_accuracy(zoo.store, [a, b], {})
        assert row["change (points)"] == pytest.approx(100 * (scaled - unscaled), abs=0.011)
    assert effects["change (points)"].abs().is_monotonic_decreasing


def test_weaker_winners_are_weaker_overall_and_ahead_on_their_part(zoo, correct):
    partners = specialization.partner_table(zoo)
    wins = specialization.subdomain_wins_tables(zoo, ["class"], N_BOOTSTRAP, 0)
    table = specialization.weaker_winners(zoo, partners, wins)
    ids = {name: m for m, name in zoo.names.items()}
    labels, classes = zoo.store.labels("test"), list(zoo.store.classes)
    base = correct[zoo.roster.base]
    assert len(table) > 0
    for row in table.itertuples():
        model = correct[ids[row.model]]
        assert model.mean() < base.mean()
        rows = labels == classes.index(row.subdomain)
        assert model[rows].mean() > base[rows].mean()
        assert row[3] == pytest.approx(100 * (base.mean() - model.mean()), abs=0.006)


def test_first_partner_is_the_greedy_searchs_first_pick(zoo):
    lz = low_accuracy.low_accuracy_zoo(zoo)
    table = low_accuracy.first_partner(lz)
    ids = {name: m for m, name in zoo.names.items()}
    greedy = greedy_ensemble(zoo.store, lz.base, [ids[name] for name in table.index], max_size=2)
    assert ids[table.index[0]] == greedy["model_id"].iloc[1]
    calibration = zoo.store.models.set_index("model_id")["calibration_accuracy"]
    assert all(calibration[ids[name]] < calibration[lz.base] for name in table.index)


def test_weak_helpers_gain_is_the_ensemble_minus_the_base(zoo):
    lz = low_accuracy.low_accuracy_zoo(zoo)
    table = low_accuracy.weak_helpers(lz, 0.03, N_BOOTSTRAP, 0)
    ids = {name: m for m, name in zoo.names.items()}
    temperatures = fit_temperatures(zoo.store, lz.with_logits)
    base_accuracy = lz.accuracy.loc[lz.base, "test"]
    assert len(table) > 0
    for name, row in table.iterrows():
        assert lz.accuracy.loc[ids[name], "test"] <= base_accuracy - 0.03
        gain = naive_ensemble_accuracy(zoo.store, [lz.base, ids[name]], temperatures) - base_accuracy
        assert float(row["gain over the base (points)"].split()[0]) == pytest.approx(100 * gain, abs=0.006)
    assert "No model" in low_accuracy.weak_helpers(lz, 0.5, N_BOOTSTRAP, 0).data


def hand_zoo():
    return SimpleNamespace(zoo=SimpleNamespace(names={"a": "A", "b": "B", "c": "C"}))


def test_similarity_ranking_by_hand():
    table = pd.DataFrame({"category": ["Reinit", "Architecture", "Dataset"], "linear_cka": [0.9, 0.5, 0.7],
                          "debiased_cka": 0.0, "mutual_knn": 0.0, "error_inconsistency": [0.1, 0.2, 0.3],
                          "ensemble_gain": [0.01, 0.02, 0.03]}, index=["a", "b", "c"])
    ranking = feature_overlap.similarity_ranking(feature_overlap.Similarity(hand_zoo(), table))
    assert ranking.index.tolist() == ["B", "C", "A"]
    assert ranking["rank of the gain"].tolist() == [2, 1, 3]


def test_mix_ranking_by_hand():
    table = pd.DataFrame({"category": ["Reinit", "Dataset", "Architecture"], "gain": [0.001, 0.02, -0.01],
                          "gain_low": [-0.002, 0.01, -0.02], "gain_high": [0.004, 0.03, 0.0],
                          "beats_both": [False, True, False]}, index=["a", "b", "c"])
    mixes = SimpleNamespace(table=table, embeddings=hand_zoo())
    ranking = feature_overlap.mix_ranking(mixes)
    assert ranking.index.tolist() == ["B", "A", "C"]
    assert ranking["beats both"].tolist() == ["yes", "no", "no"]
    assert ranking.iloc[0, 1] == "+2.00 [+1.00, +3.00]"


def test_share_ranking_orders_by_share_by_hand():
    table = pd.DataFrame({"label": ["A", "B", "C"], "group": ["Reinit", "Dataset", "Accuracy control"],
                          "in_band": [True, False, True], "accuracy": [80.04, 79.0, 75.0],
                          "value": [55.0, 70.0, 60.0], "low": [50.0, 65.0, 55.0], "high": [60.0, 75.0, 65.0]},
                         index=["a", "b", "c"])
    ranking = specialization.share_ranking(SimpleNamespace(table=table))
    assert ranking.index.tolist() == ["B", "C", "A"]
    assert ranking["rank"].tolist() == [1, 2, 3]
    assert ranking.loc["B", "confident-right share (%)"] == "70.0 [65.0, 75.0]"
    assert ranking.loc["A", "in the band"] == "yes"
