"""The chapter "The zoo" and its helpers.

The notebook tests execute the chapter once per module with papermill (through
``norep.book.build.run_chapter`` and the CI profile) on the synthetic store of
``make_synthetic_store`` plus an accuracy control; the helpers of
``norep.book.chapters.zoo`` are checked against numpy computations from the store and
hand-worked tables.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_synthetic_store
from notebook_checks import (
    assert_no_error_or_stderr,
    closing_output,
    execute_chapter,
    output_text,
    outputs,
)

from norep.book import build as book
from norep.book.chapter import open_zoo
from norep.book.chapters import zoo as chapter
from norep.zoo import CATEGORIES
from norep.zoo.roster import BASE_LABEL

ROOT = Path(__file__).resolve().parents[1]
BAND = 0.05


def make_zoo_store(path):
    """The synthetic store plus an accuracy control (the base recipe, weaker)."""
    store = make_synthetic_store(path)
    rng = np.random.default_rng(2)
    labels = store.labels()
    logits = rng.normal(size=(len(labels), len(store.classes)))
    logits[np.arange(len(labels)), labels] += 0.8
    store.add_model("control", {
        "display_name": "weak base", "architecture": "cnn", "objective": "cross-entropy",
        "training_data": "train-A", "seed": 0, "role": "accuracy-control",
        "hyperparameters": {"lr": 0.003, "target_accuracy": 0.5},
    }, {"logits": (2.0 * logits).astype(np.float32)})
    return store


def accuracies(store, split: str) -> pd.Series:
    """Each model's accuracy on a split, from its stored logits."""
    labels = store.labels(split)
    return pd.Series({m: np.mean(store.logits(m, split).argmax(axis=1) == labels)
                      for m in store.model_ids})


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """The chapter's synthetic store."""
    return make_zoo_store(tmp_path_factory.mktemp("store") / "store")


@pytest.fixture(scope="module")
def zoo(store):
    """The chapter's zoo of the synthetic store, base ``base``, band 5 points."""
    return open_zoo(str(store.path), "base", BAND)


@pytest.fixture(scope="module")
def executed(store, tmp_path_factory):
    """The chapter executed on the synthetic store."""
    output = tmp_path_factory.mktemp("chapter") / "zoo.ipynb"
    return execute_chapter("zoo", output, store=store.path, base="base", band=BAND, n_bootstrap=50)


# -- the executed chapter --------------------------------------------------------------------


def test_parameters_cell_takes_the_profile_keys():
    parameters = book.notebook_parameters(ROOT / "book" / "chapters" / "zoo.py")
    assert set(parameters) == {"store", "base", "band", "seed", "n_bootstrap"}


@pytest.mark.notebooks
def test_chapter_runs_without_errors_or_stderr(executed):
    assert_no_error_or_stderr(executed)


@pytest.mark.notebooks
def test_chapter_shows_its_figure_and_ends_with_paper_vs_book(executed):
    assert any("image/png" in o.get("data", {}) for o in outputs(executed))
    last = closing_output(executed).get("data", {}).get("text/plain", "")
    assert "reproduces?" in last and "partners in the band per category" in last


@pytest.mark.notebooks
def test_chapter_prints_accuracies_and_band_as_computed_from_the_store(executed, store):
    text = output_text(executed)
    found = re.search(r"The base reaches ([\d.]+)% on calibration and ([\d.]+)% on test \((\d+) "
                      r"examples\); (\d+) of its (\d+) partners are in the band", text)
    calibration, test = accuracies(store, "calibration"), accuracies(store, "test")
    assert float(found.group(1)) == pytest.approx(100 * calibration["base"], abs=0.051)
    assert float(found.group(2)) == pytest.approx(100 * test["base"], abs=0.051)
    assert int(found.group(3)) == len(store.labels("test"))
    partners = calibration.drop(["base", "control"])
    assert int(found.group(4)) == int((abs(partners - calibration["base"]) <= BAND + 1e-12).sum())
    assert int(found.group(5)) == len(partners)


@pytest.mark.notebooks
def test_chapter_closing_table_states_the_band(executed, store):
    base = accuracies(store, "calibration")["base"]
    last = closing_output(executed)["data"]["text/html"]
    assert f"{base - BAND:.1%}-{base + BAND:.1%} calibration accuracy (base ± 5 pt)" in last


# -- the helpers ----------------------------------------------------------------------------


