"""The detectable difference against a simulation, and every branch of the one verdict rule."""

import numpy as np
import pytest
from scipy.stats import norm

from norep.analysis.power import POWER, detectable_difference
from norep.analysis.verdicts import CANNOT_TELL, NO, YES, Contrast, contrast_verdict


def rejection_rate(difference, sd_a, n_a, sd_b, n_b, level, repeats, rng, known_sd=True):
    """Share of simulated zoos whose two-sided test at 1 - level rejects equal category means.

    Each zoo draws n_a and n_b model-level values from normal distributions whose means
    differ by ``difference``; the test is a z-test on the difference of the means, with
    the true standard deviations (or the sample ones).
    """
    a = rng.normal(0.0, sd_a, size=(repeats, n_a))
    b = rng.normal(difference, sd_b, size=(repeats, n_b))
    if known_sd:
        se = np.sqrt(sd_a ** 2 / n_a + sd_b ** 2 / n_b)
    else:
        se = np.sqrt(a.var(axis=1, ddof=1) / n_a + b.var(axis=1, ddof=1) / n_b)
    z = (b.mean(axis=1) - a.mean(axis=1)) / se
    return np.mean(np.abs(z) > norm.ppf(1 - (1 - level) / 2))


@pytest.mark.parametrize("sd_a, n_a, sd_b, n_b, level, power", [
    (0.005, 4, 0.005, 4, 0.95, 0.8),   # about the mini zoo: 4 models per category
    (0.004, 3, 0.009, 6, 0.95, 0.8),   # unequal spreads and sizes
    (1.0, 10, 1.0, 20, 0.90, 0.9),     # another level and power
])
def test_detectable_difference_is_detected_at_its_power_in_a_simulation(sd_a, n_a, sd_b, n_b, level, power):
    repeats = 40_000
    delta = detectable_difference(sd_a, n_a, sd_b, n_b, level, power)
    rate = rejection_rate(delta, sd_a, n_a, sd_b, n_b, level, repeats, np.random.default_rng(0))
    assert abs(rate - power) < 4 * np.sqrt(power * (1 - power) / repeats)
    # Half the difference is detected far less often; no difference at the test's level.
    assert rejection_rate(delta / 2, sd_a, n_a, sd_b, n_b, level, repeats, np.random.default_rng(1)) < power - 0.3
    null = rejection_rate(0.0, sd_a, n_a, sd_b, n_b, level, repeats, np.random.default_rng(2))
    assert abs(null - (1 - level)) < 4 * np.sqrt(level * (1 - level) / repeats)


def test_with_estimated_spreads_and_many_models_the_power_is_close():
    """The normal approximation with sample SDs: close to 80% with 40 models per category."""
    delta = detectable_difference(1.0, 40, 2.0, 40)
    rate = rejection_rate(delta, 1.0, 40, 2.0, 40, 0.95, 20_000, np.random.default_rng(3), known_sd=False)
    assert abs(rate - POWER) < 0.03


def test_detectable_difference_by_hand_and_undefined_below_two_models():
    # (z_0.975 + z_0.8) * sqrt(0.0049^2 / 4 * 2) with z_0.975 = 1.95996, z_0.8 = 0.84162
    assert detectable_difference(0.0049, 4, 0.0049, 4) == pytest.approx((1.959964 + 0.841621) * 0.0049 * np.sqrt(0.5))
    assert np.isnan(detectable_difference(0.01, 1, 0.01, 5))
    assert np.isnan(detectable_difference(0.01, 5, 0.01, 0))


# -- the verdict rule, branch by branch -----------------------------------------------------

ABOVE = np.linspace(0.002, 0.014, 101)   # interval entirely above 0
AROUND = np.linspace(-0.006, 0.010, 101)  # interval around 0


