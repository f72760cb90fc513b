"""Per-category summaries and monotone verdicts, against hand-worked examples."""

import numpy as np
import pandas as pd
import pytest

from norep.analysis.verdicts import (
    category_summary,
    category_trend,
    category_trends,
    interval_columns,
    interval_text,
    interval_texts,
    linear_fit,
    means_text,
    monotone_order,
    monotone_verdict,
)
from norep.analysis.power import detectable_difference


def test_interval_text_scales_rounds_and_signs():
    assert interval_text(0.1394, 0.1361, 0.1420, 3) == "0.139 [0.136, 0.142]"
    assert interval_text(0.912, 0.906, 0.918, scale=100) == "91.2 [90.6, 91.8]"
    assert interval_text(1.0, -0.25, 2.5, 2, sign=True) == "+1.00 [-0.25, +2.50]"


def test_category_summary_by_hand():
    # Pairs: two Reinit (0.1, 0.3), one Dataset (0.6), one Architecture left out by keep.
    categories = np.array(["Dataset", "Reinit", "Reinit", "Architecture"], dtype=object)
    values = {"x": np.array([0.6, 0.1, 0.3, 0.9])}
    samples = {"x": np.array([[0.6, 0.0, 0.2, 0.9], [0.6, 0.2, 0.4, 0.9], [0.7, 0.1, 0.3, 0.9]])}
    keep = np.array([True, True, True, False])
    table, draws = category_summary(values, samples, categories, keep, level=0.5)
    assert list(table.index) == ["Reinit", "Dataset"]  # order of divergence, kept ones only
    assert table.loc["Reinit", "x"] == 0.2 and table.loc["Dataset", "x"] == 0.6
    assert table.loc["Reinit", "x_n"] == 2 and table.loc["Dataset", "x_n"] == 1
    np.testing.assert_allclose(draws["x"]["Reinit"], [0.1, 0.3, 0.2])
    # The model-level spread: the SD (ddof = 1) of the kept pair values; undefined for one pair.
    assert np.isclose(table.loc["Reinit", "x_sd"], np.std([0.1, 0.3], ddof=1))
    assert np.isnan(table.loc["Dataset", "x_sd"])
    # Quartiles of the Reinit draws (0.1, 0.2, 0.3) at level 0.5: 0.15 and 0.25.
    assert np.isclose(table.loc["Reinit", "x_low"], 0.15) and np.isclose(table.loc["Reinit", "x_high"], 0.25)


def test_monotone_order_by_hand():
    rising = pd.Series({"Reinit": 0.1, "Architecture": 0.2, "Dataset": 0.4})
    assert monotone_order(rising) == "yes"
    broken = pd.Series({"Reinit": 0.1, "Architecture": 0.3, "Dataset": 0.2})
    assert monotone_order(broken) == "no: Dataset (0.200) < Architecture (0.300)"
    assert monotone_order(-rising, increasing=False) == "yes"  # falling is what kappa should do
    assert monotone_order(pd.Series({"Reinit": 0.5, "Dataset": np.nan})) == "cannot tell: fewer than two categories"


def test_monotone_verdict_follows_the_rule_on_the_extreme_categories():
    rising = pd.Series({"Reinit": 0.1, "Architecture": 0.2, "Dataset": 0.4})
    # Without draws there is no interval: never a yes, however monotone.
    verdict, contrast = monotone_verdict(rising)
    assert verdict == "cannot tell at this size; monotone" and contrast.estimate == pytest.approx(0.3)
    # Crossed draws above 0: yes, whatever the order in between.
    draws = {"Reinit": np.array([0.1, 0.1, 0.1]), "Architecture": np.zeros(3), "Dataset": np.array([0.3, 0.4, 0.5])}
    broken = pd.Series({"Reinit": 0.1, "Architecture": 0.5, "Dataset": 0.4})
    verdict, contrast = monotone_verdict(broken, draws, scale=100, digits=1, level=0.5)
    assert verdict == "yes; not monotone: Dataset (40.0) < Architecture (50.0)"
    assert contrast.text.startswith("Dataset − Reinit: +30.0 [+25.0, +35.0]; detectable at 80% power: unknown")
    # With model-level spreads and counts, the detectable difference and the paper's effect decide a no.
    around = {"Reinit": np.zeros(3), "Dataset": np.array([-0.1, 0.0, 0.1])}
    sds, counts = pd.Series({"Reinit": 0.02, "Dataset": 0.03}), pd.Series({"Reinit": 4, "Dataset": 5})
    means = pd.Series({"Reinit": 0.1, "Dataset": 0.1})
    detectable = detectable_difference(0.03, 5, 0.02, 4)
    verdict, contrast = monotone_verdict(means, around, sds=sds, counts=counts, paper_effect=2 * detectable)
    assert verdict == "no; monotone" and contrast.detectable == pytest.approx(detectable)
    verdict, _ = monotone_verdict(means, around, sds=sds, counts=counts, paper_effect=detectable / 2)
    assert verdict == "cannot tell at this size; monotone"
    assert monotone_verdict(pd.Series({"Reinit": 0.5})) == ("cannot tell: fewer than two categories", None)


