# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Specialization: who is right, how sure, and where
#
# Two models that make different errors can make them in two ways: at random, or
# because each has learned something the other has not. The paper argues for the
# second: when training methodologies diverge, on the examples only one model gets
# right **that model is also the more confident one** (its Fig. 3), and each model is
# better on a different **part of the data** (its Fig. 4: CLIP on anthropogenic
# ImageNet classes, ResNet-50 on nature). This chapter measures both for every pair
# (base, other) of the store: first on all pairs, then on the pairs whose accuracies
# match within the band, with the accuracy controls (the base recipe stopped at a
# lower accuracy) as the reference for what a mere gap in strength does.

# %% tags=["parameters"]
store = "runs/fashion_mnist"  # prediction store, relative to the book's folder
base = "cnn-seed0"  # the model every pair is formed with
band = 0.01  # half-width of the accuracy band (calibration accuracy, fraction)
seed = 0  # seed of the bootstrap
n_bootstrap = 1000  # bootstrap samples for every interval
device = "cpu"  # where temperatures are fitted: "cpu", "cuda", "auto"
reinit_partner = None  # partner of the Reinit example pair; None: by the rule below
architecture_partner = None  # partner of the Architecture example pair; None: by rule
divergent_partner = None  # a Dataset or Framework partner; None: by the rule
subdomain = "superclass"  # examples column that groups classes; None: the first found
temperature_scaling = True  # confidences from temperature-scaled logits (calibration)

# %% tags=["hide-input"]
import pandas as pd
from IPython.display import Markdown, display

from norep.book.chapter import open_zoo, paper_vs_book
from norep.book.chapters import specialization as chapter
from norep.book.plots.specialization import (pair_effects, subdomain_wins,
                                             theta_histograms)

pd.set_option("display.max_colwidth", None)  # long verdicts in full
zoo = open_zoo(store, base, band)
partners = chapter.partner_table(zoo)  # every other model, with its test accuracy
zoo.intro()

# %% [markdown]
# ## The confidence angle theta
#
# For a pair (a, b) = (base, other), take the test examples on which **exactly one**
# of the two models is right, and each model's top-1 confidence there (its largest
# softmax probability), $c_a$ and $c_b$. The paper plots the angle of the point
# $(c_a, c_b)$ in the confidence plane; this book uses
#
# $$\theta = \operatorname{arctan2}(c_b, c_a) \in [0°, 90°],$$
#
# so $\theta < 45°$ means the base was the more confident, $\theta > 45°$ the other
# model. The paper does not say whether its confidences are temperature-scaled.
# Here, when `temperature_scaling` is on, each model's logits are divided by its own
# temperature, fitted on the **calibration** split (never on test), so that a model
# that is overconfident everywhere does not tilt every histogram; models with top-1
# confidences only keep theirs.
#
# The summary of a pair is the **confident-right share**: among its exactly-one-right
# examples, the share on which the model that is right is also the more confident one
# (theta on its side of 45°). Calibrated models are more confident when they are
# right, so the share is above 50% even for two seeds of one recipe; the paper's
# claim is that it grows as methods diverge.
#
# Two kinds of interval appear below. A **pair's** interval comes from a paired
# bootstrap over the test examples (the same resamples for every pair): it says how
# precisely this store measures that pair, and nothing about other models. A
# **category's** mean, and a difference between categories, gets a **crossed**
# interval: every bootstrap sample also redraws the partners within their category
# (with replacement), so the interval includes which models happened to be trained,
# the larger source of variation when a category has a handful of models.

# %%
angles = chapter.pair_thetas(zoo, temperature_scaling, device=device)
shares = chapter.confident_right_shares(zoo, partners, angles, n_bootstrap, seed)
angles.note(zoo)

# %% [markdown]
# ## Three example pairs (the paper's Figure 3)
#
# The paper shows a Reinit pair, an Architecture pair and a Dataset pair. Unless the
# parameters name the partners, this chapter picks, for each, the first member of
# that category (in store order) that lies in the accuracy band, else the first of
# the category at all; for the divergent pair, a Dataset partner first, then a
# Framework partner. Accuracy controls and models of the other roles are never
# picked. The band is decided on the calibration split, so no example pair is chosen
# by what it shows on test; each is one draw of its kind, and the verdicts below rest
# on all pairs, not on these.

