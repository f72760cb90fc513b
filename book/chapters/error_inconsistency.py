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
# a bootstrap interval: over test examples for one pair, over models and test examples
# for a category (see {doc}`the glossary <../appendix/glossary>`).

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
    base_and_all_pairs,
    base_pairs,
    claims,
    every_base,
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
# The intervals of this table are **example-only**: 95% percentile intervals of the
# **paired bootstrap** over test examples (each resample redraws the examples once for
# every pair). They say how precisely this test set measures this pair; they leave out
# which model happened to be trained. The accuracy controls (the base's recipe family
# made weaker: less data or a shorter schedule, each from its own seed) are paired with
# the base too, but kept out of the categories: they show what a loss of accuracy alone
# does.

# %%
pairs = base_pairs(zoo, n_bootstrap, seed)
pairs.shown()

# %% [markdown]
# ## Per category (Fig 1)
#
# A category's value is the **mean over its pairs**. Its interval is **crossed**: each
# bootstrap sample redraws the test examples (the same resamples as above) *and* the
# partners of each category, with replacement (the base is kept). A category of four
# partners trained alike still varies with which four were trained; the crossed
# interval includes that. Black diamonds: all partners of the category; black squares:
# only the partners in the accuracy band (filled dots). Dashed lines: the base paired
# with each accuracy control, the same recipe and only less accurate.

# %%
figure = pairs.figure()

# %% [markdown]
# Every verdict of the book follows one rule
# (`norep.analysis.verdicts.contrast_verdict`), applied to a difference between two
# categories: **yes** only when its crossed interval excludes 0 in the claimed direction
# (and the contrast was not chosen on the test split); **no** when the interval excludes
# 0 the other way, or when it includes 0 although the zoo could have seen the paper's
# effect; otherwise **cannot tell at this size**. Beside each difference stands the
# smallest difference this zoo detects with 80% power
# (`norep.analysis.power.detectable_difference`: a two-sided test at 5%, from the
# standard deviation of the pair values within each category and their numbers of
# partners). The paper's Fig 1 gives no effect size, so there is no paper effect to
# compare: a "no" needs an interval on the wrong side of 0. The table applies the rule
# to the most minus the least divergent category and gives the order of the means beside
# it (non-decreasing for error inconsistency, non-increasing for kappa).

# %%
pairs.verdicts()

# %% [markdown]
# A monotone rise claims every step between adjacent categories too. Each step, with
# its crossed interval, its power and its verdict:

# %%
pairs.contrasts()

# %% [markdown]
# ## Every base
#
# Fig 1 pairs every model with **one** base, and a base is one draw of its recipe too.
# Below, the same category means with each model of the base's recipe (the base and
# each of its Reinit partners) as the base: every other model's category is taken
# relative to that base (the first base becomes a Reinit partner of the others),
# accuracy controls are left out. The first table gives each base's verdicts; the
# second the category means of error inconsistency with each base and their spread
# across bases.

# %%
bases = every_base(zoo, n_bootstrap, seed)
bases.shown()

# %%
bases.spread()

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
# it. A pair's interval refits on every resample of the test examples; a category's
# mean residual gets a crossed interval, the partners also redrawn within their
# category.

# %%
adjusted = adjust_for_accuracy(pairs, n_bootstrap, seed)
figure = adjusted.figure()  # None when the store has too few reference pairs

# %% [markdown]
# The fitted coefficients: $b_1 < 0$ and $b_2 > 0$ say that weaker and more unequal
# pairs err more differently, as expected. The fit only knows the accuracies its
# reference models have: a partner with an accuracy outside their range is read off
# the line beyond its data, and is marked **extrapolated**. Then each partner's
# measured values, what its accuracy predicts, and the residual with its interval
# (over the test examples).

# %%
adjusted.fits()

# %%
adjusted.shown()

# %% [markdown]
# ### How much the fit owes to each reference model
#
# The accuracy range of the fit comes from a few models (the accuracy controls, most
# of all), so the coefficients may rest on one of them. The fit is redone without each
# reference model in turn (all its pairs dropped); the rows give the coefficients and
# each category's mean residual, and the last row their range. A conclusion that
# changes sign within that range depends on which models were trained.

# %%
adjusted.stability("error_inconsistency")

# %%
adjusted.stability("kappa")

# %%
adjusted.stability_text()

# %% [markdown]
# The category contrasts of the residuals, each with its crossed interval and the
# smallest difference the store could detect with 80% power: "yes" only when the
# interval excludes 0 in the direction the paper expects (residual error inconsistency
# rising, residual kappa falling with divergence), "no" when it excludes it the other
# way, else "cannot tell at this size".

# %%
adjusted.contrasts()

# %% [markdown]
# ## How much is mere accuracy
#
# The accuracy controls keep the base's architecture, objective and data and train to
# the end of a shorter schedule or on less data, each from its own seed. Their error
# inconsistency with the base is what a loss of accuracy does without a change of
# method; set beside the partners', it shows how much of a category's error
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
everything = all_pairs(zoo, n_bootstrap, seed)
figure = everything.figure()

# %% [markdown]
# For each pair of members, its own divergence category is derived from the two
# methodologies, as for pairs with the base. The table averages the pairs of each
# category, over all pairs and over the pairs whose two models are both in the
# accuracy band.

# %%
everything.table.round(3)

# %% [markdown]
# The two views side by side, each category mean with its crossed interval. Among all
# pairs every member is redrawn within its category (the base with its Reinit
# partners: it is one draw of their recipe), so a category's interval includes which
# models were trained; pairs share models, so the power of this view is computed with
# the number of distinct models a category's pairs involve, not the number of pairs.

