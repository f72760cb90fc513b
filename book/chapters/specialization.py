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
# match within the band, with the accuracy controls (the base recipe stopped at a lower
# accuracy) as the reference for what a mere gap in strength does.

# %% tags=["parameters"]
store = "runs/fashion_mnist"  # prediction store, relative to the book's folder
base = "cnn-seed0"  # the model every pair is formed with
band = 0.01  # half-width of the accuracy band around the base (calibration accuracy, fraction)
seed = 0  # seed of the bootstrap
n_bootstrap = 1000  # bootstrap samples for every interval
reinit_partner = None  # partner of the Reinit example pair; None: chosen by the rule below
architecture_partner = None  # partner of the Architecture example pair; None: by the rule
divergent_partner = None  # a Dataset or Framework partner; None: by the rule
subdomain = "superclass"  # examples column that groups classes; None: the first one found
temperature_scaling = True  # confidences from temperature-scaled logits (fitted on calibration)

# %%
import numpy as np
import pandas as pd
from IPython.display import Markdown, display
from scipy.stats import spearmanr

from norep.book.build import project_path
from norep.book.views import fit_temperatures
from norep.analysis.bootstrap import bootstrap_sums, percentile_interval
from norep.store import read_outcomes
from norep.book.plots.specialization import pair_effects, subdomain_wins, theta_histograms
from norep.zoo.roster import make_roster
from norep.book.views import pair_angles, who_wins_where
from norep.store import Store
from norep.analysis.verdicts import interval_text
from norep.zoo import CATEGORIES

pd.set_option("display.max_colwidth", None)
level = 0.95  # coverage of every interval
zoo = Store(project_path(store))
roster = make_roster(zoo, base, band)
splits = set(zoo.examples["split"])
names, band_split = roster.names, roster.band_split
category, accuracy, in_band = roster.table["category"].to_dict(), roster.table["accuracy"], roster.table["in_band"]
test_accuracy = pd.Series(read_outcomes(zoo, "test", list(roster.table.index)).accuracy, roster.table.index)
partners = [m for m in roster.table.index if m != base]
controls, members = roster.controls, roster.members


def group(model_id):
    """The plotting group of a partner: its category, the accuracy controls or undecidable."""
    return roster.table.loc[model_id, "group"]


Markdown(f"Store `{store}`: {len(roster.table)} models, base **{names[base]}** "
         f"({100 * test_accuracy[base]:.1f}% test accuracy); {len(members)} partners, "
         f"{int(in_band[members].sum())} of them within ±{100 * band:g} points of the base on the "
         f"{band_split} split, and {len(controls)} accuracy control(s).")

# %% [markdown]
# ## The confidence angle theta
#
# For a pair (a, b) = (base, other), take the test examples on which **exactly one** of
# the two models is right, and each model's top-1 confidence there (its largest
# softmax probability), $c_a$ and $c_b$. The paper plots the angle of the point
# $(c_a, c_b)$ in the confidence plane; this book uses
#
# $$\theta = \operatorname{arctan2}(c_b, c_a) \in [0°, 90°],$$
#
# so $\theta < 45°$ means the base was the more confident, $\theta > 45°$ the other
# model (`norep.specialization.pair_angles`). The paper does not say whether its
# confidences are temperature-scaled. Here, when `temperature_scaling` is on, each
# model's logits are divided by its own temperature, fitted on the **calibration**
# split (never on test), so that a model that is overconfident everywhere does not
# tilt every histogram; models with top-1 confidences only keep theirs.
#
# The summary of a pair is the **confident-right share**: among its exactly-one-right
# examples, the share on which the model that is right is also the more confident one
# (theta on its side of 45°). Calibrated models are more confident when they are
# right, so the share is above 50% even for two seeds of one recipe; the paper's claim
# is that it grows as methods diverge. Its intervals come from a paired bootstrap over
# test examples, the same resamples for every pair, so differences between pairs and
# between categories get intervals too.

