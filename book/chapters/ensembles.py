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
# - **reporting**: every number on the **test** split.
#
# A store without a calibration split gets T = 1 for every model (said below when it
# happens); models with only top-1 answers cannot be ensembled and are left out.

# %% tags=["parameters"]
store = "runs/fashion_mnist"  # prediction store, relative to the book's folder
base = "cnn-seed0"  # the model every pair of Fig 2 is formed with
band = 0.01  # half-width of the accuracy band around the base (fraction)
seed = 0  # seed of the bootstrap
n_bootstrap = 1000  # bootstrap samples for every interval

# %% tags=["hide-input"]
import pandas as pd

from norep.book.chapter import open_zoo, paper_vs_book
from norep.book.chapters.ensembles import (
    base_ensembles,
    claims,
    ensemble_members,
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
# resamples for every pair, so a category's mean over its pairs gets an interval too).

# %%
pairs = base_ensembles(members, n_bootstrap, seed)
pairs.shown()

# %% [markdown]
# The two computations must agree on the pairs with the base:

# %%
pairs.check()

# %% [markdown]
# ## Error inconsistency against ensemble improvement (Fig 2, left)
#
# Each dot is a pair; the lines are least-squares fits of the improvement on the error
# inconsistency, with Pearson's r. Left: the base with each partner (fitted over all
# partners, and over the partners in the band; the accuracy controls, grey, are not
# fitted). Right: every pair of the zoo's members, colored by the pair's own divergence
# category (fitted over all pairs, and over the pairs whose two models are in the band).
#
# Accuracy matters here twice: a weaker partner raises error inconsistency (it is
# wrong more often) and lowers the improvement (the mean of the members falls, but the
# weaker member mostly adds errors). The accuracy-matched fits show whether the
# relation holds without that lever.

# %%
fits = improvement_fits(pairs)
figure = fits.figure()

# %%
fits.table()

# %% [markdown]
# ## Ensemble accuracy and conversion rate per category (Fig 2, center and right)
#
# A category's value is the mean over its pairs with the base, with its bootstrap
# interval; black diamonds over all partners, black squares over the partners in the
# band. Dashed lines: the base alone, and the base paired with each accuracy control.
# Ensemble accuracy depends on the partner's accuracy as much as on its divergence,
# which is why the relative improvement stands beside it, and why the matched view
# matters.

# %%
figure = pairs.figure()

# %%
pairs.verdicts()

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
# relation of the left panel, the verdict is "yes" when the fitted slope is positive
# with p < 0.05 (Pearson's r over the pairs; the pairs share the base, so the p-value is
# indicative). For the categories, "yes" when the category means are monotone in the
# order of divergence over the categories this store has. For the headline pair, "yes"
# when the base's ensembles with partners of the most divergent category gain more over
# their better member, on average, than its ensembles with Reinit partners, and the
# best of them beats both its members.

# %%
paper_vs_book(claims(pairs, fits, scaling))
