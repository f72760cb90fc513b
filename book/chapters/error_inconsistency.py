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

# %%
import itertools

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from norep.analysis.adjust import accuracy_adjusted
from norep.book.build import project_path
from norep.errors import NorepError
from norep.analysis.bootstrap import percentile_interval
from norep.analysis.pairs import bootstrap_pair_counts, pair_metrics
from norep.store import read_outcomes
from norep.book.plots.categories import category_metrics, pair_heatmap
from norep.zoo.roster import BASE_LABEL, CONTROL_LABEL, make_roster
from norep.store import Store
from norep.analysis.verdicts import category_summary, interval_text, monotone_verdict
from norep.zoo import CATEGORIES

pd.set_option("display.max_colwidth", None)  # tables of prose: show every word
level = 0.95  # coverage of every interval
zoo = Store(project_path(store))
roster = make_roster(zoo, base, band)
names, category, group = roster.names, roster.table["category"], roster.table["group"]
band_split, band_accuracy, in_band = roster.band_split, roster.table["accuracy"], roster.table["in_band"]
partners, controls, undecidable = roster.partners, roster.controls, roster.undecidable
Markdown(
    f"Store `{store}`: **{zoo.manifest['dataset']['name']}**, base **{names[base]}**, "
    f"partners: {len(partners)}, in {len({category[m] for m in partners})} of the 5 categories; "
    f"accuracy controls: {len(controls)}"
    + (f"; left out because their category is undecidable: {', '.join(names[m] for m in undecidable)}"
       if undecidable else "")
    + f". The band: {band_split} accuracy within ± {100 * band:g} points of the base's "
    f"{100 * band_accuracy[base]:.1f}%; partners in it: {int(in_band[partners].sum())}."
)

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
outcomes = read_outcomes(zoo, "test", [base, *partners, *controls])
pairs = np.array([(0, k) for k in range(1, len(outcomes.model_ids))])
full, boot = bootstrap_pair_counts(outcomes.correct, None, outcomes.valid, pairs,
                                   n_bootstrap, seed)
metrics = {"error_inconsistency": "error inconsistency", "kappa": "error consistency kappa"}
base_pairs = pd.DataFrame({
    "model_id": outcomes.model_ids[1:],
    "category": [category[m] for m in partners] + [None] * len(controls),
    "group": [group[m] for m in outcomes.model_ids[1:]],
    "accuracy": full.accuracy_b,
    "in_band": in_band[outcomes.model_ids[1:]].to_numpy(),
}).set_index("model_id")
for metric in metrics:
    interval = percentile_interval(getattr(full, metric), getattr(boot, metric), level)
    base_pairs[metric], base_pairs[f"{metric}_low"], base_pairs[f"{metric}_high"] = (
        interval.estimate, interval.low, interval.high)


pd.DataFrame({
    "partner": [names[m] for m in base_pairs.index],
    "group": base_pairs["group"],
    "test accuracy (%)": (100 * base_pairs["accuracy"]).round(1),
    "in the band": base_pairs["in_band"].map({True: "yes", False: "no"}),
    **{label: [interval_text(r[m], r[f"{m}_low"], r[f"{m}_high"], 3) for _, r in base_pairs.iterrows()]
       for m, label in metrics.items()},
}).set_index("partner")

# %% [markdown]
# ## Per category (Fig 1)
#
# A category's value is the **mean over its pairs**; its interval comes from the same
# bootstrap resamples. Black diamonds: all partners of the category; black squares:
# only the partners in the accuracy band (filled dots). Dashed lines: the base paired
# with each accuracy control, the same recipe and only less accurate. The verdicts
# below ask whether the category means are monotone in the order of divergence
# (non-decreasing for error inconsistency, non-increasing for kappa), and give the
# difference between the most and the least divergent category present, with its
# interval.

# %%
pair_category = base_pairs["category"].to_numpy()
is_partner = base_pairs["group"].isin(CATEGORIES).to_numpy()