def test_yes_when_the_interval_excludes_zero_in_the_expected_direction():
    contrast = contrast_verdict("Dataset − Reinit", 0.008, ABOVE, 0.012)
    assert isinstance(contrast, Contrast) and contrast.verdict == YES
    low, high = np.nanquantile(ABOVE, [0.025, 0.975])
    assert (contrast.low, contrast.high) == pytest.approx((low, high))
    assert contrast.text == (f"Dataset − Reinit: +0.008 [{low:+.3f}, {high:+.3f}]; detectable at 80% power: "
                             "±0.012; no paper effect to compare")
    # Falling is expected (kappa): an interval below 0 is a yes.
    assert contrast_verdict("Dataset − Reinit", -0.008, -ABOVE, 0.012, expected_sign=-1).verdict == YES


def test_a_contrast_chosen_on_test_is_never_a_yes():
    contrast = contrast_verdict("best pair − Reinit", 0.008, ABOVE, 0.012, chosen_on_test=True)
    assert contrast.verdict == CANNOT_TELL and contrast.text.endswith("; chosen on the test split")
    # ... but its failure in the opposite direction is still a no.
    assert contrast_verdict("x", -0.008, -ABOVE, 0.012, chosen_on_test=True).verdict == NO


def test_no_when_the_interval_excludes_zero_in_the_opposite_direction():
    assert contrast_verdict("x", -0.008, -ABOVE, 0.5).verdict == NO  # no paper effect needed
    assert contrast_verdict("x", 0.008, ABOVE, 0.5, expected_sign=-1).verdict == NO


def test_no_when_the_study_had_the_power_for_the_papers_effect():
    contrast = contrast_verdict("x", 0.002, AROUND, 0.012, paper_effect=0.02)
    assert contrast.verdict == NO and "paper's effect +0.020" in contrast.text
    # The paper's effect counts by its size: a falling claim's negative effect too.
    assert contrast_verdict("x", -0.002, -AROUND, 0.012, 0.02 * -1, expected_sign=-1).verdict == NO
    assert contrast_verdict("x", 0.002, AROUND, 0.02, paper_effect=0.02).verdict == NO  # at most: equal counts


def test_cannot_tell_when_the_interval_includes_zero_without_power_for_the_papers_effect():
    assert contrast_verdict("x", 0.002, AROUND, 0.012, paper_effect=0.005).verdict == CANNOT_TELL
    assert contrast_verdict("x", 0.002, AROUND, 0.012).verdict == CANNOT_TELL  # no paper effect to compare
    unknown = contrast_verdict("x", 0.002, AROUND, float("nan"), paper_effect=0.02)
    assert unknown.verdict == CANNOT_TELL and "unknown (fewer than 2 models in a category)" in unknown.text


def test_cannot_tell_without_draws_and_texts_scale():
    contrast = contrast_verdict("Dataset − Reinit", 0.0123, None, 0.02, paper_effect=0.05, scale=100, digits=1)
    assert contrast.verdict == CANNOT_TELL and np.isnan(contrast.low)
    assert contrast.text == ("Dataset − Reinit: +1.2 (no interval); detectable at 80% power: ±2.0; "
                             "paper's effect +5.0")
    # NaN draws (no defined value on any sample) are no interval either.
    assert contrast_verdict("x", 0.1, np.full(10, np.nan), 0.01).verdict == CANNOT_TELL


def test_detectable_from_an_interval_matches_the_two_group_formula():
    from norep.analysis.power import detectable_from_interval

    # A normal 95% interval of half-width 1.96 x se is the two-group case with that se.
    se = 0.3
    half = 1.959964 * se
    # ... the same as detectable_difference with that standard error (sd = se x sqrt(2), n = 2).
    assert detectable_from_interval(-half, half) == pytest.approx(detectable_difference(se * 2 ** 0.5, 2, 0.0, 2),
                                                                  rel=1e-5)
    assert detectable_from_interval(-half, half) == pytest.approx((1.959964 + 0.841621) * se, rel=1e-5)
    # Shifting the interval does not change the resolution; widening it scales it.
    assert detectable_from_interval(1 - half, 1 + half) == pytest.approx(detectable_from_interval(-half, half))
    assert detectable_from_interval(-2 * half, 2 * half) == pytest.approx(2 * detectable_from_interval(-half, half))
