"""The chapter "Low-accuracy models help", its helpers and its figures.

The notebook tests execute the chapter once per module with papermill (through
``norep.book.build.run_chapter`` and the CI profile) on a small synthetic store: the six
models of ``make_synthetic_store`` (one partner of the base per divergence category),
plus a strong anchor, a weak differently trained model and an accuracy control, with
the metadata columns the chapter reads (``role``, ``display_name``). The helpers of
``norep.book.chapters.low_accuracy`` are checked against naive numpy computations, and
the figure functions of ``norep.book.plots.greedy`` as fast unit tests.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from conftest import make_chapter_store, make_synthetic_store
from notebook_checks import (
    assert_no_error_or_stderr,
    closing_output,
    execute_chapter,
    output_text,
    outputs,
)

from norep.analysis.calibration import fit_temperature
from norep.book import build as book
from norep.book.chapter import open_zoo
from norep.book.chapters import low_accuracy as la
from norep.book.plots import greedy as plots_greedy
from norep.store import Store
from norep.zoo import Methodology
from norep.zoo.roster import BASE_LABEL, CONTROL_LABEL

ROOT = Path(__file__).resolve().parents[1]
BAND = 0.05
def softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax of logits / T in float64 (the test's own)."""
    z = logits.astype(np.float64) / temperature
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def naive_ensemble_accuracy(store, ids: list[str]) -> float:
    """Test accuracy of the temperature-scaled probability average, computed here."""
    calibration, test = store.labels("calibration"), store.labels("test")
    total = 0
    for m in ids:
        temperature = fit_temperature(store.logits(m, "calibration"), calibration)
        total = total + softmax(store.logits(m, "test"), temperature)
    return float(np.mean(total.argmax(axis=1) == test))


def accuracy_of(store, model_id: str, split: str = "test") -> float:
    """A model's accuracy from its stored logits."""
    return float(np.mean(store.logits(model_id, split).argmax(axis=1) == store.labels(split)))



@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """The chapter's synthetic store."""
    return make_chapter_store(tmp_path_factory.mktemp("store") / "store")


@pytest.fixture(scope="module")
def lz(store):
    """The chapter's view of the synthetic store, base ``base``, band 5 points."""
    return la.low_accuracy_zoo(open_zoo(str(store.path), "base", BAND))


@pytest.fixture(scope="module")
def executed(store, tmp_path_factory):
    """The chapter executed on the synthetic store."""
    output = tmp_path_factory.mktemp("chapter") / "low_accuracy.ipynb"
    return execute_chapter("low_accuracy", output, store=store.path, base="base", band=BAND, n_bootstrap=50)


# -- the executed chapter --------------------------------------------------------------------


def test_parameters_cell_takes_the_profile_keys():
    parameters = book.notebook_parameters(ROOT / "book" / "chapters" / "low_accuracy.py")
    assert {"store", "base", "band", "seed", "n_bootstrap"} <= set(parameters)
    assert parameters["device"] == "cpu"  # temperatures fitted on the CPU unless a profile says otherwise


@pytest.mark.notebooks
def test_chapter_runs_without_errors_or_stderr(executed):
    assert_no_error_or_stderr(executed)


@pytest.mark.notebooks
def test_chapter_has_its_figures(executed):
    figures = [o for o in outputs(executed) if "image/png" in o.get("data", {})]
    assert len(figures) >= 3


@pytest.mark.notebooks
def test_chapter_ends_with_paper_vs_book(executed):
    assert "## Paper vs this book" in "".join(cell.source for cell in executed.cells
                                              if cell.cell_type == "markdown")
    last = closing_output(executed).get("data", {}).get("text/plain", "")
    assert "reproduces?" in last
    assert "a much weaker, differently trained model still helps" in last


@pytest.mark.notebooks
def test_chapter_states_the_greedy_rule_and_shows_every_anchor(executed, store):
    source = " ".join(" ".join(cell.source.split()) for cell in executed.cells).replace("**", "")
    assert "without replacement" in source and "stops at `max_size` members" in source
    assert "Against the anchor's own recipe" in source
    lz = la.low_accuracy_zoo(open_zoo(str(store.path), "base", BAND))
    anchors = la.greedy_plan(lz, n_anchors=3, cap=None).anchors
    assert len(anchors) > 1
    text = output_text(executed)
    for anchor in anchors:  # a verdict row per anchor, chosen on calibration accuracy
        assert f"beats the anchor (Fig 5), anchor {anchor}" in text
    assert "random first additions would give" in text