def test_zoo_models_put_the_base_first_then_categories_in_order(zoo):
    models = chapter.zoo_models(zoo)
    # the control differs from the base in a hyper-parameter (its target accuracy)
    assert list(models.index) == ["base", "reinit", "hyper", "control", "arch", "framework", "dataset"]
    assert list(models["group"]) == [BASE_LABEL, "Reinit", "Hyper-parameters", "Hyper-parameters",
                                     "Architecture", "Framework", "Dataset"]
    table = chapter.methodology_table(zoo, models)
    assert table.loc["hyper", "hyper-parameters"] == "lr=0.01"
    # What differs, field by field: the synthetic Framework member shares the base's seed.
    assert table.loc["framework", "differs from the base in"] == "objective"
    assert table.loc["reinit", "differs from the base in"] == "seed"
    assert table.loc["base", "differs from the base in"] == "-"
    assert table.loc["control", "hyper-parameters"] == "lr=0.003, target_accuracy=0.5"
    assert table.loc["control", "role"] == "accuracy-control"


def test_zoo_models_refuse_an_undecidable_model(tmp_path):
    store = make_synthetic_store(tmp_path / "store")
    store.add_model("unknown", {"display_name": "unknown", "architecture": "cnn"},
                    {"logits": np.zeros((len(store.labels()), len(store.classes)), np.float32)})
    with pytest.raises(ValueError, match=r"no category for \['unknown'\]"):
        chapter.zoo_models(open_zoo(str(store.path), "base", BAND))


def test_zoo_accuracy_matches_the_store_and_covers_it(zoo, store):
    # display order (the control among the Hyper-parameters) differs from store order
    accuracy = chapter.zoo_accuracy(zoo, chapter.zoo_models(zoo), seed=0, n_bootstrap=2000)
    test, calibration = accuracies(store, "test"), accuracies(store, "calibration")
    assert np.allclose(accuracy["test"], test[accuracy.index])
    assert np.allclose(accuracy["calibration"], calibration[accuracy.index])
    # a binomial bootstrap interval is about the normal one, +- 1.96 standard errors
    half = 1.96 * np.sqrt(accuracy["test"] * (1 - accuracy["test"]) / len(store.labels("test")))
    assert np.allclose(accuracy["test_high"] - accuracy["test"], half, atol=0.006)
    assert np.allclose(accuracy["test"] - accuracy["test_low"], half, atol=0.006)
    assert list(accuracy["in_band"]) == list(abs(calibration[accuracy.index] - calibration["base"])
                                             <= BAND + 1e-12)
    assert accuracy.loc["control", "label"] == "weak base (control)"
    assert np.allclose(accuracy["test_gap"], test[accuracy.index] - test["base"])
    gaps = chapter.band_gaps(zoo, accuracy)
    in_band = [m for m in accuracy.index if m not in ("base", "control") and accuracy.loc[m, "in_band"]]
    assert len(gaps) == len(in_band)
    assert np.allclose(gaps["test gap (pt)"], (100 * (test[in_band] - test["base"])).round(2))


def test_category_counts_by_hand():
    accuracy = pd.DataFrame({
        "group": [BASE_LABEL, "Reinit", "Reinit", "Dataset", "Reinit", "Hyper-parameters", "Dataset"],
        "role": ["member", "member", "member", "member", "accuracy-control", "same-seed", "data-only"],
        "in_band": [True, True, False, False, True, True, True],
    })
    counts = chapter.category_counts(accuracy)
    assert list(counts.index) == [BASE_LABEL, *CATEGORIES]
    assert list(counts.columns) == ["members", "in band", "accuracy controls", "same seed", "data only"]
    assert counts.loc["Reinit"].tolist() == [2, 1, 1, 0, 0]
    assert counts.loc["Hyper-parameters"].tolist() == [0, 0, 0, 1, 0]
    assert counts.loc["Dataset"].tolist() == [1, 0, 0, 0, 1]
    assert counts.loc["Framework"].tolist() == [0, 0, 0, 0, 0]
    assert counts.loc[BASE_LABEL].tolist() == [1, 1, 0, 0, 0]


def test_zoo_verdicts_name_the_categories_without_a_partner_in_the_band(zoo):
    accuracy = chapter.zoo_accuracy(zoo, chapter.zoo_models(zoo), seed=0, n_bootstrap=50)
    counts = chapter.category_counts(accuracy)
    missing = [c for c in CATEGORIES if counts.loc[c, "in band"] == 0]
    rows = chapter.zoo_verdicts(zoo, accuracy)
    assert [claim for claim, *_ in rows] == ["divergence categories", "partners in the band per category",
                                             "accuracy band", "base accuracy"]
    assert rows[0][2] == f"{5 - len(missing)} of 5 with a partner in the band"
    assert rows[0][3] == (f"no: none in the band for {missing}" if missing else "yes")
    assert rows[1][2] == ", ".join(f"{c} {counts.loc[c, 'in band']}" for c in CATEGORIES)
    assert rows[3][2] == f"{accuracy.loc['base', 'test']:.1%} (base, synthetic test)"
