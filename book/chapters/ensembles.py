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

# %%
import itertools

import numpy as np
import pandas as pd
from IPython.display import Markdown, display
from scipy.stats import linregress

from norep.book.build import project_path
from norep.book.views import calibration_table, fit_temperatures
from norep.analysis.ensembles import ensemble_predictions, pairwise_ensembles
from norep.store import read_scores
from norep.analysis.bootstrap import bootstrap_sums, percentile_interval
from norep.book.plots.categories import category_metrics
from norep.book.plots.ensembles import improvement_vs_inconsistency, temperature_effect
from norep.zoo.roster import CONTROL_LABEL, make_roster, UNDECIDABLE_LABEL
from norep.store import Store
from norep.analysis.verdicts import category_summary, interval_text, monotone_verdict
from norep.zoo import CATEGORIES

pd.set_option("display.max_colwidth", None)  # tables of prose: show every word
level = 0.95  # coverage of every interval
zoo = Store(project_path(store))
roster = make_roster(zoo, base, band)
if not roster.table.loc[base, "has_logits"]:
    raise ValueError(f"base {base!r} has only top-1 answers: ensembles need logits or probabilities")
names, category, group = roster.names, roster.table["category"], roster.table["group"]
band_split, band_accuracy, in_band = roster.band_split, roster.table["accuracy"], roster.table["in_band"]
fit_split = "calibration" if band_split == "calibration" else None
has_logits = roster.table["has_logits"]
partners = [m for m in roster.partners if has_logits[m]]
controls = [m for m in roster.controls if has_logits[m]]
left_out = [m for m in roster.table.index if m != base and m not in partners and m not in controls]
order = [base, *partners, *controls]
Markdown(
    f"Store `{store}`: **{zoo.manifest['dataset']['name']}**, base **{names[base]}**, "
    f"partners: {len(partners)}, in {len({category[m] for m in partners})} of the 5 categories; "
    f"accuracy controls: {len(controls)}"
    + (f"; left out: {', '.join(names[m] for m in left_out)} (top-1 answers only or category undecidable)"
       if left_out else "")
    + f". Temperatures: {'fitted on the calibration split' if fit_split else 'T = 1 (this store has no calibration split)'}."
    f" The band: {band_split} accuracy within ± {100 * band:g} points of the base's "
    f"{100 * band_accuracy[base]:.1f}%; partners in it: {int(in_band[partners].sum())}."
)

# %% [markdown]
# ## Temperatures and two-model ensembles
#
# Each model's temperature T minimizes its negative log-likelihood on the calibration
# split (`norep.calibration.fit_temperatures`); its test probabilities are
# softmax(logits / T). Two-model ensembles of **every** pair come from
# `norep.ensembles.pairwise_ensembles`, exactly equal to averaging the two probability
# tables. For the pairs with the base, the ensemble is also computed example by example,
# so that its accuracy, its improvement and its conversion rate get paired bootstrap
# intervals (test examples resampled with replacement, the same resamples for every
# pair, so a category's mean over its pairs gets an interval too).

# %%
temperatures = fit_temperatures(zoo, order, fit_split) if fit_split else {m: 1.0 for m in order}
labels = zoo.labels("test")
ensembles_unscaled = pairwise_ensembles(read_scores(zoo, order, "test"), labels)  # T = 1, for comparison
scaled = read_scores(zoo, order, "test", temperatures)  # (models, examples, classes)
ensembles = pairwise_ensembles(scaled, labels)

right = scaled.argmax(axis=2) == labels  # each model's top-1 correctness, (models, examples)
ensemble_right = np.stack([ensemble_predictions(scaled[[0, k]]) == labels for k in range(1, len(order))])
one_right = right[0] != right[1:]  # exactly one member right
cells = np.concatenate([right[:1], right[1:], ensemble_right, one_right, ensemble_right & one_right]).T
n_test = len(labels)


