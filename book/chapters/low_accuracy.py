# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Low-accuracy models help
#
# If diverse models make different errors, a strong model should gain from models
# that are **weaker** than it, as long as they were trained differently. The paper
# tests this in two ways. Its Fig. 5 grows greedy ensembles from high-accuracy anchors
# (BiT-1k at 82.85% reaches 86.66%) while allowing only models of at most 77.9%
# accuracy to join, and notes that the first model the greedy search adds always
# differs from the anchor in its training objective or data. Its section 4.5 pairs a
# ResNet-50 (76.2%) with a much weaker CLIP-S zero-shot model (63.3%) and still gains
# (77.7%). This chapter repeats both on the store, and adds the control the paper
# lacks: is a weak but **differently trained** model more useful than an equally weak
# model trained **the same way** as the base (an accuracy control)?

# %% tags=["parameters"]
store = "runs/fashion_mnist"  # prediction store, relative to the book's folder
base = "cnn-seed0"  # the model every pair is formed with
band = 0.01  # half-width of the accuracy band (calibration accuracy, fraction)
seed = 0  # seed of the bootstrap
n_bootstrap = 1000  # bootstrap samples for every interval
device = "cpu"  # where temperatures are fitted: "cpu", "cuda", "auto"
n_anchors = 3  # greedy runs, one per anchor, from the strongest members
max_size = 4  # the largest greedy ensemble, anchor included
cap = None  # highest calibration accuracy of a candidate (fraction); None: base + band
weak_partner = None  # the much weaker, differently trained partner; None: by the rule
control = None  # the weaker same-recipe reference for it; None: by the rule below

# %% tags=["hide-input"]
import pandas as pd
from IPython.display import Markdown, display

from norep.book.chapter import open_zoo, paper_vs_book
from norep.book.chapters import low_accuracy as la
from norep.book.plots.greedy import ensemble_gains, greedy_curves

pd.set_option("display.max_colwidth", None)
zoo = open_zoo(store, base, band)
lz = la.low_accuracy_zoo(zoo, device)
display(zoo.intro())
lz.summary()

# %% [markdown]
# ## The ensemble and the greedy search
#
# The paper leaves three choices open; this book makes them as follows.
#
# - **Ensemble rule:** each member's logits are divided by its own temperature, and
#   the ensemble predicts the class of highest mean softmax probability
#   (`norep.analysis.ensembles`).
# - **Temperatures:** fitted per model on the **calibration** split, by minimizing
#   the negative log-likelihood.
# - **Greedy selection:** from the anchor, repeatedly add the candidate that most
#   raises the ensemble's accuracy **on the calibration split**
#   (`norep.book.views.greedy_ensemble`). Candidates are added **without
#   replacement** (each at most once), one per step, the best one even when it lowers
#   the calibration accuracy; the search **stops** at `max_size` members or when no
#   candidate is left. The test split is only read to report each step: selecting on
#   test would inflate every number below.
#
# **Anchors and candidates.** The paper's candidates are the models of at most 77.9%
# accuracy, the top of its 74-78% band, and its anchors are stronger models
# (80.9-85.1%). Here a candidate's calibration accuracy must be at most the **cap**
# (by default the top of the band: the base's calibration accuracy plus `band`) and
# below the anchor's; the anchors are the `n_anchors` strongest members by
# **calibration** accuracy (those above the cap first; when fewer are above it, the
# next strongest), so that no choice is made on test and the result does not rest on
# one anchor. Each anchor runs three times: with every member
# under the cap as a candidate; with only the members **in the band**, the
# accuracy-matched pool; and, as a baseline the paper lacks, with only the members of
# **the anchor's own recipe** (those that differ from it in nothing but the seed):
# if that run gains as much, the greedy ensemble is ordinary seed ensembling, not
# the benefit of diverse training. Accuracy controls are never candidates: they serve
# as the reference in the last section.

# %%
plan = la.greedy_plan(lz, n_anchors, cap)
display(plan.note())
plan.table()

# %% [markdown]
# ## Greedy ensembles from the strongest members (the paper's Figure 5)
#
# Each panel is one greedy run: the test accuracy of the ensemble after each addition
# (filled markers, colored by the added model's divergence category **relative to the
# anchor**) and the added model's own test accuracy (hollow). The gray band is the 95%
# paired bootstrap interval of the ensemble's gain over the anchor alone (test
# examples resampled, the same resamples for every run; the models are fixed, so the
# interval says how sure the gain is on this test set, not for other models).

# %%
runs = la.greedy_runs(plan, max_size, n_bootstrap, seed)
if len(runs):
    figure = greedy_curves(runs, ncols=max(2, len(plan.anchors)))
else:
    display(plan.no_runs())

# %% [markdown]
# ### Against the anchor's own recipe
#
# Each anchor's run over every candidate against its run over the candidates of its
# own recipe (other seeds), both at their last step, with the difference of their
# gains over the anchor (paired intervals). An anchor without a candidate of its own
# recipe has no baseline.

# %%
baseline = la.same_recipe_comparison(plan, runs, n_bootstrap, seed)
la.same_recipe_view(plan, baseline)