@pytest.mark.notebooks
def test_chapter_uses_the_strong_anchor_and_the_control(executed):
    text = output_text(executed)
    # the strongest anchor is "strong"; the weak partner is the weakest Dataset or Framework
    # member, its reference the accuracy control
    assert "strong" in text
    assert "base + weak-data" in text and "base + control" in text
    assert "accuracy control" in text


@pytest.mark.notebooks
def test_chapter_prints_the_weak_ensemble_as_computed_from_the_store(executed, store):
    text = output_text(executed)
    base_alone = re.search(r"base alone: ([\d.]+)%", text)
    assert float(base_alone.group(1)) == pytest.approx(100 * accuracy_of(store, "base"), abs=0.051)
    # the HTML table's row: name, category, partner's accuracy, ensemble accuracy, gain
    row = re.search(r"<th>base \+ weak-data</th>\s*<td>[^<]*</td>\s*<td>([\d.]+) \(([-+\d.]+) vs the base\)"
                    r"</td>\s*<td>([\d.]+)</td>", text)
    weak, base = accuracy_of(store, "weak-data"), accuracy_of(store, "base")
    assert float(row.group(1)) == pytest.approx(100 * weak, abs=0.051)
    assert float(row.group(2)) == pytest.approx(100 * (weak - base), abs=0.051)
    ensemble = naive_ensemble_accuracy(store, ["base", "weak-data"])
    assert float(row.group(3)) == pytest.approx(100 * ensemble, abs=0.051)


# -- the helpers ----------------------------------------------------------------------------


def test_paired_intervals_match_a_loop_over_resamples():
    rng = np.random.default_rng(3)
    values = rng.integers(-1, 2, size=(40, 3)).astype(float)
    interval = la.paired_intervals(values, n_bootstrap=30, seed=7, level=0.9)
    draws = np.random.default_rng(7).integers(0, 40, size=(30, 40))  # one chunk of resamples
    means = np.array([values[rows].mean(axis=0) for rows in draws])
    assert np.allclose(interval.estimate, values.mean(axis=0))
    assert np.allclose(interval.low, np.quantile(means, 0.05, axis=0))
    assert np.allclose(interval.high, np.quantile(means, 0.95, axis=0))


def test_differing_fields_skips_unknown_fields():
    a = Methodology("cnn", "cross-entropy", "A", 0, {"lr": 0.1})
    b = Methodology("vit", "simclr", "A", None, {"lr": 0.2})
    assert la.differing_fields(a, b) == ["loss", "architecture", "hyper-parameters"]
    assert la.differing_fields(a, a) == []


def test_gain_verdict_reads_the_interval():
    assert la.gain_verdict(0.1, 0.4).startswith("yes")
    assert la.gain_verdict(0.0, 0.4) == ("cannot tell at this size: the gain's interval includes 0; "
                                         "detectable at 80% power: ±0.29")
    assert la.gain_verdict(-0.4, -0.1).startswith("no: the ensemble is worse (interval below 0); detectable")
    assert la.baseline_verdict(0.1, 0.4).startswith("yes")
    assert la.baseline_verdict(-0.1, 0.4).startswith("cannot tell at this size")
    assert la.baseline_verdict(-0.4, -0.1).startswith("no: the anchor's own recipe")


@pytest.mark.parametrize("low, high, stronger, expected", [
    (0.1, 0.5, 0.5, "yes: the differently trained"),        # matched accuracy, above 0
    (-0.5, -0.1, -0.5, "no: the same-recipe reference"),   # matched accuracy, below 0
    (-0.1, 0.5, 0.0, "cannot tell at this size"),           # matched, includes 0
    (0.1, 0.5, -3.0, "yes, even against a stronger"),       # reference stronger, still above 0
    (-0.5, -0.1, 3.0, "no, even against a weaker"),         # reference weaker, still below 0
    (0.1, 0.5, 3.0, "not testable: the nearest same-recipe model is 3.0 points weaker"),
])
def test_reference_verdict_compares_only_where_the_mismatch_allows(low, high, stronger, expected):
    assert la.reference_verdict(low, high, stronger, band=0.01).startswith(expected)


