# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Performance
#
# Every figure of the book is a function of per-example predictions of many pairs of
# models, so the pair computations must stay fast on a whole zoo (an ImageNet zoo of
# 100 models has 4,950 pairs over 50,000 images and 1,000 classes). This page runs the
# two benchmark scripts of `benchmarks/` when it executes and reports what it measured:
#
# - **pairs**: error inconsistency, kappa and disagreement of all pairs of a zoo at
#   once (`norep.analysis.pairs.pair_metrics`: integer matrix products over the zoo; the
#   same-label counts behind disagreement come from sorting each example's models by
#   their wrong label, large groups of models going into one more matrix product)
#   against a per-pair numpy loop. The loop is timed on a random sample of pairs and
#   extrapolated to all pairs; both give the same numbers on the sampled pairs.
# - **ensembles**: the accuracy of every two-model ensemble
#   (`norep.analysis.ensembles.pairwise_ensembles`: each member's top-k classes as
#   candidates, a bound on all other classes, the dense sum only where the bound does
#   not decide) against dense averaging over all classes for every pair. The two must
#   agree exactly.
#
# - **probe**: the linear probe of `norep.analysis.probes` (multinomial logistic
#   regression, torch L-BFGS, float32) against scikit-learn's `LogisticRegression` at
#   the same L2 strength, on synthetic standardized features of M rows, D dimensions
#   and K classes. Its target: test accuracy within 0.5 points of scikit-learn's and at
#   least 3 times faster at M=50,000, D=512, K=10. Both fits run on one thread (see
#   below). The probe does not meet the speed target yet: the table below shows the
#   ratio this run measured.
#
# The other targets hold at the full sizes: pairs with N=500 models, M=50,000 examples
# and C=1,000 classes in under 5 s and at least 50 times faster than the loop; ensembles
# with N=50, M=10,000, C=1,000 (float32 probabilities) identical to dense averaging and
# at least 10 times faster. Running them takes a few minutes and about 3 GB of memory,
# so this page runs smaller sizes by default, where fixed costs weigh more and the
# ratios are lower. The full-size runs are
#
# ```
# python benchmarks/pairs_speed.py
# python benchmarks/ensemble_speed.py
# python benchmarks/probe_speed.py --repeat 3
# ```
#
# (both: `make benchmark`); rerun this page with the full sizes as parameters to show
# them here. Timings depend on the machine and on what else runs on it: the table
# gives the number of CPU cores and the load average. Each fast method is timed
# `repeat` times; `ratio` compares the shortest times, `ratio (medians)` the median
# times (pairs only: the dense ensemble baseline is timed once).

# %% tags=["parameters"]
pairs_models = 300  # N of the pairs benchmark (full size: 500)
pairs_examples = 20_000  # M of the pairs benchmark (full size: 50,000)
pairs_classes = 1_000  # C of the pairs benchmark (full size: 1,000)
loop_pairs = 500  # pairs the per-pair loop is timed on
ensemble_models = 30  # N of the ensemble benchmark (full size: 50)
ensemble_examples = 5_000  # M of the ensemble benchmark (full size: 10,000)
ensemble_classes = 1_000  # C of the ensemble benchmark (full size: 1,000)
repeat = 3  # timings per fast method (the shortest is kept)
seed = 0  # seed of the synthetic zoos
probe_examples = 10_000  # M of the probe benchmark (full size: 50,000)
probe_features = 256  # D of the probe benchmark (full size: 512)
probe_classes = 10  # K of the probe benchmark (full size: 10)

# %% tags=["hide-input"]
from norep.book.appendix import (
    benchmark_notes,
    benchmark_table,
    probe_table,
    run_benchmark,
)

# %%
pairs = run_benchmark(
    "pairs_speed.py", models=pairs_models, examples=pairs_examples,
    classes=pairs_classes, loop_pairs=loop_pairs, repeat=repeat, seed=seed,
)
ensembles = run_benchmark(
    "ensemble_speed.py", models=ensemble_models, examples=ensemble_examples,
    classes=ensemble_classes, repeat=repeat, seed=seed,
)

# %% [markdown]
# ## Results
#
# `fast (s)` is the package's method, `baseline (s)` the loop or dense averaging;
# `exact` says whether the two gave the same numbers (pairs: largest absolute difference
# at most 1e-12 on the sampled pairs; ensembles: no pair with a different accuracy).

# %%
benchmark_table(pairs, ensembles)

# %% [markdown]
# The pairs target also asks for under 5 s at the full size; at this page's size the
# matrix products took the time in the table. The ensemble method fell back to the
# dense sum on the share of (pair, example) cases below.

# %%
benchmark_notes(pairs, ensembles)

# %% [markdown]
# ## The linear probe
#
# The probe and scikit-learn minimize the same objective (scikit-learn's `C` is
# $1 / (M \lambda)$) to the same gradient tolerance ($10^{-4}$), both in float32. At the
# full size the probe is **not** 3 times faster on this book's two-core machine: both
# fits are bound by the same two float32 matrix products per evaluation of the loss
# (logits, then the weights' gradient), scikit-learn needs fewer L-BFGS iterations (17
# at the full size; the probe about 23), and neither can use a second core that other
# work occupies (with two threads on a busy machine both slowed down up to tenfold, so
# both run on one by default). Measured at the full size on two cores, accuracies
# 98.55% (probe) and 98.67%: one thread each (load average 0.85), probe 1.19 s and
# scikit-learn 0.91 s (0.8x); two threads each (`--threads 2`, load 1.0), 0.90 s and
# 1.14 s (1.3x). Reaching 3x would need fewer passes over the features per iteration
# (e.g. bfloat16 features: 0.66 s in a trial, but a 4% higher objective) or a GPU.

# %%
probe = run_benchmark(
    "probe_speed.py", examples=probe_examples, features=probe_features,
    classes=probe_classes, repeat=repeat,
)
probe_table(probe)
