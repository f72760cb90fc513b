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
# claim is that it grows as methods diverge. Its intervals come from a paired
# bootstrap over test examples, the same resamples for every pair, so differences
# between pairs and between categories get intervals too.

# %%
angles = chapter.pair_thetas(zoo, temperature_scaling)
shares = chapter.confident_right_shares(zoo, partners, angles, n_bootstrap, seed)
angles.note(zoo)

# %% [markdown]
# ## Three example pairs (the paper's Figure 3)
#
# The paper shows a Reinit pair, an Architecture pair and a Dataset pair. Unless the
# parameters name the partners, this chapter picks, for each, the first partner of
# that category (in store order) that lies in the accuracy band, else the first of
# the category at all; for the divergent pair, a Dataset partner first, then a
# Framework partner. Accuracy controls are never picked: they are the reference, not
# an example.

# %%
examples = chapter.example_partners(zoo, angles, reinit_partner, architecture_partner,
                                    divergent_partner)
shown = [m for m in examples.values() if m is not None]
figure = theta_histograms(chapter.histogram_data(zoo, partners, angles, shown))

# %%
display(chapter.example_table(zoo, shares, shown))
chapter.missing_note(examples)

# %% [markdown]
# ## Every pair, and accuracy-matched pairs
#
# The confident-right share of every pair with the base, grouped by category. Hollow
# markers are partners outside the accuracy band; gray ones are accuracy controls, the
# base recipe stopped at a lower accuracy, whose pairs show what a gap in strength
# alone does to the share.

# %%
figure = pair_effects(
    chapter.effects_order(shares),
    "confident-right share (%): the right model is the more confident one",
    reference=50,
    title=f"pairs with {zoo.names[base]}: {chapter.LEVEL:.0%} paired bootstrap "
    "intervals",
)

# %% [markdown]
# Per category: the mean share over the category's pairs, over all of them and over
# those in the band, with intervals from the same bootstrap resamples. The trend is
# read two ways: Spearman's rank correlation between the category's level (Reinit = 1
# ... Dataset = 5) and the pair's share, and the **contrast**: the mean over the most
# divergent pairs (Dataset and Framework; the highest level present when there are
# none) minus the mean over the Reinit pairs, with its interval. The accuracy
# controls are listed apart: they are what a gap in strength alone gives.

# %%
share_trend = shares.trend()
display(share_trend.summary.rename(
    columns=lambda c: c.replace("mean", "mean share (%)")))
share_trend.text("Trend of the confident-right share with divergence.")

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
figure = subdomain_wins(chapter.wins_panels(partners, wins, shown_wins, "class"))

# %%
if len(parts) > 1:
    by_part = chapter.wins_panels(partners, wins, shown_wins, parts[1])
    figure = subdomain_wins(by_part)
else:
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
# methodological reason to specialize, so the Reinit pairs' spread is the floor. The
# spread gets its interval from the same paired bootstrap as above (per-class sums on
# shared resamples of the test examples; an example a model did not answer counts as
# wrong here).

# %%
spreads = chapter.class_spreads(zoo, partners, n_bootstrap, seed)
chapter.specialization_table(partners, wins, spreads)

# %%
spread_trend = spreads.trend()
display(spread_trend.summary.rename(
    columns=lambda c: c.replace("mean", "mean class spread (points)")))
spread_trend.text("Trend of the class spread with divergence.")

# %% [markdown]
# ## Paper vs this book
#
# Each row: the paper's claim and number, what this store gives, and whether it
# reproduces, decided from the intervals above: a difference "holds" when its 95%
# interval lies above zero, and a claim about divergence is read at matched accuracy
# (pairs in the band) first.

# %%
paper_vs_book(chapter.paper_rows(zoo, shares, spreads, wins,
                                 examples["Dataset or Framework"]))