def test_interval_columns_and_texts_by_hand():
    samples = {"x": np.array([[0.0, 1.0], [0.2, 3.0], [0.4, 5.0]])}
    table = interval_columns({"x": np.array([0.25, 2.0])}, samples, level=0.5, index=["a", "b"])
    assert list(table.columns) == ["x", "x_low", "x_high"] and list(table.index) == ["a", "b"]
    # Quartiles of (0, 0.2, 0.4) and of (1, 3, 5).
    np.testing.assert_allclose(table["x_low"], [0.1, 2.0])
    np.testing.assert_allclose(table["x_high"], [0.3, 4.0])
    assert interval_texts(table, "x", 2, scale=100) == ["25.00 [10.00, 30.00]", "200.00 [200.00, 400.00]"]


def test_means_text_and_category_trend_by_hand():
    means = pd.Series({"Reinit": 0.071, "Architecture": 0.05, "Dataset": 0.123})
    assert means_text(means, 1, scale=100) == "Reinit 7.1, Architecture 5.0, Dataset 12.3"
    assert means_text(means, 2, counts=pd.Series({"Reinit": 2, "Architecture": 1, "Dataset": 3})) == (
        "Reinit 0.07 (n=2), Architecture 0.05 (n=1), Dataset 0.12 (n=3)")
    trend = category_trend(means)
    assert trend.order == "no: Architecture (0.050) < Reinit (0.071)"
    assert trend.verdict == "cannot tell at this size; not monotone: Architecture (0.050) < Reinit (0.071)"
    assert trend.text == ("Reinit 0.071, Architecture 0.050, Dataset 0.123; Dataset − Reinit: +0.052 (no interval); "
                          "detectable at 80% power: unknown (fewer than 2 models in a category); "
                          "no paper effect to compare")
    single = category_trend(pd.Series({"Reinit": 0.3}))
    assert single.difference is None and single.text == "Reinit 0.300" and single.contrast is None


def test_category_trends_one_row_per_pairs_and_metric():
    categories = np.array(["Reinit", "Reinit", "Dataset"], dtype=object)
    values = {"up": np.array([0.1, 0.3, 0.5]), "down": np.array([0.9, 0.7, 0.2])}
    samples = {m: np.tile(v, (4, 1)) for m, v in values.items()}
    summaries = {"all": category_summary(values, samples, categories, np.ones(3, bool)),
                 "some": category_summary(values, samples, categories, np.array([True, False, True]))}
    table = category_trends(summaries, {"up": "rises", "down": "falls"}, falling=["down"],
                            scale=100, digits=0, column="ok?", paper_effects={"down": -0.5})
    assert list(table.index) == [("all", "rises"), ("all", "falls"), ("some", "rises"), ("some", "falls")]
    assert table.loc[("all", "rises"), "category means"] == "Reinit 20 (n=2), Dataset 50 (n=1)"
    assert table.loc[("some", "falls"), "category means"] == "Reinit 90 (n=1), Dataset 20 (n=1)"
    # Constant draws: intervals of width 0 away from 0 in the direction asked.
    assert (table["ok?"] == "yes; monotone").all()
    assert table.loc[("all", "falls"), "most − least divergent"] == (
        "Dataset − Reinit: -60 [-60, -60]; detectable at 80% power: unknown (fewer than 2 models in a category); "
        "paper's effect -50")
    assert table.loc[("all", "rises"), "most − least divergent"].endswith("no paper effect to compare")


def test_linear_fit_against_polyfit_and_corrcoef():
    rng = np.random.default_rng(0)
    x = rng.random(20)
    y = 0.4 * x + 0.1 * rng.normal(size=20)
    fit = linear_fit(x, y)
    slope, intercept = np.polyfit(x, y, 1)
    assert np.isclose(fit.slope, slope) and np.isclose(fit.intercept, intercept) and fit.n == 20
    assert np.isclose(fit.r, np.corrcoef(x, y)[0, 1]) and 0 < fit.p < 0.05
    assert fit.verdict() == "yes"
    assert fit.text() == f"slope {slope:.2f}, r = {fit.r:.2f} (p = {fit.p:.2g}, n = 20)"
    falling = linear_fit(x, -y)
    assert falling.verdict() == f"no: r = {falling.r:.2f}, p = {falling.p:.2g}"
    assert linear_fit([0.1, 0.2], [1.0, 2.0]) is None  # fewer than 3 points
    assert linear_fit([0.1, 0.1, 0.1], [1.0, 2.0, 3.0]) is None  # constant x
