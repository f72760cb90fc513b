"""The chapter "Error inconsistency" (Fig 1): the base paired with every model, by category.

Each function computes one section of the chapter from its zoo and returns an object
whose methods give that section's table, figure and verdicts; :func:`claims` gathers
the rows of its "Paper vs this book" table.

Example:
    >>> zoo = open_zoo("runs/fashion_mnist", "cnn-seed0", 0.01)    # doctest: +SKIP
    >>> pairs = base_pairs(zoo, n_bootstrap=1000, seed=0)         # doctest: +SKIP
    >>> pairs.verdicts()                                           # doctest: +SKIP
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from IPython.display import Markdown
from matplotlib.figure import Figure

from norep.analysis.adjust import accuracy_adjusted
from norep.analysis.pairs import bootstrap_pair_counts, pair_metrics
from norep.analysis.verdicts import (
    CategoryTrend,
    category_summary,
    category_trend,
    category_trends,
    interval_columns,
    interval_texts,
    means_text,
)
from norep.book.chapter import ChapterZoo
from norep.book.plots.categories import category_metrics, pair_heatmap
from norep.errors import NorepError
from norep.store import Outcomes, read_outcomes
from norep.zoo import CATEGORIES
from norep.zoo.roster import BASE_LABEL, CONTROL_LABEL, Roster

LEVEL = 0.95
"""Coverage of every interval of the chapter."""

METRICS = {"error_inconsistency": "error inconsistency", "kappa": "error consistency kappa"}
"""The chapter's two pair metrics and their labels."""

FALLING = ("kappa",)
"""Metrics expected to fall with divergence (error inconsistency is expected to rise)."""

MIN_REFERENCE_PAIRS = 6
"""Fewest reference pairs the accuracy adjustment fits three coefficients on."""


@dataclass(frozen=True)
class BasePairs:
    """The base paired with every partner and every accuracy control, on the test split.

    Attributes:
        zoo: The chapter's zoo.
        outcomes: Test outcomes of the base, the partners and the controls, in that order.
        pairs: Index pairs (0, k) into ``outcomes``, one per partner then control.
        table: One row per partner then control (indexed by id): ``category`` (None for
            the controls), ``group``, ``accuracy`` (the partner's), ``in_band`` and each
            metric of :data:`METRICS` with its interval columns.
        summaries: Category means over "all partners" and over "partners in the band",
            as :func:`norep.analysis.verdicts.category_summary` returns them.
        base_accuracy: The base's test accuracy (on the first pair's examples).
        n_bootstrap: Bootstrap resamples of every interval.
        level: Coverage of every interval.
    """

    zoo: ChapterZoo
    outcomes: Outcomes
    pairs: np.ndarray
    table: pd.DataFrame
    summaries: dict[str, tuple[pd.DataFrame, dict[str, dict[str, np.ndarray]]]]
    base_accuracy: float
    n_bootstrap: int
    level: float

    @property
    def is_partner(self) -> np.ndarray:
        """Which rows of :attr:`table` are partners (not accuracy controls)."""
        return self.table["group"].isin(CATEGORIES).to_numpy()

    def shown(self) -> pd.DataFrame:
        """The table of every pair as the chapter shows it, intervals in words."""
        names, table = self.zoo.names, self.table
        return pd.DataFrame({
            "partner": [names[m] for m in table.index],
            "group": table["group"],
            "test accuracy (%)": (100 * table["accuracy"]).round(1),
            "in the band": table["in_band"].map({True: "yes", False: "no"}),
            **{label: interval_texts(table, m, 3) for m, label in METRICS.items()},
        }).set_index("partner")

    def figure(self) -> Figure:
        """Fig 1: the metrics per category, with the accuracy controls as dashed lines."""
        names, controls = self.zoo.names, self.table.loc[self.zoo.roster.controls]
        references = {metric: [(row[metric], f"accuracy control {names[m]} "
                                             f"({100 * row['accuracy']:.1f}%)")
                               for m, row in controls.iterrows()] for metric in METRICS}
        return category_metrics(
            self.table[self.is_partner], {k: v[0] for k, v in self.summaries.items()}, METRICS,
            references, title=f"{names[self.zoo.roster.base]} vs each partner, test split "
                              f"({self.level:.0%} bootstrap intervals, {self.n_bootstrap} resamples)")

    def verdicts(self) -> pd.DataFrame:
        """Whether each metric's category means are monotone, over both sets of pairs."""
        return category_trends(self.summaries, METRICS, FALLING, digits=3, level=self.level)

    def trend(self, pairs: str, metric: str) -> CategoryTrend:
        """The trend of one metric's category means over "all partners" or "partners in the band"."""
        table, draws = self.summaries[pairs]
        return category_trend(table[metric], draws[metric], metric not in FALLING, digits=3,
                              level=self.level)

    def above_controls(self) -> list[str]:
        """Categories whose mean error inconsistency exceeds that of every accuracy control."""
        worst = self.table.loc[self.zoo.roster.controls, "error_inconsistency"].max()
        means = self.summaries["all partners"][0]["error_inconsistency"]
        return [c for c, v in means.items() if v > worst]

    def controls(self) -> Markdown:
        """Each accuracy control's metrics with the base, and the categories above them all."""
        if not self.zoo.roster.controls:
            return Markdown("This store has no accuracy controls.")
        table = self.table.loc[self.zoo.roster.controls]
        texts = {m: interval_texts(table, m, 3) for m in METRICS}
        lines = [f"- **{self.zoo.names[m]}** ({100 * r['accuracy']:.1f}% test accuracy, "
                 f"{100 * (r['accuracy'] - self.base_accuracy):+.1f} points from the base): "
                 f"error inconsistency {inconsistency}, kappa {kappa}."
                 for (m, r), inconsistency, kappa in zip(table.iterrows(), *texts.values())]
        lines.append(f"\nCategories whose mean error inconsistency with the base exceeds that of "
                     f"every accuracy control: {', '.join(self.above_controls()) or 'none'}.")
        return Markdown("\n".join(lines))