def test_low_accuracy_zoo_reads_accuracies_and_roles(lz, store):
    assert lz.with_logits == store.model_ids
    assert lz.controls == ["control"] and "control" not in lz.members and "base" in lz.members
    for m in ("base", "strong", "weak-data"):
        assert lz.accuracy.loc[m, "test"] == pytest.approx(accuracy_of(store, m))
        assert lz.accuracy.loc[m, "calibration"] == pytest.approx(accuracy_of(store, m, "calibration"))


def test_low_accuracy_zoo_needs_a_calibration_split(tmp_path):
    store = make_synthetic_store(tmp_path / "store", n_calibration=0)
    with pytest.raises(ValueError, match="no calibration split"):
        la.low_accuracy_zoo(open_zoo(str(store.path), "base", BAND))


def test_greedy_plan_anchors_by_calibration_accuracy_and_candidates_below(lz):
    plan = la.greedy_plan(lz, n_anchors=3, cap=None)
    calibration = lz.accuracy["calibration"]
    assert plan.cap == pytest.approx(calibration["base"] + BAND)
    strongest = sorted(lz.members, key=lambda m: -calibration[m])
    assert plan.anchors == strongest[:3] and plan.anchors[0] == "strong"
    above = sum(calibration[m] > plan.cap for m in plan.anchors)
    assert plan.above == above and 0 < above < 3
    assert f"{above} of the 3 anchors are above the cap" in plan.note().data
    naive = [m for m in lz.members if m != "strong" and calibration[m] <= plan.cap]
    assert plan.candidates("strong", "under the cap") == naive
    in_band = [m for m in naive if abs(calibration[m] - calibration["base"]) <= BAND]
    assert plan.candidates("strong", "in the band") == in_band
    assert plan.candidates("strong", la.SAME_RECIPE) == []  # no other seed of the ViT recipe
    # the base's own recipe: the members that differ from it only in the seed
    assert plan.candidates("base", la.SAME_RECIPE) == [m for m in plan.candidates("base", "under the cap")
                                                       if m == "reinit"]
    assert list(plan.table().columns) == ["calibration accuracy (%)", "test accuracy (%)",
                                          "candidates under the cap", "candidates in the band",
                                          f"candidates {la.SAME_RECIPE}"]


def test_greedy_plan_falls_back_to_the_strongest_members(lz):
    plan = la.greedy_plan(lz, n_anchors=2, cap=0.99)
    calibration = lz.accuracy["calibration"]
    assert not plan.above and plan.cap_given
    assert plan.anchors == sorted(lz.members, key=lambda m: -calibration[m])[:2]
    assert "No member is above the cap" in plan.note().data


def test_greedy_runs_gains_agree_with_the_reported_accuracies(lz):
    plan = la.greedy_plan(lz, n_anchors=1, cap=None)
    runs = la.greedy_runs(plan, max_size=3, n_bootstrap=40, seed=0)
    anchor = 100 * lz.accuracy.loc["strong", "test"]
    # the gain (from the chapter's ensemble) equals the greedy report minus the anchor
    assert np.allclose(runs["gain"], runs["ensemble_accuracy"] - anchor)
    assert (runs["gain_low"] <= runs["gain"]).all() and (runs["gain"] <= runs["gain_high"]).all()
    assert list(runs.groupby("pool", sort=False)["size"].max()) == [3, 3]  # no run of the ViT's own recipe
    assert runs.loc[runs["size"] == 1, "group"].eq(BASE_LABEL).all()
    assert list(runs.columns) == la.RUN_COLUMNS
    second = runs.iloc[1]
    assert second["ensemble_accuracy"] == pytest.approx(
        100 * naive_ensemble_accuracy(lz.zoo.store, ["strong", second["model"]]))


