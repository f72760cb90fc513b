# %% [markdown]
# # Real models, real errors
#
# The other chapters measure the paper's claims on models trained here. This one
# measures them on **real pretrained models, with predictions made by others**:
#
# - **ImageNet-X** (Idrissi et al. 2022, `facebookresearch/imagenetx`): the top-1 class
#   and its probability for each of the 50,000 ImageNet validation images, for four
#   pretrained models: a supervised ResNet-50, a supervised ViT, and two
#   self-supervised models with linear heads, SimCLR and DINO. Every image carries the
#   ImageNet-X annotations: the factor of variation that makes it hard (pose,
#   background, ...) and the metaclass of its class.
# - **model-vs-human** (Geirhos et al. 2021, `bethgelab/model-vs-human`): the
#   trial-by-trial decisions of nine models and of human observers on 17
#   out-of-distribution image sets (sketches, silhouettes, noise, ...), 16 classes.
#
# No number below is written by hand: each is computed from these predictions when the
# chapter runs.

# %% tags=["parameters"]
imagenet_x_store = "runs/imagenet-x"  # ImageNet-X prediction store, relative to the book's folder
imagenet_x_source = "../shared/data/imagenet-x"  # its CSV files; None downloads them (checksummed)
model_vs_human_store = "runs/model-vs-human"  # parent folder of one store per model-vs-human dataset
model_vs_human_source = "../shared/data/model-vs-human"  # its CSV files; None downloads them
reference = "ResNet50"  # the ImageNet-X model the others are compared with (the paper's base)
seed = 0  # seed of the bootstrap
n_bootstrap = 1000  # bootstrap samples for every interval

# %%
import warnings
from itertools import combinations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown

from norep.book.views import band_models
from norep.book.build import project_path
from norep.producers.importers import import_predictions
from norep.producers.importers.model_vs_human import DATASETS
from norep.analysis.bootstrap import percentile_interval
from norep.analysis.pairs import bootstrap_pairs
from norep.store import read_outcomes
from norep.book.plots.style import CATEGORY_COLORS
from norep.analysis.specialization import subdomain_differences
from norep.book.views import pair_angles
from norep.store import MANIFEST, Store
from norep.zoo import CATEGORIES, divergence_category, Methodology


def filled_store(path, kind, source):
    """Return the store folder, importing the source predictions first when it is absent."""
    path = project_path(path)
    if kind == "imagenet-x":
        present = (path / MANIFEST).is_file()
    else:
        present = any((path / dataset / MANIFEST).is_file() for dataset in DATASETS)
    if not present:
        import_predictions(kind, None if source is None else str(project_path(source)), str(path))
    return path


pd.set_option("display.max_colwidth", None)  # tables of prose: show every word
imagenet_x_path = filled_store(imagenet_x_store, "imagenet-x", imagenet_x_source)
model_vs_human_path = filled_store(model_vs_human_store, "model-vs-human", model_vs_human_source)
level = 0.95  # coverage of every interval


def interval_text(estimate, low, high, digits=3):
    """Format an estimate and its interval, e.g. 0.139 [0.136, 0.142]."""
    return f"{estimate:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"

# %% [markdown]
# When a store named above does not exist yet, the chapter fills it first with
# `norep.importers.import_predictions` from the source files (the shared copies by
# default; with a source of `None` the importer downloads the public files and checks
# their sha256). The same stores can be made on the command line with
# `norep import imagenet-x PATH --store STORE` and `norep import model-vs-human PATH --store STORE`.
#
# ## ImageNet-X: four real models on 50,000 images
#
# Each model is described by the methodology its source documents; a field the source
# does not state stays empty rather than guessed. Accuracies are on all 50,000
# validation images, with 95% percentile bootstrap intervals over images.

# %%
inx = Store(imagenet_x_path)
models = inx.models.set_index("model_id").loc[inx.model_ids]
if reference not in models.index:
    raise ValueError(f"reference {reference!r} is not in {imagenet_x_store}; its models: {list(models.index)}")
order = [reference, *[m for m in models.index if m != reference]]
models = models.loc[order]
names = models["display_name"].to_dict()
outcomes = read_outcomes(inx, "test", order)
pairs = list(combinations(range(len(order)), 2))
# Self-pairs (i, i) give each model's accuracy on the same bootstrap resamples as the pairs.
selves = [(i, i) for i in range(len(order))]
boot = bootstrap_pairs(outcomes.correct, valid=outcomes.valid, pairs=selves + pairs, n_boot=n_bootstrap,
                       metrics=("accuracy", "error_inconsistency", "kappa"), level=level, seed=seed)
accuracy = pd.DataFrame({
    "estimate": boot["accuracy"].estimate[:len(order)],
    "low": boot["accuracy"].low[:len(order)],
    "high": boot["accuracy"].high[:len(order)],
}, index=order)
pd.DataFrame({
    "model": models["display_name"],
    "architecture": models["architecture"],
    "objective": models["objective"],
    "training data": models["training_data"],
    "top-1 accuracy (%)": [interval_text(100 * r.estimate, 100 * r.low, 100 * r.high, 1)
                           for r in accuracy.itertuples()],
}).set_index("model").fillna("not stated")