def base_pairs(zoo: ChapterZoo, n_bootstrap: int, seed: int, level: float = LEVEL) -> BasePairs:
    """Pair the base with every partner and control: metrics, intervals, category means.

    Every pair is counted on the same bootstrap resamples of the test examples (a paired
    bootstrap), so that category means and their differences get intervals too.

    Args:
        zoo: The chapter's zoo.
        n_bootstrap: Bootstrap resamples.
        seed: Seed of the resampling.
        level: Coverage of the intervals.

    Returns:
        The pairs.

    Example:
        >>> pairs = base_pairs(open_zoo("runs/fashion_mnist", "cnn-seed0", 0.01), 1000, 0)  # doctest: +SKIP
    """
    roster = zoo.roster
    partners, controls = roster.partners, roster.controls
    outcomes = read_outcomes(zoo.store, "test", [roster.base, *partners, *controls])
    others = outcomes.model_ids[1:]
    pairs = np.array([(0, k) for k in range(1, len(outcomes.model_ids))])
    full, boot = bootstrap_pair_counts(outcomes.correct, None, outcomes.valid, pairs, n_bootstrap, seed)
    table = pd.DataFrame({
        "category": [roster.table.loc[m, "category"] for m in partners] + [None] * len(controls),
        "group": roster.table.loc[others, "group"].to_numpy(),
        "accuracy": full.accuracy_b,
        "in_band": roster.table.loc[others, "in_band"].to_numpy(),
    }, index=pd.Index(others, name="model_id"))
    values = {m: getattr(full, m) for m in METRICS}
    samples = {m: getattr(boot, m) for m in METRICS}
    table = table.join(interval_columns(values, samples, level, table.index))
    is_partner = table["group"].isin(CATEGORIES).to_numpy()
    category = table["category"].to_numpy()
    summaries = {"all partners": category_summary(values, samples, category, is_partner, level),
                 "partners in the band": category_summary(
                     values, samples, category, is_partner & table["in_band"].to_numpy(), level)}
    return BasePairs(zoo=zoo, outcomes=outcomes, pairs=pairs, table=table, summaries=summaries,
                     base_accuracy=float(full.accuracy[0]) if len(pairs) else float("nan"),
                     n_bootstrap=n_bootstrap, level=level)


