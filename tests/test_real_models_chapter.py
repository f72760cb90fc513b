"""The chapter "Real models, real errors" and its helpers (norep.book.chapters.real_models).

The chapter runs once per module with papermill (through ``norep.book.run_chapter`` and
the CI profile) into temporary stores, which it fills itself from ``../shared/data``;
the tests then read the executed notebook and check its numbers against computations
made here from the stores. The helpers are checked against naive references on
hand-made inputs.
"""

from __future__ import annotations

import contextlib
import os
import re
from itertools import combinations
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pandas as pd
import pytest
from notebook_checks import assert_no_error_or_stderr, output_text, outputs

from norep.analysis.bootstrap import Interval
from norep.book import build as book
from norep.book.chapters import real_models as rm
from norep.book.plots import real_models as plots
from norep.producers.importers.model_vs_human import DATASETS
from norep.store import Store, read_outcomes

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "book" / "chapters" / "real_models.py"
SHARED = ROOT.parent / "shared" / "data"
IMAGENET_X = SHARED / "imagenet-x"
MODEL_VS_HUMAN = SHARED / "model-vs-human"
notebooks = pytest.mark.notebooks


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The executed chapter and the folder holding the stores it filled."""
    if not (IMAGENET_X / "labels.csv").is_file() or not MODEL_VS_HUMAN.is_dir():
        if os.environ.get("CI"):
            raise FileNotFoundError(f"the shared copies are missing under {SHARED}")
        pytest.skip(f"no shared copies of ImageNet-X and model-vs-human under {SHARED}")
    folder = tmp_path_factory.mktemp("real_models")
    with contextlib.chdir(ROOT):
        path = book.run_chapter("real_models", folder / "real_models.ipynb", profile="ci",
                                parameters=[
            ["imagenet_x_store", str(folder / "imagenet-x")],
            ["imagenet_x_source", str(IMAGENET_X)],
            ["model_vs_human_store", str(folder / "model-vs-human")],
            ["model_vs_human_source", str(MODEL_VS_HUMAN)],
        ])
    return nbformat.read(path, as_version=4), folder


@pytest.fixture(scope="module")
def inx(executed):
    """The ImageNet-X store the chapter filled, opened with few resamples."""
    _, folder = executed
    return rm.open_imagenet_x(str(folder / "imagenet-x"), None, "ResNet50", 20, 0)


def naive_kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Error consistency kappa of two correctness vectors, from its definition."""
    p_a, p_b = a.mean(), b.mean()
    expected = p_a * p_b + (1 - p_a) * (1 - p_b)
    with np.errstate(invalid="ignore"):  # NaN when both are always right
        return ((a == b).mean() - expected) / (1 - expected)


