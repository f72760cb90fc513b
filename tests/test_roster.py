"""The roster: names, roles, categories relative to a base, and the accuracy band."""

import numpy as np
import pytest

from norep.errors import NorepError
from norep.store import read_outcomes
from norep.zoo.roster import BASE_LABEL, make_roster


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
    correct = read_outcomes(synthetic_store, "calibration").correct
    accuracy = correct.mean(1)
    np.testing.assert_allclose(roster.table["accuracy"], accuracy)
    expected = np.abs(accuracy - accuracy[0]) <= 0.02 + 1e-12
    np.testing.assert_array_equal(roster.table["in_band"], expected)


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
