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
from itertools import combinations, combinations_with_replacement
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
from norep.errors import NorepError
from norep.producers.importers import import_predictions
from norep.producers.importers.model_vs_human import DATASETS
from norep.store import Store, read_outcomes
from norep.zoo import Methodology

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


def raw_trials(dataset: str) -> dict[str, pd.DataFrame]:
    """Every observer's trials of a single-condition set, read from the raw CSV files,
    indexed by the image's identity (the last token of ``imagename``)."""
    trials = {}
    for file in sorted(MODEL_VS_HUMAN.glob(f"*/{dataset}/*.csv")):
        frame = pd.read_csv(file, keep_default_na=False, dtype=str)
        frame.index = frame["imagename"].str.rsplit("_", n=1).str[-1]
        trials[file.name[len(dataset) + 1:].rsplit("_session", 1)[0]] = frame
    return trials


@notebooks
def test_model_vs_human_accuracies_printed_match_the_raw_files(executed):
    """Mean model and human accuracy on the edge set, as model-vs-human computes them
    from its CSV files: every trial shown counts, "na" as an error."""
    notebook, _ = executed
    trials = raw_trials("edge")
    accuracy = pd.Series({o: (t["object_response"] == t["category"]).mean()
                          for o, t in trials.items()})
    human = accuracy.index.str.startswith("subject-")
    row = re.search(r">edge</th>(.*?)</tr>", output_text(notebook), re.S)[1]
    cells = re.findall(r">([^<>]*)</td>", row)
    assert cells[:5] == [str((~human).sum()), str(human.sum()), "1",
                         f"{100 * accuracy[~human].mean():.1f}",
                         f"{100 * accuracy[human].mean():.1f}"]


@notebooks
def test_no_answer_rules_printed_match_the_raw_files(executed):
    """Mean human-vs-human kappa on sketch, na as an error and dropped, from the raw files."""
    notebook, _ = executed
    humans = {o: t for o, t in raw_trials("sketch").items() if o.startswith("subject-")}
    means = {}
    for rule in ("error", "drop"):
        kappas = []
        for a, b in combinations(sorted(humans), 2):
            joined = humans[a].merge(humans[b], left_index=True, right_index=True,
                                     suffixes=("_a", "_b"))
            if rule == "drop":
                joined = joined[(joined["object_response_a"] != "na")
                                & (joined["object_response_b"] != "na")]
            kappas.append(naive_kappa(
                (joined["object_response_a"] == joined["category_a"]).to_numpy(),
                (joined["object_response_b"] == joined["category_b"]).to_numpy()))
        means[rule] = np.mean(kappas)
    pairs = len(humans) * (len(humans) - 1) // 2
    assert f"sketch {means['error']:.3f} vs {means['drop']:.3f} ({pairs} pairs)" in output_text(
        notebook)


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


IN1K, SWAG = "ImageNet-1k", "Instagram"
MODEL_METHODOLOGIES = {
    "base": Methodology("resnet", "cross-entropy", IN1K, None, None),
    "arch": Methodology("bagnet", "cross-entropy", IN1K, None, None),
    "frame": Methodology("resnet", "nt-xent", IN1K, None, None),
    "d1": Methodology("vit", "weakly-supervised", SWAG, None, None),
    "d2": Methodology("regnet", "weakly-supervised", SWAG, None, None),
    "d3": Methodology("convnext", "weakly-supervised", SWAG, None, None),
}


