"""Per-category summaries and monotone verdicts, against hand-worked examples."""

import numpy as np
import pandas as pd

from norep.analysis.verdicts import category_summary, interval_text, monotone_verdict


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
    # Quartiles of the Reinit draws (0.1, 0.2, 0.3) at level 0.5: 0.15 and 0.25.
    assert np.isclose(table.loc["Reinit", "x_low"], 0.15) and np.isclose(table.loc["Reinit", "x_high"], 0.25)


def test_monotone_verdict_by_hand():
    rising = pd.Series({"Reinit": 0.1, "Architecture": 0.2, "Dataset": 0.4})
    assert monotone_verdict(rising) == ("yes", "Dataset − Reinit: +0.300")
    broken = pd.Series({"Reinit": 0.1, "Architecture": 0.3, "Dataset": 0.2})
    assert monotone_verdict(broken)[0] == "no: Dataset (0.200) < Architecture (0.300)"
    # Falling is what kappa should do.
    assert monotone_verdict(-rising, increasing=False)[0] == "yes"
    assert monotone_verdict(pd.Series({"Reinit": 0.5, "Dataset": np.nan})) == (
        "cannot tell: fewer than two categories", None)
    # Scaled to points, with the difference's interval from the per-category draws.
    draws = {"Reinit": np.array([0.1, 0.1, 0.1]), "Dataset": np.array([0.3, 0.4, 0.5])}
    verdict, difference = monotone_verdict(pd.Series({"Reinit": 0.1, "Dataset": 0.4}), draws,
                                           scale=100, digits=1, level=0.5)
    assert verdict == "yes" and difference == "Dataset − Reinit: +30.0 [+25.0, +35.0]"
