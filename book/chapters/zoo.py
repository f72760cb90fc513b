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

# %%
import json

import numpy as np
import pandas as pd
from IPython.display import Markdown

from norep.store import read_outcomes
from norep.book.build import project_path
from norep.book.plots.zoo import accuracy_band
from norep.zoo.roster import BASE_LABEL, make_roster
from norep.store import Store
from norep.zoo import CATEGORIES

zoo = Store(project_path(store))
dataset = zoo.manifest["dataset"]["name"]
roster = make_roster(zoo, base, band)
models = zoo.models.set_index("model_id").loc[zoo.model_ids]
Markdown(f"Store `{store}`: dataset **{dataset}**, {len(zoo.classes)} classes, "
         f"{len(models)} models, base **{base}**.")

# %% [markdown]
# ## Methodology and category
#
# Each model is described by its methodology: architecture, training objective,
# training data, seed and hyper-parameters. Its category is derived from these fields
# relative to the base, never written by hand: the two methodologies are compared
# field by field, from the training data down to the seed, and the first field that
# differs names the category. Models whose role is *accuracy-control* follow the base
# recipe but stop at a lower accuracy: they separate "weaker" from "trained
# differently" in later chapters. (Stores of imported predictions have no roles: all
# their models are members.)

# %%
undecided = roster.table.index[roster.table["category"].isna() & (roster.table.index != base)]
if len(undecided):
    raise ValueError(f"no category for {list(undecided)}: incomplete methodology")
# Here the accuracy controls stay in their category (they are counted apart below).
models["group"] = roster.table["category"].where(roster.table.index != base, BASE_LABEL)
models["role"] = roster.table["role"]
models["display_name"] = roster.table["name"]
rank = {BASE_LABEL: -1, **{category: i for i, category in enumerate(CATEGORIES)}}
models = models.sort_values("group", key=lambda group: group.map(rank), kind="stable")
pd.DataFrame({
    "model": models["display_name"],
    "category": models["group"],
    "role": models["role"],
    "architecture": models["architecture"],
    "objective": models["objective"],
    "training data": models["training_data"],
    "seed": models["seed"].astype(int),
    "hyper-parameters": [", ".join(f"{k}={v}" for k, v in json.loads(h).items())
                         for h in models["hyperparameters"]],
})

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
accuracy = pd.DataFrame({
    "calibration": roster.table["accuracy"],  # on the roster's band split: calibration
    "test": read_outcomes(zoo, "test", list(models.index)).correct.mean(axis=1),
}).loc[models.index]
n_test = len(zoo.labels("test"))
rng = np.random.default_rng(seed)
draws = rng.binomial(n_test, accuracy["test"], size=(n_bootstrap, len(models))) / n_test
accuracy["test_low"], accuracy["test_high"] = np.percentile(draws, [2.5, 97.5], axis=0)
accuracy["in_band"] = roster.table["in_band"]  # a gap of exactly `band` is in the band
members = models.index[models["role"] == "member"]
partners = members.drop(base)
Markdown(f"The base reaches {accuracy.loc[base, 'calibration']:.1%} on calibration and "
         f"{accuracy.loc[base, 'test']:.1%} on test ({n_test} examples); "
         f"{accuracy.loc[partners, 'in_band'].sum()} of its {len(partners)} partners "
         "are in the band.")

# %%
labels = [f"{name} (control)" if role == "accuracy-control" else name
          for name, role in zip(models["display_name"], models["role"])]
figure = accuracy_band(accuracy.assign(group=models["group"], label=labels), band)

# %% [markdown]
# ## Counts per category
#
# Members by category, how many of them are in the band, and the accuracy controls
# (counted apart: they are weaker on purpose).

# %%
controls = models.index[models["role"] == "accuracy-control"]
counts = pd.DataFrame({
    "members": models.loc[members].groupby("group").size(),
    "in band": accuracy.loc[members, "in_band"].groupby(models["group"]).sum(),
    "accuracy controls": models.loc[controls].groupby("group").size(),
}).reindex([BASE_LABEL, *CATEGORIES]).fillna(0).astype(int).rename_axis("category")
counts

# %% [markdown]
# ## Paper vs this book
#
# The zoo is the setting of every claim, not a claim itself: what must reproduce is
# its design, partners of the base in every category at matched accuracy.

# %%
missing = [category for category in CATEGORIES if counts.loc[category, "in band"] == 0]
low, high = accuracy.loc[base, "calibration"] + np.array([-band, band])
pd.DataFrame([
    ("divergence categories",
     "5, from Reinit to Dataset",
     f"{len(CATEGORIES) - len(missing)} of 5 with a partner in the band",
     f"no: none in the band for {missing}" if missing else "yes"),
    ("partners in the band per category",
     "Hyper-parameters 51, Architecture 17, Framework 2, Dataset 12",
     ", ".join(f"{c} {counts.loc[c, 'in band']}" for c in CATEGORIES),
     "-"),
    ("accuracy band",
     "74-78% top-1, about 2 points around the base",
     f"{low:.1%}-{high:.1%} calibration accuracy (base ± {100 * band:g} pt)",
     "-"),
    ("base accuracy",
     "76.5% (ResNet-50 with RandAugment, ImageNet top-1)",
     f"{accuracy.loc[base, 'test']:.1%} "
     f"({models.loc[base, 'display_name']}, {dataset} test)",
     "-"),
], columns=["", "paper", "this book", "reproduces?"]).set_index("")