def make_equal_accuracy_store(path: Path, n: int = 12) -> Store:
    """Four members right on half of each split, each on its own half: none weaker than another."""
    rng = np.random.default_rng(0)
    labels = np.arange(2 * n) % 3
    examples = pd.DataFrame({"example_id": [f"ex-{i}" for i in range(2 * n)], "label": labels,
                             "split": ["calibration"] * n + ["test"] * n})
    store = Store.create(path, dataset="equal", classes=["a", "b", "c"], examples=examples, fingerprint="equal")
    for k, (model_id, architecture, data, seed) in enumerate((("base", "cnn", "A", 0), ("reinit", "cnn", "A", 1),
                                                              ("arch", "mlp", "A", 0), ("dataset", "cnn", "B", 0))):
        right = (np.arange(2 * n) + k) % 4 < 2
        logits = rng.normal(size=(2 * n, 3))
        logits[np.arange(2 * n), np.where(right, labels, (labels + 1) % 3)] += 4
        store.add_model(model_id, {"display_name": model_id, "architecture": architecture, "objective": "ce",
                                   "training_data": data, "seed": seed, "hyperparameters": {}},
                        {"logits": logits.astype(np.float32)})
    return store


def test_equally_accurate_members_give_no_greedy_run_and_say_so(tmp_path):
    store = make_equal_accuracy_store(tmp_path / "store")
    lz = la.low_accuracy_zoo(open_zoo(str(store.path), "base", BAND))
    assert lz.accuracy.to_numpy().tolist() == [[0.5, 0.5]] * 4
    plan = la.greedy_plan(lz, n_anchors=3, cap=None)
    assert all(not plan.candidates(a, pool) for a in plan.anchors for pool in plan.pools)
    runs = la.greedy_runs(plan, max_size=3, n_bootstrap=20, seed=0)
    assert runs.empty and list(runs.columns) == la.RUN_COLUMNS
    note = plan.no_runs().data
    assert note.startswith("Nothing to show: none of the 3 anchors") and "from 50.0% to 50.0%" in note
    assert f"under the cap ({100 * (0.5 + BAND):.1f}%)" in note
    baseline, first = la.same_recipe_comparison(plan, runs, 20, 0), la.first_additions(plan, runs, 20, 0)
    assert baseline.empty and first.empty and "No greedy run" in la.first_additions_view(first).data
    weak = la.weak_partner_comparison(lz, None, None, 20, 0)
    rows = la.low_accuracy_verdicts(plan, runs, first, baseline, weak)
    assert [row[0].split(" (")[0] for row in rows] == ["a much weaker, differently trained model still helps",
                                                       "... more than an equally weak model trained like the base"]
    assert "No model is less accurate than the base" in la.first_partner(lz).data


def test_first_additions_base_rate_counts_loss_or_data(lz):
    plan = la.greedy_plan(lz, n_anchors=1, cap=None)
    first = la.first_additions(plan, la.greedy_runs(plan, max_size=2, n_bootstrap=20, seed=0), 50, 0)
    methodology = lz.zoo.roster.methodologies
    candidates = plan.candidates("strong", "under the cap")
    differ = [m for m in candidates if methodology[m].objective != methodology["strong"].objective
              or methodology[m].training_data != methodology["strong"].training_data]
    row = first[first["candidates"] == "under the cap"].iloc[0]
    assert row["base rate: candidates differing in loss or data"].startswith(f"{len(differ)} of {len(candidates)}: ")
    assert row["_base rate"] == pytest.approx(len(differ) / len(candidates))
    assert la.first_additions_view(first).index.names == ["candidates", "anchor"]
    assert "No greedy run" in la.first_additions_view(first.iloc[:0]).data


def test_base_rate_redraws_the_candidates():
    differs = [True] * 6 + [False] * 2
    share = la.base_rate(differs, 2000, seed=0)
    assert float(share.estimate) == 0.75
    # a share of 8 candidates redrawn: the binomial's spread, sqrt(0.75 * 0.25 / 8) = 0.153
    assert np.std(share.samples) == pytest.approx(np.sqrt(0.75 * 0.25 / 8), rel=0.1)
    assert share.low < 0.75 < share.high
    assert la.base_rate([True] * 5, 100, 0).low == 1.0


