"""The crossed bootstrap (models and examples) against simulated zoos with a known model-level variance.

Each simulated zoo pairs a fixed base with ``N_MODELS`` partners in each of two
categories. A pair's value on an example is its category's effect, plus the partner's
own effect (which model happened to be trained: standard deviation ``MODEL_SD``), plus a
difficulty shared by all pairs on that example, plus the pair's own example noise; the
pair value is its mean over the test examples. The true difference between the two
categories is known, so the coverage of each interval can be counted over many zoos.
"""

import numpy as np

from norep.analysis.bootstrap import bootstrap_sums, model_weights, pair_weights
from norep.analysis.verdicts import category_summary

N_MODELS, N_EXAMPLES = 10, 200
EFFECTS = {"Reinit": 0.10, "Dataset": 0.11}  # the true difference: +0.01
MODEL_SD, SHARED_SD, NOISE_SD = 0.01, 0.05, 0.05  # per model; per example, shared; per pair and example
N_ZOOS, N_BOOTSTRAP, LEVEL = 300, 300, 0.95


def simulated_zoo(rng):
    """Per-example values of every pair (M, P), the pairs' categories, and the pairs as index pairs."""
    categories = np.repeat(list(EFFECTS), N_MODELS).astype(object)
    centers = np.array([EFFECTS[c] for c in categories]) + MODEL_SD * rng.normal(size=len(categories))
    shared = SHARED_SD * rng.normal(size=(N_EXAMPLES, 1))
    values = centers + shared + NOISE_SD * rng.normal(size=(N_EXAMPLES, len(categories)))
    pairs = np.stack([np.zeros(len(categories), int), np.arange(1, len(categories) + 1)], axis=1)
    return values, categories, pairs


def difference_interval(values, categories, pairs, seed, crossed):
    """The Dataset − Reinit interval of one zoo, from the example-only or the crossed bootstrap."""
    samples = bootstrap_sums(values, N_BOOTSTRAP, seed) / len(values)
    weights = None
    if crossed:
        models = model_weights([None, *categories], N_BOOTSTRAP, seed)  # the base is never redrawn
        weights = pair_weights(models, pairs[:, 0], pairs[:, 1])
    _, draws = category_summary({"x": values.mean(axis=0)}, {"x": samples}, categories,
                                np.ones(len(categories), bool), LEVEL, weights)
    difference = draws["x"]["Dataset"] - draws["x"]["Reinit"]
    return np.nanquantile(difference, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])


def test_the_crossed_bootstrap_covers_the_true_difference_and_the_example_only_one_does_not():
    rng = np.random.default_rng(2022)
    truth = EFFECTS["Dataset"] - EFFECTS["Reinit"]
    covered = {"crossed": 0, "example-only": 0}
    for zoo in range(N_ZOOS):
        values, categories, pairs = simulated_zoo(rng)
        for name in covered:
            low, high = difference_interval(values, categories, pairs, zoo, crossed=name == "crossed")
            covered[name] += bool(low <= truth <= high)
    rate = {name: count / N_ZOOS for name, count in covered.items()}
    monte_carlo = np.sqrt(LEVEL * (1 - LEVEL) / N_ZOOS)  # about 0.013
    # The percentile bootstrap over 10 models per category runs slightly below its nominal
    # rate (its variance is (n - 1) / n of the truth): about 0.93 expected.
    assert abs(rate["crossed"] - LEVEL) < 0.03 + 3 * monte_carlo, rate
    # The example-only interval sees sd 0.05 / sqrt(200) per pair, not the model sd 0.01:
    # it covers about 45% of the time.
    assert rate["example-only"] < 0.7, rate

