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
band = 0.01  # half-width of the accuracy band around the base (calibration accuracy, fraction)
seed = 0  # seed of the bootstrap
n_bootstrap = 1000  # bootstrap samples for every interval
n_anchors = 3  # greedy runs, one per anchor, from the strongest members
max_size = 4  # the largest greedy ensemble, anchor included
cap = None  # highest calibration accuracy a candidate may have (fraction); None: base + band
weak_partner = None  # the much weaker, differently trained partner of the base; None: by the rule below
control = None  # the weaker same-recipe reference for it; None: by the rule below

# %%
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from norep.book.build import project_path
from norep.book.views import fit_temperatures
from norep.book.views import greedy_ensemble
from norep.store import scaled_scores
from norep.analysis.bootstrap import bootstrap_sums, percentile_interval
from norep.store import read_outcomes
from norep.book.plots.greedy import ensemble_gains, greedy_curves
from norep.zoo.roster import BASE_LABEL, CONTROL_LABEL, make_roster, UNDECIDABLE_LABEL
from norep.store import Store
from norep.analysis.verdicts import interval_text
from norep.zoo import CATEGORIES

pd.set_option("display.max_colwidth", None)
level = 0.95  # coverage of every interval
zoo = Store(project_path(store))
if "calibration" not in set(zoo.examples["split"]):
    raise ValueError(f"{store} has no calibration split: temperatures and greedy selection need one "
                     "(they are never fitted on the test split)")
roster = make_roster(zoo, base, band)
names, base_category = roster.names, roster.table["category"].to_dict()
with_logits = list(roster.table.index[roster.table["has_logits"]])
if base not in with_logits:
    raise ValueError(f"base {base!r} has no logits in {store}: ensembles need full probabilities")
category, group = roster.pair_category, roster.pair_group  # (anchor, other): relative to any anchor
methodology = roster.methodologies


outcomes = {split: read_outcomes(zoo, split, with_logits) for split in ("calibration", "test")}
accuracy = pd.DataFrame({split: o.accuracy for split, o in outcomes.items()}, index=with_logits)
correct = dict(zip(with_logits, outcomes["test"].correct))
in_band = roster.table["in_band"]  # calibration accuracy within the band of the base's
members = [m for m in with_logits if m == base or m in roster.members]
controls = [m for m in with_logits if m in roster.controls]
Markdown(f"Store `{store}`: {len(with_logits)} models with logits ({len(members)} members, "
         f"{len(controls)} accuracy controls); base **{names[base]}**, "
         f"{100 * accuracy.loc[base, 'calibration']:.1f}% on calibration, "
         f"{100 * accuracy.loc[base, 'test']:.1f}% on test.")

# %% [markdown]
# ## The ensemble and the greedy search
#
# The paper leaves three choices open; this book makes them as follows.
#
# - **Ensemble rule:** each member's logits are divided by its own temperature, and
#   the ensemble predicts the class of highest mean softmax probability
#   (`norep.ensembles`).
# - **Temperatures:** fitted per model on the **calibration** split, by minimizing
#   the negative log-likelihood.
# - **Greedy selection:** from the anchor, repeatedly add the candidate that most raises
#   the ensemble's accuracy **on the calibration split**, up to `max_size` members
#   (`norep.ensembles.greedy_ensemble`). The test split is only read to report each
#   step: selecting on test would inflate every number below.
#
# **Anchors and candidates.** The paper's candidates are the models of at most 77.9%
# accuracy, the top of its 74-78% band, and its anchors are stronger models (80.9-85.1%).
# Here a candidate's calibration accuracy must be at most the **cap** (by default the top
# of the band: the base's calibration accuracy plus `band`) and below the anchor's; the
# anchors are the `n_anchors` strongest members above the cap (the strongest members at
# all when none is above it). Each anchor runs twice: with every member under the cap
# as a candidate, and with only the members **in the band**, the accuracy-matched pool.
# Accuracy controls are never candidates: they serve as the reference in the last section.

