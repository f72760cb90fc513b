# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The zoo
#
# Every chapter compares one **base** model with many others and sorts each pair
# (base, other) by how far their training methodologies diverge: the pair belongs to
# the highest level at which the two differ, from *Reinit* (only the random seed) to
# *Dataset* (the training data). This chapter shows the zoo that the rest of the book
# analyzes: every model, its methodology, its category, and its accuracy against the
# band of accuracies within which the paper compares models.

# %% tags=["parameters"]
store = "runs/fashion_mnist"  # prediction store, relative to the book's folder
base = "cnn-seed0"  # the model every pair is formed with
band = 0.01  # half-width of the accuracy band around the base (fraction)
seed = 0  # seed of the bootstrap
n_bootstrap = 1000  # bootstrap samples for the accuracy intervals

# %% tags=["hide-input"]
from norep.book.chapter import open_zoo, paper_vs_book
from norep.book.chapters.zoo import (
    band_gaps,
    band_sentence,
    category_counts,
    methodology_table,
    zoo_accuracy,
    zoo_models,
    zoo_verdicts,
)
from norep.book.plots.zoo import accuracy_band

zoo = open_zoo(store, base, band)
zoo.intro()

# %% [markdown]
# ## Methodology and category
#
# Each model is described by its methodology: architecture, training objective,
# training data, seed and hyper-parameters. Its category is derived from these fields
# relative to the base, never written by hand: the two methodologies are compared
# field by field, from the training data down to the seed, and the first field that
# differs names the category. A model whose category cannot be decided stops the
# chapter: its methodology is incomplete.
#
# The mini zoo (`zoos/fashion_mnist.yaml`) is designed so that its categories measure
# methodology, not an accident of how it was trained:
#
# - **Independent seeds.** Every model trains from its own seed: its own initial
#   weights and its own order of training examples. A model that shared the base's
#   seed would start where the base started and err more like it than its recipe
#   explains; the spec is rejected if a model shares a seed without saying so.
# - **Nested divergence**, as in the paper's zoo, where CLIP differs from ResNet-50 in
#   data, objective, architecture and recipe at once: a model differs from the base in
#   its category's field and, usually, in the fields below it. The Framework members
#   span several architectures (a CNN, an MLP, LeNet-5, a forest, a kernel machine);
#   the Dataset members train on the other half of the training set *and* change the
#   architecture or objective. No member is distilled from the base itself.
# - **Roles kept out of the categories.** *Same seed* models are hyper-parameter
#   variants started from the base's seed on purpose: a lesson, shown beside their
#   independent-seed twins in the error-inconsistency chapter. *Data only* models are
#   the base's recipe on the other half and nothing else, reported on their own
#   between Reinit and Dataset. *Accuracy controls* are the base's recipe family made
#   weaker (less data, a shorter schedule), each trained to the end of its schedule
#   from its own seed: they separate "weaker" from "trained differently". (Stores of
#   imported predictions have no roles: all their models are members.)
#
# The column "differs from the base in" lists every field that differs; the first
# one names the category.

# %%
models = zoo_models(zoo)
methodology_table(zoo, models)

# %% [markdown]
# ## Accuracy against the band
#
# The paper compares only models within a narrow band of accuracy (74-78% top-1
# around a 76.5% base) so that differences between pairs come from methodology, not
# from strength. In this book a model is **in the band** when its accuracy on the
# **calibration** split is within `band` of the base's: later chapters make every
# choice (temperatures, greedy selection) on the calibration split and report on the
# **test** split. Both accuracies are recomputed here from the stored predictions.
#
# The test intervals are 95% percentile bootstrap intervals over test examples. An
# accuracy is a mean of 0/1 values, so the number of correct answers in a resample of
# the $n$ examples drawn with replacement is binomial with the observed accuracy: the
# bootstrap draws that count directly.

# %%
accuracy = zoo_accuracy(zoo, models, seed, n_bootstrap)
band_sentence(zoo, accuracy)

# %% [markdown]
# Left, the calibration accuracies that decide the band (shaded); right, the test
# accuracies with their intervals. Filled markers are in the band, hollow ones are not.

# %%
figure = accuracy_band(accuracy, band)

# %% [markdown]
# The band is decided on the calibration split, but the chapters measure on the test
# split. Each partner in the band, with its gap to the base on both splits (points):
# a partner inside the band may still be a point away on test.

# %%
band_gaps(zoo, accuracy)

# %% [markdown]
# ## Counts per category
#
# Members by category and how many of them are in the band; the models of the other
# roles are counted apart, under the category their methodology falls in.

# %%
category_counts(accuracy)

# %% [markdown]
# ## Paper vs this book
#
# The zoo is the setting of every claim, not a claim itself: what must reproduce is
# its design, partners of the base in every category at matched accuracy.

# %%
paper_vs_book(zoo_verdicts(zoo, accuracy))

# %% [markdown]
# ## Exercises
#
# Each exercise asks for a prediction before a computation with `norep` on this page's
# store. The solutions are folded: open one after trying. The student notebooks
# (`norep book student OUT`) leave them out.

# %% [markdown]
# ```{exercise} Name the category of a pair
# :label: zoo-category
#
# Every table of this chapter pairs a model with the base. The table below pairs
# models that are **not** the base, one pair per category. For each pair, predict its
# divergence category from the two methodologies (each column shows "first | second")
# with the rule of this chapter, then check your answers with the package.
# ```

# %%
from norep.book.chapters import zoo as chapter

chapter.category_quiz(zoo)

# %% [markdown]
# ````{solution-start} zoo-category
# :class: dropdown
# ````
#
# The two methodologies are compared field by field from the training data down to the
# seed (`norep.zoo.divergence_category`): training data names *Dataset*, the objective
# *Framework*, the architecture *Architecture*, the hyper-parameters
# *Hyper-parameters*, the seed *Reinit*. The first field that differs names the
# category, whatever differs below it: categories are nested, so a pair that differs
# in its training data is a Dataset pair even when its architecture differs too.

# %%
chapter.category_quiz(zoo, answers=True)

# %% [markdown]
# ````{solution-end}
# ````

# %% [markdown]
# ```{exercise} A shared seed
# :label: zoo-seed
#
# The zoo keeps models of role **same-seed**: a hyper-parameter variant of the base
# trained from the base's seed. Its **twin** has the same recipe and its own seed. Both
# differ from the base in the same hyper-parameters. Predict which of the two errs more
# like the base (lower error inconsistency, higher kappa on the test split), and why.
# Then compute both pairs' error inconsistency and kappa with
# `norep.analysis.pairs.pair_metrics` on `norep.store.read_outcomes(zoo.store, "test")`.
# ```

# %% [markdown]
# ````{solution-start} zoo-seed
# :class: dropdown
# ````
#
# The same-seed model starts from the base's initial weights and sees the training
# examples in the base's order, so one expects it to end closer to the base than its
# recipe explains; its twin differs from the base in the same hyper-parameters but
# shares nothing else. The difference between the two is what the seed alone shares
# (the last column says which is closer here). This is why every
# member of the zoo trains from its own seed, and why the same-seed models stay out of
# the category means (the error-inconsistency chapter gives the lesson its intervals).

# %%
chapter.seed_sharing(zoo)

# %% [markdown]
# ````{solution-end}
# ````
