"""The chapter "Specialization", its helpers and its figures.

The notebook tests execute the chapter once per module with papermill (through
``norep.book.build.run_chapter`` and the CI profile) on a small synthetic store: the six
models of ``make_synthetic_store`` (one partner of the base per divergence category),
plus a strong member, a weak differently trained member and an accuracy control, with
the metadata columns the chapter reads (``role``, ``display_name``). Numbers it prints
are checked against numpy computations from the store. The helper and plot tests are
fast unit tests against hand-made tables.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import scipy.special
from conftest import make_chapter_store
from notebook_checks import (
    assert_no_error_or_stderr,
    closing_output,
    execute_chapter,
    output_text,
    outputs,
)

from norep.analysis.bootstrap import Interval, model_weights
from norep.analysis.power import detectable_difference
from norep.analysis.specialization import CategoryTrend, class_spread
from norep.analysis.verdicts import interval_text
from norep.book import build as book
from norep.book.chapter import open_zoo
from norep.book.chapters import specialization as chapter
from norep.book.plots import specialization as plots
from norep.book.views import fit_temperatures
from norep.store import Store, read_outcomes
from norep.zoo.roster import CONTROL_LABEL

ROOT = Path(__file__).resolve().parents[1]
@pytest.fixture(scope="module")
def chapter_store(tmp_path_factory) -> Store:
    return make_chapter_store(tmp_path_factory.mktemp("store") / "store")


@pytest.fixture(scope="module")
def executed(chapter_store, tmp_path_factory):
    """The chapter executed on the chapter store."""
    output = tmp_path_factory.mktemp("chapter") / "specialization.ipynb"
    return execute_chapter("specialization", output, store=chapter_store.path, base="base", band=0.05,
                           n_bootstrap=50)


def test_parameters_cell_takes_the_profile_keys():
    parameters = book.notebook_parameters(ROOT / "book" / "chapters" / "specialization.py")
    assert {"store", "base", "band", "seed", "n_bootstrap"} <= set(parameters)
    assert parameters["device"] == "cpu"  # temperatures fitted on the CPU unless a profile says otherwise


def test_code_cells_are_short():
    source = (ROOT / "book" / "chapters" / "specialization.py").read_text()
    assert max(len(line) for line in source.splitlines()) <= 88
    cells = re.split(r"^# %%.*$", source, flags=re.M)[1:]
    code = [c for c, header in zip(cells, re.findall(r"^# %%.*$", source, flags=re.M))
            if "[markdown]" not in header]
    assert max(len(c.strip().splitlines()) for c in code) <= 15


@pytest.mark.notebooks
def test_chapter_runs_without_errors_or_stderr(executed):
    assert_no_error_or_stderr(executed)


@pytest.mark.notebooks
def test_chapter_has_its_figures(executed):
    figures = [o for o in outputs(executed) if "image/png" in o.get("data", {})]
    assert len(figures) == 5  # theta histograms, pair effects, wins by class and by superclass, kinds


@pytest.mark.notebooks
def test_chapter_ends_with_paper_vs_book(executed):
    assert "## Paper vs this book" in "".join(c.source for c in executed.cells if c.cell_type == "markdown")
    last = closing_output(executed).get("data", {}).get("text/plain", "")
    assert "reproduces?" in last
    assert re.search(r"\b(yes|no|cannot tell at this size|not testable):", last)


@pytest.mark.notebooks
def test_chapter_picks_one_pair_per_example_category(executed):
    text = output_text(executed)
    for pair in ("base vs reinit", "base vs arch", "base vs dataset"):
        assert pair in text
    assert "confident-right share" in text


@pytest.mark.notebooks
def test_printed_class_spreads_match_numpy(executed, chapter_store):
    # the class spread of each pair: std (ddof 1) over classes of the accuracy difference
    labels = chapter_store.labels("test")
    right = {m: chapter_store.logits(m, "test").argmax(axis=1) == labels for m in chapter_store.model_ids}
    text = output_text(executed)
    for m in chapter_store.model_ids[1:]:
        per_class = [right["base"][labels == c].mean() - right[m][labels == c].mean() for c in range(5)]
        assert f"{100 * np.std(per_class, ddof=1):.2f} [" in text, m


@pytest.mark.notebooks
def test_printed_confident_right_share_matches_numpy(executed, chapter_store):
    # base vs reinit with temperature-scaled confidences: the share of exactly-one-right
    # examples where theta lies on the right model's side of 45 degrees
    temperatures = fit_temperatures(chapter_store, ["base", "reinit"], "calibration")
    labels = chapter_store.labels("test")
    probs = {m: scipy.special.softmax(chapter_store.logits(m, "test").astype(float) / temperatures[m], axis=1)
             for m in ("base", "reinit")}
    right = {m: p.argmax(axis=1) == labels for m, p in probs.items()}
    one = right["base"] != right["reinit"]
    theta = np.degrees(np.arctan2(probs["reinit"].max(axis=1), probs["base"].max(axis=1)))[one]
    confident = np.where(right["base"][one], theta < 45, theta > 45)
    table = next(o["data"]["text/plain"] for o in outputs(executed)
                 if "exactly one right" in o.get("data", {}).get("text/plain", ""))
    assert re.search(rf"base vs reinit\s.*\b{one.sum()}\b", table)
    assert f"{100 * confident.mean():.1f} [" in table


# -- the chapter's helpers --------------------------------------------------------------------


@pytest.fixture(scope="module")
def zoo(chapter_store):
    return open_zoo(str(chapter_store.path), "base", 0.05)


def test_partner_table_has_every_other_model_with_its_test_accuracy(zoo, chapter_store):
    partners = chapter.partner_table(zoo)
    assert list(partners.index) == chapter_store.model_ids[1:]
    labels = chapter_store.labels("test")
    accuracy = 100 * np.mean(chapter_store.logits("strong", "test").argmax(axis=1) == labels)
    assert partners.loc["strong", "accuracy"] == pytest.approx(accuracy)
    assert partners.loc["control", "control"] and partners.loc["control", "group"] == CONTROL_LABEL
    assert partners.loc["arch", "panel"].startswith("base vs arch\nArchitecture, ")


def test_example_partners_follow_the_rule(zoo):
    angles = chapter.pair_thetas(zoo, temperature_scaling=False)
    table = zoo.roster.table
    examples = chapter.example_partners(zoo, angles)
    assert examples == {"Reinit": "reinit", "Architecture": "arch", "Dataset or Framework": "dataset"}
    # the in-band Dataset member comes first; weak-data (Dataset, out of band) is a fallback
    assert table.loc["dataset", "in_band"] and not table.loc["weak-data", "in_band"]
    assert chapter.example_partners(zoo, angles, divergent="weak-data")["Dataset or Framework"] == "weak-data"
    with pytest.raises(ValueError, match="'nobody' is not a partner of base"):
        chapter.example_partners(zoo, angles, reinit="nobody")


def numpy_class_spread(store, a, b) -> float:
    """The class spread of a pair, straight from the stored logits."""
    labels = store.labels("test")
    right = {m: np.asarray(store.logits(m, "test")).argmax(axis=1) == labels for m in (a, b)}
    per_class = [right[a][labels == c].mean() - right[b][labels == c].mean() for c in range(len(store.classes))]
    return 100 * np.std(per_class, ddof=1)


def test_recipe_seeds_and_kinds(zoo):
    assert chapter.recipe_seeds(zoo.roster) == ["base", "reinit"]
    assert chapter.model_kinds(zoo.roster) == {"Hyper-parameters": ["hyper"], "Architecture": ["arch", "strong"],
                                               "Framework": ["framework"], "Dataset": ["dataset", "weak-data"]}
    assert chapter.kind_of(zoo.roster, "weak-data") == "Dataset"


def test_kinds_versus_seeds_against_numpy_and_a_naive_crossed_loop(zoo, chapter_store):
    kinds = chapter.kinds_versus_seeds(zoo, n_bootstrap=40, seed=3)
    pairs = kinds.pairs
    assert pairs[pairs["kind"] == chapter.SEEDS][["model_a", "model_b"]].values.tolist() == [["base", "reinit"]]
    dataset = pairs[pairs["kind"] == "Dataset"]
    assert sorted(map(tuple, dataset[["model_a", "model_b"]].values)) == [
        ("base", "dataset"), ("base", "weak-data"), ("reinit", "dataset"), ("reinit", "weak-data")]
    for row in pairs.itertuples():
        assert row.value == pytest.approx(numpy_class_spread(chapter_store, row.model_a, row.model_b))
    # crossed: the recipe's two models and each kind's models redrawn, a pair weighted by both draws
    models = ["base", "reinit", "hyper", "arch", "strong", "framework", "dataset", "weak-data"]
    strata = [chapter.SEEDS] * 2 + ["Hyper-parameters", "Architecture", "Architecture", "Framework",
                                     "Dataset", "Dataset"]
    weights = model_weights(strata, 40, 3)
    index = {m: k for k, m in enumerate(models)}
    outcomes = read_outcomes(chapter_store, "test", models)
    pair_index = [(index[a], index[b]) for a, b in zip(pairs["model_a"], pairs["model_b"])]
    samples = class_spread(outcomes.correct, outcomes.labels, pair_index, 40, 3).samples
    for kind in ("Dataset", chapter.SEEDS):
        rows = np.flatnonzero(pairs["kind"] == kind)
        draws = []
        for b in range(40):
            w = np.array([weights[b, pair_index[p][0]] * weights[b, pair_index[p][1]] for p in rows], float)
            draws.append(np.nan if w.sum() == 0 else (w * samples[b, rows]).sum() / w.sum())
        np.testing.assert_allclose(kinds.means[kind].samples, draws)
    contrast = kinds.contrasts["Dataset"]
    assert contrast.estimate == pytest.approx(dataset["value"].mean() - numpy_class_spread(chapter_store, "base",
                                                                                            "reinit"))
    assert contrast.verdict in ("yes", "no", "cannot tell at this size")
    assert np.isnan(contrast.detectable)  # one seed pair: no model-level spread on that side
    table = kinds.table()
    assert list(table.index) == [chapter.SEEDS, "Hyper-parameters", "Architecture", "Framework", "Dataset"]
    assert table.loc["Dataset", "pairs"] == 4 and table.loc["Dataset", "models of the kind"] == 2


def test_rank_of_the_showcased_pair_by_hand():
    pairs = pd.DataFrame({"model_a": ["a", "a", "b", "a"], "model_b": ["b", "x", "x", "y"],
                          "kind": [chapter.SEEDS, "Dataset", "Dataset", "Dataset"], "value": [1.0, 5.0, 7.0, 6.0]})
    kinds = chapter.KindsVersusSeeds(pairs, {}, {}, {}, {})
    assert kinds.rank("a", "x") == ("its class spread, 5.00 points, is number 3 from the top of the 3 pairs of "
                                    "its kind (5.00 to 7.00)")
    assert kinds.rank("b", "x").startswith("its class spread, 7.00 points, is the largest")


def test_every_base_repeats_the_summaries_with_each_seed(zoo, chapter_store):
    angles = chapter.pair_thetas(zoo, temperature_scaling=False)
    bases = chapter.every_base(zoo, angles, n_bootstrap=30, seed=0)
    assert list(bases.shares) == list(bases.spreads) == ["base", "reinit"]
    # with reinit as the base, its one Reinit partner is the base
    reinit_mean = bases.spreads["reinit"].sets["all pairs"].means["Reinit"]
    assert float(reinit_mean.estimate) == pytest.approx(numpy_class_spread(chapter_store, "reinit", "base"))
    table = bases.table("spread")
    assert list(table.index) == ["base", "reinit", "across bases (min to max)"]
    dataset = [float(bases.spreads[b].sets["all pairs"].means["Dataset"].estimate) for b in ("base", "reinit")]
    assert table.loc["across bases (min to max)", "Dataset (all pairs)"] == f"{min(dataset):.2f} to {max(dataset):.2f}"
    assert "models of the base's recipe as the base" in bases.text("share").data


def test_missing_note_names_the_roles_without_partner():
    assert "Architecture" in chapter.missing_note({"Reinit": "r", "Architecture": None}).data
    assert chapter.missing_note({"Reinit": "r"}).data.startswith("Every example")


def make_all_wrong_store(path: Path, n_classes: int = 3) -> Store:
    """Four models wrong on every example (each with its own confidences): no pair has an
    example that exactly one of its models gets right, as random models on ImageNet."""
    rng = np.random.default_rng(0)
    labels = np.arange(18) % n_classes
    examples = pd.DataFrame({"example_id": [f"ex-{i}" for i in range(18)], "label": labels,
                             "split": ["calibration"] * 6 + ["test"] * 12})
    store = Store.create(path, dataset="all-wrong", classes=[f"c{c}" for c in range(n_classes)],
                         examples=examples, fingerprint="all-wrong")
    for model_id, architecture, data, seed in (("base", "cnn", "A", 0), ("reinit", "cnn", "A", 1),
                                               ("arch", "mlp", "A", 0), ("dataset", "cnn", "B", 0)):
        logits = rng.normal(size=(18, n_classes))
        logits[np.arange(18), (labels + 1) % n_classes] += 4  # always a wrong class
        store.add_model(model_id, {"display_name": model_id, "architecture": architecture, "objective": "ce",
                                   "training_data": data, "seed": seed, "hyperparameters": {}},
                        {"logits": logits.astype(np.float32)})
    return store


def test_a_store_without_exactly_one_right_examples_has_nothing_to_show(tmp_path, zoo):
    store = make_all_wrong_store(tmp_path / "store")
    wrong = open_zoo(str(store.path), "base", 0.05)
    angles = chapter.pair_thetas(wrong)
    assert angles.tables == {} and angles.skipped == [] and angles.agreeing == ["reinit", "arch", "dataset"]
    assert angles.temperatures.keys() == set(store.model_ids)
    note = angles.note(wrong).data
    assert note.startswith("0 pairs have confidences") and "reinit, arch, dataset" in note
    assert "Nothing to show" in note and "test accuracies 0.0% to 0.0%" in note
    examples = chapter.example_partners(wrong, angles)
    assert examples == dict.fromkeys(chapter.EXAMPLE_ROLES)
    assert all(role in chapter.missing_note(examples).data for role in chapter.EXAMPLE_ROLES)
    with pytest.raises(ValueError, match="'arch' is not a partner of base with confidences"):
        chapter.example_partners(wrong, angles, architecture="arch")
    shares = chapter.confident_right_shares(wrong, chapter.partner_table(wrong), angles, 20, 0)
    assert shares.table.empty and shares.samples.shape == (20, 0)
    # A store whose pairs disagree somewhere keeps every partner, and the note its one sentence.
    normal = chapter.pair_thetas(zoo, temperature_scaling=False)
    assert normal.agreeing == [] and "Nothing to show" not in normal.note(zoo).data


def pair_value(categories, values, samples, control=None, in_band=None, seed=0) -> chapter.PairValue:
    n = len(categories)
    control = np.zeros(n, bool) if control is None else np.asarray(control, bool)
    samples = np.asarray(samples, float)
    table = pd.DataFrame({
        "label": [f"m{k}" for k in range(n)], "category": categories,
        "role": np.where(control, "accuracy-control", "member"), "control": control,
        "counted": ~control & pd.notna(np.asarray(categories, dtype=object)),
        "in_band": np.ones(n, bool) if in_band is None else in_band, "value": values,
        "low": samples.min(axis=0), "high": samples.max(axis=0),
    })
    return chapter.PairValue(table, samples, seed)


def naive_crossed_means(samples, categories, keep, seed):
    """Per category, the mean of each sample over its kept pairs, each pair weighted by how
    often its partner is drawn when the kept partners are redrawn within their category."""
    strata = [c if k else None for c, k in zip(categories, keep)]
    weights = model_weights(strata, len(samples), seed)
    means = {}
    for c in dict.fromkeys(c for c in strata if c is not None):
        draws = []
        for b in range(len(samples)):
            total = sum(weights[b, p] for p in range(len(strata)) if strata[p] == c)
            draws.append(sum(weights[b, p] * samples[b, p] for p in range(len(strata)) if strata[p] == c) / total)
        means[c] = np.array(draws)
    return means


def test_trend_means_are_crossed_against_a_naive_loop():
    rng = np.random.default_rng(4)
    categories = ["Reinit", "Reinit", "Reinit", "Architecture", "Dataset", "Dataset", "Dataset", None]
    control = [False] * 7 + [True]
    in_band = np.array([True, True, False, True, True, False, True, True])
    values = rng.normal(5, 1, 8)
    samples = values + rng.normal(0, 0.3, (60, 8))
    trend = pair_value(categories, values, samples, control, in_band, seed=7).trend()
    for name, selected in (("all pairs", np.ones(8, bool)), ("in the band", in_band)):
        keep = selected & ~np.array(control)
        expected = naive_crossed_means(samples, categories, keep, seed=7)
        result = trend.sets[name]
        assert list(result.means) == ["Reinit", "Architecture", "Dataset"]
        for c, draws in expected.items():
            inside = keep & (np.array(categories, dtype=object) == c)
            assert float(result.means[c].estimate) == pytest.approx(values[inside].mean())
            np.testing.assert_allclose(result.means[c].samples, draws)
        np.testing.assert_allclose(result.contrast.samples, expected["Dataset"] - expected["Reinit"])
        dataset, reinit = values[keep & (np.array(categories, dtype=object) == "Dataset")], values[keep & (
            np.array(categories, dtype=object) == "Reinit")]
        assert result.detectable == pytest.approx(detectable_difference(
            np.std(dataset, ddof=1), len(dataset), np.std(reinit, ddof=1), len(reinit)))
    contrast = trend.contrast("all pairs")
    assert contrast.label == "Dataset − Reinit"
    assert trend.sentence("all pairs").startswith("all pairs (7 pairs): Spearman rho = ")
    assert trend.sentence("all pairs").endswith(contrast.text)
    assert trend.summary.loc["control: m7", "all pairs: mean"] == interval_text(
        values[7], samples[:, 7].min(), samples[:, 7].max(), 2)


def test_trend_summary_lists_the_other_roles_apart():
    samples = np.array([[1.0, 3.0, 6.0, 9.0], [2.0, 4.0, 7.0, 8.0], [0.0, 2.0, 5.0, 10.0]])
    values = pair_value(["Reinit", "Reinit", "Dataset", "Dataset"], [1.0, 3.0, 6.0, 9.0], samples,
                        in_band=[True, True, False, True])
    values.table.loc[3, ["role", "counted"]] = ["data-only", False]
    summary = values.trend().summary
    assert list(summary.index) == ["Reinit", "Dataset", "data-only: m3"]
    assert summary.loc["Dataset", "all pairs: pairs"] == "1" and summary.loc["Dataset", "in the band: mean"] == "-"
    assert summary.loc["data-only: m3", "all pairs: mean"] == "9.00 [8.00, 10.00]"


@pytest.mark.parametrize("band, every, expected", [
    ((0.5, 2.0), (0.5, 2.0), "yes: read at matched accuracy"),
    (None, (0.5, 2.0), "yes: read over all pairs (no matched comparison possible)"),
    ((-0.5, 2.0), (0.5, 2.0), "cannot tell at this size: read at matched accuracy"),
    ((-2.0, -0.5), (0.5, 2.0), "no: read at matched accuracy"),
    (None, None, "not testable:")])
def test_trend_verdicts_follow_the_one_rule(band, every, expected):
    def trend(ends):
        contrast = None if ends is None else Interval(np.asarray(1.0), *ends, np.linspace(*ends, 101))
        return CategoryTrend({}, {}, 2, 0.5, ["Dataset"], contrast, 0.8)
    verdict = chapter.Trend(pd.DataFrame(), {"all pairs": trend(every), "in the band": trend(band)}).verdict()
    assert verdict.startswith(expected)
    assert verdict.endswith("detectable at 80% power: ±0.80") or expected == "not testable:"


def test_effects_order_groups_categories_then_controls_strongest_first():
    table = pd.DataFrame({"label": list("abcde"), "category": ["Dataset", "Reinit", None, "Reinit", None],
                          "control": [False, False, True, False, False], "accuracy": [80.0, 70.0, 60.0, 75.0, 90.0]})
    order = chapter.effects_order(chapter.PairValue(table, np.zeros((1, 5))))
    assert order["label"].tolist() == ["d (75.0%)", "b (70.0%)", "a (80.0%)", "c (60.0%)", "e (90.0%)"]


WINS = pd.DataFrame({
    "partner": ["p"] * 5 + ["q"] * 3, "part": ["class"] * 3 + ["superclass"] * 2 + ["class"] * 3,
    "winner": ["a", "b", "b", "neither", "a", "neither", "neither", "neither"],
})


def test_win_counts_by_hand():
    assert chapter.win_counts(WINS, "p") == {"class": (1, 2), "superclass": (1, 0)}
    assert chapter.win_counts(WINS, "q") == {"class": (0, 0), "superclass": (0, 0)}


def test_specialization_table_orders_controls_last():
    partners = pd.DataFrame({"label": ["P", "Q"], "group": [CONTROL_LABEL, "Reinit"], "category": [None, "Reinit"],
                             "control": [True, False], "counted": [False, True], "in_band": [True, False],
                             "accuracy": [81.26, 90.0]},
                            index=["p", "q"])
    spreads = chapter.PairValue(partners.assign(value=[1.234, 5.0], low=[1.0, 4.0], high=[1.5, 6.0]), np.zeros((1, 2)))
    table = chapter.specialization_table(partners, WINS, spreads)
    assert table.index.tolist() == ["Q", "P"]
    assert table.loc["P", ["test accuracy (%)", "class: base wins", "class: partner wins",
                           "superclass: base wins"]].tolist() == [81.3, 1, 2, 1]
    assert table.loc["P", "class spread (points; interval over examples)"] == "1.23 [1.00, 1.50]"


# -- the figure functions ---------------------------------------------------------------------


def _angles(rng, panels):
    rows = []
    for panel, group in panels:
        a_right = rng.random(60) < 0.5
        rows.append(pd.DataFrame({"panel": panel, "group": group, "theta": rng.uniform(0, 90, 60),
                                  "a_right": a_right, "name_a": "base", "name_b": panel}))
    return pd.concat(rows)


def test_theta_histograms_one_panel_per_pair():
    angles = _angles(np.random.default_rng(0), [("r", "Reinit"), ("d", "Dataset")])
    figure = plots.theta_histograms(angles)
    axes = [ax for ax in figure.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["r", "d"]
    assert axes[0].get_xlim() == (0, 90)
    n_base = int(angles[angles["panel"] == "r"]["a_right"].sum())
    labels = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert labels == [f"only base right ({n_base})", f"only r right ({60 - n_base})"]
    plt.close(figure)


def test_pair_effects_marks_out_of_band_and_controls():
    table = pd.DataFrame({"label": ["a", "b", "c"], "group": ["Reinit", "Dataset", CONTROL_LABEL],
                          "value": [55.0, 70.0, 52.0], "low": [50.0, 65.0, 47.0], "high": [60.0, 75.0, 57.0],
                          "in_band": [True, False, True]})
    figure = plots.pair_effects(table, "share (%)", reference=50)
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert {"Reinit", "Dataset", CONTROL_LABEL, "out of band"} <= set(labels)
    ax = figure.axes[0]
    by_height = dict(zip(ax.get_yticks(), (tick.get_text() for tick in ax.get_yticklabels())))
    assert [by_height[y] for y in sorted(by_height, reverse=True)] == ["a", "b", "c"]  # first row on top
    plt.close(figure)


@pytest.mark.parametrize("n_subdomains, stacked", [(10, False), (200, True)])
def test_subdomain_wins_layout(n_subdomains, stacked):
    rng = np.random.default_rng(0)
    difference = rng.normal(size=2 * n_subdomains)
    table = pd.DataFrame({
        "panel": np.repeat(["p1", "p2"], n_subdomains), "group": np.repeat(["Reinit", "Dataset"], n_subdomains),
        "subdomain": np.tile(np.arange(n_subdomains), 2), "difference": difference,
        "low": difference - 1, "high": difference + 1,
        "winner": np.select([difference > 1, difference < -1], ["a", "b"], "neither"),
    })
    figure = plots.subdomain_wins(table)
    axes = figure.axes
    assert len(axes) == 2
    figure.canvas.draw()
    first, second = axes[0].get_position(), axes[1].get_position()
    assert (first.y0 > second.y0) if stacked else (first.x0 < second.x0)
    plt.close(figure)