# %%
weakest, strongest = accuracy["estimate"].idxmin(), accuracy["estimate"].idxmax()
unstated = [f"{names[m]}'s {field.replace('_', ' ')}" for m in order
            for field in ("training_data", "objective", "architecture") if pd.isna(models.loc[m, field])]
Markdown(
    f"Not stated by the source: {', '.join(unstated) or 'nothing'}. Accuracies range from "
    f"{100 * accuracy.loc[weakest, 'estimate']:.1f}% ({names[weakest]}) to "
    f"{100 * accuracy.loc[strongest, 'estimate']:.1f}% ({names[strongest]}), a spread of "
    f"{100 * (accuracy.loc[strongest, 'estimate'] - accuracy.loc[weakest, 'estimate']):.1f} points, against the "
    "4 points of the paper's band (74-78%): differences in strength will show up as differences in errors."
)

# %% [markdown]
# ## Error inconsistency and kappa, all pairs
#
# For each pair: the **error inconsistency** (share of images exactly one of the two
# gets right; not corrected for chance) and the **error consistency kappa** (Geirhos et
# al. 2020: agreement of the two correctness vectors beyond what their accuracies
# alone predict; 0 = independent errors, 1 = identical). Intervals: paired bootstrap
# over images, the same resamples for every pair.

# %%
n_models = len(order)
point, low, high = (np.full((2, n_models, n_models), np.nan) for _ in range(3))
for k, (a, b) in enumerate(pairs, start=n_models):
    for m, metric in enumerate(("error_inconsistency", "kappa")):
        for matrix, values in ((point, boot[metric].estimate), (low, boot[metric].low), (high, boot[metric].high)):
            matrix[m, a, b] = matrix[m, b, a] = values[k]
labels = [names[m] for m in order]
fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), layout="constrained")
for m, (ax, title, cmap) in enumerate(zip(axes, ("error inconsistency (higher = more different errors)",
                                                 "error consistency kappa (lower = more different errors)"),
                                          ("viridis", "viridis_r"))):
    image = ax.imshow(np.ma.masked_invalid(point[m]), cmap=cmap)
    for a in range(n_models):
        for b in range(n_models):
            if a != b:
                shade = np.mean(image.cmap(image.norm(point[m, a, b]))[:3])  # dark text on light cells
                ax.text(b, a, f"{point[m, a, b]:.3f}\n[{low[m, a, b]:.3f}, {high[m, a, b]:.3f}]",
                        ha="center", va="center", fontsize=9, color="black" if shade > 0.5 else "white")
    ax.set_xticks(range(n_models), labels)
    ax.set_yticks(range(n_models), labels)
    ax.set_title(title, fontsize=10)
fig.suptitle(f"ImageNet-X: all pairs of {n_models} models, {level:.0%} bootstrap intervals ({n_bootstrap} resamples)")
plt.show()

# %% [markdown]
# ## Which methodology pairs diverge most
#
# The divergence category of a pair is derived from the two methodologies, as
# everywhere in this book: the highest level at which they differ (training data, then
# objective, then architecture). It is **undecidable** when a field that would decide
# is not stated by the source. The ImageNet-X repository, for example, does not say
# whether its ViT saw only ImageNet-1k or was pretrained on a larger set (common for
# ViTs): a pair with the ViT is then at least at the highest level known to differ and
# at most *Dataset*, and the table names both. An unstated field lower down does not
# matter: two models trained with different objectives on the same data are a
# *Framework* pair whatever networks they use.

# %%
LEVELS = (("training_data", "Dataset"), ("objective", "Framework"), ("architecture", "Architecture"))


def pair_category(a, b):
    """Return (category or None, a description saying what is known when undecidable, unstated fields)."""
    category = divergence_category(Methodology.from_meta(models.loc[a]), Methodology.from_meta(models.loc[b]))
    if category is not None:
        return category, category, []
    possible, unknown = [], []
    for field, name in LEVELS:  # from the most divergent level down
        missing = [f"{names[m]}'s {field.replace('_', ' ')}" for m in (a, b) if pd.isna(models.loc[m, field])]
        if missing:
            possible.append(name)
            unknown += missing
        elif models.loc[a, field] != models.loc[b, field]:
            possible.append(name)
            break
    return None, f"{' or '.join(reversed(possible))} ({', '.join(unknown)} not stated)", unknown


pair_models = {f"{names[order[a]]} – {names[order[b]]}": (order[a], order[b]) for a, b in pairs}
rows = []
for k, (a, b) in enumerate(pairs, start=n_models):
    model_a, model_b = order[a], order[b]
    category, description, unknown = pair_category(model_a, model_b)
    rows.append({
        "pair": f"{names[model_a]} – {names[model_b]}", "category": category, "divergence": description,
        "unstated": unknown,
        "acc_a": accuracy.loc[model_a, "estimate"], "acc_b": accuracy.loc[model_b, "estimate"],
        **{f"{metric}{suffix}": getattr(boot[metric], part)[k]
           for metric in ("error_inconsistency", "kappa")
           for suffix, part in (("", "estimate"), ("_low", "low"), ("_high", "high"))},
    })