def hand_model_vs_human(n_boot: int = 400, noise: float = 0.0) -> rm.ModelVsHuman:
    """Six models on two sets; a pair's kappa is its partner's value plus a set offset.

    Every image resample of a (set, pair) equals its kappa plus ``noise`` times a
    fixed normal draw, so without noise every interval holds model variance only.
    """
    value = {"arch": 0.5, "frame": 0.6, "d1": 0.2, "d2": 0.3, "d3": 0.4}
    rows = []
    for dataset, offset, gap in (("x", 0.0, 0.01), ("y", 0.1, 0.2)):
        for a, b in combinations(MODEL_METHODOLOGIES, 2):
            kappa = (value[b] if a == "base" else 0.45) + offset
            category = rm.divergence_category(MODEL_METHODOLOGIES[a], MODEL_METHODOLOGIES[b])
            rows.append({"dataset": dataset, "a": a, "b": b, "kappa": kappa,
                         "accuracy gap": gap if b != "d3" else 0.3, "category": category})
    pairs = pd.DataFrame(rows)
    draws = np.random.default_rng(5).normal(size=(n_boot, len(pairs)))
    samples = pairs["kappa"].to_numpy() + noise * draws
    return rm.ModelVsHuman(pd.DataFrame(), pd.DataFrame(), pairs, samples,
                           MODEL_METHODOLOGIES, "error", 0)


def test_pair_means_average_the_kept_sets():
    mvh = hand_model_vs_human()
    means, samples = mvh.pair_means()
    naive = mvh.model_pairs.groupby(["a", "b"], sort=False)["kappa"].mean()
    assert means.set_index(["a", "b"])["kappa"].to_numpy() == pytest.approx(naive.to_numpy())
    assert (means["sets"] == 2).all() and samples.shape == (400, 15)
    matched, _ = mvh.pair_means(0.05)  # only set x is matched, and never for d3
    row = matched.set_index(["a", "b"]).loc[("base", "d1")]
    assert (row["sets"], row["kappa"]) == (1, pytest.approx(0.2))
    assert np.isnan(matched.set_index(["a", "b"]).loc[("base", "d3"), "kappa"])


def test_category_kappas_with_a_base_redraw_the_partners():
    mvh = hand_model_vs_human()
    table, draws = mvh.category_kappas("base")
    # Base pairs only: each partner's mean over the two sets (offset 0.05).
    assert table["kappa"].to_dict() == pytest.approx(
        {"Architecture": 0.55, "Framework": 0.65, "Dataset": 0.35})
    assert table["kappa_n"].tolist() == [1, 1, 3] and table["sets"].tolist() == [2, 2, 6]
    # One model: no model variance (no image variance here either); three: the
    # redrawn partners' mean, which ranges over the partners' values.
    assert table.loc["Architecture", "kappa_low"] == table.loc["Architecture", "kappa_high"]
    assert 0.25 <= table.loc["Dataset", "kappa_low"] < 0.35 < table.loc["Dataset", "kappa_high"]
    means = {tuple(sorted(draw)) for draw in combinations_with_replacement([0.25, 0.35, 0.45], 3)}
    assert set(np.round(draws["Dataset"], 9)) <= {round(float(np.mean(m)), 9) for m in means}


def test_category_kappas_of_all_pairs_and_matched():
    mvh = hand_model_vs_human()
    table, _ = mvh.category_kappas(None)
    naive = mvh.model_pairs.groupby(["a", "b", "category"])["kappa"].mean().groupby(
        "category").mean()
    assert table["kappa"].to_dict() == pytest.approx(naive.to_dict())
    matched, _ = mvh.category_kappas("base", 0.05)
    assert matched["kappa"].to_dict() == pytest.approx(
        {"Architecture": 0.5, "Framework": 0.6, "Dataset": 0.25})
    assert matched.loc["Dataset", "kappa_n"] == 2  # d3 is never accuracy-matched
    with pytest.raises(NorepError, match="not a model"):
        mvh.category_kappas("alexnet")