# %%
cap_value = accuracy.loc[base, "calibration"] + band if cap is None else cap
strongest = sorted(members, key=lambda m: -accuracy.loc[m, "calibration"])
above = [m for m in strongest if accuracy.loc[m, "calibration"] > cap_value]
anchors = (above or strongest)[:n_anchors]
pools = {"under the cap": members, "in the band": [m for m in members if in_band[m]]}


def candidates(anchor, pool):
    """The members of a pool that may join the anchor: under the cap and weaker than the anchor."""
    return [m for m in pools[pool] if m != anchor and accuracy.loc[m, "calibration"] <= cap_value + 1e-12
            and accuracy.loc[m, "calibration"] < accuracy.loc[anchor, "calibration"]]


display(Markdown(
    f"Cap: {100 * cap_value:.1f}% calibration accuracy"
    + (" (the top of the band)." if cap is None else " (the `cap` parameter).")
    + ("" if above else " No member is above the cap: the anchors are the strongest members, and their "
       "candidates are the members weaker than them.")))
pd.DataFrame({
    "anchor": [names[a] for a in anchors],
    "calibration accuracy (%)": [round(100 * accuracy.loc[a, "calibration"], 1) for a in anchors],
    "test accuracy (%)": [round(100 * accuracy.loc[a, "test"], 1) for a in anchors],
    **{f"candidates {pool}": [len(candidates(a, pool)) for a in anchors] for pool in pools},
}).set_index("anchor")

# %% [markdown]
# ## Greedy ensembles from the strongest members (the paper's Figure 5)
#
# Each panel is one greedy run: the test accuracy of the ensemble after each addition
# (filled markers, colored by the added model's divergence category **relative to the
# anchor**) and the added model's own test accuracy (hollow). The gray band is the 95%
# paired bootstrap interval of the ensemble's gain over the anchor alone (test
# examples resampled, the same resamples for every run).

# %%
temperatures = fit_temperatures(zoo, with_logits, "calibration")
labels = zoo.labels("test")


def ensemble_correct(ids):
    """Test correctness of the temperature-scaled probability-averaging ensemble of ``ids``."""
    total = scaled_scores(zoo.logits(ids[0], "test"), temperatures[ids[0]]).copy()
    for m in ids[1:]:
        total += scaled_scores(zoo.logits(m, "test"), temperatures[m])
    return total.argmax(axis=1) == labels


runs, columns = [], []  # one row per greedy step; gain columns for the paired bootstrap
for pool in pools:
    for anchor in anchors:
        pool_candidates = candidates(anchor, pool)
        if not pool_candidates:
            continue
        steps = greedy_ensemble(zoo, anchor, pool_candidates, max_size=max_size)
        for row in steps.itertuples():
            members_so_far = list(steps["model_id"][:row.step])
            gain = ensemble_correct(members_so_far).astype(float) - correct[anchor]
            columns.append(gain)
            runs.append({"pool": pool, "anchor": anchor, "size": row.step, "model": row.model_id,
                         "name": names[row.model_id],
                         "group": BASE_LABEL if row.step == 1 else group(anchor, row.model_id),
                         "member_accuracy": 100 * row.member_accuracy,
                         "ensemble_accuracy": 100 * row.ensemble_accuracy,
                         "select_accuracy": 100 * row.select_accuracy,
                         "column": len(columns) - 1})
runs = pd.DataFrame(runs)
if runs.empty:
    raise ValueError(f"no anchor of {store} has a weaker candidate under the cap {cap_value:.3f}")
values = np.stack(columns, axis=1)
boot = bootstrap_sums(values, n_bootstrap, seed) / len(labels)
gain = percentile_interval(values.mean(axis=0), boot, level)
runs["gain"], runs["gain_low"], runs["gain_high"] = (100 * gain.estimate[runs["column"]],
                                                     100 * gain.low[runs["column"]], 100 * gain.high[runs["column"]])
anchor_accuracy = 100 * accuracy.loc[runs["anchor"], "test"].to_numpy()
runs["low"], runs["high"] = anchor_accuracy + runs["gain_low"], anchor_accuracy + runs["gain_high"]
runs["panel"] = [f"{names[a]} ({100 * accuracy.loc[a, 'test']:.1f}%)\ncandidates {p}: {len(candidates(a, p))}"
                 for a, p in zip(runs["anchor"], runs["pool"])]
