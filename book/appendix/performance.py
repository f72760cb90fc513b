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
# 100 models has 4,950 pairs over 50,000 images and 1,000 classes). This page runs
# four benchmark scripts of `benchmarks/` when it executes and reports what it measured:
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
#   the same L2 strength, on standardized features of M rows, D dimensions and K
#   classes: synthetic ones, and the embeddings of trained networks. Its target: test
#   accuracy within 0.5 points of scikit-learn's and at least 3 times faster at
#   M=50,000, D=512, K=10. Both fits run on one thread (see below).
# - **inference**: `norep predict` (`norep.producers.inference.predict_zoo`: a whole
#   call into a fresh store, folder scan and store writes included) against a bare timm
#   loop (`timm.create_model`, timm's eval transform, a DataLoader, a plain forward) on
#   the same generated JPEG images, with the same random-initialized model, batch size,
#   DataLoader workers and torch threads. Its target: at least 0.9 times the bare loop's
#   images per second on this CPU.
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
# python benchmarks/probe_speed.py --repeat 3 \
#     --json benchmarks/results/probe_synthetic.json
# python benchmarks/probe_speed.py --repeat 3 --store runs/fashion_mnist \
#     --json benchmarks/results/probe_zoo.json
# ```
#
# (all four: `make benchmark`); rerun this page with the full sizes as parameters to
# show them here. Timings depend on the machine and on what else runs on it: the table
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
inference_images = 64  # generated images of the inference benchmark
results = "benchmarks/results"  # folder of the benchmarks' saved results (JSON)

# %% tags=["hide-input"]
from norep.book.appendix import (
    benchmark_notes,
    benchmark_table,
    course_note,
    course_table,
    float16_note,
    float16_table,
    load_results,
    probe_note,
    probe_table,
    run_benchmark,
    scale_figure,
    scale_table,
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
# $1 / (M \lambda)$) and stop by the same rule (no gradient entry above $10^{-4}$).
# Each evaluation of the loss reads the M x D features twice (the logits, then the
# weights' gradient), two matrix products with only K columns, in both fits alike: the
# number of iterations decides. The embeddings of trained networks are strongly
# correlated, and on correlated features L-BFGS started from the identity takes
# hundreds of iterations; the probe's L-BFGS runs in coordinates whitened by the
# features' correlation matrix (estimated once, on at most 4,096 rows). Its other
# savings: the standardization folded into the weights, the gradient written out, a
# line search along cached logits (an iteration reads the features exactly twice), a
# compact memory of 64 curvature pairs, warm starts from one penalty to the next.
#
# Three runs: this page's, at its size, on synthetic features; and two saved runs of
# `benchmarks/probe_speed.py` at the full size, on the same kind of synthetic features
# (class means plus isotropic noise: uncorrelated dimensions, where both fits need few
# iterations and the ratio is that of one pass over the features) and on four default-
# zoo networks' embeddings of 50,000 Fashion-MNIST training images (correlated, like
# every probe of the chapters). Where scikit-learn's L-BFGS stops at a lower objective,
# the probe is timed again until its objective is no higher ("at scikit-learn's
# objective").

# %%
probe = run_benchmark(
    "probe_speed.py", examples=probe_examples, features=probe_features,
    classes=probe_classes, repeat=repeat,
)
probe_runs = {"this page": probe,
              "saved: synthetic": load_results(f"{results}/probe_synthetic.json"),
              "saved: zoo embeddings": load_results(f"{results}/probe_zoo.json")}
probe_table(probe_runs)

# %%
probe_note(probe_runs)

# %% [markdown]
# ## Inference
#
# Images per second of `norep predict` and of the bare timm loop for a ResNet-18 over
# generated 64-pixel images on the CPU; `ratio` is the runner's over the bare loop's
# (the shortest of `repeat` timings each). The same comparison on a GPU, with autocast
# and three larger models, is `benchmarks/gpu_check.sh`; this book's machine has no GPU,
# so its figures are not on this page.

# %%
inference = run_benchmark(
    "inference_speed.py", images=inference_images, repeat=repeat,
)

# %% [markdown]
# ## An ImageNet-sized zoo in bounded memory
#
# The paper's zoo has about 100 ImageNet models: their logits on the 50,000 validation
# images are 20 GB in float32. `benchmarks/scale.py` writes synthetic stores of that
# shape (N models x 50,000 examples x 1,000 classes, 20% calibration split, random
# logits of ImageNet-like accuracy with a difficulty shared by the models) and measures,
# each in a fresh process, `norep pairs STORE --csv` and each chapter with the ImageNet
# profile: wall time, CPU time and peak memory (largest resident set). `pairs (cold)`
# starts with nothing derived cached in the store (every model's top-1 outcomes,
# temperature and ranked classes are computed, a block of examples at a time, and
# cached); `pairs (cached)` runs again. The targets: at most 3 GB at every N, and `norep
# pairs` at N = 100 within 10 minutes on two cores. Running it takes hours and 20 GB of
# disk at N = 100, so this page shows the saved results (`python benchmarks/scale.py
# --json benchmarks/results/scale.json`); the machine is shared, so the CPU time is the
# steadier measure.

# %%
scale = load_results(f"{results}/scale.json")
scale_table(scale)

# %%
figure = scale_figure(scale)

# %% [markdown]
# ## float16 logits
#
# A float16 store (`norep predict --dtype float16`) about halves the disk and the
# reading time of logits on ImageNet's 1,000 classes (on 10 classes it saves little).
# It keeps each row minus its maximum: softmax, temperature scaling and the top-1
# answer do not change when a constant is subtracted from a row, and the shift puts the
# top class at exactly 0 and its close competitors near 0, where float16's steps are
# smallest. Beside them it keeps each row's few largest logits exactly (float32, with
# their classes) and reads back float32 logits with those classes exact: the decisions
# of models and ensembles are made among the top classes. `benchmarks/float16_effect.py`
# copies a store's models into a float32 and a float16 store and compares every number
# the chapters compute from logits; the shifted float16 rows without the exact top
# classes and a plain cast to float16 (no shift) show what each step buys. The limit
# is 0.01 points of ensemble accuracy (one test example in 10,000). The numbers below
# come from the saved run of the benchmark named in the next paragraph, not from this
# page's execution.

# %%
float16_results = f"{results}/float16.json"  # saved by float16_effect.py
float16 = load_results(float16_results)
float16_note(float16, float16_results)

# %%
float16_table(float16)

# %% [markdown]
# ## The course profile in class
#
# A class runs the chapters with the course profile (`params/course.yaml`: fewer
# bootstrap resamples, one draw of dimensions per feature mix) from an existing store,
# and each chapter should run in under a minute on a 2-core laptop CPU.
# `benchmarks/course_times.py` runs every chapter that way, each in a fresh process
# through `norep book run`, and records its wall time and its CPU time (user + system
# of the process and its children, the steadier measure on a shared machine). Running
# it takes several minutes on a quiet machine, so this page shows the saved results.

# %%
course = load_results(f"{results}/course.json")
course_note(course)

# %%
course_table(course)