# %%
with_logits = list(roster.table.index[roster.table["has_logits"]])
temperatures = (fit_temperatures(zoo, with_logits, "calibration")
                if temperature_scaling and "calibration" in splits and with_logits else {})
test_rows = pd.Series(np.arange(len(zoo.rows("test"))), zoo.examples["example_id"].to_numpy()[zoo.rows("test")])
angles, skipped = {}, []
for m in partners:
    table = pair_angles(zoo, base, m, "test", temperatures).dropna(subset=["theta"])
    if len(table):
        angles[m] = table.assign(theta=np.degrees(table["theta"]), a_right=table["right"] == base)
    else:
        skipped.append(m)
theta_partners = list(angles)

# One column pair per partner: exactly one right, and exactly one right with the right
# model the more confident; the share is their ratio, on every bootstrap resample.
values = np.zeros((len(test_rows), 2 * len(theta_partners)))
for k, m in enumerate(theta_partners):
    table = angles[m]
    rows = test_rows[table["example_id"]].to_numpy()
    values[rows, 2 * k] = 1
    values[rows, 2 * k + 1] = np.where(table["a_right"], table["theta"] < 45, table["theta"] > 45)
sums = values.sum(axis=0)
boot = bootstrap_sums(values, n_bootstrap, seed)
with np.errstate(invalid="ignore", divide="ignore"):
    share_samples = 100 * boot[:, 1::2] / boot[:, 0::2]
share = percentile_interval(100 * sums[1::2] / sums[0::2], share_samples, level)
pairs = pd.DataFrame({
    "partner": theta_partners,
    "label": [names[m] for m in theta_partners],
    "group": [group(m) for m in theta_partners],
    "category": [category[m] for m in theta_partners],
    "control": [m in controls for m in theta_partners],
    "in_band": [bool(in_band[m]) for m in theta_partners],
    "accuracy": [100 * test_accuracy[m] for m in theta_partners],
    "examples": sums[0::2].astype(int),
    "value": share.estimate, "low": share.low, "high": share.high,
    "median theta, base right": [angles[m]["theta"][angles[m]["a_right"]].median() for m in theta_partners],
    "median theta, other right": [angles[m]["theta"][~angles[m]["a_right"]].median() for m in theta_partners],
})
Markdown(f"{len(theta_partners)} pairs have confidences on both sides"
         + (f"; left out (no confidences): {', '.join(names[m] for m in skipped)}." if skipped else ".")
         + f" Temperatures: {'fitted on calibration' if temperatures else 'none (raw confidences)'}.")

# %% [markdown]
# ## Three example pairs (the paper's Figure 3)
#
# The paper shows a Reinit pair, an Architecture pair and a Dataset pair. Unless the
# parameters name the partners, this chapter picks, for each, the first partner of
# that category (in store order) that lies in the accuracy band, else the first of the
# category at all; for the divergent pair, a Dataset partner first, then a Framework
# partner. Accuracy controls are never picked: they are the reference, not an example.

# %%
def pick(given, wanted):
    """The named partner, or the first member of the wanted categories, in-band ones first."""
    if given is not None:
        if given not in angles:
            raise ValueError(f"{given!r} is not a partner of {base} with confidences in {store}")
        return given
    candidates = [m for m in theta_partners if m in members]
    for inside in (True, False):
        for wanted_category in wanted:
            found = [m for m in candidates if category[m] == wanted_category and bool(in_band[m]) == inside]
            if found:
                return found[0]
    return None


examples = {"Reinit": pick(reinit_partner, ["Reinit"]),
            "Architecture": pick(architecture_partner, ["Architecture"]),
            "Dataset or Framework": pick(divergent_partner, ["Dataset", "Framework"])}
chosen = {role: m for role, m in examples.items() if m is not None}
if not chosen:
    raise ValueError(f"no partner of {base} with confidences in {store}: nothing to show")


def panel_title(m):
    """The panel title of the pair (base, m): names, category, accuracy, band."""
    return (f"{names[base]} vs {names[m]}\n{group(m)}, {100 * test_accuracy[m]:.1f}% "
            f"({'in' if in_band[m] else 'out of'} band)")