def test_by_category_views_and_verdicts():
    kappas = hand_model_vs_human(noise=0.01).by_category("base", 0.05)
    assert list(kappas.summaries) == ["base as base", "base as base, matched (gap <= 0.05)",
                                      "all model pairs", "all model pairs, matched (gap <= 0.05)"]
    assert kappas.base_views == list(kappas.summaries)[:2]
    view = kappas.view()
    assert view.loc[("base as base", "Architecture"), "interval over"] == "images only (one pair)"
    assert view.loc[("base as base", "Dataset"), "interval over"] == "models and images"
    verdicts = kappas.verdicts()
    assert list(verdicts.index) == kappas.base_views
    # Dataset − Architecture involves a single model: no interval, so no claim.
    assert verdicts.loc["base as base", "verdict"].startswith("cannot tell at this size")
    assert "not monotone: Framework (0.650) > Architecture (0.550)" in verdicts.loc[
        "base as base", "verdict"]
    row = rm.divergence_verdict(pd.DataFrame({"category": [None], "unstated": [[]]}), kappas)
    assert row[3].startswith("not testable on ImageNet-X")
    assert "base as base: cannot tell at this size" in row[3]


def test_verdict_says_yes_when_models_clearly_separate():
    methodologies = {"base": MODEL_METHODOLOGIES["base"],
                     **{f"a{i}": Methodology(f"net{i}", "cross-entropy", IN1K, None, None)
                        for i in range(4)},
                     **{f"d{i}": Methodology(f"net{i}", "weakly-supervised", SWAG, None, None)
                        for i in range(4)}}
    partners = list(methodologies)[1:]
    value = dict(zip(partners, [0.60, 0.62, 0.58, 0.61, 0.20, 0.22, 0.18, 0.21]))
    pairs = pd.DataFrame({"dataset": "x", "a": "base", "b": partners,
                          "kappa": [value[p] for p in partners], "accuracy gap": 0.0,
                          "category": ["Architecture"] * 4 + ["Dataset"] * 4})
    samples = np.tile(pairs["kappa"].to_numpy(), (300, 1))
    mvh = rm.ModelVsHuman(pd.DataFrame(), pd.DataFrame(), pairs, samples, methodologies)
    verdict = mvh.by_category("base", 0.05).verdicts().iloc[0]["verdict"]
    assert verdict == "yes; monotone"


def test_observer_outcomes_count_no_answer_by_rule(tmp_path):
    header = "subj,session,trial,rt,object_response,category,condition,imagename"
    categories = ["cat", "dog", "dog", "dog", "dog", "cat"]
    responses = {"resnet50": categories,
                 "subject-01": ["cat", "na", "dog", "cat", "dog", "cat"],
                 "subject-02": ["cat", "dog", "cat", "na", "dog", "dog"]}
    for observer, answers in responses.items():
        kind = "humans" if observer.startswith("subject") else "models"
        folder = tmp_path / "in" / kind / "edge"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"edge_{observer}_session-1.csv").write_text("\n".join(
            [header] + [f"{observer},1,{i},NaN,{r},{c},0,{i:04d}_e_x_{c}{i}.png"
                        for i, (r, c) in enumerate(zip(answers, categories))]) + "\n")
    import_predictions("model-vs-human", str(tmp_path / "in"), str(tmp_path / "out"))
    store = Store(tmp_path / "out" / "edge")
    error, drop = (rm.observer_outcomes(store, rule) for rule in ("error", "drop"))
    assert error.accuracy.tolist() == [1.0, 4 / 6, 3 / 6]  # model-vs-human: na is an error
    assert drop.accuracy.tolist() == [1.0, 4 / 5, 3 / 5]
    assert (error.correct == drop.correct).all()
    right = {o: np.array(a) == np.array(categories) for o, a in responses.items()}
    answered = (np.array(responses["subject-01"]) != "na") & (
        np.array(responses["subject-02"]) != "na")
    effect = rm.no_answer_effect(str(tmp_path / "out")).loc["edge"]
    assert (effect["no-answer trials"], effect["human trials"], effect["human pairs"]) == (2, 12, 1)
    assert effect["human accuracy (%), drop"] == pytest.approx(100 * (4 / 5 + 3 / 5) / 2)
    assert effect["kappa human-vs-human, error"] == pytest.approx(
        naive_kappa(right["subject-01"], right["subject-02"]))
    assert effect["kappa human-vs-human, drop"] == pytest.approx(
        naive_kappa(right["subject-01"][answered], right["subject-02"][answered]))
    with pytest.raises(NorepError, match="unknown no-answer rule"):
        rm.observer_outcomes(store, "skip")