pair_table = pd.DataFrame(rows).sort_values("error_inconsistency", ascending=False, ignore_index=True)
pd.DataFrame({
    "pair": pair_table["pair"],
    "divergence category": pair_table["divergence"],
    "accuracies (%)": [f"{100 * r.acc_a:.1f} / {100 * r.acc_b:.1f}" for r in pair_table.itertuples()],
    "error inconsistency": [interval_text(r.error_inconsistency, r.error_inconsistency_low, r.error_inconsistency_high)
                            for r in pair_table.itertuples()],
    "kappa": [interval_text(r.kappa, r.kappa_low, r.kappa_high) for r in pair_table.itertuples()],
}).set_index("pair")

# %% [markdown]
# ### Error inconsistency is confounded by accuracy
#
# Error inconsistency moves with accuracy whatever the methodology: two models whose
# accuracies differ by $|p_a - p_b|$ disagree on at least that share of images, and two
# models with independent errors disagree on $p_a(1 - p_b) + p_b(1 - p_a)$ of them. A
# weaker model therefore looks "more different" from everyone. Kappa corrects for this
# by measuring the agreement beyond the one the two accuracies predict. The figure
# shows both, pair by pair, with the two accuracy-only reference points for error
# inconsistency: the smallest value the accuracies allow and the value of independent
# errors.

# %%
def category_color(category):
    return CATEGORY_COLORS[category] if category in CATEGORY_COLORS else "0.55"


shown = pair_table.iloc[::-1].reset_index(drop=True)  # most divergent on top
y = np.arange(len(shown))
colors = [category_color(c) for c in shown["category"]]
fig, axes = plt.subplots(1, 2, sharey=True, figsize=(10, 0.6 * len(shown) + 2), layout="constrained")
for ax, metric, title in zip(axes, ("error_inconsistency", "kappa"),
                             ("error inconsistency (share of images exactly one gets right)",
                              "error consistency kappa (0 = independent errors)")):
    ax.hlines(y, shown[f"{metric}_low"], shown[f"{metric}_high"], color=colors, linewidth=3)
    ax.scatter(shown[metric], y, color=colors, s=45, zorder=3)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
floor = (shown["acc_a"] - shown["acc_b"]).abs()
independent = shown["acc_a"] * (1 - shown["acc_b"]) + shown["acc_b"] * (1 - shown["acc_a"])
axes[0].scatter(floor, y, marker="|", s=120, color="0.2", label="smallest possible given the accuracies")
axes[0].scatter(independent, y, marker="x", s=40, color="0.2", label="if errors were independent")
axes[0].set_xlim(0, None)
axes[0].set_yticks(y, [f"{p}\n{d}" for p, d in zip(shown["pair"], shown["divergence"])], fontsize=8)
handles = [plt.Line2D([], [], marker="o", linestyle="", color=category_color(c), label=c or "category undecidable")
           for c in dict.fromkeys([*[c for c in CATEGORIES if c in set(shown["category"])], None])]
handles += axes[0].get_legend_handles_labels()[0]
fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8, frameon=False)
fig.suptitle("ImageNet-X pairs, most different errors on top (95% bootstrap intervals)")
plt.show()
most, least_kappa = pair_table.iloc[0], pair_table.sort_values("kappa").iloc[0]
with_weakest = pd.Series([weakest in pair_models[p] for p in pair_table["pair"]])
Markdown(
    f"The pair with the most error inconsistency is **{most['pair']}** ({most['error_inconsistency']:.3f}); "
    f"the one with the lowest kappa is **{least_kappa['pair']}** ({least_kappa['kappa']:.3f}). "
    f"Of the {with_weakest.sum()} pairs with the most error inconsistency, {with_weakest[:with_weakest.sum()].sum()} "
    f"involve the weakest model, {names[weakest]} ({100 * accuracy.loc[weakest, 'estimate']:.1f}%); "
    f"by kappa, the ranks of its pairs are "
    f"{', '.join(str(r) for r in pair_table['kappa'].rank().astype(int)[with_weakest])} of {len(pair_table)} "
    "(1 = most different errors)."
)

# %% [markdown]
# ### Within the paper's accuracy band
#
# The paper compares only models between 74% and 78% top-1. With a handful of pairs,
# the book's other accuracy adjustment (fitting kappa against the two accuracies, three
# parameters, over the pairs) would leave almost nothing to test, so the band is the
# check here.