figure = theta_histograms(pd.concat([
    angles[m].assign(panel=panel_title(m), group=group(m), name_a=names[base], name_b=names[m])
    for m in chosen.values()]))

# %%
example_table = pairs.set_index("partner").loc[list(chosen.values())]
missing_examples = [role for role, m in examples.items() if m is None]
pd.DataFrame({
    "pair": [f"{names[base]} vs {names[m]}" for m in chosen.values()],
    "category": [group(m) for m in chosen.values()],
    "in band": example_table["in_band"].to_numpy(),
    "exactly one right": example_table["examples"].to_numpy(),
    "confident-right share (%)": [interval_text(r.value, r.low, r.high) for r in example_table.itertuples()],
    "median theta, base right (°)": example_table["median theta, base right"].astype(float).round(1).to_numpy(),
    "median theta, other right (°)": example_table["median theta, other right"].astype(float).round(1).to_numpy(),
}).set_index("pair")

# %%
Markdown("No example pair for: " + ", ".join(missing_examples) + " (no such partner in the store)."
         if missing_examples else "Every example category has a partner in this store.")

# %% [markdown]
# ## Every pair, and accuracy-matched pairs
#
# The confident-right share of every pair with the base, grouped by category. Hollow
# markers are partners outside the accuracy band; gray ones are accuracy controls, the
# base recipe stopped at a lower accuracy, whose pairs show what a gap in strength
# alone does to the share.

# %%
rank = {c: i for i, c in enumerate(CATEGORIES)}
# categories from Reinit to Dataset, then the controls, then undecidable pairs; strongest first
order = pairs.assign(rank=[len(CATEGORIES) if control else rank.get(c, len(CATEGORIES) + 1)
                           for c, control in zip(pairs["category"], pairs["control"])])
order = order.sort_values(["rank", "accuracy"], ascending=[True, False], kind="stable")
figure = pair_effects(
    order.assign(label=[f"{label} ({accuracy:.1f}%)" for label, accuracy in zip(order["label"], order["accuracy"])]),
    "confident-right share (%): the right model is the more confident one", reference=50,
    title=f"pairs with {names[base]}: {level:.0%} paired bootstrap intervals")

# %% [markdown]
# Per category: the mean share over the category's pairs, over all of them and over
# those in the band, with intervals from the same bootstrap resamples. The trend is
# read two ways: Spearman's rank correlation between the category's level (Reinit = 1
# ... Dataset = 5) and the pair's share, and the **contrast**: the mean over the most
# divergent pairs (Dataset and Framework; the highest level present when there are
# none) minus the mean over the Reinit pairs, with its interval. The accuracy controls
# are listed apart: they are what a gap in strength alone gives.

# %%
def trend(table, estimate, samples):
    """Category means and the trend with divergence of one pair value, all pairs and in the band.

    Args:
        table: One row per pair with columns category, control and in_band.
        estimate: The value of each pair, shape (P,).
        samples: Its bootstrap values on shared resamples, shape (B, P).

    Returns:
        A table of category means with intervals, and per pair set (all, in the band) a
        dict with the Spearman rho, the contrast (an Interval or None) and its categories.
    """
    tail = (1 - level) / 2
    summary, result = {}, {}
    control = table["control"].to_numpy(bool)
    for name, selected in (("all pairs", np.ones(len(table), bool)), ("in the band", table["in_band"].to_numpy(bool))):
        means = {}
        for c in CATEGORIES:
            mask = selected & ~control & (table["category"] == c).to_numpy()
            if mask.any():
                means[c] = (estimate[mask].mean(), np.nanmean(samples[:, mask], axis=1))
                low, high = np.nanquantile(means[c][1], [tail, 1 - tail])
                summary.setdefault(c, {})[f"{name}: pairs"] = str(mask.sum())
                summary[c][f"{name}: mean"] = interval_text(means[c][0], low, high, digits=2)
        top = [c for c in ("Framework", "Dataset") if c in means] or [c for c in CATEGORIES[::-1] if c in means][:1]
        difference = None
        if "Reinit" in means and top != ["Reinit"]:
            difference = percentile_interval(np.asarray(np.mean([means[c][0] for c in top]) - means["Reinit"][0]),
                                             np.mean([means[c][1] for c in top], axis=0) - means["Reinit"][1], level)
        keep = selected & ~control & table["category"].notna().to_numpy()
        levels = table["category"][keep].map(rank).to_numpy()
        rho = spearmanr(levels, estimate[keep]).statistic if len(set(levels)) > 1 else np.nan
        result[name] = {"pairs": int(keep.sum()), "rho": rho, "difference": difference, "top": top}
    for k in np.flatnonzero(control):
        low, high = np.nanquantile(samples[:, k], [tail, 1 - tail])
        summary[f"control: {table['label'].iloc[k]}"] = {"all pairs: pairs": "1",
                                                          "all pairs: mean": interval_text(estimate[k], low, high, 2)}
    return pd.DataFrame(summary).T.fillna("-").rename_axis("category"), result