figure = greedy_curves(runs, ncols=max(2, len(anchors)))

# %% [markdown]
# ### The first addition
#
# The paper's table: the anchor's accuracy plus the first addition's accuracy gives the
# two-member ensemble's accuracy, and the first addition differs from the anchor in its
# loss (training objective) and/or its data. "Differs in" lists the methodology fields
# in which the two models differ; the last column is the base rate, the share of that
# run's candidates that differ from the anchor in loss or data: if most candidates do,
# a first addition that does too is no surprise.

# %%
def differs(a, b):
    """The methodology fields in which models a and b differ (loss = training objective)."""
    fields = {"objective": "loss", "training_data": "data", "architecture": "architecture",
              "hyperparameters": "hyper-parameters", "seed": "seed"}
    return [label for field, label in fields.items()
            if getattr(methodology[a], field) is not None and getattr(methodology[b], field) is not None
            and getattr(methodology[a], field) != getattr(methodology[b], field)]


first_rows = []
for (pool, anchor), run in runs.groupby(["pool", "anchor"], sort=False):
    if len(run) < 2:
        continue
    first, last = run.iloc[1], run.iloc[-1]
    loss_or_data = [m for m in candidates(anchor, pool) if {"loss", "data"} & set(differs(anchor, m))]
    first_rows.append({
        "candidates": pool, "anchor": names[anchor],
        "anchor + first addition -> ensemble (test %)":
            f"{100 * accuracy.loc[anchor, 'test']:.1f} + {first['member_accuracy']:.1f} "
            f"-> {first['ensemble_accuracy']:.1f}",
        "first addition": first["name"],
        "its category (vs the anchor)": first["group"],
        "differs in": ", ".join(differs(anchor, first["model"])) or "unknown",
        "loss or data": bool({"loss", "data"} & set(differs(anchor, first["model"]))),
        f"final ensemble: gain (points, {level:.0%} CI)":
            f"{int(last['size'])} members: "
            + interval_text(last["gain"], last["gain_low"], last["gain_high"], sign=True),
        "base rate: candidates differing in loss or data": f"{len(loss_or_data)} of {len(candidates(anchor, pool))}",
        "_every candidate differs": len(loss_or_data) == len(candidates(anchor, pool)),
    })
first_additions = pd.DataFrame(first_rows)
first_additions.drop(columns="_every candidate differs").set_index(["candidates", "anchor"]) \
    if len(first_additions) else Markdown(
    "No greedy run added a member: no anchor has a candidate.")

# %% [markdown]
# ## Every weaker partner of each anchor
#
# The greedy search shows the best additions; this view shows them all. For each anchor,
# every two-member ensemble with a model under the cap and weaker than the anchor (the
# accuracy controls included, in gray): its gain over the anchor alone against the
# partner's own accuracy, with 95% paired bootstrap intervals. If divergence rather
# than strength decides, the more divergent partners sit higher at the same accuracy.

# %%
pair_rows, pair_columns = [], []
for anchor in anchors:
    partners = [m for m in with_logits if m != anchor and accuracy.loc[m, "calibration"] <= cap_value + 1e-12
                and accuracy.loc[m, "calibration"] < accuracy.loc[anchor, "calibration"]]
    for m in partners:
        pair_columns.append(ensemble_correct([anchor, m]).astype(float) - correct[anchor])
        pair_rows.append({"anchor": anchor, "partner": m, "label": names[m], "group": group(anchor, m),
                          "in band": bool(in_band[m]), "accuracy": 100 * accuracy.loc[m, "test"],
                          "panel": f"anchor {names[anchor]} ({100 * accuracy.loc[anchor, 'test']:.1f}%)"})