def fake_inx(models: pd.DataFrame, accuracy: list[float]) -> rm.ImagenetX:
    """An ImagenetX with only models and accuracies (for the helpers that need no store)."""
    n = len(accuracy)
    values = np.array(accuracy + [np.nan] * (n * (n - 1) // 2))
    interval = Interval(values, values - 0.01, values + 0.01, values[None])
    return rm.ImagenetX(None, models, None, {"accuracy": interval}, 10, 0)


MODELS = pd.DataFrame({
    "display_name": ["R", "V", "S"],
    "architecture": ["resnet", "vit", None],
    "objective": ["cross-entropy", "cross-entropy", "nt-xent"],
    "training_data": ["in1k", None, "in1k"],
}, index=["r", "v", "s"])


# The executed chapter


@notebooks
def test_parameters_cell_names_the_stores_and_sources():
    parameters = book.notebook_parameters(CHAPTER)
    assert {"imagenet_x_store", "imagenet_x_source", "model_vs_human_store",
            "model_vs_human_source", "n_bootstrap", "seed", "reference"} <= set(parameters)
    # Profile keys that point at the mini zoo must not leak into this chapter.
    assert not {"store", "base", "device"} & set(parameters)


@notebooks
def test_chapter_runs_without_errors_or_stderr(executed):
    notebook, _ = executed
    assert_no_error_or_stderr(notebook)


@notebooks
def test_chapter_has_its_figures(executed):
    notebook, _ = executed
    figures = [output for output in outputs(notebook) if "image/png" in output.get("data", {})]
    # heatmaps, pair ranking, per-range specialization, factor and metaclass
    # specialization, theta histograms, model-vs-human dot plot
    assert len(figures) == 6


@notebooks
def test_chapter_filled_the_stores(executed):
    _, folder = executed
    assert (folder / "imagenet-x" / "manifest.json").is_file()
    filled = sorted(d.name for d in (folder / "model-vs-human").iterdir()
                    if (d / "manifest.json").is_file())
    assert filled == sorted(DATASETS)


@notebooks
def test_accuracy_is_computed_from_the_predictions(executed):
    """The chapter's ResNet-50 accuracy equals the one recomputed here from the raw CSV files."""
    notebook, _ = executed
    labels = pd.read_csv(IMAGENET_X / "labels.csv").set_index("file_name")["label"]
    predictions = pd.read_csv(IMAGENET_X / "ResNet50.csv").set_index("file_name")
    accuracy = (predictions["predicted_class"].reindex(labels.index) == labels).mean()
    text = output_text(notebook)
    assert f"{100 * accuracy:.1f} [" in text
    assert "reproduces?" in text
    assert "Paper vs this book" in "".join(cell.source for cell in notebook.cells)


@notebooks
def test_pair_metrics_printed_match_the_store(executed):
    """Error inconsistency and kappa of ResNet-50 – DINO, recomputed from the store."""
    notebook, folder = executed
    correct = read_outcomes(Store(folder / "imagenet-x"), "test", ["ResNet50", "DINO"]).correct
    inconsistency = (correct[0] != correct[1]).mean()
    row = re.search(r"<th>ResNet-50 – DINO</th>(.*?)</tr>", output_text(notebook), re.S)[1]
    assert f"{inconsistency:.3f} [" in row
    assert f"{naive_kappa(correct[0], correct[1]):.3f} [" in row


@notebooks
def test_model_vs_human_accuracies_printed_match_the_store(executed):
    """Mean model and human accuracy on the edge set, recomputed from its store."""
    notebook, folder = executed
    store = Store(folder / "model-vs-human" / "edge")
    predictions = pd.DataFrame(read_outcomes(store, "test").predictions.T,
                               columns=store.model_ids)
    labels = store.labels("test")
    answered = predictions >= 0
    accuracy = predictions.eq(labels, axis=0).sum() / answered.sum()
    human = store.models.set_index("model_id")["observer"].eq("human")[store.model_ids]
    row = re.search(r">edge</th>(.*?)</tr>", output_text(notebook), re.S)[1]
    cells = re.findall(r">([^<>]*)</td>", row)
    assert cells[:5] == [str((~human).sum()), str(human.sum()), "1",
                         f"{100 * accuracy[~human].mean():.1f}",
                         f"{100 * accuracy[human].mean():.1f}"]


# The helpers on the real store


@notebooks
def test_pair_table_matches_naive_counts(inx):
    table = rm.pair_table(inx).set_index("pair")
    correct = inx.outcomes.correct
    assert len(table) == 6 and table["error_inconsistency"].is_monotonic_decreasing
    for a, b in combinations(range(4), 2):
        row = table.loc[f"{inx.names[inx.order[a]]} – {inx.names[inx.order[b]]}"]
        p_a, p_b = correct[a].mean(), correct[b].mean()
        assert row["error_inconsistency"] == pytest.approx((correct[a] != correct[b]).mean())
        assert row["kappa"] == pytest.approx(naive_kappa(correct[a], correct[b]))
        assert row["floor"] == pytest.approx(abs(p_a - p_b))
        assert row["independent"] == pytest.approx(p_a * (1 - p_b) + p_b * (1 - p_a))
        assert row["error_inconsistency_low"] <= row["error_inconsistency"]


@notebooks
def test_differences_match_naive_group_accuracies(inx):
    groups = inx.examples["class_range"].to_numpy()
    table = rm.differences(inx, "ResNet50", "SimCLR", groups).set_index("group")
    frame = pd.DataFrame({"group": groups, "a": inx.outcomes.correct[0],
                          "b": inx.outcomes.correct[inx.order.index("SimCLR")]})
    naive = frame.groupby("group")[["a", "b"]].mean()
    expected = 100 * (naive["a"] - naive["b"])
    assert table["difference"].to_numpy() == pytest.approx(expected[table.index].to_numpy())
    winners = np.where(table["low"] > 0, "ResNet-50", np.where(table["high"] < 0, "SimCLR",
                                                              "neither"))
    assert (table["winner"] == winners).all()


@notebooks
def test_theta_angles_cover_the_exactly_one_right_images(inx):
    angles = rm.theta_angles(inx)
    correct = inx.outcomes.correct
    for k, other in enumerate(inx.others, start=1):
        rows = angles[angles["name_b"] == inx.names[other]]
        assert len(rows) == (correct[0] != correct[k]).sum()
        assert rows["a_right"].sum() == (correct[0] & ~correct[k]).sum()
    assert angles["theta"].between(0, 90).all()


# The helpers on hand-made inputs


def test_pair_category_names_what_is_known():
    inx = fake_inx(MODELS, [0.7, 0.8, 0.6])
    assert rm.pair_category(inx, "r", "s") == ("Framework", "Framework", [])
    assert rm.pair_category(inx, "r", "v") == (
        None, "Architecture or Dataset (V's training data not stated)", ["V's training data"])
    # An unstated field below the deciding level does not matter...
    assert rm.pair_category(inx, "v", "s")[1] == (
        "Framework or Dataset (V's training data not stated)")


def test_model_table_and_weakest():
    inx = fake_inx(MODELS, [0.7, 0.8, 0.6])
    table = rm.model_table(inx)
    assert table.loc["S", "architecture"] == "not stated"
    assert table.loc["R", "top-1 accuracy (%)"] == "70.0 [69.0, 71.0]"
    assert (inx.weakest, inx.strongest) == ("s", "v")
    pairs = pd.DataFrame({"model_a": ["r", "v", "r"], "model_b": ["s", "s", "v"]})
    assert rm.with_weakest(inx, pairs).tolist() == [True, True, False]


def test_condition_kappas_average_per_condition_kappas():
    rng = np.random.default_rng(1)
    correct = rng.random((3, 60)) < 0.6
    correct[:2, 40:] = True  # condition 2: observers 0 and 1 always right, no kappa
    conditions = np.repeat(["a", "b", "c"], 20)
    pairs = [(0, 1), (0, 2), (1, 2)]
    kappa, samples = rm.condition_kappas(correct, np.ones_like(correct), conditions, pairs,
                                         n_boot=30, seed=0)
    for p, (a, b) in enumerate(pairs):
        per_condition = [naive_kappa(correct[a, conditions == c], correct[b, conditions == c])
                         for c in "abc"]
        assert kappa[p] == pytest.approx(np.nanmean(per_condition))
    assert samples.shape == (30, 3)


def test_observer_groups_and_group_kappas():
    human = np.array([False, False, True, True])
    pairs = list(combinations(range(4), 2))
    groups = rm.observer_groups(human, pairs)
    assert groups.tolist() == ["model-vs-model", "model-vs-human", "model-vs-human",
                               "model-vs-human", "model-vs-human", "human-vs-human"]
    kappa = np.array([0.5, 0.1, 0.2, np.nan, 0.3, 0.7])
    samples = np.tile(kappa, (4, 1)) + np.arange(4)[:, None] * 0.01
    rows = {row["group"]: row for row in rm.group_kappas(kappa, samples, groups)}
    assert rows["model-vs-human"]["kappa"] == pytest.approx(0.2)  # NaN left out
    assert rows["model-vs-human"]["pairs"] == 4
    assert rows["human-vs-human"]["high"] == pytest.approx(0.7 + 0.03 * 0.975)


def test_theta_table_counts_confident_right_models():
    angles = pd.DataFrame({"pair": "A – B", "divergence": "Framework",
                           "theta": [10.0, 50.0, 60.0, 30.0, 80.0],
                           "a_right": [True, True, False, False, False],
                           "name_a": "A"})
    row = rm.theta_table(angles).loc["A – B"]
    assert row["images"] == 5
    assert row["right model more confident (%)"] == pytest.approx(100 * 3 / 5)
    assert row["median theta, only A right"] == 30.0
    assert row["median theta, only the other right"] == 60.0


def test_by_category_means_and_matched_pairs():
    pairs = pd.DataFrame({
        "dataset": ["x", "x", "y", "y"], "a": ["m1", "m1", "m1", "m1"],
        "b": ["m2", "m3", "m2", "m3"], "kappa": [0.4, 0.2, 0.6, 0.1],
        "accuracy gap": [0.01, 0.2, 0.1, 0.03],
        "category": ["Architecture", "Dataset", "Architecture", "Dataset"]})
    mvh = rm.ModelVsHuman(pd.DataFrame(), pd.DataFrame(), pairs)
    table = mvh.by_category(0.05)
    assert table.index.tolist() == ["Architecture", "Dataset"]
    assert table["pairs"].tolist() == [1, 1]
    assert table["mean kappa"].tolist() == pytest.approx([0.5, 0.15])
    assert table["mean kappa, matched"].tolist() == pytest.approx([0.4, 0.1])
    assert rm.divergence_verdict(pd.DataFrame({"category": [None], "unstated": [[]]}),
                                 table)[3].startswith("not testable on ImageNet-X")
    assert "yes on model-vs-human" in rm.divergence_verdict(
        pd.DataFrame({"category": [None], "unstated": [[]]}), table)[3]


def test_model_vs_human_text_counts_sets():
    consistency = pd.DataFrame({
        "dataset": np.repeat(["s1", "s2"], 3), "group": list(rm.GROUPS) * 2,
        "kappa": [0.3, 0.5, 0.1, 0.2, 0.1, 0.15],
        "low": [0.2, 0.4, 0.0, 0.1, 0.0, 0.1], "high": [0.4, 0.6, 0.2, 0.3, 0.2, 0.2]})
    text = rm.ModelVsHuman(consistency, pd.DataFrame(), pd.DataFrame()).text().data
    assert text.startswith("Humans agree with each other more than with models on 1 of 2 "
                           "sets (1 with non-overlapping intervals); models agree with each "
                           "other more than with humans on 2 of 2.")
    assert "kappa is 0.25 between models" in text


def test_range_comparison_finds_specialized_pairs():
    differences = pd.DataFrame({
        "pair": ["A – B", "A – B", "A – C", "A – C"],
        "group": ["nature", "anthropogenic"] * 2,
        "difference": [2.0, -1.0, 1.0, 0.5], "low": [1.0, -2.0, 0.5, -0.5],
        "high": [3.0, -0.5, 1.5, 1.5], "winner": ["A", "B", "A", "neither"]})
    ranges = rm.RangeComparison(differences)
    assert ranges.specialized == ["A – B"]
    assert ranges.table().loc["A – C", "anthropogenic: difference (points)"] == (
        "0.5 [-0.5, 1.5]")


def test_falling():
    assert rm.falling(pd.Series([0.5, 0.3, 0.1]))
    assert not rm.falling(pd.Series([0.5, 0.5]))
    assert not rm.falling(pd.Series([0.5]))


def test_pair_heatmaps_write_the_given_texts():
    values = pd.DataFrame([[np.nan, 0.1], [0.1, np.nan]], ["a", "b"], ["a", "b"])
    text = pd.DataFrame([["", "0.100\n[0.0, 0.2]"], ["0.100\n[0.0, 0.2]", ""]],
                        ["a", "b"], ["a", "b"])
    figure = plots.pair_heatmaps({"kappa": (values, text)}, "two models")
    written = [t.get_text() for t in figure.axes[0].texts]
    assert written == ["0.100\n[0.0, 0.2]"] * 2
    plt.close(figure)


def test_confidence_and_specialization_verdicts():
    inx = fake_inx(MODELS, [0.7, 0.8, 0.6])
    theta = pd.DataFrame({"right model more confident (%)": [61.2, 70.4]})
    row = rm.confidence_verdict(inx, theta)
    assert "on 61-70% of the exactly-one-right images for the 2 pairs with R" in row[2]
    assert row[3].startswith("yes for every pair")
    theta.iloc[0, 0] = 49.0
    assert rm.confidence_verdict(inx, theta)[3].startswith("no:")
    ranges = rm.RangeComparison(pd.DataFrame({
        "pair": ["R – S", "R – S", "R – V", "R – V"],
        "group": ["nature", "anthropogenic"] * 2, "difference": 0.0, "low": 0.0,
        "high": 0.0, "winner": ["R", "S", "V", "R"]}))
    row = rm.specialization_verdict(inx, ranges)
    assert "2 of 2 pairs specialize" in row[2] and "with R: R – S in the paper's" in row[2]
    assert row[3].startswith("yes in direction for R – S (Framework)")