def summarize(keep):
    """Category means of every metric over the kept base pairs, with intervals and bootstrap means."""
    return category_summary({m: getattr(full, m) for m in metrics}, {m: getattr(boot, m) for m in metrics},
                            pair_category, keep, level)


def trend(means, draws=None, increasing=True):
    """Monotone verdict on category means (three digits), with the most-minus-least divergent difference."""
    return monotone_verdict(means, draws, increasing, digits=3, level=level)


summaries = {"all partners": summarize(is_partner),
             "partners in the band": summarize(is_partner & base_pairs["in_band"].to_numpy())}
references = {metric: [(row[metric], f"accuracy control {names[m]} ({100 * row['accuracy']:.1f}%)")
                       for m, row in base_pairs.loc[controls].iterrows()] for metric in metrics}
figure = category_metrics(base_pairs[is_partner], {k: v[0] for k, v in summaries.items()}, metrics, references,
                          title=f"{names[base]} vs each partner, test split ({level:.0%} bootstrap intervals, "
                                f"{n_bootstrap} resamples)")

# %%
rows = []
for name, (table, samples) in summaries.items():
    for metric, label in metrics.items():
        verdict, difference = trend(table[metric], samples[metric], increasing=metric != "kappa")
        rows.append({"pairs": name, "metric": label,
                     "category means": ", ".join(f"{c} {v:.3f} (n={table.loc[c, f'{metric}_n']})"
                                                 for c, v in table[metric].items()),
                     "monotone?": verdict, "most − least divergent": difference or "-"})
fig1_verdicts = pd.DataFrame(rows).set_index(["pairs", "metric"])
fig1_verdicts

# %% [markdown]
# ## Adjusted for accuracy
#
# The band keeps only partners of about the base's accuracy, which may leave few pairs.
# The adjustment keeps them all and removes what their accuracies predict
# (`norep.adjust.accuracy_adjusted`): over **reference pairs** it fits
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
# it. The fitted coefficients are printed below the figure: $b_1 < 0$ and $b_2 > 0$
# say that weaker and more unequal pairs err more differently, as expected.
# The intervals refit on every bootstrap resample; the category markers are the means
# of the residuals (point estimates: the intervals are per pair).

# %%
same_recipe = [base, *[m for m in partners if category[m] == "Reinit"], *controls]
reference_models = same_recipe if controls and len(same_recipe) >= 5 else [base, *partners, *controls]
reference_name = ("pairs among the base, its Reinit partners and the accuracy controls"
                  if reference_models is same_recipe else "every pair of the zoo's members and controls")
index = {m: i for i, m in enumerate(outcomes.model_ids)}
reference_pairs = [(index[a], index[b]) for a, b in itertools.combinations(reference_models, 2)]
adjusted = base_pairs[is_partner][["category", "group", "accuracy", "in_band"]].copy()
coefficients = {}
try:
    if len(reference_pairs) < 6:
        raise NorepError(f"{len(reference_pairs)} reference pairs are too few to fit three coefficients "
                         "and test the residuals (at least 6 are needed)")
    for metric in metrics:
        result = accuracy_adjusted(outcomes.correct, pairs[is_partner], reference_pairs, metric,
                                   None, outcomes.valid, n_bootstrap, level, seed)
        adjusted[metric], adjusted[f"{metric}_low"], adjusted[f"{metric}_high"] = (
            result["adjusted"], result["low"], result["high"])
        adjusted[f"{metric}_raw"], adjusted[f"{metric}_expected"] = result["value"], result["expected"]
        coefficients[metric] = result["coefficients"]
except NorepError as error:
    adjusted = None
    display(Markdown(f"No accuracy adjustment: {error}."))
if adjusted is not None:
    adjusted_means = adjusted.groupby("category")[list(metrics)].mean().reindex(
        [c for c in CATEGORIES if c in set(adjusted["category"])])
    point_summary = adjusted_means.assign(**{f"{m}_{s}": adjusted_means[m] for m in metrics for s in ("low", "high")})
    figure = category_metrics(
        adjusted, {"category mean of the residuals": point_summary},
        {m: f"{label} − accuracy fit" for m, label in metrics.items()},
        {m: [(0.0, "what the accuracies predict")] for m in metrics},
        title=f"Adjusted for accuracy (fit on {len(reference_pairs)} reference pairs: {reference_name})")