def reference_models(roster: Roster) -> tuple[list[str], str]:
    """The models whose pairs the accuracy fit uses, and their description.

    The base's recipe (the base, its Reinit partners and the accuracy controls) when
    there are at least five such models, one of them a control; else every member and
    control with a decided category.

    Args:
        roster: The chapter's roster.

    Returns:
        The models, and what they are in words.

    Example:
        >>> reference_models(zoo.roster)[1]   # doctest: +SKIP
        'pairs among the base, its Reinit partners and the accuracy controls'
    """
    partners, controls = roster.partners, roster.controls
    reinit = [m for m in partners if roster.table.loc[m, "category"] == "Reinit"]
    same_recipe = [roster.base, *reinit, *controls]
    if controls and len(same_recipe) >= 5:
        return same_recipe, "pairs among the base, its Reinit partners and the accuracy controls"
    return [roster.base, *partners, *controls], "every pair of the zoo's members and controls"


@dataclass(frozen=True)
class Adjustment:
    """The base pairs' metrics minus what their accuracies predict.

    Attributes:
        table: One row per partner: ``category``, ``group``, ``accuracy``, ``in_band``,
            and per metric its residual with interval columns, ``{metric}_raw`` (the
            measured value) and ``{metric}_expected`` (the fit's); None when the store
            has too few reference pairs.
        coefficients: Per metric, the fit's (b0, b1, b2).
        reference: The reference pairs in words.
        n_reference: The number of reference pairs.
        problem: Why there is no adjustment (None when there is one).
        names: Display name of each model.
    """

    table: pd.DataFrame | None
    coefficients: dict[str, np.ndarray]
    reference: str
    n_reference: int
    problem: str | None
    names: dict[str, str]

    @property
    def means(self) -> pd.DataFrame:
        """Mean residual of each metric per category, Reinit to Dataset."""
        present = [c for c in CATEGORIES if c in set(self.table["category"])]
        return self.table.groupby("category")[list(METRICS)].mean().reindex(present)

    def figure(self) -> Figure | None:
        """The residuals per category, with 0 (what the accuracies predict); None without them."""
        if self.table is None:
            return None
        means = self.means
        points = means.assign(**{f"{m}_{s}": means[m] for m in METRICS for s in ("low", "high")})
        return category_metrics(
            self.table, {"category mean of the residuals": points},
            {m: f"{label} − accuracy fit" for m, label in METRICS.items()},
            {m: [(0.0, "what the accuracies predict")] for m in METRICS},
            title=f"Adjusted for accuracy (fit on {self.n_reference} reference pairs: {self.reference})")

    def fits(self) -> Markdown:
        """The fitted coefficients in words, or why there is no adjustment."""
        if self.table is None:
            return Markdown(f"No accuracy adjustment: {self.problem}.")
        return Markdown(f"Reference: {self.reference} ({self.n_reference} pairs). Fits: " + "; ".join(
            f"{METRICS[m]} ≈ {b[0]:.3f} {b[1]:+.3f} × mean accuracy {b[2]:+.3f} × accuracy gap"
            for m, b in self.coefficients.items()) + ".")

    def shown(self) -> pd.DataFrame | None:
        """Each partner's measured, predicted and residual metrics; None without an adjustment."""
        if self.table is None:
            return None
        table = self.table
        return pd.DataFrame({
            "partner": [self.names[m] for m in table.index],
            "category": table["category"],
            **{f"{label}: measured": table[f"{m}_raw"].round(3) for m, label in METRICS.items()},
            **{f"{label}: accuracy predicts": table[f"{m}_expected"].round(3) for m, label in METRICS.items()},
            **{f"{label}: residual": interval_texts(table, m, 3) for m, label in METRICS.items()},
        }).set_index("partner")

    def trend(self, metric: str) -> CategoryTrend | None:
        """Whether the mean residuals are monotone with divergence; None without an adjustment."""
        if self.table is None:
            return None
        return category_trend(self.means[metric], increasing=metric not in FALLING, digits=3)