pair_table = pd.DataFrame(pair_rows)
if len(pair_table):
    values = np.stack(pair_columns, axis=1)
    interval = percentile_interval(values.mean(axis=0), bootstrap_sums(values, n_bootstrap, seed) / len(labels), level)
    pair_table["gain"], pair_table["low"], pair_table["high"] = (100 * interval.estimate, 100 * interval.low,
                                                                 100 * interval.high)
    figure = ensemble_gains(pair_table.drop(columns="label"))
else:
    display(Markdown("No anchor has a weaker partner under the cap."))

# %%
if len(pair_table):
    order = [c for c in (*CATEGORIES, CONTROL_LABEL, UNDECIDABLE_LABEL) if c in set(pair_table["group"])]
    summary = {}
    for name, rows in (("all partners", pair_table), ("partners in the band", pair_table[pair_table["in band"]])):
        by_group = rows.groupby("group")["gain"]
        summary[name, "pairs"] = by_group.size().reindex(order).fillna(0).astype(int)
        summary[name, "mean gain (points)"] = [f"{v:+.2f}" if pd.notna(v) else "-"
                                               for v in by_group.mean().reindex(order)]
    display(pd.DataFrame(summary, index=order).rename_axis("category vs anchor"))

# %% [markdown]
# ## A much weaker model still helps (the paper's section 4.5)
#
# The paper adds CLIP-S zero-shot (63.3%), 13 points weaker than its ResNet-50
# (76.2%), and still gains 1.5 points. Here the weak partner is, unless the parameters
# name one, the **weakest** Dataset or Framework member relative to the base (an
# Architecture member when there is none). Its reference is the accuracy control
# closest to it in calibration accuracy: the base's own recipe stopped early, weak
# for the same reason of strength but not different in method. (A store without
# accuracy controls falls back to the Reinit or Hyper-parameters member closest in
# accuracy.) The gains are over the base alone, on test, with paired bootstrap
# intervals from the same resamples, so their difference has an interval too.

# %%
def weakest(wanted):
    """The weakest member (calibration accuracy) of the first wanted categories present."""
    for categories in wanted:
        found = [m for m in members if m != base and base_category[m] in categories]
        if found:
            return min(found, key=lambda m: accuracy.loc[m, "calibration"])
    return None


def closest(reference, pool):
    """The model of the pool closest to the reference in calibration accuracy."""
    pool = [m for m in pool if m not in (base, reference)]
    if not pool:
        return None
    return min(pool, key=lambda m: abs(accuracy.loc[m, "calibration"] - accuracy.loc[reference, "calibration"]))


for given in (weak_partner, control):
    if given is not None and given not in with_logits:
        raise ValueError(f"{given!r} is not a model with logits in {store}")
weak = weak_partner or weakest([("Dataset", "Framework"), ("Architecture",)])
reference = control or (closest(weak, controls) if weak else None)
if weak is not None and reference is None:
    reference = closest(weak, [m for m in members if base_category[m] in ("Reinit", "Hyper-parameters")])
reference_kind = "accuracy control" if reference in controls else "same-recipe stand-in"
if weak is None or reference is None:
    display(Markdown("This store lacks " + ("a Dataset, Framework or Architecture member"
                                            if weak is None else "a same-recipe reference model")
                     + ": the comparison is skipped."))
    comparison = None