# %%
examples = chapter.example_partners(zoo, angles, reinit_partner, architecture_partner,
                                    divergent_partner)
shown = [m for m in examples.values() if m is not None]
if shown:
    figure = theta_histograms(chapter.histogram_data(zoo, partners, angles, shown))

# %%
if shown:
    display(chapter.example_table(zoo, shares, shown))
chapter.missing_note(examples)

# %% [markdown]
# ## Every pair, and accuracy-matched pairs
#
# The confident-right share of every pair with the base, grouped by category, with
# its interval over the test examples. Hollow markers are partners outside the
# accuracy band; gray ones are accuracy controls, the base's recipe made weaker, whose
# pairs show what a gap in strength alone does to the share.

# %%
if angles.tables:
    figure = pair_effects(
        chapter.effects_order(shares),
        "confident-right share (%): the right model is the more confident one",
        reference=50,
        title=f"pairs with {zoo.names[base]}: {chapter.LEVEL:.0%} intervals over "
        "test examples",
    )

# %% [markdown]
# Per category: the mean share over the category's member pairs, over all of them and
# over those in the band, with crossed intervals. The trend is read two ways:
# Spearman's rank correlation between the category's level (Reinit = 1 ... Dataset =
# 5) and the pair's share, and the **contrast**: the mean over the most divergent
# pairs (Dataset and Framework; the highest level present when there are none) minus
# the mean over the Reinit pairs, with its crossed interval and the smallest contrast
# the store could detect with 80% power given its numbers of models and their spread.
# A contrast is "yes" only when its crossed interval lies above 0; an interval that
# includes 0 says "cannot tell at this size" (the paper gives no size for it). The
# accuracy controls and models of the other roles are listed apart, each with its
# interval over the examples.

# %%
share_trend = shares.trend()
display(share_trend.summary.rename(
    columns=lambda c: c.replace("mean", "mean share (%)")))
share_trend.text("Trend of the confident-right share with divergence.")

# %% [markdown]
# ### Every model of the base's recipe as the base
#
# The base is one seed of its recipe; another seed would pair differently with every
# partner. The same summaries, with each model of the base's recipe (the base and its
# Reinit partners) in turn as the base, each with its own band around its own
# calibration accuracy: the category means over all pairs, and the contrast over all
# pairs and in the band, with crossed intervals; the last row gives the range across
# bases.

# %%
bases = chapter.every_base(zoo, angles, n_bootstrap, seed)
display(bases.table("share"))
bases.text("share")

# %% [markdown]
# ## Who wins where (the paper's Figure 4)
#
# The paper splits ImageNet by class id and finds each model of a divergent pair
# better on its own range of classes. Here, for each class and for each group of
# classes (the `subdomain` column, e.g. the superclasses tops, footwear and other
# items of Fashion-MNIST), the accuracy difference base minus partner on the test
# examples of that part, with a 95% paired bootstrap interval; a part goes to the
# model whose lead has an interval excluding zero. A weaker partner tends to lose
# everywhere, so the pairs in the band are the ones to read first. The figures show
# the example pairs and the first accuracy control.

# %%
parts, note = chapter.subdomain_parts(zoo, subdomain)
wins = chapter.subdomain_wins_tables(zoo, parts, n_bootstrap, seed)
note

# %%
shown_wins = shown + zoo.roster.controls[:1]
if shown_wins:
    figure = subdomain_wins(chapter.wins_panels(partners, wins, shown_wins, "class"))
else:
    display(Markdown("No example pair and no accuracy control: no figure."))

# %%
if len(parts) > 1 and shown_wins:
    by_part = chapter.wins_panels(partners, wins, shown_wins, parts[1])
    figure = subdomain_wins(by_part)
elif len(parts) == 1:
    display(Markdown("No subdomain column in this store: only the per-class view."))

# %% [markdown]
# ### How much each pair specializes
#
# Counting won parts is a blunt measure: with many classes, some intervals exclude
# zero by chance, and two seeds of one recipe already split a few classes. The
# measure read here is the **class spread**: the standard deviation, across classes,
# of the per-class accuracy differences (in points). A pair whose models are equally
# good everywhere has a spread near the sampling noise; a pair whose models each lead
# on their own classes has a large one. Two seeds of one recipe have no
# methodological reason to specialize, so the Reinit pairs' spread is the floor. A
# pair's spread gets its interval from the paired bootstrap over the test examples
# (per-class sums on shared resamples; an example a model did not answer counts as
# wrong here); the category means below get crossed intervals, as for the share.