def pair_values(sums):
    """Accuracies, improvement, error inconsistency and conversion rate of the base pairs from summed cells."""
    base_right, partner, ensemble, one, converted = (
        sums[..., :1], *np.split(sums[..., 1:], 4, axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        conversion = converted / one
    return {"accuracy": partner / n_test, "ensemble_accuracy": ensemble / n_test,
            "improvement": (ensemble - (base_right + partner) / 2) / n_test,
            "error_inconsistency": one / n_test, "conversion_rate": conversion}


full = pair_values(cells.sum(axis=0, dtype=np.float64))
boot = pair_values(bootstrap_sums(cells, n_bootstrap, seed))
base_accuracy = right[0].mean()
base_pairs = pd.DataFrame({
    "category": [category[m] for m in partners] + [None] * len(controls),
    "group": [group[m] for m in order[1:]],
    "in_band": in_band[order[1:]].to_numpy(),
}, index=order[1:])
metrics = {"ensemble_accuracy": "ensemble accuracy (%)",
           "improvement": "relative ensemble improvement (points)",
           "conversion_rate": "conversion rate (%)"}
for metric in ["accuracy", "error_inconsistency", *metrics]:
    interval = percentile_interval(full[metric], boot[metric], level)
    base_pairs[metric], base_pairs[f"{metric}_low"], base_pairs[f"{metric}_high"] = (
        interval.estimate, interval.low, interval.high)


pd.DataFrame({
    "partner": [names[m] for m in base_pairs.index],
    "group": base_pairs["group"],
    "T": [round(temperatures[m], 2) for m in base_pairs.index],
    "partner accuracy (%)": (100 * base_pairs["accuracy"]).round(1),
    "in the band": base_pairs["in_band"].map({True: "yes", False: "no"}),
    **{label: [interval_text(r[m], r[f"{m}_low"], r[f"{m}_high"], scale=100) for _, r in base_pairs.iterrows()]
       for m, label in metrics.items()},
}).set_index("partner")

# %%
Markdown(f"The base alone: {100 * base_accuracy:.1f}% test accuracy, T = {temperatures[base]:.2f}. "
         f"The fast all-pairs computation agrees with the example-by-example one on the base pairs: "
         f"{'yes' if np.allclose(ensembles.accuracy[0, 1:], base_pairs['ensemble_accuracy']) else 'NO'}.")

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
members = [base, *partners]
all_pairs = pd.DataFrame([{
    "pair": f"{names[a]} + {names[b]}",
    "group": roster.pair_category(a, b) or UNDECIDABLE_LABEL,
    "in_band": bool(in_band[a] and in_band[b]),
    "error_inconsistency": float(np.mean(right[order.index(a)] != right[order.index(b)])),
    "improvement": ensembles.improvement[order.index(a), order.index(b)],
    "ensemble_accuracy": ensembles.accuracy[order.index(a), order.index(b)],
    "ensemble_accuracy_unscaled": ensembles_unscaled.accuracy[order.index(a), order.index(b)],
    "conversion_rate": ensembles.conversion_rate[order.index(a), order.index(b)],
} for a, b in itertools.combinations(members, 2)])


def fit(table):
    """Least-squares line of improvement on error inconsistency: slope, intercept, r, p, n (None if < 3 pairs)."""
    if len(table) < 3 or table["error_inconsistency"].nunique() < 2:
        return None
    result = linregress(table["error_inconsistency"], table["improvement"])
    return result.slope, result.intercept, result.rvalue, result.pvalue, len(table)


is_partner = base_pairs["group"].isin(CATEGORIES).to_numpy()
fits = {
    "base vs each partner": {"all partners": fit(base_pairs[is_partner]),
                             "partners in the band": fit(base_pairs[is_partner & base_pairs["in_band"]])},
    "every pair of members": {"all pairs": fit(all_pairs), "both in the band": fit(all_pairs[all_pairs["in_band"]])},
}
figure = improvement_vs_inconsistency(
    {"base vs each partner": base_pairs, "every pair of members": all_pairs},
    {panel: {f"{name} (n={f[4]})": f[:3] for name, f in lines.items() if f} for panel, lines in fits.items()},
    title="Relative ensemble improvement against error inconsistency (test split)")
fit_table = pd.DataFrame([
    {"pairs": f"{panel}: {name}", "n": f[4], "slope (points per point)": round(f[0], 3),
     "intercept (points)": round(100 * f[1], 2), "Pearson r": round(f[2], 3), "p-value": f"{f[3]:.2g}"}
    if f else {"pairs": f"{panel}: {name}", "n": "fewer than 3"}
    for panel, lines in fits.items() for name, f in lines.items()]).set_index("pairs")
fit_table

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
pair_category = base_pairs["category"].to_numpy()



def summarize(keep):
    """Category means of every metric over the kept base pairs, with intervals and bootstrap means."""
    return category_summary({m: full[m] for m in metrics}, {m: boot[m] for m in metrics}, pair_category, keep, level)


def trend(means, draws=None, increasing=True):
    """Monotone verdict on category means (in points), with the most-minus-least divergent difference."""
    return monotone_verdict(means, draws, increasing, scale=100, digits=1, level=level)


summaries = {"all partners": summarize(is_partner),
             "partners in the band": summarize(is_partner & base_pairs["in_band"].to_numpy())}
references = {metric: [(row[metric], f"+ control {names[m]} ({100 * row['accuracy']:.1f}%)")
                       for m, row in base_pairs.loc[controls].iterrows()] for metric in metrics}
references["ensemble_accuracy"].append((base_accuracy, f"{names[base]} alone"))
figure = category_metrics(base_pairs[is_partner], {k: v[0] for k, v in summaries.items()}, metrics,
                          references, percent=True,
                          title=f"{names[base]} + each partner, test split ({level:.0%} bootstrap intervals)")

# %%
rows = []
for name, (table, samples) in summaries.items():
    for metric, label in metrics.items():
        verdict, difference = trend(table[metric], samples[metric])
        rows.append({"pairs": name, "metric": label,
                     "category means": ", ".join(f"{c} {100 * v:.1f} (n={table.loc[c, f'{metric}_n']})"
                                                 for c, v in table[metric].items()),
                     "rises with divergence?": verdict, "most − least divergent": difference or "-"})
category_verdicts = pd.DataFrame(rows).set_index(["pairs", "metric"])
category_verdicts

# %% [markdown]
# ## The effect of temperature scaling
#
# Temperature scaling changes no model's own top-1 answers, only how confident they
# are; but an ensemble of probabilities weighs each member by its confidence, so the
# temperatures can change the ensemble's answers. Left and center: each model's test
# negative log-likelihood and expected calibration error (15 equal-width bins of top-1
# confidence) before and after scaling (`norep.calibration.calibration_table`). Right:
# each pair's ensemble accuracy with scaled members against unscaled ones (T = 1).

# %%
calibration = calibration_table(zoo, order, fit_split) if fit_split else None
if calibration is not None:
    calibration = calibration.set_index("model_id").loc[order].assign(
        label=[names[m] for m in order], group=[group[m] for m in order])
    pair_groups = [group[order[k]] if group[order[k]] == CONTROL_LABEL else
                   roster.pair_category(order[i], order[k]) or UNDECIDABLE_LABEL
                   for i, k in itertools.combinations(range(len(order)), 2)]
    i, k = np.triu_indices(len(order), 1)
    scaling_pairs = pd.DataFrame({"group": pair_groups, "accuracy_unscaled": ensembles_unscaled.accuracy[i, k],
                                  "accuracy_scaled": ensembles.accuracy[i, k]})
    figure = temperature_effect(calibration, scaling_pairs,
                                title="Temperature scaling (fitted on the calibration split, reported on test)")
    change = 100 * (scaling_pairs["accuracy_scaled"] - scaling_pairs["accuracy_unscaled"])
    display(pd.DataFrame({
        "mean over models": [calibration["temperature"].mean(), calibration["nll_before"].mean(),
                             calibration["nll_after"].mean(), 100 * calibration["ece_before"].mean(),
                             100 * calibration["ece_after"].mean()],
    }, index=["temperature", "test NLL, T = 1", "test NLL, T fitted", "test ECE (%), T = 1",
              "test ECE (%), T fitted"]).round(3))
    display(Markdown(
        f"Over the {len(change)} pairs, scaling changes ensemble accuracy by {change.mean():+.2f} points on "
        f"average (from {change.min():+.2f} to {change.max():+.2f}); it raises it for {(change > 0).sum()} "
        f"pairs and lowers it for {(change < 0).sum()}."))
else:
    change = None
    display(Markdown("This store has no calibration split: every model keeps T = 1, and there is nothing "
                     "to compare."))

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
def fit_text(f):
    """A fit in words."""
    return (f"slope {f[0]:.2f}, r = {f[2]:.2f} (p = {f[3]:.2g}, n = {f[4]})" if f else "fewer than 3 pairs")


def fit_verdict(f):
    """Yes when the relation is positive and significant."""
    if f is None:
        return "cannot tell: fewer than 3 pairs"
    return "yes" if f[0] > 0 and f[3] < 0.05 else f"no: r = {f[2]:.2f}, p = {f[3]:.2g}"


present = [c for c in CATEGORIES if c in set(pair_category[is_partner])]
verdict_rows = []
for panel, lines in fits.items():
    for name, f in lines.items():
        verdict_rows.append((f"Fig 2 left, {panel}, {name}",
                             "a linear relation: improvement grows with error inconsistency",
                             fit_text(f), fit_verdict(f)))
for name, (table, samples) in summaries.items():
    for metric, claim in (("ensemble_accuracy", "rises with divergence (Fig 2 center)"),
                          ("improvement", "rises with divergence (follows from Fig 2 left)"),
                          ("conversion_rate", "rises with divergence (Fig 2 right)")):
        verdict, difference = trend(table[metric], samples[metric])
        verdict_rows.append((f"{metrics[metric]} per category, {name}", claim,
                             ", ".join(f"{c} {100 * v:.1f}" for c, v in table[metric].items())
                             + (f"; {difference}" if difference else ""), verdict))
if present:
    top = present[-1]
    over_better = base_pairs["ensemble_accuracy"] - np.maximum(base_accuracy, base_pairs["accuracy"])
    best = base_pairs.loc[is_partner & (pair_category == top), "ensemble_accuracy"].idxmax()
    row = base_pairs.loc[best]
    gain = {c: over_better[is_partner & (pair_category == c)].mean() for c in (top, "Reinit")}
    reinit = (is_partner & (pair_category == "Reinit")).any()
    verdict = ("cannot tell: no Reinit pair to compare with" if top == "Reinit" or not reinit else
               "yes" if gain[top] > gain["Reinit"] and over_better[best] > 0 else "no")
    compared = (f"; mean over {top} pairs {100 * gain[top]:+.1f}, over Reinit pairs {100 * gain['Reinit']:+.1f}"
                if reinit else "")
    verdict_rows.append((
        f"the best ensemble of the base with a partner of the most divergent category ({top})",
        "ResNet-50 76.5 + ALIGN zero-shot 75.5 → 83.4 (+6.9 over the better member; Dataset)",
        (f"{names[base]} {100 * base_accuracy:.1f} + {names[best]} {100 * row['accuracy']:.1f} → "
         f"{100 * row['ensemble_accuracy']:.1f} ({100 * over_better[best]:+.1f} over the better member"
         f"{compared})"),
        verdict))
verdict_rows.append((
    "temperature scaling before ensembling", "done, split not stated",
    (f"fitted on the calibration split; mean test NLL {calibration['nll_before'].mean():.3f} → "
     f"{calibration['nll_after'].mean():.3f}, ensemble accuracy {change.mean():+.2f} points on average")
    if calibration is not None else "no calibration split: T = 1", "-"))
verdict_rows.append(("categories present", "5: Reinit, Hyper-parameters, Architecture, Framework, Dataset",
                     f"{len(present)}: {', '.join(present)}", "-"))
pd.DataFrame(verdict_rows, columns=["", "paper", "this book", "reproduces?"]).set_index("")