# %%
if adjusted is not None:
    display(Markdown(f"Reference: {reference_name} ({len(reference_pairs)} pairs). Fits: " + "; ".join(
        f"{label} ≈ {b[0]:.3f} {b[1]:+.3f} × mean accuracy {b[2]:+.3f} × accuracy gap"
        for label, b in ((metrics[m], coefficients[m]) for m in metrics)) + "."))
    display(pd.DataFrame({
        "partner": [names[m] for m in adjusted.index],
        "category": adjusted["category"],
        **{f"{label}: measured": adjusted[f"{m}_raw"].round(3) for m, label in metrics.items()},
        **{f"{label}: accuracy predicts": adjusted[f"{m}_expected"].round(3) for m, label in metrics.items()},
        **{f"{label}: residual": [interval_text(r[m], r[f"{m}_low"], r[f"{m}_high"], 3) for _, r in adjusted.iterrows()]
           for m, label in metrics.items()},
    }).set_index("partner"))
adjusted_verdicts = {m: trend(adjusted_means[m], increasing=m != "kappa") if adjusted is not None
                     else ("cannot tell: no adjustment", None) for m in metrics}

# %% [markdown]
# ## How much is mere accuracy
#
# The accuracy controls follow the base's recipe exactly and stop early. Their error
# inconsistency with the base is what a loss of accuracy does without any change of
# methodology; set beside the partners', it shows how much of a category's error
# inconsistency could be explained by strength alone.

# %%
if controls:
    control_rows = base_pairs.loc[controls]
    lines = [f"- **{names[m]}** ({100 * r['accuracy']:.1f}% test accuracy, "
             f"{100 * (r['accuracy'] - full.accuracy[0]):+.1f} points from the base): error inconsistency "
             f"{interval_text(r['error_inconsistency'], r['error_inconsistency_low'], r['error_inconsistency_high'], 3)}, "
             f"kappa {interval_text(r['kappa'], r['kappa_low'], r['kappa_high'], 3)}."
             for m, r in control_rows.iterrows()]
    all_means = summaries["all partners"][0]["error_inconsistency"]
    above = [c for c, v in all_means.items() if v > control_rows["error_inconsistency"].max()]
    lines.append(f"\nCategories whose mean error inconsistency with the base exceeds that of every "
                 f"accuracy control: {', '.join(above) or 'none'}.")
    display(Markdown("\n".join(lines)))
else:
    display(Markdown("This store has no accuracy controls."))

# %% [markdown]
# ## All pairs
#
# The same two metrics for **every** pair of models, not only pairs with the base.
# Models are ordered by their category relative to the base (the tick colors; the
# accuracy controls last). For each pair of members, its own divergence category is
# derived from the two methodologies, as for pairs with the base; the table after the
# heatmaps averages the pairs of each category, over all pairs and over the pairs whose
# two models are both in the accuracy band.

# %%
order = [base, *partners, *controls]
group_rank = {BASE_LABEL: -1, **{c: i for i, c in enumerate(CATEGORIES)}, CONTROL_LABEL: len(CATEGORIES)}
order.sort(key=lambda m: group_rank[group[m]])
everything = read_outcomes(zoo, "test", order)
matrices = pair_metrics(everything.correct, None, everything.valid, tuple(metrics))
for matrix in matrices.values():
    np.fill_diagonal(matrix, np.nan)
figure = pair_heatmap({metrics[m]: matrices[m] for m in metrics}, [names[m] for m in order],
                      [group[m] for m in order], cmaps={"error consistency kappa": "viridis_r"},
                      title=f"All pairs, test split ({len(order)} models)")