else:
    columns = {"base": correct[base].astype(float),
               "weak": correct[weak].astype(float),
               "reference": correct[reference].astype(float),
               "base + weak": ensemble_correct([base, weak]).astype(float),
               "base + reference": ensemble_correct([base, reference]).astype(float)}
    columns["gain, weak"] = columns["base + weak"] - columns["base"]
    columns["gain, reference"] = columns["base + reference"] - columns["base"]
    columns["weak minus reference"] = columns["gain, weak"] - columns["gain, reference"]
    values = np.stack(list(columns.values()), axis=1)
    interval = percentile_interval(values.mean(axis=0), bootstrap_sums(values, n_bootstrap, seed) / len(labels), level)
    comparison = pd.DataFrame({"estimate": 100 * interval.estimate, "low": 100 * interval.low,
                               "high": 100 * interval.high}, index=list(columns))
    gap_weak = comparison.loc["base", "estimate"] - comparison.loc["weak", "estimate"]
    gap_reference = comparison.loc["base", "estimate"] - comparison.loc["reference", "estimate"]
    display(pd.DataFrame([
        (f"{names[base]} + {names[weak]}", group(base, weak),
         f"{comparison.loc['weak', 'estimate']:.1f} ({-gap_weak:+.1f} vs the base)",
         f"{comparison.loc['base + weak', 'estimate']:.1f}",
         interval_text(*comparison.loc["gain, weak"], sign=True, digits=2)),
        (f"{names[base]} + {names[reference]}", f"{category(base, reference) or UNDECIDABLE_LABEL} ({reference_kind})",
         f"{comparison.loc['reference', 'estimate']:.1f} ({-gap_reference:+.1f} vs the base)",
         f"{comparison.loc['base + reference', 'estimate']:.1f}",
         interval_text(*comparison.loc["gain, reference"], sign=True, digits=2)),
    ], columns=["ensemble", "partner's category", "partner's test accuracy (%)", "ensemble test accuracy (%)",
                f"gain over {names[base]} (points, {level:.0%} CI)"]).set_index("ensemble"))
    display(Markdown(
        f"{names[base]} alone: {comparison.loc['base', 'estimate']:.1f}%. The differently trained partner's gain "
        f"minus the reference's: {interval_text(*comparison.loc['weak minus reference'], sign=True, digits=2)} "
        f"points. The two partners' test accuracies differ by {abs(gap_weak - gap_reference):.1f} points"
        + (" (within the band: an accuracy-matched comparison)." if abs(gap_weak - gap_reference) <= 100 * band
           else f" (more than the band's {100 * band:g}: the comparison is only roughly matched, "
                f"and the {'weak partner' if gap_weak > gap_reference else 'reference'} is the weaker one).")))

# %% [markdown]
# Every partner of the base in one view: each two-member ensemble's gain over the base
# against the partner's accuracy. The accuracy controls (gray) trace what strength
# alone gives; a differently trained partner above them at the same accuracy helps
# because it is different, not because it is strong.

# %%
base_rows, base_columns = [], []
for m in with_logits:
    if m != base:
        base_columns.append(ensemble_correct([base, m]).astype(float) - correct[base])
        base_rows.append({"panel": f"{names[base]} ({100 * accuracy.loc[base, 'test']:.1f}%) + one partner",
                          "label": names[m], "group": group(base, m), "accuracy": 100 * accuracy.loc[m, "test"]})
base_pairs = pd.DataFrame(base_rows)
values = np.stack(base_columns, axis=1)
interval = percentile_interval(values.mean(axis=0), bootstrap_sums(values, n_bootstrap, seed) / len(labels), level)
base_pairs["gain"], base_pairs["low"], base_pairs["high"] = (100 * interval.estimate, 100 * interval.low,
                                                             100 * interval.high)
figure = ensemble_gains(base_pairs if len(base_pairs) <= 20 else base_pairs.drop(columns="label"))

# %% [markdown]
# ## Paper vs this book
#
# Each row: the paper's claim and number, what this store gives, and whether it
# reproduces, decided from the intervals above (a gain "holds" when its 95% interval
# lies above zero).

# %%
def gain_verdict(low, high):
    """Whether an ensemble's gain holds: its interval above 0, including 0, or below it."""
    return ("yes: the gain's interval lies above 0" if low > 0 else
            "no: the gain's interval includes 0" if high >= 0 else "no: the ensemble is worse (interval below 0)")


def greedy_text(last):
    """The first anchor's test accuracy, its final greedy ensemble's and the gain with its interval."""
    return (f"{names[anchors[0]]} {100 * accuracy.loc[anchors[0], 'test']:.2f} -> {last['ensemble_accuracy']:.2f} "
            f"({interval_text(last['gain'], last['gain_low'], last['gain_high'], digits=2, sign=True)})")


