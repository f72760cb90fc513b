"""The chapter "Low-accuracy models help": greedy ensembles, weaker partners and a control.

The chapter calls, in order: :func:`low_accuracy_zoo` (the models with logits, their
accuracies and temperatures), :func:`greedy_plan` (the cap, the anchors and their
candidate pools, the anchor's own recipe among them as a baseline), :func:`greedy_runs`
(the paper's Fig. 5 with paired intervals), :func:`same_recipe_comparison`,
:func:`first_additions` (with base rates), :func:`partner_gains` and
:func:`gain_summary` (every weaker partner of each anchor),
:func:`weak_partner_comparison` (section 4.5 against a same-recipe reference),
:func:`base_partner_gains` and :func:`low_accuracy_verdicts`.

Every ensemble is the temperature-scaled probability average of
:mod:`norep.analysis.ensembles`; anchors, candidates and greedy steps are chosen on the
calibration split; every gain is measured on the test split with a 95% paired
percentile bootstrap interval (:func:`paired_intervals`: test examples resampled, the
models fixed), the same resamples for every column of one call. Base rates get
intervals from redrawing the candidates (:func:`base_rate`).

Example:
    >>> lz = low_accuracy_zoo(open_zoo("runs/fashion_mnist", "cnn-seed0", 0.01))  # doctest: +SKIP
    >>> plan = greedy_plan(lz, n_anchors=3, cap=None)                             # doctest: +SKIP
    >>> greedy_runs(plan, max_size=4, n_bootstrap=1000, seed=0)                   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from IPython.display import Markdown

from norep.analysis.bootstrap import Interval, bootstrap_sums, model_weights, percentile_interval
from norep.analysis.ensembles import ensemble_predictions
from norep.analysis.power import detectable_from_interval
from norep.analysis.verdicts import CANNOT_TELL, NO, YES, interval_text, interval_texts, power_text
from norep.book.chapter import ChapterZoo
from norep.book.views import fit_temperatures, greedy_ensemble
from norep.store import read_outcomes, read_scores
from norep.zoo import CATEGORIES, Methodology
from norep.zoo.roster import BASE_LABEL, CONTROL_LABEL, UNDECIDABLE_LABEL

LEVEL = 0.95
"""Coverage of every interval of the chapter."""

FIELD_LABELS = {"objective": "loss", "training_data": "data", "architecture": "architecture",
                "hyperparameters": "hyper-parameters", "seed": "seed"}
"""Methodology fields compared by :func:`differing_fields`, and their names in the chapter."""

TOLERANCE = 1e-12
"""Slack of the accuracy cap (a candidate exactly at the cap is under it)."""

SAME_RECIPE = "of the anchor's recipe"
"""The baseline pool: candidates that differ from the anchor only in their seed (Reinit)."""

RUN_COLUMNS = ["pool", "anchor", "size", "model", "name", "group", "member_accuracy", "ensemble_accuracy",
               "select_accuracy", "gain", "gain_low", "gain_high", "low", "high", "panel"]
"""The columns of :func:`greedy_runs`."""


def paired_intervals(values: np.ndarray, n_bootstrap: int, seed: int, level: float = LEVEL) -> Interval:
    """Column means of per-example values with paired percentile bootstrap intervals.

    Args:
        values: Shape (M, K): one row per example, one column per quantity (e.g. an
            ensemble's correctness minus its anchor's).
        n_bootstrap: Bootstrap samples (the same resamples for every column).
        seed: Seed of the resampling.
        level: Coverage of the intervals.

    Returns:
        The means, shape (K,), with their intervals.

    Example:
        >>> interval = paired_intervals(np.array([[1.0, 0.0], [1.0, 1.0]]), 20, seed=0)
        >>> interval.estimate.tolist(), float(interval.low[0]), float(interval.high[0])
        ([1.0, 0.5], 1.0, 1.0)
    """
    samples = bootstrap_sums(values, n_bootstrap, seed) / len(values)
    return percentile_interval(values.mean(axis=0), samples, level)


def differing_fields(a: Methodology, b: Methodology) -> list[str]:
    """The methodology fields, known for both, in which two models differ (loss = objective).

    Args:
        a, b: The two methodologies.

    Returns:
        Names from :data:`FIELD_LABELS`, in its order.

    Example:
        >>> differing_fields(Methodology("cnn", "ce", "A", 0, {}),
        ...                  Methodology("vit", "ce", "B", None, {}))
        ['data', 'architecture']
    """
    return [label for field, label in FIELD_LABELS.items()
            if getattr(a, field) is not None and getattr(b, field) is not None
            and getattr(a, field) != getattr(b, field)]


@dataclass(frozen=True)
class LowAccuracyZoo:
    """The chapter's models with logits, their accuracies, test correctness and temperatures.

    Attributes:
        zoo: The chapter's zoo.
        with_logits: The models with logits, in store order (the only ones an ensemble
            can use).
        accuracy: Columns ``calibration`` and ``test`` (fractions), one row per model
            with logits.
        correct: Test correctness of each model with logits, shape (M,).
        members: The base and the models of role "member" with logits (no accuracy
            controls, no models of the zoo's other roles).
        controls: The accuracy controls with logits.
        temperatures: Per model with logits, fitted on the calibration split.
        device: Where temperatures are fitted ("cpu", "cuda", "auto").
    """

    zoo: ChapterZoo
    with_logits: list[str]
    accuracy: pd.DataFrame
    correct: dict[str, np.ndarray]
    members: list[str]
    controls: list[str]
    temperatures: dict[str, float]
    device: str = "cpu"

    @property
    def base(self) -> str:
        """The base model id."""
        return self.zoo.roster.base

    @property
    def names(self) -> dict[str, str]:
        """Display name of each model."""
        return self.zoo.names

    def ensemble_correct(self, ids: list[str]) -> np.ndarray:
        """Test correctness of the temperature-scaled probability-averaging ensemble of ``ids``."""
        scores = read_scores(self.zoo.store, ids, "test", self.temperatures)
        return ensemble_predictions(scores) == self.zoo.store.labels("test")

    def gain(self, anchor: str, ids: list[str]) -> np.ndarray:
        """Per test example, the ensemble of ``ids`` right minus the anchor alone right."""
        return self.ensemble_correct(ids).astype(float) - self.correct[anchor]

    def weaker_under_cap(self, anchor: str, models: list[str], cap: float) -> list[str]:
        """The models other than the anchor, at most ``cap`` and below the anchor (calibration)."""
        calibration = self.accuracy["calibration"]
        return [m for m in models if m != anchor and calibration[m] <= cap + TOLERANCE
                and calibration[m] < calibration[anchor]]

    def summary(self) -> Markdown:
        """One sentence: the models with logits, members and controls, the base's accuracies."""
        return Markdown(
            f"Models with logits: {len(self.with_logits)} ({len(self.members)} members, "
            f"{len(self.controls)} accuracy controls); base **{self.names[self.base]}**, "
            f"{100 * self.accuracy.loc[self.base, 'calibration']:.1f}% on calibration, "
            f"{100 * self.accuracy.loc[self.base, 'test']:.1f}% on test.")


def low_accuracy_zoo(zoo: ChapterZoo, device: str = "cpu") -> LowAccuracyZoo:
    """Read the models with logits of a chapter's zoo and fit their temperatures.

    Args:
        zoo: The chapter's zoo; its store needs a calibration split and the base logits.
        device: Where temperatures are fitted: "cpu" (the default), "cuda" or "auto"
            (see :func:`norep.analysis.calibration.fit_temperature`).

    Returns:
        The chapter's view of the zoo.

    Raises:
        ValueError: The store has no calibration split, or the base has no logits.

    Example:
        >>> lz = low_accuracy_zoo(open_zoo("runs/fashion_mnist", "cnn-seed0", 0.01))  # doctest: +SKIP
    """
    store, roster = zoo.store, zoo.roster
    if "calibration" not in set(store.examples["split"]):
        raise ValueError(f"{zoo.label} has no calibration split: temperatures and greedy selection "
                         "need one (they are never fitted on the test split)")
    with_logits = list(roster.table.index[roster.table["has_logits"]])
    if roster.base not in with_logits:
        raise ValueError(f"base {roster.base!r} has no logits in {zoo.label}: ensembles need full "
                         "probabilities")
    outcomes = {split: read_outcomes(store, split, with_logits) for split in ("calibration", "test")}
    return LowAccuracyZoo(
        zoo=zoo, with_logits=with_logits,
        accuracy=pd.DataFrame({s: o.accuracy for s, o in outcomes.items()}, index=with_logits),
        correct=dict(zip(with_logits, outcomes["test"].correct)),
        members=[m for m in with_logits if m == roster.base or m in roster.members],
        controls=[m for m in with_logits if m in roster.controls],
        temperatures=fit_temperatures(store, with_logits, "calibration", device), device=device)


@dataclass(frozen=True)
class GreedyPlan:
    """The greedy runs' accuracy cap, anchors and candidate pools.

    Attributes:
        lz: The chapter's view of the zoo.
        cap: Highest calibration accuracy of a candidate (fraction).
        cap_given: Whether the cap was a parameter (else the top of the band).
        anchors: The strongest members by calibration accuracy (those above the cap
            first).
        above: How many anchors are above the cap.
        pools: Per pool name ("under the cap", "in the band", :data:`SAME_RECIPE`), its
            members.
    """

    lz: LowAccuracyZoo
    cap: float
    cap_given: bool
    anchors: list[str]
    above: int
    pools: dict[str, list[str]]

    def candidates(self, anchor: str, pool: str) -> list[str]:
        """The members of a pool that may join the anchor: under the cap and weaker than it
        (and, in the :data:`SAME_RECIPE` pool, differing from it only in the seed)."""
        models = self.lz.weaker_under_cap(anchor, self.pools[pool], self.cap)
        if pool == SAME_RECIPE:
            models = [m for m in models if self.lz.zoo.roster.pair_category(anchor, m) == "Reinit"]
        return models

    def note(self) -> Markdown:
        """The cap in words, and how many anchors are above it."""
        below = len(self.anchors) - self.above
        return Markdown(
            f"Cap: {100 * self.cap:.1f}% calibration accuracy"
            + (" (the `cap` parameter)." if self.cap_given else " (the top of the band).")
            + (" No member is above the cap: the anchors are the strongest members, and their "
               "candidates are the members weaker than them." if not self.above else
               f" {self.above} of the {len(self.anchors)} anchors are above the cap; the other {below} are the "
               "next strongest members, and their candidates are the members weaker than them." if below else
               f" All {self.above} anchors are above the cap."))

    def no_runs(self) -> Markdown:
        """Why :func:`greedy_runs` has no run: no anchor has a weaker candidate under the cap."""
        calibration = 100 * self.lz.accuracy.loc[self.lz.members, "calibration"]
        return Markdown(
            f"Nothing to show: none of the {len(self.anchors)} anchors has a member under the cap "
            f"({100 * self.cap:.1f}%) that is weaker than itself on calibration (the members' calibration "
            f"accuracies range from {calibration.min():.1f}% to {calibration.max():.1f}%), so this store "
            "has no greedy run, no same-recipe baseline and no first addition.")

    def table(self) -> pd.DataFrame:
        """One row per anchor: its accuracies (%, one decimal) and its candidates per pool."""
        accuracy, names = self.lz.accuracy, self.lz.names
        return pd.DataFrame({
            "anchor": [names[a] for a in self.anchors],
            "calibration accuracy (%)": [round(100 * accuracy.loc[a, "calibration"], 1)
                                         for a in self.anchors],
            "test accuracy (%)": [round(100 * accuracy.loc[a, "test"], 1) for a in self.anchors],
            **{f"candidates {pool}": [len(self.candidates(a, pool)) for a in self.anchors]
               for pool in self.pools},
        }).set_index("anchor")


def greedy_plan(lz: LowAccuracyZoo, n_anchors: int, cap: float | None) -> GreedyPlan:
    """Choose the cap, the anchors and the candidate pools of the greedy runs.

    Args:
        lz: The chapter's view of the zoo.
        n_anchors: How many anchors, from the strongest member down.
        cap: Highest calibration accuracy of a candidate; None: the base's plus the band.

    Returns:
        The plan: the anchors are the ``n_anchors`` strongest members by calibration
        accuracy (those above the cap come first); the pools are every member, the
        members in the band, and the members of the anchor's own recipe (other seeds)
        as a baseline (accuracy controls are never candidates).

    Example:
        >>> greedy_plan(lz, n_anchors=3, cap=None).table()   # doctest: +SKIP
    """
    calibration = lz.accuracy["calibration"]
    cap_value = calibration[lz.base] + lz.zoo.roster.band if cap is None else cap
    strongest = sorted(lz.members, key=lambda m: -calibration[m])
    anchors = strongest[:n_anchors]
    in_band = lz.zoo.roster.table["in_band"]
    return GreedyPlan(lz=lz, cap=cap_value, cap_given=cap is not None, anchors=anchors,
                      above=int(sum(calibration[m] > cap_value for m in anchors)),
                      pools={"under the cap": lz.members,
                             "in the band": [m for m in lz.members if in_band[m]],
                             SAME_RECIPE: lz.members})


def greedy_runs(plan: GreedyPlan, max_size: int, n_bootstrap: int, seed: int) -> pd.DataFrame:
    """Grow a greedy ensemble from each anchor and pool; each step's gain with its interval.

    Selection and temperatures use the calibration split only
    (:func:`norep.book.views.greedy_ensemble`); each step is reported on test, its gain
    over the anchor alone with a paired bootstrap interval (one set of resamples for
    every step of every run).

    Args:
        plan: The plan of :func:`greedy_plan`.
        max_size: The largest ensemble, anchor included.
        n_bootstrap: Bootstrap samples.
        seed: Seed of the resampling.

    Returns:
        One row per (pool, anchor, step): pool, anchor, size, model (the member added),
        name, group (its category relative to the anchor; :data:`BASE_LABEL` for the
        anchor), member_accuracy, ensemble_accuracy, select_accuracy, gain, gain_low,
        gain_high, low, high (the ensemble's accuracy interval) and panel; percent.
        Empty (with these columns) when no anchor has a candidate: see
        :meth:`GreedyPlan.no_runs`.
    """
    lz, rows, columns = plan.lz, [], []
    for pool in plan.pools:
        for anchor in plan.anchors:
            candidates = plan.candidates(anchor, pool)
            if not candidates:
                continue
            steps = greedy_ensemble(lz.zoo.store, anchor, candidates, max_size=max_size, device=lz.device)
            for step in steps.itertuples():
                columns.append(lz.gain(anchor, list(steps["model_id"][:step.step])))
                rows.append({
                    "pool": pool, "anchor": anchor, "size": step.step, "model": step.model_id,
                    "name": lz.names[step.model_id],
                    "group": BASE_LABEL if step.step == 1
                    else lz.zoo.roster.pair_group(anchor, step.model_id),
                    "member_accuracy": 100 * step.member_accuracy,
                    "ensemble_accuracy": 100 * step.ensemble_accuracy,
                    "select_accuracy": 100 * step.select_accuracy})
    if not rows:
        return pd.DataFrame(columns=RUN_COLUMNS)
    runs = pd.DataFrame(rows)
    gain = paired_intervals(np.stack(columns, axis=1), n_bootstrap, seed)
    runs["gain"], runs["gain_low"], runs["gain_high"] = 100 * gain.estimate, 100 * gain.low, 100 * gain.high
    anchor_accuracy = 100 * lz.accuracy.loc[runs["anchor"], "test"].to_numpy()
    runs["low"], runs["high"] = anchor_accuracy + runs["gain_low"], anchor_accuracy + runs["gain_high"]
    runs["panel"] = [f"{lz.names[a]} ({100 * lz.accuracy.loc[a, 'test']:.1f}%)\n"
                     f"candidates {p}: {len(plan.candidates(a, p))}"
                     for a, p in zip(runs["anchor"], runs["pool"])]
    return runs


def base_rate(differs: list[bool], n_bootstrap: int, seed: int, level: float = LEVEL) -> Interval:
    """The share of candidates with a property, with an interval from redrawing the candidates.

    Args:
        differs: Whether each candidate has the property (e.g. differs from the anchor in
            loss or data).
        n_bootstrap: Bootstrap samples (candidates redrawn with replacement,
            :func:`norep.analysis.bootstrap.model_weights`).
        seed: Seed of the resampling.
        level: Coverage of the interval.

    Returns:
        The share with its percentile interval.

    Example:
        >>> share = base_rate([True, True, False, True], 200, seed=0)
        >>> float(share.estimate), bool(share.low < 0.75 < share.high)
        (0.75, True)
    """
    values = np.asarray(differs, dtype=float)
    weights = model_weights([0] * len(values), n_bootstrap, seed)
    return percentile_interval(values.mean(), weights @ values / len(values), level)


def chance_of_at_least(probabilities: list[float], hits: int) -> float:
    """Probability that at least ``hits`` of independent events of these probabilities happen.

    The first additions' yardstick: were each run's first addition drawn at random
    from its candidates, run k would differ in loss or data with probability its base
    rate.

    Example:
        >>> round(chance_of_at_least([0.5, 0.5], 2), 3), chance_of_at_least([0.9], 0)
        (0.25, 1.0)
    """
    counts = np.array([1.0])  # probability of 0, 1, ... events so far
    for p in probabilities:
        counts = np.append(counts * (1 - p), 0.0) + np.append(0.0, counts * p)
    return float(counts[hits:].sum())


def first_additions(plan: GreedyPlan, runs: pd.DataFrame, n_bootstrap: int, seed: int) -> pd.DataFrame:
    """The paper's Fig. 5 table: each run's first addition, how it differs, and the base rate.

    The runs of the :data:`SAME_RECIPE` baseline are left out (none of its candidates
    differs in loss or data).

    Args:
        plan: The plan of :func:`greedy_plan`.
        runs: The table of :func:`greedy_runs`.
        n_bootstrap: Bootstrap samples of the base rates' intervals.
        seed: Seed of the resampling.

    Returns:
        One row per run with at least one addition: candidates (the pool), anchor,
        the accuracies anchor + first addition -> ensemble, the first addition, its
        category, the fields it differs in, ``loss or data`` (bool), the final gain with
        its interval, the base rate (candidates differing in loss or data, with the
        interval of :func:`base_rate`) and ``_base rate`` (the share, for the verdict).
    """
    lz, rows = plan.lz, []
    methodology = lz.zoo.roster.methodologies
    for (pool, anchor), run in runs[runs["pool"] != SAME_RECIPE].groupby(["pool", "anchor"], sort=False):
        if len(run) < 2:
            continue
        first, last = run.iloc[1], run.iloc[-1]
        candidates = plan.candidates(anchor, pool)
        fields = differing_fields(methodology[anchor], methodology[first["model"]])
        differs = [bool({"loss", "data"} & set(differing_fields(methodology[anchor], methodology[m])))
                   for m in candidates]
        share = base_rate(differs, n_bootstrap, seed)
        rows.append({
            "candidates": pool, "anchor": lz.names[anchor],
            "anchor + first addition -> ensemble (test %)":
                f"{100 * lz.accuracy.loc[anchor, 'test']:.1f} + {first['member_accuracy']:.1f} "
                f"-> {first['ensemble_accuracy']:.1f}",
            "first addition": first["name"],
            "its category (vs the anchor)": first["group"],
            "differs in": ", ".join(fields) or "unknown",
            "loss or data": bool({"loss", "data"} & set(fields)),
            f"final ensemble: gain (points, {LEVEL:.0%} CI)":
                f"{int(last['size'])} members: "
                + interval_text(last["gain"], last["gain_low"], last["gain_high"], sign=True),
            "base rate: candidates differing in loss or data":
                f"{sum(differs)} of {len(candidates)}: {100 * share.estimate:.0f}% "
                f"[{100 * share.low:.0f}, {100 * share.high:.0f}]",
            "_base rate": float(share.estimate),
        })
    return pd.DataFrame(rows)


def first_additions_view(first: pd.DataFrame) -> pd.DataFrame | Markdown:
    """The table of :func:`first_additions` as shown (indexed by pool and anchor), or a note."""
    if not len(first):
        return Markdown("No greedy run added a member: no anchor has a candidate.")
    return first.drop(columns="_base rate").set_index(["candidates", "anchor"])


def pair_gains(lz: LowAccuracyZoo, pairs: list[tuple[str, str]], n_bootstrap: int,
               seed: int) -> pd.DataFrame:
    """Two-member ensembles (anchor, partner): gain over the anchor alone with intervals.

    Args:
        lz: The chapter's view of the zoo.
        pairs: (anchor, partner) pairs; one set of resamples for all.
        n_bootstrap: Bootstrap samples.
        seed: Seed of the resampling.

    Returns:
        One row per pair: anchor, partner, label (its name), group (its category
        relative to the anchor, or :data:`CONTROL_LABEL`), accuracy (its test accuracy),
        gain, low and high; percent.
    """
    table = pd.DataFrame({
        "anchor": [a for a, _ in pairs], "partner": [m for _, m in pairs],
        "label": [lz.names[m] for _, m in pairs],
        "group": [lz.zoo.roster.pair_group(a, m) for a, m in pairs],
        "accuracy": [100 * lz.accuracy.loc[m, "test"] for _, m in pairs]})
    if pairs:
        values = np.stack([lz.gain(a, [a, m]) for a, m in pairs], axis=1)
        interval = paired_intervals(values, n_bootstrap, seed)
        table["gain"], table["low"], table["high"] = (100 * interval.estimate, 100 * interval.low,
                                                      100 * interval.high)
    return table


def partner_gains(plan: GreedyPlan, n_bootstrap: int, seed: int) -> pd.DataFrame:
    """Every model under the cap and weaker than an anchor, paired with it (controls included).

    Args:
        plan: The plan of :func:`greedy_plan`.
        n_bootstrap: Bootstrap samples.
        seed: Seed of the resampling.

    Returns:
        The table of :func:`pair_gains` plus ``in band`` (the partner's) and ``panel``
        (the anchor's title); empty when no anchor has a weaker partner.
    """
    lz = plan.lz
    pairs = [(a, m) for a in plan.anchors for m in lz.weaker_under_cap(a, lz.with_logits, plan.cap)]
    table = pair_gains(lz, pairs, n_bootstrap, seed)
    table["in band"] = [bool(lz.zoo.roster.table.loc[m, "in_band"]) for m in table["partner"]]
    table["panel"] = [f"anchor {lz.names[a]} ({100 * lz.accuracy.loc[a, 'test']:.1f}%)"
                      for a in table["anchor"]]
    return table


def gain_summary(pairs: pd.DataFrame) -> pd.DataFrame:
    """Pairs and mean gain per category, over all partners and over those in the band.

    Args:
        pairs: The table of :func:`partner_gains` (not empty).

    Returns:
        One row per category present (Reinit to Dataset, then the controls and the
        undecidable); columns (partners, "pairs") and (partners, "mean gain (points)"),
        the mean written with a sign and two decimals ("-" without pairs).
    """
    order = [c for c in (*CATEGORIES, CONTROL_LABEL, UNDECIDABLE_LABEL) if c in set(pairs["group"])]
    summary = {}
    for name, rows in (("all partners", pairs), ("partners in the band", pairs[pairs["in band"]])):
        by_group = rows.groupby("group")["gain"]
        summary[name, "pairs"] = by_group.size().reindex(order).fillna(0).astype(int)
        summary[name, "mean gain (points)"] = [f"{v:+.2f}" if pd.notna(v) else "-"
                                               for v in by_group.mean().reindex(order)]
    return pd.DataFrame(summary, index=order).rename_axis("category vs anchor")


def base_partner_gains(lz: LowAccuracyZoo, n_bootstrap: int, seed: int) -> pd.DataFrame:
    """Every model with logits paired with the base: the table of :func:`pair_gains` plus a panel."""
    pairs = [(lz.base, m) for m in lz.with_logits if m != lz.base]
    table = pair_gains(lz, pairs, n_bootstrap, seed)
    table["panel"] = (f"{lz.names[lz.base]} ({100 * lz.accuracy.loc[lz.base, 'test']:.1f}%)"
                      " + one partner")
    return table


@dataclass(frozen=True)
class WeakPartner:
    """The base with a much weaker, differently trained partner, and with a same-recipe reference.

    Attributes:
        lz: The chapter's view of the zoo.
        weak: The weak partner (None when the store has none).
        reference: The same-recipe reference (None when the store has none).
        comparison: Rows base, weak, reference, base + weak, base + reference, gain, weak,
            gain, reference, weak minus reference; columns estimate, low, high (test,
            percent); None when a model is missing.
    """

    lz: LowAccuracyZoo
    weak: str | None
    reference: str | None
    comparison: pd.DataFrame | None

    @property
    def reference_kind(self) -> str:
        """"accuracy control" or "same-recipe stand-in"."""
        return "accuracy control" if self.reference in self.lz.controls else "same-recipe stand-in"

    def gap(self, row: str) -> float:
        """Points by which the base's test accuracy exceeds that of ``row`` (weak or reference)."""
        return self.comparison.loc["base", "estimate"] - self.comparison.loc[row, "estimate"]

    def outputs(self, band: float) -> list[pd.DataFrame | Markdown]:
        """What the chapter shows: the two ensembles and a sentence, or why it skips them."""
        if self.comparison is None:
            return [Markdown("This store lacks " + ("a Dataset, Framework or Architecture member"
                                                    if self.weak is None else "a same-recipe reference model")
                             + ": the comparison is skipped.")]
        return [self.table(), self.sentence(band)]

    def table(self) -> pd.DataFrame:
        """One row per two-member ensemble: the partner, its category and accuracy, the gain."""
        lz, c, roster = self.lz, self.comparison, self.lz.zoo.roster
        reference_category = roster.pair_category(lz.base, self.reference) or UNDECIDABLE_LABEL
        categories = {"weak": roster.pair_group(lz.base, self.weak),
                      "reference": f"{reference_category} ({self.reference_kind})"}
        models = {"weak": self.weak, "reference": self.reference}
        base = lz.names[lz.base]
        return pd.DataFrame([
            (f"{base} + {lz.names[models[row]]}", categories[row],
             f"{c.loc[row, 'estimate']:.1f} ({-self.gap(row):+.1f} vs the base)",
             f"{c.loc['base + ' + row, 'estimate']:.1f}",
             interval_text(*c.loc[f"gain, {row}"], sign=True, digits=2))
            for row in ("weak", "reference")
        ], columns=["ensemble", "partner's category", "partner's test accuracy (%)",
                    "ensemble test accuracy (%)", f"gain over {base} (points, {LEVEL:.0%} CI)"],
        ).set_index("ensemble")

    def sentence(self, band: float) -> Markdown:
        """The base alone, the difference of the two gains, and how well the partners match."""
        c, base = self.comparison, self.lz.names[self.lz.base]
        gap_weak, gap_reference = self.gap("weak"), self.gap("reference")
        mismatch = abs(gap_weak - gap_reference)
        return Markdown(
            f"{base} alone: {c.loc['base', 'estimate']:.1f}%. The differently trained partner's gain "
            f"minus the reference's: {interval_text(*c.loc['weak minus reference'], sign=True, digits=2)} "
            f"points. The two partners' test accuracies differ by {mismatch:.1f} points"
            + (" (within the band: an accuracy-matched comparison)." if mismatch <= 100 * band
               else f" (more than the band's {100 * band:g}: the comparison is only roughly matched, "
                    f"and the {'weak partner' if gap_weak > gap_reference else 'reference'} is the weaker one)."))


def weakest_divergent(lz: LowAccuracyZoo) -> str | None:
    """The rule's weak partner of the base: the weakest Dataset or Framework member.

    Weakest by calibration accuracy (the first of equals); the weakest Architecture
    member when there is no Dataset or Framework member.

    Args:
        lz: The chapter's view of the zoo.

    Returns:
        The model id, None when the store has none of these categories.
    """
    calibration, category = lz.accuracy["calibration"], lz.zoo.roster.table["category"]
    for wanted in (("Dataset", "Framework"), ("Architecture",)):
        found = [m for m in lz.members if m != lz.base and category[m] in wanted]
        if found:
            return min(found, key=lambda m: calibration[m])
    return None


def same_recipe_reference(lz: LowAccuracyZoo, weak: str) -> str | None:
    """The weak partner's reference: the accuracy control closest to it in calibration accuracy.

    Without accuracy controls, the Reinit or Hyper-parameters member closest to it.

    Args:
        lz: The chapter's view of the zoo.
        weak: The weak partner.

    Returns:
        The model id, None when the store has no such model.
    """
    category = lz.zoo.roster.table["category"]
    return closest(lz, weak, lz.controls) or closest(
        lz, weak, [m for m in lz.members if category[m] in ("Reinit", "Hyper-parameters")])


def closest(lz: LowAccuracyZoo, reference: str, pool: list[str]) -> str | None:
    """The model of the pool (base and reference left out) closest to the reference in
    calibration accuracy (the first of equals); None for an empty pool."""
    calibration = lz.accuracy["calibration"]
    pool = [m for m in pool if m not in (lz.base, reference)]
    return min(pool, key=lambda m: abs(calibration[m] - calibration[reference]), default=None)


def weak_partner_comparison(lz: LowAccuracyZoo, weak_partner: str | None, control: str | None,
                            n_bootstrap: int, seed: int) -> WeakPartner:
    """Gains of the base with a weak, differently trained partner and with a same-recipe one.

    Args:
        lz: The chapter's view of the zoo.
        weak_partner: The weak partner; None: by :func:`weakest_divergent`.
        control: Its reference; None: by :func:`same_recipe_reference`.
        n_bootstrap: Bootstrap samples.
        seed: Seed of the resampling (one set of resamples for every row, so the
            difference of the gains has an interval too).

    Returns:
        The comparison.

    Raises:
        ValueError: A given model has no logits in the store.
    """
    for given in (weak_partner, control):
        if given is not None and given not in lz.with_logits:
            raise ValueError(f"{given!r} is not a model with logits in {lz.zoo.label}")
    weak = weak_partner or weakest_divergent(lz)
    reference = control or (same_recipe_reference(lz, weak) if weak else None)
    if weak is None or reference is None:
        return WeakPartner(lz, weak, reference, None)
    columns = {"base": lz.correct[lz.base].astype(float), "weak": lz.correct[weak].astype(float),
               "reference": lz.correct[reference].astype(float),
               "base + weak": lz.ensemble_correct([lz.base, weak]).astype(float),
               "base + reference": lz.ensemble_correct([lz.base, reference]).astype(float)}
    columns["gain, weak"] = columns["base + weak"] - columns["base"]
    columns["gain, reference"] = columns["base + reference"] - columns["base"]
    columns["weak minus reference"] = columns["gain, weak"] - columns["gain, reference"]
    interval = paired_intervals(np.stack(list(columns.values()), axis=1), n_bootstrap, seed)
    comparison = pd.DataFrame({"estimate": 100 * interval.estimate, "low": 100 * interval.low,
                               "high": 100 * interval.high}, index=list(columns))
    return WeakPartner(lz, weak, reference, comparison)


def same_recipe_comparison(plan: GreedyPlan, runs: pd.DataFrame, n_bootstrap: int, seed: int) -> pd.DataFrame:
    """Each anchor's greedy run over every candidate against its run over its own recipe.

    Both runs end at their last step (``max_size`` members, or fewer when the pool runs
    out); their gains over the anchor alone and the difference get paired bootstrap
    intervals (test examples resampled, the same resamples for every anchor; the
    models are fixed).

    Args:
        plan: The plan of :func:`greedy_plan`.
        runs: The table of :func:`greedy_runs`.
        n_bootstrap: Bootstrap samples.
        seed: Seed of the resampling.

    Returns:
        One row per anchor with both runs: ``anchor``, ``members`` and ``own_members``
        (each run's size), ``gain``, ``own_gain`` (the run over the anchor's recipe) and
        ``difference``, each with ``_low`` and ``_high`` (points); empty when no anchor
        has both runs.
    """
    lz, rows, columns = plan.lz, [], []
    for anchor in plan.anchors:
        full, own = (runs[(runs["pool"] == pool) & (runs["anchor"] == anchor)]
                     for pool in ("under the cap", SAME_RECIPE))
        if len(full) < 2 or len(own) < 2:
            continue
        gains = [lz.gain(anchor, list(run["model"])) for run in (full, own)]
        columns += [*gains, gains[0] - gains[1]]
        rows.append({"anchor": anchor, "members": len(full), "own_members": len(own)})
    table = pd.DataFrame(rows, columns=["anchor", "members", "own_members"])
    if rows:
        interval = paired_intervals(np.stack(columns, axis=1), n_bootstrap, seed)
        for k, name in enumerate(("gain", "own_gain", "difference")):
            table[name], table[f"{name}_low"], table[f"{name}_high"] = (
                100 * interval.estimate[k::3], 100 * interval.low[k::3], 100 * interval.high[k::3])
    return table


def same_recipe_view(plan: GreedyPlan, comparison: pd.DataFrame) -> pd.DataFrame | Markdown:
    """The table of :func:`same_recipe_comparison` as shown, or a note when it is empty."""
    if not len(comparison):
        return Markdown("No anchor has both a candidate of its own recipe (another seed) and another "
                        "candidate under the cap: there is no same-recipe baseline to show.")
    gains = {column: interval_texts(comparison, column, 2, sign=True) for column in ("gain", "own_gain")}
    return pd.DataFrame({
        "anchor": [plan.lz.names[a] for a in comparison["anchor"]],
        "every candidate: gain (points)": [f"{n} members: {g}" for n, g in zip(comparison["members"], gains["gain"])],
        "own recipe only: gain (points)": [f"{n} members: {g}" for n, g in zip(comparison["own_members"],
                                                                                gains["own_gain"])],
        "difference (points)": interval_texts(comparison, "difference", 2, sign=True),
        "verdict": [baseline_verdict(low, high)
                    for low, high in zip(comparison["difference_low"], comparison["difference_high"])],
    }).set_index("anchor")


def gain_verdict(low: float, high: float) -> str:
    """Whether an ensemble's gain holds: its interval above 0, including 0, or below it.

    The power statement reads the test set's resolution from the interval (the models
    are fixed: :func:`norep.analysis.power.detectable_from_interval`).

    Example:
        >>> gain_verdict(-0.1, 0.5)
        "cannot tell at this size: the gain's interval includes 0; detectable at 80% power: ±0.43"
    """
    power = "; " + power_text(detectable_from_interval(low, high))
    return (f"{YES}: the gain's interval lies above 0" if low > 0 else
            f"{NO}: the ensemble is worse (interval below 0)" if high < 0 else
            f"{CANNOT_TELL}: the gain's interval includes 0") + power


def baseline_verdict(low: float, high: float) -> str:
    """Does the greedy run over every candidate gain more than the run over the anchor's recipe?

    Example:
        >>> baseline_verdict(0.1, 0.4).split("; ")[1]
        'detectable at 80% power: ±0.21'
    """
    power = "; " + power_text(detectable_from_interval(low, high))
    return (f"{YES}: every candidate gains more than the anchor's own recipe (interval above 0)" if low > 0 else
            f"{NO}: the anchor's own recipe gains more (interval below 0)" if high < 0 else
            f"{CANNOT_TELL}: the difference's interval includes 0") + power


def reference_verdict(low: float, high: float, stronger: float, band: float) -> str:
    """Does the differently trained partner help more than the same-recipe reference?

    The gains are compared only at matched accuracy, or where the mismatch favors the
    verdict's opposite.

    Args:
        low, high: Interval of the weak partner's gain minus the reference's (points).
        stronger: Points by which the reference is weaker than the weak partner
            (negative: stronger).
        band: Half-width of the accuracy band (a fraction).

    Returns:
        The verdict in words.

    Example:
        >>> reference_verdict(0.2, 0.9, stronger=-3.0, band=0.01)
        'yes, even against a stronger same-recipe model (interval above 0); detectable at 80% power: ±0.50'
    """
    beyond, below = low > 0, high < 0
    power = "; " + power_text(detectable_from_interval(low, high))
    if abs(stronger) <= 100 * band:
        return ("yes: the differently trained partner helps more (interval above 0)" if beyond else
                "no: the same-recipe reference helps as much or more (interval below 0)" if below else
                f"{CANNOT_TELL}: the difference's interval includes 0") + power
    if beyond and stronger < 0:
        return "yes, even against a stronger same-recipe model (interval above 0)" + power
    if below and stronger > 0:
        return "no, even against a weaker same-recipe model (interval below 0)" + power
    return (f"not testable: the nearest same-recipe model is {abs(stronger):.1f} points "
            f"{'weaker' if stronger > 0 else 'stronger'} than the weak partner, beyond the band")


def first_addition_verdict(first: pd.DataFrame, level: float = LEVEL) -> tuple[str, str]:
    """The first additions against their base rates: this book's text and the verdict.

    "yes" only when every first addition differs in loss or data and random first
    additions (each run's drawn from its candidates) would all do so with probability
    below ``1 - level``; "no" when some do not; else "cannot tell at this size".

    Args:
        first: The table of :func:`first_additions` (not empty).
        level: 1 - the chance probability below which the hits count.

    Returns:
        The text and the verdict.
    """
    hits, rates = first["loss or data"], first["_base rate"]
    chance = chance_of_at_least(list(rates), int(hits.sum()))
    text = (f"{int(hits.sum())} of {len(hits)} runs; random first additions would give {rates.sum():.1f} on "
            f"average, and {int(hits.sum())} or more with probability {chance:.2f}: "
            + "; ".join(f"{r['anchor']} + {r['first addition']} ({r['differs in']}; base rate "
                        f"{r['base rate: candidates differing in loss or data']})" for _, r in first.iterrows()))
    if not hits.all():
        return text, f"{NO}: {int((~hits).sum())} first addition(s) differ in neither"
    return text, (f"{YES}: more often than random choices would" if chance < 1 - level else
                  f"{CANNOT_TELL}: most candidates already differ in loss or data")


def low_accuracy_verdicts(plan: GreedyPlan, runs: pd.DataFrame, first: pd.DataFrame, baseline: pd.DataFrame,
                          weak: WeakPartner) -> list[tuple[str, str, str, str]]:
    """Rows of the chapter's "Paper vs this book" table, decided from the intervals.

    One row per anchor and pool of the greedy runs, per anchor against its own recipe,
    one for the first additions, and the weak partner's.

    Args:
        plan: The plan of :func:`greedy_plan`.
        runs: The table of :func:`greedy_runs`.
        first: The table of :func:`first_additions`.
        baseline: The table of :func:`same_recipe_comparison`.
        weak: The comparison of :func:`weak_partner_comparison`.

    Returns:
        (claim, paper, this book, reproduces?) rows for :func:`norep.book.chapter.paper_vs_book`.
    """
    lz = plan.lz
    names, test = lz.names, lz.accuracy["test"]
    claims = {"under the cap": ("an anchor plus only weaker models beats the anchor (Fig 5)",
                                "BiT-1k 82.85 -> 86.66 (+3.81) with candidates <= 77.9%"),
              "in the band": ("... with accuracy-matched candidates only (the band)",
                              "the paper's candidates are its 74-78% band")}
    rows = []
    for pool, (claim, paper) in claims.items():
        for anchor in plan.anchors:
            run = runs[(runs["pool"] == pool) & (runs["anchor"] == anchor)]
            if len(run) < 2:
                continue
            last = run.iloc[-1]
            rows.append((
                f"{claim}, anchor {names[anchor]}", paper,
                f"{names[anchor]} {100 * test[anchor]:.2f} -> {last['ensemble_accuracy']:.2f} "
                f"({interval_text(last['gain'], last['gain_low'], last['gain_high'], digits=2, sign=True)}) "
                f"with {int(last['size']) - 1} of {len(plan.candidates(anchor, pool))} candidates added",
                gain_verdict(last["gain_low"], last["gain_high"])))
    for row in baseline.itertuples():
        rows.append((
            f"... more than a greedy run over the anchor's own recipe (other seeds), anchor {names[row.anchor]}",
            "no such baseline in the paper",
            f"{row.gain:+.2f} vs {row.own_gain:+.2f}; difference "
            + interval_text(row.difference, row.difference_low, row.difference_high, digits=2, sign=True),
            baseline_verdict(row.difference_low, row.difference_high)))
    if len(first):
        rows.append((
            "the first addition differs from the anchor in loss and/or data (Fig 5 table)",
            ("4 of 4: CLIP-L 85.1 + SEResNeXt-26d 77.6 -> 85.7; ALIGN 84.7 + TF-Inception-V3 77.9 -> 85.8; "
             "EfficientNet-B3 80.9 + ALIGN-ZS 75.5 -> 84.9; BiT-1k 82.9 + ALIGN-ZS 75.5 -> 83.2"),
            *first_addition_verdict(first)))
    if weak.comparison is not None:
        rows += weak_partner_verdicts(weak, lz.zoo.roster.band)
    return rows


def weak_partner_verdicts(weak: WeakPartner, band: float) -> list[tuple[str, str, str, str]]:
    """The two section-4.5 rows of the verdict table: the weak partner's gain, and vs the reference."""
    lz, c = weak.lz, weak.comparison
    names = lz.names
    weak_gain, reference_gain, difference = (c.loc[k] for k in
                                             ("gain, weak", "gain, reference", "weak minus reference"))
    gap_weak = weak.gap("weak")
    return [(
        "a much weaker, differently trained model still helps (section 4.5)",
        "ResNet-50 76.2 + CLIP-S zero-shot 63.3 -> 77.7 (+1.5; partner 12.9 points weaker)",
        (f"{names[lz.base]} {c.loc['base', 'estimate']:.1f} + {names[weak.weak]} "
         f"{c.loc['weak', 'estimate']:.1f} -> {c.loc['base + weak', 'estimate']:.1f} "
         f"({interval_text(*weak_gain, digits=2, sign=True)}; partner {gap_weak:.1f} points weaker)"),
        gain_verdict(weak_gain["low"], weak_gain["high"])), (
        "... more than an equally weak model trained like the base (not in the paper)",
        "no such control in the paper",
        (f"same-recipe reference {names[weak.reference]} ({weak.reference_kind}, "
         f"{c.loc['reference', 'estimate']:.1f}%): {interval_text(*reference_gain, digits=2, sign=True)}; "
         f"difference {interval_text(*difference, digits=2, sign=True)}"),
        reference_verdict(difference["low"], difference["high"], weak.gap("reference") - gap_weak, band))]


# Exercises: the questions and their worked solutions (the chapter's "Exercises" section).


def first_partner(lz: LowAccuracyZoo) -> pd.DataFrame | Markdown:
    """Every model weaker than the base (calibration), as the base's second ensemble member.

    The greedy search adds first the candidate whose two-member ensemble with the anchor
    is most accurate on the calibration split; the test split only reports.

    Args:
        lz: The chapter's view of the zoo.

    Returns:
        One row per candidate (members and accuracy controls with logits), the greedy
        search's first pick first: its group relative to the base, calibration and test
        accuracy (%), and the two-member ensemble's gain over the base on each split
        (points); a sentence when no model is weaker than the base.
    """
    base, calibration = lz.base, lz.accuracy["calibration"]
    candidates = [m for m in [*lz.members, *lz.controls] if m != base and calibration[m] < calibration[base]]
    if not candidates:
        return Markdown("No model is less accurate than the base on calibration here.")
    labels = lz.zoo.store.labels("calibration")
    rows = {}
    for m in candidates:
        scores = read_scores(lz.zoo.store, [base, m], "calibration", lz.temperatures)
        ensemble = float(np.mean(ensemble_predictions(scores) == labels))
        rows[lz.names[m]] = {
            "group": lz.zoo.roster.pair_group(base, m),
            "calibration accuracy (%)": 100 * calibration[m], "test accuracy (%)": 100 * lz.accuracy.loc[m, "test"],
            "gain on calibration (points)": 100 * (ensemble - calibration[base]),
            "gain on test (points)": 100 * lz.gain(base, [base, m]).mean()}
    table = pd.DataFrame.from_dict(rows, orient="index")
    return table.sort_values("gain on calibration (points)", ascending=False, kind="stable").round(2)


def weak_helpers(lz: LowAccuracyZoo, min_gap: float, n_bootstrap: int, seed: int) -> pd.DataFrame | Markdown:
    """Models at least ``min_gap`` less accurate than the base that still improve it.

    Args:
        lz: The chapter's view of the zoo.
        min_gap: The smallest gap to the base's test accuracy (a fraction).
        n_bootstrap: Bootstrap samples of the gains' intervals.
        seed: Seed of the resampling.

    Returns:
        One row per such model (members and accuracy controls with logits), the largest
        gain first: its group, test accuracy, the two-member ensemble's gain over the base
        on test with its paired 95% interval, and the verdict of :func:`gain_verdict`;
        a sentence when no model is that much weaker.
    """
    base, test = lz.base, lz.accuracy["test"]
    weak = [m for m in [*lz.members, *lz.controls] if m != base and test[m] <= test[base] - min_gap]
    if not weak:
        return Markdown(f"No model is {100 * min_gap:g} points or more below the base here.")
    gains = pair_gains(lz, [(base, m) for m in weak], n_bootstrap, seed).sort_values("gain", ascending=False)
    return pd.DataFrame({
        "model": gains["label"], "group": gains["group"], "test accuracy (%)": gains["accuracy"].round(1),
        "gain over the base (points)": [interval_text(g, lo, h, 2, sign=True)
                                        for g, lo, h in zip(gains["gain"], gains["low"], gains["high"])],
        "verdict": [gain_verdict(lo, h) for lo, h in zip(gains["low"], gains["high"])]}).set_index("model")