def adjust_for_accuracy(pairs: BasePairs, n_bootstrap: int, seed: int) -> Adjustment:
    """Adjust every base pair's metrics for the two accuracies (see :mod:`norep.analysis.adjust`).

    Args:
        pairs: The base pairs.
        n_bootstrap: Bootstrap resamples (the fit is redone on each).
        seed: Seed of the resampling.

    Returns:
        The adjustment; without one (too few reference pairs, or too few with a defined
        metric) its ``problem`` says why.

    Example:
        >>> adjust_for_accuracy(pairs, 1000, 0).fits()   # doctest: +SKIP
    """
    models, reference = reference_models(pairs.zoo.roster)
    index = {m: i for i, m in enumerate(pairs.outcomes.model_ids)}
    reference_pairs = [(index[a], index[b]) for a, b in itertools.combinations(models, 2)]
    is_partner = pairs.is_partner
    table = pairs.table[is_partner][["category", "group", "accuracy", "in_band"]].copy()
    coefficients = {}
    try:
        if len(reference_pairs) < MIN_REFERENCE_PAIRS:
            raise NorepError(f"{len(reference_pairs)} reference pairs are too few to fit three "
                             f"coefficients and test the residuals (at least {MIN_REFERENCE_PAIRS} "
                             "are needed)")
        for metric in METRICS:
            result = accuracy_adjusted(pairs.outcomes.correct, pairs.pairs[is_partner], reference_pairs,
                                       metric, None, pairs.outcomes.valid, n_bootstrap, pairs.level, seed)
            table[metric], table[f"{metric}_low"], table[f"{metric}_high"] = (
                result["adjusted"], result["low"], result["high"])
            table[f"{metric}_raw"], table[f"{metric}_expected"] = result["value"], result["expected"]
            coefficients[metric] = result["coefficients"]
    except NorepError as error:
        return Adjustment(None, {}, reference, len(reference_pairs), str(error), pairs.zoo.names)
    return Adjustment(table, coefficients, reference, len(reference_pairs), None, pairs.zoo.names)


def by_category(pairs: pd.DataFrame) -> pd.DataFrame:
    """Count and mean of each metric per pair category, over all pairs and over both in the band.

    Args:
        pairs: One row per pair: ``category`` (a name of :data:`CATEGORIES`), ``in_band``
            (both models in the band) and each metric of :data:`METRICS`.

    Returns:
        One row per category present (Reinit to Dataset) with the columns "all pairs:
        pairs", "all pairs: {label} (mean)" per metric, and the same for "both in the
        band" (0 pairs and NaN means where a category has no such pair).

    Example:
        >>> pairs = pd.DataFrame({"category": ["Reinit", "Dataset"], "in_band": [True, False],
        ...                       "error_inconsistency": [0.1, 0.3], "kappa": [0.6, 0.2]})
        >>> by_category(pairs)["both in the band: pairs"].tolist()
        [1, 0]
    """
    table = pd.concat({
        name: pairs[keep].groupby("category")[list(METRICS)].agg(["count", "mean"])
        for name, keep in (("all pairs", pairs["category"].notna()), ("both in the band", pairs["in_band"]))
    }, axis=1).reindex([c for c in CATEGORIES if c in set(pairs["category"])])
    table.columns = [f"{name}: {METRICS[m]} ({stat})" for name, m, stat in table.columns]
    counts = [c for c in table if c.endswith("(count)")]
    table[counts] = table[counts].fillna(0).astype(int)
    return table.drop(columns=[c for c in table if "kappa (count)" in c]).rename(
        columns=lambda c: c.replace("error inconsistency (count)", "pairs"))


@dataclass(frozen=True)
class AllPairs:
    """Both metrics for every pair of the zoo's models, and their means per pair category.

    Attributes:
        order: The models: the base, the partners by category, the controls.
        groups: Each model's group relative to the base, in that order.
        matrices: Per metric, the N x N matrix in that order (NaN diagonal).
        table: :func:`by_category` of the pairs of members (controls left out), each
            pair with its own divergence category.
        names: Display name of each model.
    """

    order: list[str]
    groups: list[str]
    matrices: dict[str, np.ndarray]
    table: pd.DataFrame
    names: dict[str, str]

    def figure(self) -> Figure:
        """Heatmaps of both metrics, models ordered and colored by group."""
        return pair_heatmap({METRICS[m]: self.matrices[m] for m in METRICS},
                            [self.names[m] for m in self.order], self.groups,
                            cmaps={"error consistency kappa": "viridis_r"},
                            title=f"All pairs, test split ({len(self.order)} models)")

    def trend(self, pairs: str, metric: str) -> CategoryTrend:
        """The trend of one metric's category means over "all pairs" or "both in the band"."""
        return category_trend(self.table[f"{pairs}: {METRICS[metric]} (mean)"],
                              increasing=metric not in FALLING, digits=3)

    def verdicts(self) -> Markdown:
        """Whether the category means over all pairs of members are monotone, in words."""
        return Markdown("Monotone over all pairs of members? " + "; ".join(
            f"{name}: error inconsistency {self.trend(name, 'error_inconsistency').verdict}, "
            f"kappa {self.trend(name, 'kappa').verdict}" for name in ("all pairs", "both in the band"))
            + ".")


