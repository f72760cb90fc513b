# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Error inconsistency
#
# The paper's first figure pairs the base model with every other model of the zoo and
# measures how differently the two err: the **error inconsistency** of a pair is the
# share of test examples that exactly one of the two models gets right. Its headline:
# error inconsistency rises monotonically with the divergence of the training
# methodologies, from *Reinit* (only the seed differs) to *Dataset* (the training data
# differs).
#
# Error inconsistency is not corrected for chance, and it rises mechanically when one
# model is weaker: two models whose accuracies differ by $|p_a - p_b|$ disagree on at
# least that share of examples. So every claim below is shown twice: on all pairs, and
# on accuracy-matched pairs (partners within the accuracy band of the base, and values
# adjusted for accuracy). Beside error inconsistency stands its chance-corrected
# companion, the **error consistency kappa** (Geirhos et al. 2020), and every number has
# a paired bootstrap interval.

# %% tags=["parameters"]
store = "runs/fashion_mnist"  # prediction store, relative to the book's folder
base = "cnn-seed0"  # the model every pair of Fig 1 is formed with
band = 0.01  # half-width of the accuracy band around the base (fraction)
seed = 0  # seed of the bootstrap
n_bootstrap = 1000  # bootstrap samples for every interval

# %% tags=["hide-input"]
import pandas as pd

from norep.book.chapter import open_zoo, paper_vs_book
from norep.book.chapters.error_inconsistency import (
    adjust_for_accuracy,
    all_pairs,
    base_pairs,
    claims,
)

pd.set_option("display.max_colwidth", None)  # tables of prose: show every word
zoo = open_zoo(store, base, band)
zoo.intro()

# %% [markdown]
# ## Base vs each model
#
# For each pair (base, partner), on the test split:
#
# - **error inconsistency** = (RW + WR) / n, the share of examples exactly one model
#   gets right (RW: the base right and the partner wrong; WR the reverse);
# - **kappa** = (c_obs − c_exp) / (1 − c_exp), with c_obs = 1 − error inconsistency and
#   c_exp = p_a p_b + (1 − p_a)(1 − p_b) the agreement two independent models of
#   accuracies p_a and p_b would reach: 0 for independent errors, 1 for identical ones.
#
# The intervals are 95% percentile intervals of the **paired bootstrap** over test
# examples: each resample redraws the examples once for every pair, so that a
# category's mean over its pairs, and the difference between two categories, get
# intervals from the same resamples. The accuracy controls (the base's recipe stopped
# at a lower accuracy) are paired with the base too, but kept out of the categories:
# they show what a loss of accuracy alone does.

# %%
pairs = base_pairs(zoo, n_bootstrap, seed)
pairs.shown()

# %% [markdown]
# ## Per category (Fig 1)
#
# A category's value is the **mean over its pairs**; its interval comes from the same
# bootstrap resamples. Black diamonds: all partners of the category; black squares:
# only the partners in the accuracy band (filled dots). Dashed lines: the base paired
# with each accuracy control, the same recipe and only less accurate.

# %%
figure = pairs.figure()

# %% [markdown]
# The verdicts ask whether the category means are monotone in the order of divergence
# (non-decreasing for error inconsistency, non-increasing for kappa), and give the
# difference between the most and the least divergent category present, with its
# interval.

# %%
pairs.verdicts()

# %% [markdown]
# ## Adjusted for accuracy
#
# The band keeps only partners of about the base's accuracy, which may leave few pairs.
# The adjustment keeps them all and removes what their accuracies predict
# (`norep.analysis.adjust.accuracy_adjusted`): over **reference pairs** it fits
#
# $$\text{metric} \approx b_0 + b_1 \frac{p_a + p_b}{2} + b_2 |p_a - p_b|$$
#
# and reports each pair's residual, metric − fit: the error inconsistency (or kappa)
# the pair has *beyond* what its two accuracies explain. The reference pairs are the
# pairs among models trained with the **base's recipe** (the base, its Reinit partners
# and the accuracy controls), so the fit says how error inconsistency moves with
# accuracy when the methodology does not change; a residual above zero is divergence
# that accuracy does not explain. The fit has three coefficients and these pairs
# cluster at a few accuracies, so it needs at least five such models (ten pairs), one
# of them an accuracy control. A store without them falls back to every pair of its
# members and controls as reference: the fit is then stable, but it also absorbs the
# part of any methodology effect that goes with accuracy, so the residuals understate
# it. The intervals refit on every bootstrap resample; the category markers are the
# means of the residuals (point estimates: the intervals are per pair).

# %%
adjusted = adjust_for_accuracy(pairs, n_bootstrap, seed)
figure = adjusted.figure()  # None when the store has too few reference pairs

# %% [markdown]
# The fitted coefficients: $b_1 < 0$ and $b_2 > 0$ say that weaker and more unequal
# pairs err more differently, as expected. Then each partner's measured values, what
# its accuracy predicts, and the residual with its interval.

# %%
adjusted.fits()

# %%
adjusted.shown()

# %% [markdown]
# ## How much is mere accuracy
#
# The accuracy controls follow the base's recipe exactly and stop early. Their error
# inconsistency with the base is what a loss of accuracy does without any change of
# methodology; set beside the partners', it shows how much of a category's error
# inconsistency could be explained by strength alone.

# %%
pairs.controls()

# %% [markdown]
# ## All pairs
#
# The same two metrics for **every** pair of models, not only pairs with the base.
# Models are ordered by their category relative to the base (the tick colors; the
# accuracy controls last).

# %%
everything = all_pairs(zoo)
figure = everything.figure()

# %% [markdown]
# For each pair of members, its own divergence category is derived from the two
# methodologies, as for pairs with the base. The table averages the pairs of each
# category, over all pairs and over the pairs whose two models are both in the
# accuracy band; then the same monotone test.

# %%
everything.table.round(3)

# %%
everything.verdicts()

# %% [markdown]
# ## Paper vs this book
#
# The paper's Fig 1 shows, for pairs of its ResNet-50 base (76.5% top-1) with models of
# 74-78% top-1, error inconsistency rising monotonically from Reinit to Dataset. The
# rows below apply the same test, computed from this store, to each view of the data.
# A verdict is "yes" when the category means are monotone in the order of divergence
# over the categories this store has; the difference between the most and least
# divergent categories says how large the rise is and whether its interval excludes 0.

# %%
paper_vs_book(claims(pairs, adjusted, everything))