def test_chance_of_at_least_matches_a_simulation():
    probabilities = [0.9, 0.6, 0.75]
    draws = np.random.default_rng(0).random((200_000, 3)) < probabilities
    for hits in range(4):
        assert la.chance_of_at_least(probabilities, hits) == pytest.approx((draws.sum(axis=1) >= hits).mean(),
                                                                           abs=0.005)


@pytest.mark.parametrize("hits, rates, expected", [
    ([True, True], [0.9, 0.9], "cannot tell at this size"),  # 0.81 by chance
    ([True, True, True], [0.2, 0.3, 0.1], "yes"),             # 0.006 by chance
    ([True, False], [0.2, 0.3], "no"),
])
def test_first_addition_verdict_weighs_hits_against_base_rates(hits, rates, expected):
    first = pd.DataFrame({"anchor": "a", "first addition": "b", "differs in": "loss",
                          "base rate: candidates differing in loss or data": "1 of 2", "loss or data": hits,
                          "_base rate": rates})
    text, verdict = la.first_addition_verdict(first)
    assert verdict.startswith(expected)
    assert f"with probability {la.chance_of_at_least(rates, sum(hits)):.2f}" in text


def test_same_recipe_comparison_against_naive_ensembles(store):
    lz = la.low_accuracy_zoo(open_zoo(str(store.path), "base", 0.5))  # a wide band: every member a candidate
    plan = la.greedy_plan(lz, n_anchors=1, cap=0.99)  # no member above: the strongest is the anchor
    anchor = plan.anchors[0]
    assert anchor == "strong" and plan.candidates(anchor, la.SAME_RECIPE) == []
    assert la.same_recipe_comparison(plan, la.greedy_runs(plan, 3, 20, 0), 20, 0).empty
    assert "no same-recipe baseline" in la.same_recipe_view(plan, pd.DataFrame()).data
    # the stronger of the two seeds of the base's recipe as the anchor: its own recipe is the other seed
    anchor, other = sorted(["base", "reinit"], key=lambda m: -lz.accuracy.loc[m, "calibration"])
    plan = la.GreedyPlan(lz, plan.cap, True, [anchor], False, plan.pools)
    runs = la.greedy_runs(plan, 3, 30, 0)
    table = la.same_recipe_comparison(plan, runs, 30, 0)
    own = runs[runs["pool"] == la.SAME_RECIPE]
    assert list(own["model"]) == [anchor, other]
    row = table.iloc[0]
    full = runs[runs["pool"] == "under the cap"]
    alone = lz.accuracy.loc[anchor, "test"]
    assert row["gain"] == pytest.approx(100 * (naive_ensemble_accuracy(store, list(full["model"])) - alone))
    assert row["own_gain"] == pytest.approx(100 * (naive_ensemble_accuracy(store, [anchor, other]) - alone))
    assert row["difference"] == pytest.approx(row["gain"] - row["own_gain"])
    assert row["difference_low"] <= row["difference"] <= row["difference_high"]
    assert la.same_recipe_view(plan, table).loc[anchor, "verdict"] == la.baseline_verdict(
        row["difference_low"], row["difference_high"])


def test_pair_gains_match_naive_ensembles(lz):
    table = la.base_partner_gains(lz, n_bootstrap=30, seed=0)
    assert list(table["partner"]) == [m for m in lz.with_logits if m != "base"]
    for row in table.itertuples():
        expected = naive_ensemble_accuracy(lz.zoo.store, ["base", row.partner]) - lz.accuracy.loc["base", "test"]
        assert row.gain == pytest.approx(100 * expected)
        assert row.low <= row.gain <= row.high
    assert table.set_index("partner").loc["control", "group"] == CONTROL_LABEL


def test_partner_gains_pair_each_anchor_with_every_weaker_model_under_the_cap(lz):
    plan = la.greedy_plan(lz, n_anchors=2, cap=None)
    calibration = lz.accuracy["calibration"]
    naive = [(a, m) for a in plan.anchors for m in lz.with_logits  # controls included
             if m != a and calibration[m] <= plan.cap and calibration[m] < calibration[a]]
    table = la.partner_gains(plan, n_bootstrap=20, seed=0)
    assert list(zip(table["anchor"], table["partner"])) == naive
    assert "control" in set(table["partner"])
    assert list(table["in band"]) == [abs(calibration[m] - calibration["base"]) <= BAND
                                      for m in table["partner"]]