# %%
band = (0.74, 0.78)  # the paper's accuracy band
in_band = band_models(inx, *band, model_ids=order)
band_pairs = pair_table[[set(pair_models[p]) <= set(in_band) for p in pair_table["pair"]]]
outside = [f"{names[m]} ({100 * accuracy.loc[m, 'estimate']:.2f}%)" for m in order if m not in in_band]
Markdown(
    f"In the band: {', '.join(names[m] for m in in_band) or 'none'}; outside: {', '.join(outside) or 'none'}. "
    "Pairs in the band, from most to least error "
    "inconsistency: " + "; ".join(
        f"**{r.pair}** ({r.divergence}): error inconsistency {r.error_inconsistency:.3f}, kappa {r.kappa:.3f}"
        for r in band_pairs.itertuples()) + "."
    if len(band_pairs) else f"Fewer than two models lie in the band {band}."
)

# %% [markdown]
# ## Specialization: who wins where
#
# A pair **specializes** when each model is better on a different part of the data.
# For each pair and each part, the accuracy difference (first model minus second) on
# the images of that part, with a 95% paired bootstrap interval; the part goes to the
# model whose lead has an interval excluding zero
# (`norep.specialization.subdomain_differences`).
#
# ### Nature vs anthropogenic classes (the paper's Figure 4)
#
# The paper found CLIP better than ResNet-50 on anthropogenic classes (ImageNet ids
# 500-900) and ResNet-50 better on nature (ids 0-300). The same split here, read as
# the half-open ranges [0, 300) and [500, 900): the `class_range` column of the store.

# %%
examples = inx.examples.iloc[inx.rows("test")]


def differences(a, b, groups):
    """Accuracy differences of models a and b per group (in percentage points), with intervals."""
    i, j = order.index(a), order.index(b)
    table = subdomain_differences(outcomes.correct[i], outcomes.correct[j], groups,
                                  outcomes.valid[i] & outcomes.valid[j], n_boot=n_bootstrap, level=level, seed=seed)
    table[["difference", "low", "high"]] *= 100
    table["winner"] = np.select([table["low"] > 0, table["high"] < 0], [names[a], names[b]], "neither")
    return table


ranges = ["nature", "anthropogenic"]
by_range = pd.concat([
    differences(*pair_models[pair], examples["class_range"].to_numpy()).assign(pair=pair) for pair in pair_models
])
by_range = by_range[by_range["group"].isin(ranges)]
wide = by_range.pivot(index="pair", columns="group", values="winner")[ranges]
specialized = [pair for pair, row in wide.iterrows() if "neither" not in row.values and row.nunique() == 2]
range_table = {}
for group in ranges:
    rows_group = by_range[by_range["group"] == group].set_index("pair").loc[wide.index]
    range_table[f"{group}: difference (points)"] = [interval_text(r.difference, r.low, r.high, 1)
                                                    for r in rows_group.itertuples()]
    range_table[f"{group}: better"] = wide[group]
pd.DataFrame(range_table, index=wide.index)

# %%
range_colors = {"nature": "tab:green", "anthropogenic": "tab:purple"}
pair_names = list(wide.index)
y = np.arange(len(pair_names))
fig, ax = plt.subplots(figsize=(8, 0.5 * len(pair_names) + 1.8), layout="constrained")
for offset, group in zip((0.15, -0.15), ranges):
    rows_group = by_range[by_range["group"] == group].set_index("pair").loc[pair_names]
    ax.hlines(y + offset, rows_group["low"], rows_group["high"], color=range_colors[group], linewidth=2)
    ax.scatter(rows_group["difference"], y + offset, color=range_colors[group], s=36, zorder=3,
               label=f"{group} classes ({int(rows_group['n'].iloc[0])} images)")
ax.axvline(0, color="0.3", linewidth=1)
ax.set_yticks(y, [f"{p}{'  (specialized)' if p in specialized else ''}" for p in pair_names])
ax.set_xlabel("accuracy of the first model minus the second (percentage points)")
ax.set_title("ImageNet-X: accuracy difference per class range (95% bootstrap intervals)", fontsize=10)
ax.grid(axis="x", alpha=0.3)
fig.legend(loc="outside lower center", ncol=2, fontsize=8, frameon=False)
plt.show()
Markdown(
    f"{len(specialized)} of {len(pair_names)} pairs specialize across the two ranges (each model significantly "
    f"better on one of them): {', '.join(f'**{p}**' for p in specialized) or 'none'}."
    + "".join(f" In {p}, {wide.loc[p, 'nature']} is better on nature classes and {wide.loc[p, 'anthropogenic']} "
              f"on anthropogenic ones." for p in specialized)
)

# %% [markdown]
# ### ImageNet-X factors and metaclasses
#
# The same question on finer parts of the data. A pair specializes over these parts when
# each model is significantly better on at least one of them (the table after the
# figure).
#
# ImageNet-X annotates each image with the factor that makes it hard (`top_factor`:
# pose, background, pattern, color, ...; images it did not annotate form their own
# group) and maps each class to a metaclass. Each panel compares the reference model
# with each other model; the dashed lines mark their overall accuracy difference, so a
# part where a model's dot sits away from its line is one it is specially good (or
# bad) at. Parts with fewer than `min_images` images are left out of the figure (their
# intervals span many points).