def test_observer_outcomes_refuse_a_store_without_no_answer_class(tmp_path):
    store = Store.create(tmp_path / "old", dataset="model-vs-human/edge", classes=["cat", "dog"],
                         examples=pd.DataFrame({"example_id": ["a"], "label": [0],
                                                "split": ["test"]}), fingerprint="x")
    with pytest.raises(NorepError, match="import it again"):
        rm.observer_outcomes(store)


def test_condition_kappas_without_resampling_give_the_same_estimates():
    rng = np.random.default_rng(3)
    correct, valid = rng.random((3, 80)) < 0.6, rng.random((3, 80)) < 0.9
    conditions = np.repeat(["a", "b"], 40)
    pairs = [(0, 1), (0, 2), (1, 2)]
    boot, _ = rm.condition_kappas(correct, valid, conditions, pairs, 20, 0)
    alone, samples = rm.condition_kappas(correct, valid, conditions, pairs, 0, 0)
    assert alone == pytest.approx(boot) and samples.shape == (0, 3)


def test_group_kappas_with_observer_weights():
    groups = np.array(["model-vs-model"] * 3)
    kappa = np.array([0.1, 0.2, 0.6])
    samples = np.tile(kappa, (2, 1))
    weights = np.array([[1, 1, 0], [0, 0, 2]])  # sample 0 draws no third pair, sample 1 only it
    row = rm.group_kappas(kappa, samples, groups, level=1.0, weights=weights)[0]
    assert row["kappa"] == pytest.approx(0.3)
    assert (row["low"], row["high"]) == (pytest.approx(0.15), pytest.approx(0.6))


def test_model_vs_human_text_counts_sets():
    consistency = pd.DataFrame({
        "dataset": np.repeat(["s1", "s2"], 3), "group": list(rm.GROUPS) * 2,
        "kappa": [0.3, 0.5, 0.1, 0.2, 0.1, 0.15],
        "low": [0.2, 0.4, 0.0, 0.1, 0.0, 0.1], "high": [0.4, 0.6, 0.2, 0.3, 0.2, 0.2]})
    text = rm.ModelVsHuman(consistency, pd.DataFrame(), pd.DataFrame(), np.empty((0, 0)),
                           {}).text().data
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
    # Above 50% is expected even for seed pairs, and these confidences are uncalibrated.
    assert row[3].startswith("not testable on imported uncalibrated confidences")
    ranges = rm.RangeComparison(pd.DataFrame({
        "pair": ["R – S", "R – S", "R – V", "R – V"],
        "group": ["nature", "anthropogenic"] * 2, "difference": 0.0, "low": 0.0,
        "high": 0.0, "winner": ["R", "S", "V", "R"]}))
    row = rm.specialization_verdict(inx, ranges)
    assert "2 of 2 pairs specialize" in row[2] and "with R: R – S in the paper's" in row[2]
    assert row[3].startswith("yes in direction for R – S (Framework)")


@pytest.mark.parametrize("exists", [True, False])
def test_filled_store_downloads_when_the_source_folder_is_absent(tmp_path, monkeypatch, capsys, exists):
    calls = []
    monkeypatch.setattr(rm, "import_predictions", lambda kind, path, store: calls.append((kind, path, store)))
    source = tmp_path / "imagenet-x"
    if exists:
        source.mkdir()
    rm.filled_store(str(tmp_path / "store"), "imagenet-x", str(source))
    assert calls == [("imagenet-x", str(source) if exists else None, str(tmp_path / "store"))]
    assert ("downloading" in capsys.readouterr().out) is not exists