# %% [markdown]
# ### The first addition
#
# The paper's table: the anchor's accuracy plus the first addition's accuracy gives
# the two-member ensemble's accuracy, and the first addition differs from the anchor
# in its loss (training objective) and/or its data. "Differs in" lists the methodology
# fields in which the two models differ; the last column is the base rate, the share
# of that run's candidates that differ from the anchor in loss or data, with an
# interval from redrawing the candidates: if most candidates do, a first addition
# that does too is no surprise. The verdict below weighs the hits against the base
# rates: how likely would random first additions differ as often?

# %%
first = la.first_additions(plan, runs, n_bootstrap, seed)
la.first_additions_view(first)

# %% [markdown]
# ## Every weaker partner of each anchor
#
# The greedy search shows the best additions; this view shows them all. For each
# anchor, every two-member ensemble with a model under the cap and weaker than the
# anchor (the accuracy controls included, in gray): its gain over the anchor alone
# against the partner's own accuracy, with 95% paired bootstrap intervals. If
# divergence rather than strength decides, the more divergent partners sit higher at
# the same accuracy. The table after the figure averages the gains per category.

# %%
pairs = la.partner_gains(plan, n_bootstrap, seed)
if len(pairs):
    figure = ensemble_gains(pairs, max_labels=0)
else:
    display(Markdown("No anchor has a weaker partner under the cap."))

# %%
if len(pairs):
    display(la.gain_summary(pairs))

# %% [markdown]
# ## A much weaker model still helps (the paper's section 4.5)
#
# The paper adds CLIP-S zero-shot (63.3%), 13 points weaker than its ResNet-50
# (76.2%), and still gains 1.5 points. Here the weak partner is, unless the parameters
# name one, the **weakest** Dataset or Framework member relative to the base (an
# Architecture member when there is none). Its reference is the accuracy control
# closest to it in calibration accuracy: the base's recipe family made weaker (less
# data or a shorter schedule), weak in strength but not different in method. (A store
# without accuracy controls falls back to the Reinit or Hyper-parameters member
# closest in accuracy.) The gains are over the base alone, on test, with paired
# bootstrap intervals from the same resamples, so their difference has an interval too.

# %%
weak = la.weak_partner_comparison(lz, weak_partner, control, n_bootstrap, seed)
display(*weak.outputs(band))

# %% [markdown]
# Every partner of the base in one view: each two-member ensemble's gain over the base
# against the partner's accuracy. The accuracy controls (gray) trace what strength
# alone gives; a differently trained partner above them at the same accuracy helps
# because it is different, not because it is strong.

# %%
figure = ensemble_gains(la.base_partner_gains(lz, n_bootstrap, seed), max_labels=20)

# %% [markdown]
# ## Paper vs this book
#
# Each row: the paper's claim and number, what this store gives, and whether it
# reproduces, decided from the intervals above: a gain "holds" (yes) when its 95%
# interval lies above zero, and "cannot tell at this size" when it includes zero.
# These intervals resample test examples for fixed models; every anchor is shown, not
# only the strongest. The first additions count as "yes" only when random first
# additions would differ in loss or data as often with probability below 5%.

# %%
paper_vs_book(la.low_accuracy_verdicts(plan, runs, first, baseline, weak))

# %% [markdown]
# ## Exercises
#
# Each exercise asks for a prediction before a computation with `norep` on this page's
# store. The solutions are folded: open one after trying. The student notebooks
# (`norep book student OUT`) leave them out.

# %% [markdown]
# ```{exercise} The base's first greedy addition
# :label: la-first
#
# Take the base as the anchor and every model less accurate than it (calibration
# accuracy) as a candidate. Predict the greedy search's first pick: the candidate whose
# two-member ensemble with the base is most accurate on the **calibration** split. Is it
# the strongest candidate? Then compute every candidate's gain on both splits.
# ```

# %% [markdown]
# ````{solution-start} la-first
# :class: dropdown
# ````
#
# The first pick maximizes the ensemble's calibration accuracy, not the candidate's own:
# a candidate a little weaker but trained differently can fix more of the base's
# errors than a stronger candidate of the base's recipe. The test column shows whether
# the choice made on calibration holds on test; ranks can swap where gains are close.

# %%
la.first_partner(lz)

# %% [markdown]
# ````{solution-end}
# ````

# %% [markdown]
# ```{exercise} A much weaker helper
# :label: la-weak
#
# Find a model at least twice the band (`2 * band`) less accurate than the base on test
# whose two-member ensemble with the base is still more accurate than the base alone,
# with a 95% interval above 0. Predict first whether it will be an accuracy control or
# a model trained differently.
# ```

# %% [markdown]
# ````{solution-start} la-weak
# :class: dropdown
# ````
#
# A weak model helps only where it is right and the base is wrong, and only when it is
# confident enough there to outvote the base. A weaker model of the base's own recipe
# errs on much the same examples, so it mostly adds errors; a differently trained one
# may be right on other examples. Whether any model this far below the base helps is a
# property of the store: the verdicts below say it, with their intervals.

# %%
la.weak_helpers(lz, 2 * band, n_bootstrap, seed)

# %% [markdown]
# ````{solution-end}
# ````