def test_weak_partner_without_models_says_why_it_skips(lz):
    [note] = la.WeakPartner(lz, None, None, None).outputs(BAND)
    assert note.data.startswith("This store lacks a Dataset, Framework or Architecture member")
    [note] = la.WeakPartner(lz, "weak-data", None, None).outputs(BAND)
    assert "a same-recipe reference model" in note.data


def test_gain_summary_averages_per_category():
    pairs = pd.DataFrame({"group": ["Dataset", "Reinit", "Dataset", CONTROL_LABEL],
                          "gain": [1.0, 0.5, 2.0, -1.0], "in band": [True, True, False, False]})
    summary = la.gain_summary(pairs)
    assert list(summary.index) == ["Reinit", "Dataset", CONTROL_LABEL]
    assert list(summary["all partners", "pairs"]) == [1, 2, 1]
    assert list(summary["all partners", "mean gain (points)"]) == ["+0.50", "+1.50", "-1.00"]
    assert list(summary["partners in the band", "mean gain (points)"]) == ["+0.50", "+1.00", "-"]


def test_weak_partner_and_its_reference_by_the_rule(lz):
    assert la.weakest_divergent(lz) == "weak-data"
    assert la.same_recipe_reference(lz, "weak-data") == "control"
    weak = la.weak_partner_comparison(lz, None, None, n_bootstrap=30, seed=0)
    c = weak.comparison
    assert c.loc["gain, weak", "estimate"] == pytest.approx(
        c.loc["base + weak", "estimate"] - c.loc["base", "estimate"])
    assert c.loc["weak minus reference", "estimate"] == pytest.approx(
        c.loc["gain, weak", "estimate"] - c.loc["gain, reference", "estimate"])
    assert weak.reference_kind == "accuracy control"
    assert [claim for claim, *_ in la.weak_partner_verdicts(weak, BAND)][0].startswith("a much weaker")


def test_weak_partner_comparison_checks_given_models(lz):
    with pytest.raises(ValueError, match="'nope' is not a model with logits"):
        la.weak_partner_comparison(lz, "nope", None, n_bootstrap=10, seed=0)
    given = la.weak_partner_comparison(lz, "framework", "reinit", n_bootstrap=10, seed=0)
    assert (given.weak, given.reference, given.reference_kind) == ("framework", "reinit",
                                                                   "same-recipe stand-in")


# -- the figure functions ----------------------------------------------------------------------


def test_greedy_curves_one_panel_per_run():
    steps = pd.DataFrame({"panel": ["A"] * 3 + ["B"] * 2, "size": [1, 2, 3, 1, 2],
                          "name": ["A", "x", "y", "B", "z"],
                          "group": [BASE_LABEL, "Dataset", "Architecture", BASE_LABEL, "Reinit"],
                          "member_accuracy": [90, 85, 84, 89, 86], "ensemble_accuracy": [90, 91, 91.5, 89, 89.5],
                          "low": [90, 90.5, 91, 89, 89], "high": [90, 91.5, 92, 89, 90]})
    figure = plots_greedy.greedy_curves(steps, cap=87, ncols=1)
    visible = [ax for ax in figure.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["A", "B"]
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert "anchor" in labels and "added: Dataset" in labels
    plt.close(figure)


@pytest.mark.parametrize("max_labels, written", [(None, ["x", "c"]), (3, ["x", "c"]), (2, []), (0, [])])
def test_ensemble_gains_panels_and_labels(max_labels, written):
    gains = pd.DataFrame({"panel": ["A", "A", "B"], "accuracy": [80.0, 85.0, 82.0], "gain": [0.5, -0.2, 1.0],
                          "low": [0.1, -0.5, 0.4], "high": [0.9, 0.1, 1.6],
                          "group": ["Dataset", CONTROL_LABEL, "Reinit"], "label": ["x", "c", "z"]})
    figure = plots_greedy.ensemble_gains(gains, max_labels=max_labels)
    assert [ax.get_title() for ax in figure.axes] == ["A", "B"]
    assert [t.get_text() for t in figure.axes[0].texts] == written
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert legend == ["Reinit", "Dataset", CONTROL_LABEL]
    plt.close(figure)