# %%
spreads = chapter.class_spreads(zoo, partners, n_bootstrap, seed)
chapter.specialization_table(partners, wins, spreads)

# %%
spread_trend = spreads.trend()
display(spread_trend.summary.rename(
    columns=lambda c: c.replace("mean", "mean class spread (points)")))
spread_trend.text("Trend of the class spread with divergence.")

# %% [markdown]
# The same with each model of the base's recipe as the base:

# %%
display(bases.table("spread"))
bases.text("spread")

# %% [markdown]
# ### All pairs of a kind against all seed pairs
#
# The example pair above is one draw: one model of the base's recipe and one partner.
# Whether its kind differs by class more than seeds do is a question about all such
# pairs. Here every model of the base's recipe is paired with every model of each kind
# (each category above Reinit, and the base's recipe on other data where the store
# has it), and the kind's mean class spread is set against the mean over the **seed
# pairs**, the pairs among the models of the base's recipe. Each crossed bootstrap
# sample redraws the recipe's models and each kind's models with replacement (a pair
# counts as often as both its models are drawn) and the test examples. The example
# pair is ringed in the figure.

# %%
kinds = chapter.kinds_versus_seeds(zoo, n_bootstrap, seed)
divergent = examples["Dataset or Framework"]
if kinds is None:
    display(Markdown("The base's recipe has one model here: no seed pair."))
else:
    showcased = None if divergent is None else (base, divergent)
    figure = kinds.figure(showcased)
    display(kinds.table())

# %% [markdown]
# ## Paper vs this book
#
# Each row: the paper's claim and number, what this store gives, and whether it
# reproduces, decided by the book's one rule on the crossed intervals above: "yes"
# when the interval lies above zero, "no" when it lies below, else "cannot tell at
# this size", with the detectable difference beside it. A claim about divergence is
# read at matched accuracy (pairs in the band) when the band has a contrast; the Fig 4
# claim is read on all pairs of the example pair's kind against all seed pairs.

# %%
paper_vs_book(chapter.paper_rows(zoo, shares, spreads, wins, kinds, divergent))

# %% [markdown]
# ## Exercises
#
# Each exercise asks for a prediction before a computation with `norep` on this page's
# store. The solutions are folded: open one after trying. The student notebooks
# (`norep book student OUT`) leave them out.

# %% [markdown]
# ```{exercise} Where a weaker model wins
# :label: spec-weaker
#
# Find a model that is less accurate than the base on the whole test split but
# significantly more accurate on one class or superclass. Use `wins` (one row per
# partner, part and subdomain: `difference` is base minus partner in points, `low` and
# `high` its 95% interval, `winner` "b" when the partner wins) and `partners` (test
# accuracy per partner, %). Predict first: which kind of model will it be?
# ```

# %% [markdown]
# ````{solution-start} spec-weaker
# :class: dropdown
# ````
#
# A model weaker overall can still win a part of the data: its accuracy is an average
# over classes, and a model that learned something the base did not gains on some
# classes what it loses on others. Read the rows with care: with ten classes and many
# partners, some intervals exclude zero by chance (the class spread above is the
# measure that accounts for it), and a weaker model of the base's own recipe (an
# accuracy control) that wins a class says that seeds alone move classes.

# %%
chapter.weaker_winners(zoo, partners, wins)

# %% [markdown]
# ````{solution-end}
# ````

# %% [markdown]
# ```{exercise} Rank the confident-right shares
# :label: spec-share
#
# Predict the order: will the Reinit partners have the lowest confident-right shares of
# all models paired with the base, and the Dataset partners the highest? Where will the
# accuracy controls fall? Then rank every model by its share (`shares.table`, column
# `value`).
# ```

# %% [markdown]
# ````{solution-start} spec-share
# :class: dropdown
# ````
#
# The paper expects the share to grow with divergence. Two things blur the order: the
# intervals over the test examples are several points wide, so neighbours in the
# ranking are often indistinguishable; and a weaker partner has more exactly-one-right
# examples on which the base is right and confident, which raises the share without
# any specialization. The accuracy controls show how far that alone goes.

# %%
chapter.share_ranking(shares)

# %% [markdown]
# ````{solution-end}
# ````