def trend_text(result, name, unit="points"):
    """One sentence on the trend of a pair value with divergence over a set of pairs."""
    t = result[name]
    if t["difference"] is None:
        return f"{name}: no Reinit pair and a more divergent one to compare"
    d = t["difference"]
    return (f"{name} ({t['pairs']} pairs): Spearman rho = {t['rho']:.2f}; "
            f"{' and '.join(t['top'])} minus Reinit = {interval_text(d.estimate, d.low, d.high, digits=2)} {unit}")


def verdict(result, what):
    """Reproduces when the most divergent pairs exceed Reinit with an interval above 0, in the band first."""
    band_d, all_d = result["in the band"]["difference"], result["all pairs"]["difference"]
    if band_d is not None and band_d.low > 0:
        return f"yes: {what} higher than Reinit at matched accuracy (interval above 0)"
    if all_d is not None and all_d.low > 0:
        return (f"partly: {what} higher than Reinit over all pairs, but not at matched accuracy"
                + (" (no matched comparison possible)" if band_d is None else " (interval includes 0)"))
    if all_d is None:
        return "not testable: no Reinit pair and a more divergent pair in this store"
    return f"no: {what} not higher than Reinit (interval includes 0 or lies below)"


share_summary, share_trend = trend(pairs, share.estimate, share_samples)
display(share_summary.rename(columns=lambda c: c.replace("mean", "mean share (%)")))
Markdown("Trend of the confident-right share with divergence. "
         + "; ".join(trend_text(share_trend, n) for n in share_trend) + ".")

# %% [markdown]
# ## Who wins where (the paper's Figure 4)
#
# The paper splits ImageNet by class id and finds each model of a divergent pair
# better on its own range of classes. Here, for each class and for each group of
# classes (the `subdomain` column, e.g. the superclasses tops, footwear and other
# items of Fashion-MNIST), the accuracy difference base minus partner on the test
# examples of that part, with a 95% paired bootstrap interval
# (`norep.specialization.who_wins_where`); a part goes to the model whose lead has an
# interval excluding zero. A weaker partner tends to lose everywhere, so the pairs in
# the band are the ones to read first.

# %%
columns = [c for c in zoo.examples.columns if c not in ("example_id", "label", "split", "class_name")]
by_subdomain = subdomain if subdomain in columns else (columns[0] if columns else None)
wins = {}
for m in partners:
    for by in ["class"] + ([by_subdomain] if by_subdomain else []):
        table = who_wins_where(zoo, base, m, by=by, n_boot=n_bootstrap, level=level, seed=seed)
        table = table.rename(columns={by: "subdomain"}).dropna(subset=["difference"])
        table[["difference", "low", "high"]] *= 100
        table["winner"] = table["winner"].map({base: "a", m: "b"}).fillna("neither")
        wins[m, by] = table
