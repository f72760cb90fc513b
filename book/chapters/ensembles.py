# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Ensembles
#
# If two models err on different examples, an ensemble of the two can fix the errors of
# one with the answers of the other. The paper's second figure measures this for pairs
# of the base with every other model: the **relative ensemble improvement** (ensemble
# accuracy minus the mean of the two members' accuracies) grows *linearly* with the
# pair's error inconsistency (left); ensembles of more divergent pairs are more
# accurate (center: a ResNet-50 at 76.5% with ALIGN zero-shot at 75.5% reaches
# **83.4%**); and the **conversion rate**, the share of the examples exactly one member
# gets right that the ensemble gets right, rises with divergence (right).
#
# As in the previous chapter, every claim is shown on all pairs and on accuracy-matched
# pairs (partners within the accuracy band of the base), with the accuracy controls (the
# base's recipe stopped at a lower accuracy) as a yardstick of what strength alone does.
#
# **The choices the paper leaves open, made here:**
#
# - **ensemble rule**: the mean of the two members' temperature-scaled softmax
#   probabilities; the ensemble predicts its argmax (ties to the lowest class index);
# - **temperature**: one per model, fitted by minimizing the negative log-likelihood on
#   the held-out **calibration** split, never on the test split;
# - **reporting**: every number on the **test** split; the one pair this chapter
#   showcases is chosen on the calibration split;
# - **intervals**: a pair's interval resamples the test examples (the two models are
#   fixed); a category's mean gets a **crossed** interval, which also redraws the
#   partners of each category with replacement, because which model happened to be
#   trained varies as much as the test set does. Every difference between categories
#   is stated with the smallest difference the zoo's numbers of models could detect
#   (80% power), and its verdict says "cannot tell at this size" when the interval
#   includes 0 and the zoo could not have detected the paper's effect.
#
# A store without a calibration split gets T = 1 for every model (said below when it
# happens); models with only top-1 answers cannot be ensembled and are left out.

# %% tags=["parameters"]
store = "runs/fashion_mnist"  # prediction store, relative to the book's folder
base = "cnn-seed0"  # the model every pair of Fig 2 is formed with
band = 0.01  # half-width of the accuracy band around the base (fraction)
seed = 0  # seed of the bootstrap
n_bootstrap = 1000  # bootstrap samples for every interval
device = "cpu"  # where temperatures are fitted and pairs decided: "cpu", "cuda", "auto"

# %% tags=["hide-input"]
import pandas as pd

from norep.book.chapter import open_zoo, paper_vs_book
from norep.book.chapters.ensembles import (
    base_ensembles,
    claims,
    ensemble_members,
    every_base,
    improvement_fits,
    temperature_scaling,
)

pd.set_option("display.max_colwidth", None)  # tables of prose: show every word
members = ensemble_members(open_zoo(store, base, band))
members.intro()

# %% [markdown]
# ## Temperatures and two-model ensembles
#
# Each model's temperature T minimizes its negative log-likelihood on the calibration
# split (`norep.analysis.calibration.fit_temperature`); its test probabilities are
# softmax(logits / T). Two-model ensembles of **every** pair come from
# `norep.analysis.ensembles.pairwise_ensembles`, exactly equal to averaging the two
# probability tables. For the pairs with the base, the ensemble is also computed
# example by example, so that its accuracy, its improvement and its conversion rate
# get paired bootstrap intervals (test examples resampled with replacement, the same
# resamples for every pair; the two models fixed). The table's intervals are these
# per-pair ones.

# %%
pairs = base_ensembles(members, n_bootstrap, seed, device=device)
pairs.shown()

# %% [markdown]
# The two computations must agree, on the base pairs and on every pair of members:

# %%
pairs.check()

# %% [markdown]
# ## Error inconsistency against ensemble improvement (Fig 2, left)
#
# The paper's linear relation is, for a two-member average, an identity. Of a pair's
# $M$ test examples, let $n_{11}$ be those both members get right and $D$ those exactly
# one gets right, so that the error inconsistency is $\mathrm{EI} = D/M$. The ensemble
# gets right $n_{11} - L$ of the first ($L$: **losses**), $C$ of the second (the
# conversion rate is $c = C/D$), and $R$ of the examples both members get wrong
# (**rescues**). The members' mean accuracy is $(2n_{11} + D)/2M$, hence
#
# $$\text{improvement} = \frac{n_{11} - L + C + R}{M} - \frac{2n_{11} + D}{2M}
#   = \mathrm{EI}\,\bigl(c - \tfrac12\bigr) + \frac{R}{M} - \frac{L}{M}.$$
#
# When both members' top class is the label, so is the top class of their average, so
# $L = 0$ but for rounding ties; the gain over the base alone subtracts half the
# accuracy gap, $(\mathrm{acc}_\text{base} - \mathrm{acc}_\text{partner})/2$. A line of
# improvement on error inconsistency therefore has a slope near the conversion rate
# minus one half whenever conversion rates and rescues vary little between pairs: the
# linear relation is built in, and the informative quantity is the **conversion
# rate**, tested per category in the next section. The decomposition of each base pair
# (`norep.analysis.ensembles.improvement_decomposition`, on the test split):

# %%
pairs.decomposition()

# %%
pairs.identity()

# %% [markdown]
# Each dot is a pair; the lines are least-squares fits of the improvement on the error
# inconsistency, with Pearson's r. Left: the base with each partner (fitted over all
# partners, and over the partners in the band; the accuracy controls, grey, are not
# fitted). Right: every pair of the zoo's members, colored by the pair's own divergence
# category (fitted over all pairs, and over the pairs whose two models are in the band).
# The lines describe; they test nothing. The pairs share models (every base pair shares
# the base), so a p-value that counts them as independent would overstate the evidence;
# none is given. Beside each slope, the slope the identity predicts: the mean
# conversion rate of the fitted pairs minus one half.
#
# Accuracy matters here twice: a weaker partner raises error inconsistency (it is
# wrong more often) and lowers the improvement (the mean of the members falls, but the
# weaker member mostly adds errors). The accuracy-matched fits show the relation
# without that lever.