rows = []
top = runs[(runs["pool"] == "under the cap") & (runs["anchor"] == anchors[0])]
if len(top) > 1:
    last = top.iloc[-1]
    rows.append((
        "an anchor plus only weaker models beats the anchor (Fig 5)",
        "BiT-1k 82.85 -> 86.66 (+3.81) with candidates <= 77.9%",
        (f"{greedy_text(last)} with {int(last['size']) - 1} of {len(candidates(anchors[0], 'under the cap'))} candidates "
         f"(calibration accuracy <= {100 * cap_value:.1f}%) added"),
        gain_verdict(last["gain_low"], last["gain_high"])))
matched = runs[(runs["pool"] == "in the band") & (runs["anchor"] == anchors[0])]
if len(matched) > 1:
    last = matched.iloc[-1]
    rows.append((
        "... with accuracy-matched candidates only (the band)",
        "the paper's candidates are its 74-78% band",
        greedy_text(last), gain_verdict(last["gain_low"], last["gain_high"])))
if len(first_additions):
    hits = first_additions["loss or data"]
    rows.append((
        "the first addition differs from the anchor in loss and/or data (Fig 5 table)",
        ("4 of 4: CLIP-L 85.1 + SEResNeXt-26d 77.6 -> 85.7; ALIGN 84.7 + TF-Inception-V3 77.9 -> 85.8; "
         "EfficientNet-B3 80.9 + ALIGN-ZS 75.5 -> 84.9; BiT-1k 82.9 + ALIGN-ZS 75.5 -> 83.2"),
        f"{int(hits.sum())} of {len(hits)} runs: "
        + "; ".join(f"{r['anchor']} + {r['first addition']} ({r['differs in']}; base rate "
                    f"{r['base rate: candidates differing in loss or data']})" for _, r in first_additions.iterrows()),
        ("yes" if hits.all() else "partly" if hits.any() else "no")
        + ("; but trivially here: every candidate differs from its anchor in loss or data"
           if first_additions["_every candidate differs"].all() else "")))
if comparison is not None:
    weak_gain, reference_gain, difference = (comparison.loc[k] for k in
                                             ("gain, weak", "gain, reference", "weak minus reference"))
    beyond, below = difference["low"] > 0, difference["high"] < 0
    stronger = gap_reference - gap_weak  # points by which the reference is weaker (negative: stronger)

    def reference_verdict():
        """Compare the gains only at matched accuracy, or where the mismatch favors the verdict's opposite."""
        if abs(stronger) <= 100 * band:
            return ("yes: the differently trained partner helps more (interval above 0)" if beyond else
                    "no: the same-recipe reference helps as much or more (interval below 0)" if below else
                    "not shown: the difference's interval includes 0")
        if beyond and stronger < 0:
            return "yes, even against a stronger same-recipe model (interval above 0)"
        if below and stronger > 0:
            return "no, even against a weaker same-recipe model (interval below 0)"
        return (f"not testable: the nearest same-recipe model is {abs(stronger):.1f} points "
                f"{'weaker' if stronger > 0 else 'stronger'} than the weak partner, beyond the band")
    rows.append((
        "a much weaker, differently trained model still helps (section 4.5)",
        "ResNet-50 76.2 + CLIP-S zero-shot 63.3 -> 77.7 (+1.5; partner 12.9 points weaker)",
        (f"{names[base]} {comparison.loc['base', 'estimate']:.1f} + {names[weak]} "
         f"{comparison.loc['weak', 'estimate']:.1f} -> {comparison.loc['base + weak', 'estimate']:.1f} "
         f"({interval_text(*weak_gain, digits=2, sign=True)}; partner {gap_weak:.1f} points weaker)"),
        gain_verdict(weak_gain["low"], weak_gain["high"])))
    rows.append((
        "... more than an equally weak model trained like the base (not in the paper)",
        "no such control in the paper",
        (f"same-recipe reference {names[reference]} ({reference_kind}, "
         f"{comparison.loc['reference', 'estimate']:.1f}%): {interval_text(*reference_gain, digits=2, sign=True)}; "
         f"difference {interval_text(*difference, digits=2, sign=True)}"),
        reference_verdict()))
pd.DataFrame(rows, columns=["claim", "paper", "this book", "reproduces?"]).set_index("claim")
