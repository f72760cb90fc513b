"""The roster: names, roles, categories relative to a base, and the accuracy band."""

import numpy as np
import pandas as pd
import pytest

from norep.errors import NorepError
from norep.store import Store
from norep.zoo.roster import BASE_LABEL, CONTROL_LABEL, DATA_ONLY_LABEL, SAME_SEED_LABEL, make_roster


def test_categories_follow_the_chosen_base(synthetic_store):
    roster = make_roster(synthetic_store, "base", band=0.05)
    assert roster.partners == ["reinit", "hyper", "arch", "framework", "dataset"]
    assert roster.table.loc["base", "group"] == BASE_LABEL
    assert roster.table.loc["dataset", "category"] == "Dataset"
    # Seen from the MLP, the base differs in architecture and the SimCLR CNN in objective.
    other = make_roster(synthetic_store, "arch", band=0.05)
    assert other.table.loc["base", "category"] == "Architecture"
    assert other.table.loc["framework", "category"] == "Framework"


def test_band_uses_calibration_accuracy(synthetic_store):
    roster = make_roster(synthetic_store, "base", band=0.02)
    assert roster.band_split == "calibration"
    examples = synthetic_store.examples
    calibration = examples["split"].to_numpy() == "calibration"
    labels = examples["label"].to_numpy()[calibration]
    accuracy = {}
    for model_id in synthetic_store.model_ids:  # argmax of the raw logits, row by row
        logits = np.asarray(synthetic_store.logits(model_id))[calibration]
        accuracy[model_id] = sum(int(np.argmax(row) == label) for row, label in zip(logits, labels)) / len(labels)
    for model_id, value in accuracy.items():
        assert roster.table.loc[model_id, "accuracy"] == pytest.approx(value, abs=1e-12)
        assert roster.table.loc[model_id, "in_band"] == (abs(value - accuracy["base"]) <= 0.02 + 1e-12)
    assert roster.table["in_band"].any() and not roster.table["in_band"].all()


def test_band_is_decided_on_hand_made_accuracies(tmp_path):
    """Four test-only models at 100%, 75%, 50% and 25% of 4 examples: no calibration split."""
    examples = pd.DataFrame({"example_id": list("abcd"), "label": [0, 1, 0, 1], "split": ["test"] * 4})
    store = Store.create(tmp_path / "s", dataset="hand", classes=["x", "y"], examples=examples,
                         fingerprint="hand")
    for model_id, wrong in (("base", 0), ("close", 1), ("far", 2), ("worst", 3)):
        predictions = np.array([0, 1, 0, 1])
        predictions[:wrong] = 1 - predictions[:wrong]
        store.add_model(model_id, {"architecture": model_id, "display_name": model_id},
                        {"predictions": predictions})
    roster = make_roster(store, "base", band=0.25)
    assert roster.band_split == "test"
    assert roster.table["accuracy"].tolist() == [1.0, 0.75, 0.5, 0.25]
    assert roster.table["in_band"].tolist() == [True, True, False, False]


def test_unknown_base_is_one_line(synthetic_store):
    with pytest.raises(NorepError, match="base 'nope' is not in"):
        make_roster(synthetic_store, "nope", band=0.01)


def test_pair_category_and_group(synthetic_store):
    roster = make_roster(synthetic_store, "base", band=0.05)
    assert roster.pair_category("base", "dataset") == roster.pair_category("dataset", "base") == "Dataset"
    # Not involving the base: derived from the two methodologies (MLP vs SimCLR CNN).
    assert roster.pair_category("arch", "framework") == make_roster(synthetic_store, "arch", 0.05).table.loc[
        "framework", "category"]
    assert roster.pair_group("base", "reinit") == "Reinit"
    assert roster.names["base"] and "base" not in roster.members and "reinit" in roster.members


def test_roles_outside_the_categories_keep_their_own_groups(synthetic_store):
    n, classes = len(synthetic_store.labels()), len(synthetic_store.classes)
    logits = np.zeros((n, classes), np.float32)
    for model_id, role, data, seed in (("lesson", "same-seed", "train-A", 0), ("other-half", "data-only", "train-B", 9),
                                       ("weaker", "accuracy-control", "train-A", 8)):
        synthetic_store.add_model(model_id, {"architecture": "cnn", "objective": "cross-entropy",
                                             "training_data": data, "seed": seed,
                                             "hyperparameters": {"lr": 0.001}, "role": role}, {"logits": logits})
    roster = make_roster(synthetic_store, "base", band=0.05)
    assert roster.table.loc[["lesson", "other-half", "weaker"], "group"].tolist() == [
        SAME_SEED_LABEL, DATA_ONLY_LABEL, CONTROL_LABEL]
    # Their categories are still derived, but they are neither partners nor members.
    assert roster.table.loc["other-half", "category"] == "Dataset"
    assert not {"lesson", "other-half", "weaker"} & set(roster.partners + roster.members)
    assert roster.role("data-only") == ["other-half"] and roster.controls == ["weaker"]
    assert roster.pair_group("base", "lesson") == SAME_SEED_LABEL