Markdown(f"Parts: the {len(zoo.classes)} classes"
         + (f", and the values of `{by_subdomain}`" if by_subdomain else "; the store has no subdomain column")
         + (f" (the parameter asked for `{subdomain}`, which the store lacks)."
            if subdomain is not None and subdomain != by_subdomain else "."))

# %%
shown = list(chosen.values()) + controls[:1]
figure = subdomain_wins(pd.concat([
    wins[m, "class"].assign(panel=panel_title(m), group=group(m)) for m in shown]))

# %%
if by_subdomain:
    figure = subdomain_wins(pd.concat([
        wins[m, by_subdomain].assign(panel=panel_title(m), group=group(m)) for m in shown]))
else:
    display(Markdown("No subdomain column in this store: only the per-class view above."))

# %% [markdown]
# ### How much each pair specializes
#
# Counting won parts is a blunt measure: with many classes, some intervals exclude zero
# by chance, and two seeds of one recipe already split a few classes. The measure read
# here is the **class spread**: the standard deviation, across classes, of the per-class
# accuracy differences (in points). A pair whose models are equally good everywhere has
# a spread near the sampling noise; a pair whose models each lead on their own classes
# has a large one. Two seeds of one recipe have no methodological reason to specialize,
# so the Reinit pairs' spread is the floor. The spread gets its interval from the same
# paired bootstrap as above (per-class sums on shared resamples of the test examples;
# an example a model did not answer counts as wrong here).

# %%
outcomes = read_outcomes(zoo, "test", [base, *partners])
codes, _ = pd.factorize(outcomes.labels, sort=True)
per_class = {m: bootstrap_sums(outcomes.correct[k][:, None].astype(float), n_bootstrap, seed, groups=codes)[..., 0]
             for k, m in enumerate(outcomes.model_ids)}  # (B, classes) correct counts, the same resamples
n_class = bootstrap_sums(np.ones((len(codes), 1)), n_bootstrap, seed, groups=codes)[..., 0]
full_n = np.bincount(codes).astype(float)
full_correct = {m: np.bincount(codes, weights=outcomes.correct[k].astype(float), minlength=len(full_n))
                for k, m in enumerate(outcomes.model_ids)}
with np.errstate(invalid="ignore", divide="ignore"):
    spread_estimate = np.array([100 * np.std((full_correct[base] - full_correct[m]) / full_n, ddof=1)
                                for m in partners])
    spread_samples = np.stack([100 * np.nanstd((per_class[base] - per_class[m]) / n_class, axis=1, ddof=1)
                               for m in partners], axis=1)
spread = percentile_interval(spread_estimate, spread_samples, level)
spread_pairs = pd.DataFrame({"partner": partners, "label": [names[m] for m in partners],
                             "category": [category[m] for m in partners], "control": [m in controls for m in partners],
                             "in_band": [bool(in_band[m]) for m in partners]})

records = []
for k, m in enumerate(partners):
    record = {"partner": names[m], "category": group(m), "in band": bool(in_band[m]),
              "test accuracy (%)": round(100 * test_accuracy[m], 1)}
    for by in ["class"] + ([by_subdomain] if by_subdomain else []):
        table = wins[m, by]
        record[f"{by}: base wins"] = int((table["winner"] == "a").sum())
        record[f"{by}: partner wins"] = int((table["winner"] == "b").sum())
    record["class spread (points)"] = interval_text(spread.estimate[k], spread.low[k], spread.high[k], digits=2)
    record["_rank"] = len(CATEGORIES) if m in controls else rank.get(category[m], len(CATEGORIES) + 1)
    records.append(record)
specialization = pd.DataFrame(records).sort_values("_rank", kind="stable").drop(columns="_rank").set_index("partner")
specialization

# %%
spread_summary, spread_trend = trend(spread_pairs, spread.estimate, spread.samples)
display(spread_summary.rename(columns=lambda c: c.replace("mean", "mean class spread (points)")))
Markdown("Trend of the class spread with divergence. "
         + "; ".join(trend_text(spread_trend, n) for n in spread_trend) + ".")

