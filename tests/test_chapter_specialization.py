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
    execute_chapter,
    output_text,
    outputs,
)

from norep.analysis.bootstrap import Interval
from norep.analysis.specialization import CategoryTrend
from norep.book import build as book
from norep.book.chapter import open_zoo
from norep.book.chapters import specialization as chapter
from norep.book.plots import specialization as plots
from norep.book.views import fit_temperatures
from norep.store import Store
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
    assert "device" not in parameters


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
    assert len(figures) == 4  # theta histograms, pair effects, wins by class and by superclass


@pytest.mark.notebooks
def test_chapter_ends_with_paper_vs_book(executed):
    assert "## Paper vs this book" in "".join(c.source for c in executed.cells if c.cell_type == "markdown")
    last = outputs(executed)[-1].get("data", {}).get("text/plain", "")
    assert "reproduces?" in last
    assert re.search(r"\b(yes|no|partly|not testable):", last)


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


def test_missing_note_names_the_roles_without_partner():
    assert "Architecture" in chapter.missing_note({"Reinit": "r", "Architecture": None}).data
    assert chapter.missing_note({"Reinit": "r"}).data.startswith("Every example")


def pair_value(categories, values, samples, control=None, in_band=None) -> chapter.PairValue:
    n = len(categories)
    table = pd.DataFrame({
        "label": [f"m{k}" for k in range(n)], "category": categories,
        "control": np.zeros(n, bool) if control is None else control,
        "in_band": np.ones(n, bool) if in_band is None else in_band, "value": values,
    })
    return chapter.PairValue(table, np.asarray(samples, float))


def test_trend_summary_and_sentences_by_hand():
    # Reinit pairs 1 and 3 (mean 2), Dataset 6 (out of band), a control at 9
    samples = np.array([[1.0, 3.0, 6.0, 9.0], [2.0, 4.0, 7.0, 8.0], [0.0, 2.0, 5.0, 10.0]])
    values = pair_value(["Reinit", "Reinit", "Dataset", None], [1.0, 3.0, 6.0, 9.0], samples,
                        control=[False, False, False, True], in_band=[True, True, False, True])
    trend = values.trend()
    summary = trend.summary
    assert list(summary.index) == ["Reinit", "Dataset", "control: m3"]
    assert summary.loc["Reinit", "all pairs: pairs"] == "2"
    assert summary.loc["Reinit", "all pairs: mean"] == "2.00 [1.05, 2.95]"  # draws 2, 3, 1
    assert summary.loc["Dataset", "in the band: mean"] == "-"
    assert summary.loc["control: m3", "all pairs: mean"] == "9.00 [8.05, 9.95]"
    assert trend.sentence("all pairs") == ("all pairs (3 pairs): Spearman rho = 0.87; Dataset minus "
                                           "Reinit = 4.00 [4.00, 4.00] points")
    assert trend.sentence("in the band") == "in the band: no Reinit pair and a more divergent one to compare"
    assert trend.verdict("x is") == ("partly: x is higher than Reinit over all pairs, but not at matched "
                                     "accuracy (no matched comparison possible)")


@pytest.mark.parametrize("band_low, all_low, expected", [
    (0.5, 0.5, "yes"), (-0.5, 0.5, "partly"), (-0.5, -0.5, "no"), (None, None, "not testable")])
def test_trend_verdicts(band_low, all_low, expected):
    def trend(low):
        contrast = None if low is None else Interval(np.asarray(1.0), low, 2.0, np.zeros(3))
        return CategoryTrend({}, {}, 2, 0.5, ["Dataset"], contrast)
    verdict = chapter.Trend(pd.DataFrame(), {"all pairs": trend(all_low), "in the band": trend(band_low)})
    assert verdict.verdict("it is").startswith(expected + ":")


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
                             "control": [True, False], "in_band": [True, False], "accuracy": [81.26, 90.0]},
                            index=["p", "q"])
    spreads = chapter.PairValue(partners.assign(value=[1.234, 5.0], low=[1.0, 4.0], high=[1.5, 6.0]), np.zeros((1, 2)))
    table = chapter.specialization_table(partners, WINS, spreads)
    assert table.index.tolist() == ["Q", "P"]
    assert table.loc["P", ["test accuracy (%)", "class: base wins", "class: partner wins",
                           "superclass: base wins"]].tolist() == [81.3, 1, 2, 1]
    assert table.loc["P", "class spread (points)"] == "1.23 [1.00, 1.50]"


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