# %%
fits = improvement_fits(pairs)
figure = fits.figure()

# %%
fits.table()

# %% [markdown]
# ## Ensemble accuracy and conversion rate per category (Fig 2, center and right)
#
# A category's value is the mean over its pairs with the base; black diamonds over all
# partners, black squares over the partners in the band, each with its crossed
# interval (test examples and the category's partners redrawn). Dashed lines: the base
# alone, and the base paired with each accuracy control. Ensemble accuracy depends on
# the partner's accuracy as much as on its divergence, which is why the relative
# improvement stands beside it, and why the matched view matters.

# %%
figure = pairs.figure()

# %% [markdown]
# The verdict on each metric compares the most with the least divergent category:
# "yes" only when the crossed interval of the difference lies above 0; the
# detectable difference is computed from the spread between the partners of each
# category and their number (it is unknown with a single partner in a category).

# %%
pairs.verdicts()

# %% [markdown]
# The conversion rate, step by step between adjacent categories (all partners):

# %%
pairs.steps("conversion_rate")

# %% [markdown]
# ## Every Reinit model as the base
#
# The base is one model among several trained the same way; another seed would have
# served as well. The same category means, with the base and each of its Reinit
# partners as the base in turn (each base's partners and their categories relative to
# it), on the test split, and their spread across the bases:

# %%
bases = every_base(pairs, n_bootstrap, seed)
bases.spread()

# %% [markdown]
# With each base, the verdict on each metric (crossed intervals, as above):

# %%
bases.shown()

# %% [markdown]
# ## The effect of temperature scaling
#
# Temperature scaling changes no model's own top-1 answers, only how confident they
# are; but an ensemble of probabilities weighs each member by its confidence, so the
# temperatures can change the ensemble's answers. Left and center: each model's test
# negative log-likelihood and expected calibration error (15 equal-width bins of top-1
# confidence) before and after scaling (`norep.book.views.calibration_table`). Right:
# each pair's ensemble accuracy with scaled members against unscaled ones (T = 1).

# %%
scaling = temperature_scaling(pairs)
figure = scaling.figure()  # None when the store has no calibration split

# %%
scaling.means()

# %%
scaling.text()

# %% [markdown]
# ## Paper vs this book
#
# The paper's claims for Fig 2, its numbers, and this store's, computed above. For the
# relation of the left panel, the verdict is "yes, by construction" when the fitted
# slope is positive: the relation is the identity above, not evidence about
# divergence. For the categories and the headline, the package's one rule
# (`norep.analysis.verdicts.contrast_verdict`): "yes" only when the crossed interval
# of the most minus the least divergent category excludes 0 in the paper's direction;
# "no" when it excludes 0 the other way; otherwise "cannot tell at this size", with the
# detectable difference beside it. The headline compares the mean gain over the better
# member of the most divergent category's pairs with that of the Reinit pairs; its
# showcased pair is chosen on the calibration split. The rows with every base say
# whether the most minus the least divergent difference keeps its sign from base to
# base.

# %%
paper_vs_book(claims(pairs, fits, scaling, bases))

# %% [markdown]
# ## Exercises
#
# Each exercise asks for a prediction before a computation with `norep` on this page's
# store. The solutions are folded: open one after trying. The student notebooks
# (`norep book student OUT`) leave them out.

# %% [markdown]
# ```{exercise} Predict the best pair
# :label: ens-best
#
# Which two models of the store make the most accurate two-model ensemble? Before
# computing, predict it from the members' accuracies and categories in the first table
# of this chapter. Is it the pair of the two most accurate models? Then compute the
# ensembles of every pair of the base and the partners (`pairs.ensembles.accuracy`,
# rows in the order `members.order`).
# ```

# %% [markdown]
# ````{solution-start} ens-best
# :class: dropdown
# ````
#
# An ensemble's accuracy is its members' mean accuracy plus the improvement
# $\mathrm{EI}\,(c - \tfrac12) + (R - L)/M$ of this chapter's identity. Two strong
# models that err alike have few examples to fix (low $\mathrm{EI}$); a slightly weaker
# partner that errs differently often ends higher. The table ranks the pairs by
# ensemble accuracy; the sentence after it says where the two most accurate models
# rank.

# %%
from norep.book.chapters import ensembles as chapter

chapter.best_pairs(pairs)

# %%
chapter.strongest_pair_rank(pairs)

# %% [markdown]
# ````{solution-end}
# ````

# %% [markdown]
# ```{exercise} Temperatures change the ensemble
# :label: ens-temperature
#
# Temperature scaling changes no model's own answers. Predict which pairs' ensembles it
# changes most: look at the temperatures `T` in the first table (which models are far
# from T = 1, and in which direction?). Then compare each pair's ensemble accuracy with
# fitted temperatures and with T = 1 (`pairs.ensembles`, `pairs.unscaled`).
# ```

# %% [markdown]
# ````{solution-start} ens-temperature
# :class: dropdown
# ````
#
# In an average of probabilities, where the two members disagree the more confident
# one decides. A model with T below 1 was underconfident (scaling sharpens it), above 1
# overconfident (scaling flattens it). The pairs that change most join a model whose
# temperature is far from 1 with one whose temperature is not: scaling shifts which of
# the two decides on the examples only one of them gets right.

# %%
from norep.book.chapters import ensembles as chapter

chapter.temperature_effects(pairs)

# %% [markdown]
# ````{solution-end}
# ````