# %% [markdown]
# ## Paper vs this book
#
# Each row: the paper's claim and number, what this store gives, and whether it
# reproduces, decided from the intervals above: a difference "holds" when its 95%
# interval lies above zero, and a claim about divergence is read at matched accuracy
# (pairs in the band) first.

# %%
reinit_mask = ((pairs["category"] == "Reinit") & ~pairs["control"]).to_numpy()
if reinit_mask.any():
    reinit_interval = percentile_interval(np.asarray(share.estimate[reinit_mask].mean()),
                                          np.nanmean(share_samples[:, reinit_mask], axis=1), level)
    reinit_text = (f"Reinit mean share "
                   f"{interval_text(reinit_interval.estimate, reinit_interval.low, reinit_interval.high)}%"
                   f" over {reinit_mask.sum()} pair(s)")
    reinit_verdict = ("yes: Reinit's interval includes 50%" if reinit_interval.low <= 50 <= reinit_interval.high
                      else "no: even for Reinit the right model is more often the confident one "
                           "(expected of calibrated models); the claim holds only as a difference, row above")
else:
    reinit_text, reinit_verdict = "no Reinit pair in this store", "not testable"

divergent = chosen.get("Dataset or Framework")
if divergent is not None:
    k = partners.index(divergent)
    row = specialization.loc[names[divergent]]
    split = row["class: base wins"] > 0 and row["class: partner wins"] > 0
    reinit_spread = ((spread_pairs["category"] == "Reinit") & ~spread_pairs["control"]).to_numpy()
    fig4_text = (f"{names[base]} vs {names[divergent]} ({group(divergent)}): base wins {row['class: base wins']}, "
                 f"partner wins {row['class: partner wins']} of {len(zoo.classes)} classes"
                 + (f"; {by_subdomain}: {row[f'{by_subdomain}: base wins']} vs {row[f'{by_subdomain}: partner wins']}"
                    if by_subdomain else ""))
    if reinit_spread.any():
        beyond = percentile_interval(np.asarray(spread.estimate[k] - spread.estimate[reinit_spread].mean()),
                                     spread.samples[:, k] - np.nanmean(spread.samples[:, reinit_spread], axis=1), level)
        fig4_text += (f"; class spread minus Reinit's: {interval_text(beyond.estimate, beyond.low, beyond.high, 2)} "
                      "points")
        wider = beyond.low > 0
        fig4_verdict = ("yes: each model wins some classes, and they differ by class more than seeds do"
                        if split and wider else
                        "partly: each model wins some classes, but no more unevenly than two seeds "
                        "(spread interval includes Reinit's)" if split else
                        "partly: the models differ by class more than seeds do, but do not each win a class"
                        if wider else "no: neither a split of the classes nor more spread than between seeds")
    else:
        fig4_verdict = ("partly: each model wins some classes (no Reinit pair to compare with)" if split
                        else "no: the divergent pair does not split the classes between its models")
else:
    fig4_text, fig4_verdict = "no Dataset or Framework partner in this store", "not testable"

pd.DataFrame([
    ("the lone correct model is more confident when methods diverge (Fig 3)",
     "theta histograms split by the right model pull apart for Architecture and Dataset pairs",
     "confident-right share: " + trend_text(share_trend, "all pairs") + "; "
     + trend_text(share_trend, "in the band"),
     verdict(share_trend, "the share is")),
    ("... and not for Reinit (Fig 3)",
     "ResNet-50 vs ResNet-50: the two histograms overlap around 45°",
     reinit_text,
     reinit_verdict),
    ("a divergent pair specializes on different classes (Fig 4)",
     "CLIP better on anthropogenic classes (ids 500-900), ResNet-50 on nature (ids 0-300)",
     fig4_text,
     fig4_verdict),
    ("specialization grows with divergence (Fig 4, across pairs)",
     "shown for one Dataset pair only",
     "class spread: " + trend_text(spread_trend, "all pairs") + "; " + trend_text(spread_trend, "in the band"),
     verdict(spread_trend, "the spread is")),
], columns=["claim", "paper", "this book", "reproduces?"]).set_index("claim")