def all_pairs(zoo: ChapterZoo) -> AllPairs:
    """Both metrics for every pair of the base, the partners and the controls.

    Args:
        zoo: The chapter's zoo.

    Returns:
        The matrices and the per-category table of the pairs of members.

    Example:
        >>> all_pairs(zoo).table.round(3)   # doctest: +SKIP
    """
    roster = zoo.roster
    group = roster.table["group"]
    rank = {BASE_LABEL: -1, **{c: i for i, c in enumerate(CATEGORIES)}, CONTROL_LABEL: len(CATEGORIES)}
    order = sorted([roster.base, *roster.partners, *roster.controls], key=lambda m: rank[group[m]])
    outcomes = read_outcomes(zoo.store, "test", order)
    matrices = pair_metrics(outcomes.correct, None, outcomes.valid, tuple(METRICS))
    for matrix in matrices.values():
        np.fill_diagonal(matrix, np.nan)
    in_band = roster.table["in_band"]
    members = [m for m in order if roster.table.loc[m, "role"] == "member"]
    rows = [{"category": roster.pair_category(a, b), "in_band": bool(in_band[a] and in_band[b]),
             **{m: matrices[m][order.index(a), order.index(b)] for m in METRICS}}
            for a, b in itertools.combinations(members, 2)]
    pairs = pd.DataFrame(rows, columns=["category", "in_band", *METRICS]).dropna(subset=["category"])
    return AllPairs(order=order, groups=[group[m] for m in order], matrices=matrices,
                    table=by_category(pairs), names=zoo.names)


def claims(pairs: BasePairs, adjusted: Adjustment, everything: AllPairs) -> list[tuple[str, str, str, str]]:
    """The rows of the chapter's "Paper vs this book" table.

    Args:
        pairs: The base pairs.
        adjusted: Their adjustment for accuracy.
        everything: All pairs of the zoo.

    Returns:
        (claim, the paper, this book, verdict) rows for
        :func:`norep.book.chapter.paper_vs_book`.
    """
    rows = []
    for name in pairs.summaries:
        trend = pairs.trend(name, "error_inconsistency")
        rows.append((f"Fig 1: error inconsistency per category, {name}",
                     "rises monotonically Reinit → Dataset (74-78% band)", trend.text, trend.verdict))
        trend = pairs.trend(name, "kappa")
        rows.append((f"kappa per category, {name}", "not reported (the critique: show kappa beside it)",
                     trend.text, trend.verdict))
    trend = adjusted.trend("error_inconsistency")
    if trend is not None:
        rows.append(("error inconsistency adjusted for accuracy",
                     "not reported (the band is the paper's only control)",
                     means_text(trend.means, 3, sign=True) + f" (residuals; fit on {adjusted.reference})",
                     trend.verdict))
    controls = pairs.zoo.roster.controls
    if controls:
        rows.append(("accuracy alone: the base's recipe stopped early", "not measured", "; ".join(
            f"{pairs.zoo.names[m]} ({100 * r['accuracy']:.1f}%): {r['error_inconsistency']:.3f}"
            for m, r in pairs.table.loc[controls].iterrows())
            + f"; categories above every control: {', '.join(pairs.above_controls()) or 'none'}", "-"))
    rows.append(("all pairs of members, by their own category", "not reported (base pairs only)",
                 means_text(everything.table["all pairs: error inconsistency (mean)"], 3),
                 everything.trend("all pairs", "error_inconsistency").verdict))
    present = list(pairs.summaries["all partners"][0].index)
    rows.append(("categories present", "5: Reinit, Hyper-parameters, Architecture, Framework, Dataset",
                 f"{len(present)}: {', '.join(present)}", "-"))
    return rows