# %%
min_images = 300  # smallest part shown in the figure
others = [m for m in order if m != reference]
other_colors = dict(zip(others, plt.get_cmap("tab10").colors))
columns = {"top_factor": "ImageNet-X top factor", "metaclass": "metaclass"}
parts = {}
for column in columns:
    groups = examples[column].fillna("not annotated").astype(str).to_numpy()
    parts[column] = pd.concat([differences(reference, other, groups).assign(other=other) for other in others])
overall = {other: 100 * (accuracy.loc[reference, "estimate"] - accuracy.loc[other, "estimate"]) for other in others}
fig, axes = plt.subplots(2, 1, figsize=(8.5, 12), layout="constrained")
for ax, (column, title) in zip(axes, columns.items()):
    table = parts[column]
    sizes = table.drop_duplicates("group").set_index("group")["n"]
    shown_groups = sizes[sizes >= min_images].sort_values().index
    y = np.arange(len(shown_groups))
    for k, other in enumerate(others):
        rows_other = table[table["other"] == other].set_index("group").loc[shown_groups]
        offset = 0.25 * (k - (len(others) - 1) / 2)
        ax.hlines(y + offset, rows_other["low"], rows_other["high"], color=other_colors[other], linewidth=1.5)
        ax.scatter(rows_other["difference"], y + offset, color=other_colors[other], s=20, zorder=3,
                   label=f"{names[reference]} – {names[other]}")
        ax.axvline(overall[other], color=other_colors[other], linestyle="--", linewidth=1)
    ax.axvline(0, color="0.3", linewidth=1)
    ax.set_yticks(y, [f"{g} ({sizes[g]})" for g in shown_groups], fontsize=9)
    ax.set_xlabel(f"accuracy of {names[reference]} minus the other (points)")
    ax.set_title(f"by {title} (images in parentheses)", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
axes[0].legend(*axes[0].get_legend_handles_labels(), fontsize=8, loc="lower right")
fig.suptitle(f"ImageNet-X: where {names[reference]} wins and loses "
             "(95% bootstrap intervals; dashed: overall difference)")
plt.show()

# %%
summary_rows = []
for column, title in columns.items():
    for other in others:
        table = parts[column][parts[column]["other"] == other]
        reference_wins = int((table["winner"] == names[reference]).sum())
        other_wins = table[table["winner"] == names[other]]
        summary_rows.append({
            "by": title, "pair": f"{names[reference]} – {names[other]}", "parts": len(table),
            f"{names[reference]} better": reference_wins, "other better": len(other_wins),
            "neither": int((table["winner"] == "neither").sum()),
            "specializes": "yes" if reference_wins and len(other_wins) else "no",
            "the other's largest significant lead":
                other_wins.loc[other_wins["difference"].idxmin(), "group"] if len(other_wins) else "none",
        })
pd.DataFrame(summary_rows).set_index(["by", "pair"])

# %% [markdown]
# ### Confidence when exactly one model is right (the paper's Figure 3)
#
# On the images that exactly one model of a pair gets right, the angle
# $\theta = \operatorname{arctan2}(c_b, c_a)$ of the two top-1 confidences (the probability each model
# gives its predicted class, as ImageNet-X records it; no temperature scaling is possible
# without the full probabilities), in degrees: below 45° the first
# model was the more confident, above 45° the second. The paper found that when
# methods diverge, the model that is right tends to be the confident one, so the
# histograms split by which model is right pull apart; for two seeds of one recipe
# they overlap. Every ImageNet-X model records a confidence, so every pair with the
# reference model has a histogram (`norep.specialization.pair_angles`). A model that is
# less confident overall shifts both histograms of its pairs, so the share of images on
# which the right model is the more confident one is the summary read here, not the
# position of either histogram alone.

# %%
angles = {other: pair_angles(inx, reference, other).assign(theta=lambda t: np.degrees(t["theta"]))
          for other in others}
bins = np.linspace(0, 90, 31)
fig, axes = plt.subplots(1, len(others), figsize=(3.7 * len(others), 3.8), sharey=True, layout="constrained")
axes = np.atleast_1d(axes)
theta_rows = []
for ax, other in zip(axes, others):
    table = angles[other]
    a_right = (table["right"] == reference).to_numpy()
    ax.hist(table["theta"][a_right], bins=bins, alpha=0.6, color="tab:blue", label=f"only {names[reference]} right")
    ax.hist(table["theta"][~a_right], bins=bins, alpha=0.6, color="tab:orange", label=f"only {names[other]} right")
    ax.axvline(45, color="0.3", linestyle="--", linewidth=1)
    category, description, _ = pair_category(reference, other)
    ax.set_title(f"{names[reference]} vs {names[other]}\n{description}", fontsize=9)
    ax.set_xlabel("theta (degrees)")
    ax.set_xticks([0, 15, 30, 45, 60, 75, 90])
    ax.legend(fontsize=8)
    confident = np.where(a_right, table["theta"] < 45, table["theta"] > 45)
    theta_rows.append({
        "pair": f"{names[reference]} – {names[other]}", "divergence": description, "images": len(table),
        "right model more confident (%)": 100 * confident.mean(),
        f"median theta, only {names[reference]} right": np.median(table["theta"][a_right]),
        "median theta, only the other right": np.median(table["theta"][~a_right]),
    })
axes[0].set_ylabel("images with exactly one model right")
fig.suptitle(f"ImageNet-X: confidence angle theta on the images exactly one model gets right\n"
             f"(below 45°: {names[reference]} more confident; above: the other)", fontsize=11)
plt.show()
theta_table = pd.DataFrame(theta_rows).set_index("pair")
theta_table.round(1)

# %% [markdown]
# ## model-vs-human: models, humans, and their errors out of distribution
#
# Each model-vs-human image set is its own store: its examples are (condition, image)
# pairs, its observers the models and the human subjects who classified the images
# into 16 classes. For every pair of observers, error
# consistency kappa is computed on the examples **both answered** (humans sometimes
# gave no answer).
#
# Kappa is computed **within each condition** (for example each contrast level) and
# then averaged over the conditions of the set (model-vs-human, too, measures it
# condition by condition): pooled over
# conditions, kappa would mostly measure that everyone fails at the hardest levels and
# succeeds at the easiest. A condition in which both members of a pair are always right
# (or always wrong) gives no kappa and is left out of that pair's average. Pairs are
# then grouped into **model-vs-model**, **human-vs-human** and **model-vs-human**, and
# each group's mean kappa is reported with a 95% bootstrap interval that resamples the
# examples within each condition.

# %%
GROUPS = ("model-vs-model", "human-vs-human", "model-vs-human")


def condition_kappas(store, outcomes, pairs):
    """Kappa of pairs averaged over the conditions of a set: estimate (P,) and bootstrap samples (B, P)."""
    conditions = store.examples["condition"].to_numpy()[store.rows("test")]
    estimates, samples = [], []
    for c, condition in enumerate(sorted(set(conditions))):
        columns = conditions == condition
        result = bootstrap_pairs(outcomes.correct[:, columns], valid=outcomes.valid[:, columns], pairs=pairs,
                                 metrics=("kappa",), n_boot=n_bootstrap, level=level, seed=seed + c)["kappa"]
        estimates.append(result.estimate)
        samples.append(result.samples)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # pairs without any kappa stay NaN
        return np.nanmean(estimates, axis=0), np.nanmean(samples, axis=0)


datasets = sorted(d.name for d in model_vs_human_path.iterdir() if (d / MANIFEST).is_file())
consistency, accuracies, model_pairs, meta = [], [], [], {}
for dataset in datasets:
    store = Store(model_vs_human_path / dataset)
    observers = store.models.set_index("model_id").loc[store.model_ids]
    outcomes_mvh = read_outcomes(store, "test")
    human = (observers["observer"] == "human").to_numpy()
    all_pairs = list(combinations(range(len(observers)), 2))
    kappa, samples = condition_kappas(store, outcomes_mvh, all_pairs)
    group = np.array([GROUPS[0] if not human[a] and not human[b] else GROUPS[1] if human[a] and human[b] else GROUPS[2]
                      for a, b in all_pairs])
    for name in GROUPS:
        chosen = group == name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            interval = percentile_interval(np.nanmean(kappa[chosen]), np.nanmean(samples[:, chosen], axis=1), level)
        consistency.append({"dataset": dataset, "group": name, "pairs": int(chosen.sum()),
                            "kappa": float(interval.estimate), "low": interval.low, "high": interval.high})
    accuracies.append({"dataset": dataset, "models": int((~human).sum()), "humans": int(human.sum()),
                       "conditions": store.examples["condition"].nunique(),
                       "model accuracy (%)": 100 * outcomes_mvh.accuracy[~human].mean(),
                       "human accuracy (%)": 100 * outcomes_mvh.accuracy[human].mean()})
    for k, (a, b) in enumerate(all_pairs):
        if not human[a] and not human[b]:
            gap = abs(outcomes_mvh.accuracy[a] - outcomes_mvh.accuracy[b])
            model_pairs.append({"dataset": dataset, "a": observers.index[a], "b": observers.index[b],
                                "kappa": kappa[k], "accuracy gap": gap})
    for model_id in observers.index[~human]:
        meta.setdefault(model_id, Methodology.from_meta(observers.loc[model_id]))
consistency = pd.DataFrame(consistency)
summary = consistency.pivot(index="dataset", columns="group", values="kappa")[list(GROUPS)]
table = pd.DataFrame(accuracies).set_index("dataset").join(summary).astype(float)
table.loc["mean over sets"] = table.mean()
table.loc["mean over sets", ["models", "humans", "conditions"]] = np.nan
table = table.rename(columns={"model accuracy (%)": "models acc. (%)", "human accuracy (%)": "humans acc. (%)",
                              **{g: f"kappa {g}" for g in GROUPS}})
table.style.format(precision=3, na_rep="").format("{:.1f}", subset=["models acc. (%)", "humans acc. (%)"]) \
    .format("{:.0f}", subset=["models", "humans", "conditions"], na_rep="")

# %%
order_mvh = summary.sort_values(GROUPS[2]).index  # sets sorted by model-vs-human kappa
y = np.arange(len(order_mvh))
offsets = dict(zip(GROUPS, (0.22, 0.0, -0.22)))
markers = dict(zip(GROUPS, ("s", "^", "o")))
group_colors = dict(zip(GROUPS, ("tab:blue", "tab:orange", "tab:green")))
fig, ax = plt.subplots(figsize=(8, 0.42 * len(order_mvh) + 1.8), layout="constrained")
for name in GROUPS:
    rows_group = consistency[consistency["group"] == name].set_index("dataset").loc[order_mvh]
    ax.hlines(y + offsets[name], rows_group["low"], rows_group["high"], color=group_colors[name], linewidth=2)
    ax.scatter(rows_group["kappa"], y + offsets[name], marker=markers[name], color=group_colors[name], s=36,
               zorder=3, label=f"{name} (mean {summary[name].mean():.2f})")
ax.axvline(0, color="0.3", linewidth=1)
ax.set_yticks(y, order_mvh)
ax.set_xlabel("error consistency kappa, mean over pairs (0 = independent errors, 1 = identical)")
ax.set_title(f"model-vs-human: error consistency on {len(order_mvh)} out-of-distribution sets\n"
             f"(kappa per condition, averaged over conditions; {level:.0%} bootstrap intervals)", fontsize=10)
ax.grid(axis="x", alpha=0.3)
fig.legend(loc="outside lower center", ncol=3, fontsize=8, frameon=False)
plt.show()
separated = consistency.pivot(index="dataset", columns="group", values="high")[GROUPS[2]] \
    < consistency.pivot(index="dataset", columns="group", values="low")[GROUPS[1]]
Markdown(
    f"Humans agree with each other more than with models on {(summary[GROUPS[1]] > summary[GROUPS[2]]).sum()} of "
    f"{len(summary)} sets ({separated.sum()} with non-overlapping intervals); models agree with each other more "
    f"than with humans on {(summary[GROUPS[0]] > summary[GROUPS[2]]).sum()} of {len(summary)}. Averaged over the "
    f"sets, kappa is {summary[GROUPS[0]].mean():.2f} between models, {summary[GROUPS[1]].mean():.2f} between "
    f"humans and {summary[GROUPS[2]].mean():.2f} between a model and a human: models make errors like each "
    "other's, humans like each other's, and the two kinds of observers err on different images."
)

# %% [markdown]
# The nine models of model-vs-human span three divergence categories among
# themselves, as model-vs-human documents them: a supervised ResNet-50 and BagNet-33
# differ in architecture, SimCLR on a ResNet-50 in its objective, and six SWAG models
# (weakly supervised on Instagram hashtags, then fine-tuned on ImageNet) in their
# training data from the ImageNet-1k models and in architecture among themselves.
# Their pairs, by category, with the mean kappa over the sets and the mean accuracy gap
# of the pairs beside it (accuracies differ widely out of distribution); then only the
# (set, pair) combinations whose two accuracies are within `matched_gap` of each other:

# %%
model_pairs = pd.DataFrame(model_pairs)
model_pairs["category"] = [divergence_category(meta[a], meta[b]) or "undecidable"
                           for a, b in zip(model_pairs["a"], model_pairs["b"])]
matched_gap = 0.05  # a (set, pair) is accuracy-matched when the two accuracies differ by at most this
matched = model_pairs[model_pairs["accuracy gap"] <= matched_gap]
by_category = pd.DataFrame({
    "pairs": model_pairs.groupby("category")["a"].size() // len(datasets),
    "mean kappa": model_pairs.groupby("category")["kappa"].mean(),
    "mean accuracy gap": model_pairs.groupby("category")["accuracy gap"].mean(),
    f"matched (set, pair)s, gap <= {matched_gap:g}": matched.groupby("category")["kappa"].size(),
    "mean kappa, matched": matched.groupby("category")["kappa"].mean(),
}).reindex([c for c in (*CATEGORIES, "undecidable") if c in set(model_pairs["category"])])
by_category.style.format(precision=3, na_rep="none").format("{:.0f}", subset=by_category.columns[[0, 3]], na_rep="0")

# %% [markdown]
# ## Paper vs this book
#
# What the paper claims, what these real predictions show, and whether it reproduces.
# PAPER.md transcribes no per-pair ImageNet error-inconsistency value of the paper's
# figures, so the comparison is of claims and of the base model's accuracy; the paper's
# ImageNet zoo and these models overlap only in kind (a ResNet-50 base, a ViT, SimCLR).

# %%
decided = pair_table.dropna(subset=["category"])
inx_categories = [c for c in CATEGORIES if c in set(decided["category"])]
mvh_all = by_category["mean kappa"].dropna()
mvh_matched = by_category["mean kappa, matched"].dropna()


def falling(values):
    return len(values) >= 2 and bool(np.all(np.diff(values.to_numpy()) < 0))


reference_pairs = {pair: wide.loc[pair] for pair in wide.index if pair.startswith(f"{names[reference]} – ")}
paper_direction = [pair for pair, row in reference_pairs.items()
                   if row["nature"] == names[reference] and row["anthropogenic"] != names[reference]
                   and row["anthropogenic"] != "neither"]
confident = theta_table["right model more confident (%)"]
acc_a, acc_b = pair_table["acc_a"], pair_table["acc_b"]
expected_inconsistency = acc_a * (1 - acc_b) + acc_b * (1 - acc_a)  # error inconsistency of independent errors
accuracy_only_r = np.corrcoef(expected_inconsistency, pair_table["error_inconsistency"])[0, 1]
base_accuracy = accuracy.loc[reference]
needed = sorted(set(sum(pair_table["unstated"], [])))
needed = f"; the others need {', '.join(needed)}" if needed else ""
rows = [
    ("error inconsistency rises with divergence (Fig 1)",
     "monotonic from Reinit to Dataset, ImageNet",
     f"ImageNet-X: decidable categories: {', '.join(inx_categories) or 'none'} "
     f"({len(decided)} of {len(pair_table)} pairs{needed}). "
     f"model-vs-human models (out of distribution): mean kappa "
     + ", ".join(f"{c} {v:.2f}" for c, v in mvh_all.items())
     + "; at matched accuracy " + ", ".join(f"{c} {v:.2f}" for c, v in mvh_matched.items()),
     ("not testable on ImageNet-X (one decidable category); " if len(inx_categories) < 2 else "")
     + ("yes on model-vs-human: kappa falls (errors less consistent) as divergence rises, also at matched accuracy"
        if falling(mvh_all) and falling(mvh_matched) else
        "partly on model-vs-human: kappa falls with divergence only before accuracy matching" if falling(mvh_all)
        else "no on model-vs-human: kappa does not fall monotonically with divergence")),
    ("kappa beside error inconsistency (the accuracy confound)",
     "not in the paper; its band is 74-78% top-1",
     f"the {with_weakest.sum()} pairs with the most error inconsistency include "
     f"{with_weakest[:with_weakest.sum()].sum()} with the weakest model ({names[weakest]}, "
     f"{100 * accuracy.loc[weakest, 'estimate']:.1f}%); in the band: {len(band_pairs)} pair(s)",
     f"partly: across pairs, error inconsistency correlates with its value under independent errors, a function "
     f"of the accuracies alone (r = {accuracy_only_r:.2f}); kappa "
     + ("reorders the pairs" if list(pair_table["pair"]) != list(pair_table.sort_values("kappa")["pair"])
        else "gives the same ranking")),
    ("more divergent pairs specialize: CLIP better on anthropogenic classes, ResNet-50 on nature (Fig 4)",
     "yes, ResNet-50 vs CLIP (a Dataset pair)",
     f"{len(specialized)} of {len(wide)} pairs specialize across the two ranges; with {names[reference]}: "
     + (", ".join(paper_direction) if paper_direction else "none") + " in the paper's direction",
     (f"yes in direction for {', '.join(f'{p} ({pair_category(*pair_models[p])[1]})' for p in paper_direction)}; "
      "whether more divergent pairs specialize more cannot be told without decidable categories above Framework")
     if paper_direction else "no pair with the reference specializes in the paper's direction"),
    ("the lone correct model is more confident when methods diverge (Fig 3)",
     "theta histograms split by the right model pull apart; not for Reinit",
     f"right model more confident on {confident.min():.0f}-{confident.max():.0f}% of the exactly-one-right images "
     f"for the {len(confident)} pairs with {names[reference]}",
     ("yes for every pair (above 50%); no Reinit pair here to show the contrast" if (confident > 50).all()
      else "no: for some pairs the right model is not the more confident one")),
    ("base model accuracy",
     "76.5% (ResNet-50 with RandAugment)",
     f"{interval_text(100 * base_accuracy['estimate'], 100 * base_accuracy['low'], 100 * base_accuracy['high'], 1)}% "
     f"({names[reference]} of ImageNet-X)",
     f"comparable ({100 * base_accuracy['estimate'] - 76.5:+.1f} points)"),
    ("beyond the paper: humans",
     "-",
     f"mean kappa model-vs-model {summary[GROUPS[0]].mean():.2f}, human-vs-human {summary[GROUPS[1]].mean():.2f}, "
     f"model-vs-human {summary[GROUPS[2]].mean():.2f} over {len(summary)} sets",
     "-"),
]
pd.DataFrame(rows, columns=["claim", "paper", "this book", "reproduces?"]).set_index("claim")