# %%
members = [m for m in order if roster.table.loc[m, "role"] == "member"]
rows = []
for a, b in itertools.combinations(members, 2):
    i, j = order.index(a), order.index(b)
    rows.append({"category": roster.pair_category(a, b),
                 "in_band": bool(in_band[a] and in_band[b]),
                 **{m: matrices[m][i, j] for m in metrics}})
all_pairs = pd.DataFrame(rows, columns=["category", "in_band", *metrics]).dropna(subset=["category"])
all_pairs_table = pd.concat({
    name: all_pairs[keep].groupby("category")[list(metrics)].agg(["count", "mean"])
    for name, keep in (("all pairs", all_pairs["category"].notna()), ("both in the band", all_pairs["in_band"]))
}, axis=1).reindex([c for c in CATEGORIES if c in set(all_pairs["category"])])
all_pairs_table.columns = [f"{name}: {metrics[m]} ({stat})" for name, m, stat in all_pairs_table.columns]
counts = [c for c in all_pairs_table if c.endswith("(count)")]
all_pairs_table[counts] = all_pairs_table[counts].fillna(0).astype(int)
all_pairs_table = all_pairs_table.drop(columns=[c for c in all_pairs_table if "kappa (count)" in c]).rename(
    columns=lambda c: c.replace("error inconsistency (count)", "pairs"))
all_pairs_table.round(3)

# %%
all_pair_verdicts = {
    name: {m: trend(all_pairs_table[f"{name}: {metrics[m]} (mean)"], increasing=m != "kappa")[0] for m in metrics}
    for name in ("all pairs", "both in the band")
}
Markdown("Monotone over all pairs of members? " + "; ".join(
    f"{name}: error inconsistency {v['error_inconsistency']}, kappa {v['kappa']}"
    for name, v in all_pair_verdicts.items()) + ".")

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
present = [c for c in CATEGORIES if c in set(pair_category[is_partner])]
verdict_rows = []
for name, (table, samples) in summaries.items():
    verdict, difference = trend(table["error_inconsistency"], samples["error_inconsistency"])
    verdict_rows.append((f"Fig 1: error inconsistency per category, {name}",
                         "rises monotonically Reinit → Dataset (74-78% band)",
                         ", ".join(f"{c} {v:.3f}" for c, v in table["error_inconsistency"].items())
                         + (f"; {difference}" if difference else ""), verdict))
    verdict, difference = trend(table["kappa"], samples["kappa"], increasing=False)
    verdict_rows.append((f"kappa per category, {name}",
                         "not reported (the critique: show kappa beside it)",
                         ", ".join(f"{c} {v:.3f}" for c, v in table["kappa"].items())
                         + (f"; {difference}" if difference else ""), verdict))
if adjusted is not None:
    verdict_rows.append(("error inconsistency adjusted for accuracy",
                         "not reported (the band is the paper's only control)",
                         ", ".join(f"{c} {v:+.3f}" for c, v in adjusted_means["error_inconsistency"].items())
                         + f" (residuals; fit on {reference_name})", adjusted_verdicts["error_inconsistency"][0]))
if controls:
    verdict_rows.append((
        "accuracy alone: the base's recipe stopped early", "not measured",
        "; ".join(f"{names[m]} ({100 * r['accuracy']:.1f}%): {r['error_inconsistency']:.3f}"
                  for m, r in control_rows.iterrows())
        + f"; categories above every control: {', '.join(above) or 'none'}", "-"))
verdict_rows.append(("all pairs of members, by their own category",
                     "not reported (base pairs only)",
                     ", ".join(f"{c} {v:.3f}" for c, v in
                               all_pairs_table["all pairs: error inconsistency (mean)"].items()),
                     all_pair_verdicts["all pairs"]["error_inconsistency"]))
verdict_rows.append(("categories present", "5: Reinit, Hyper-parameters, Architecture, Framework, Dataset",
                     f"{len(present)}: {', '.join(present)}", "-"))
paper_vs_book = pd.DataFrame(verdict_rows, columns=["", "paper", "this book", "reproduces?"]).set_index("")
paper_vs_book