# %%
base_and_all_pairs(pairs, everything)

# %%
everything.verdicts()

# %% [markdown]
# ## Same seed, a lesson
#
# A model trained with another recipe but from the **base's seed** starts from the
# base's initial weights and sees its training examples in the same order. The zoo
# keeps a few such models apart (never inside a category's mean) beside their twins:
# the same recipes, each trained from its own seed. If sharing the seed made models
# err alike, a hyper-parameter change would look smaller than it is.

# %%
from norep.book.chapters import zoo_design

lesson = zoo_design.same_seed_lesson(zoo, n_bootstrap, seed)
lesson.shown()

# %%
lesson.verdict()

# %% [markdown]
# ## Other data, and nothing else
#
# The Dataset members change the training data *and* the architecture or objective, as
# the paper's Dataset models do (CLIP differs from ResNet-50 in much more than its
# data). The **data-only** models are the base's recipe on the other half of the
# training set and nothing else; they sit between Reinit and the nested Dataset
# members, and say how much of the Dataset step is the data itself.

# %%
subgroup = zoo_design.data_only_subgroup(zoo, n_bootstrap, seed)
subgroup.shown()

# %%
subgroup.verdict()

# %% [markdown]
# ## Which difference matters
#
# Categories answer "how far apart"; a regression answers "which difference". Over
# every pair of models in the store (members, the lesson, the subgroup and the
# controls), kappa and error inconsistency are fitted on one indicator per
# methodology field that differs between the two models, plus the pair's mean
# accuracy and accuracy gap (`norep.analysis.fields`). A coefficient is what a
# difference in that field adds with the other fields and the accuracies held fixed.
# Pairs that share a model are not independent, so the intervals resample **models**:
# each bootstrap sample redraws the models and refits on the pairs among them.

# %%
effects = zoo_design.methodology_effects(zoo, n_bootstrap, seed)
figure = effects.figure()

# %%
effects.table()

# %%
effects.verdict()

# %% [markdown]
# ## Paper vs this book
#
# The paper's Fig 1 shows, for pairs of its ResNet-50 base (76.5% top-1) with models of
# 74-78% top-1, error inconsistency rising monotonically from Reinit to Dataset. The
# rows below apply the same rule, computed from this store, to each view of the data:
# the verdict's word is the rule's on the most minus the least divergent category
# (crossed interval, power beside it), followed by whether the category means are in
# monotone order.

# %%
paper_vs_book(claims(pairs, adjusted, everything, bases))

# %% [markdown]
# ## Exercises
#
# Each exercise asks for a prediction before a computation with `norep` on this page's
# store. The solutions are folded: open one after trying. The student notebooks
# (`norep book student OUT`) leave them out.

# %% [markdown]
# ```{exercise} When kappa and error inconsistency disagree
# :label: ei-discordant
#
# Higher error inconsistency says a partner errs *more differently* from the base;
# higher kappa says it errs *more alike*. Find two models paired with the base such
# that one of them has both the higher error inconsistency and the higher kappa (use
# `pairs.table`: columns `error_inconsistency`, `kappa`, `accuracy`). What do such
# pairs have in common? Predict it before you look.
# ```

# %% [markdown]
# ````{solution-start} ei-discordant
# :class: dropdown
# ````
#
# Error inconsistency counts disagreements, and a less accurate model disagrees more
# with anyone: its error inconsistency rises even when its errors are no more
# independent. Kappa divides by the disagreement that two independent models of the
# same accuracies would show (next exercise), so a gap in accuracy does not raise it.
# When the two metrics order two partners the same way, the one with the higher error
# inconsistency is usually the weaker one, as the sentence below counts.

# %%
from norep.book.chapters import error_inconsistency as chapter

chapter.discordant_partners(pairs)

# %%
chapter.discordance_summary(pairs)

# %% [markdown]
# ````{solution-end}
# ````

# %% [markdown]
# ```{exercise} Kappa from error inconsistency
# :label: ei-kappa
#
# Two models of accuracies $p_a$ and $p_b$ that err independently disagree on a share
# $\mathrm{EI}_\text{ind} = p_a (1 - p_b) + p_b (1 - p_a)$ of the examples. Show that
# $\kappa = 1 - \mathrm{EI} / \mathrm{EI}_\text{ind}$, then check it on every pair with
# the base from `pairs.outcomes` (its `correct` and `valid` arrays; row 0 is the base).
# ```

# %% [markdown]
# ````{solution-start} ei-kappa
# :class: dropdown
# ````
#
# With $c_\text{obs} = 1 - \mathrm{EI}$ and
# $1 - c_\text{exp} = 1 - p_a p_b - (1 - p_a)(1 - p_b) = p_a + p_b - 2 p_a p_b =
# \mathrm{EI}_\text{ind}$,
#
# $$\kappa = \frac{c_\text{obs} - c_\text{exp}}{1 - c_\text{exp}}
# = \frac{\mathrm{EI}_\text{ind} - \mathrm{EI}}{\mathrm{EI}_\text{ind}}
# = 1 - \frac{\mathrm{EI}}{\mathrm{EI}_\text{ind}}.$$
#
# Kappa is error inconsistency measured against its value for independent errors: 0
# when the models disagree as often as chance predicts, 1 when they never disagree. The
# last two columns below must agree to the last digit.

# %%
from norep.book.chapters import error_inconsistency as chapter

chapter.kappa_by_hand(pairs)

# %% [markdown]
# ````{solution-end}
# ````
