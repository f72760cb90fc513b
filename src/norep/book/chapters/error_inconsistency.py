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

from norep.analysis.adjust import accuracy_adjusted, leave_one_model_out
from norep.analysis.bootstrap import model_weights, nanquantile, pair_weights
from norep.analysis.pairs import bootstrap_pair_counts, pair_metrics
from norep.analysis.verdicts import (
    CategoryTrend,
    category_contrasts,
    category_summary,
    category_trend,
    category_trends,
    interval_columns,
    interval_text,
    interval_texts,
)
from norep.book.chapter import ChapterZoo
from norep.book.plots.categories import category_metrics, pair_heatmap
from norep.errors import NorepError
from norep.store import Outcomes, read_outcomes
from norep.zoo import CATEGORIES
from norep.zoo.roster import BASE_LABEL, CONTROL_LABEL, Roster, make_roster

LEVEL = 0.95
"""Coverage of every interval of the chapter."""

METRICS = {"error_inconsistency": "error inconsistency", "kappa": "error consistency kappa"}
"""The chapter's two pair metrics and their labels."""

FALLING = ("kappa",)
"""Metrics expected to fall with divergence (error inconsistency is expected to rise)."""

MIN_REFERENCE_PAIRS = 6
"""Fewest reference pairs the accuracy adjustment fits three coefficients on."""

PAPER_EFFECTS: dict[str, float] = {}
"""The paper's Dataset − Reinit difference per metric: none, its Fig 1 gives no numbers."""


def model_strata(roster: Roster, models: list[str], base_stratum: str | None = None) -> list[str | None]:
    """The stratum each model is redrawn within by the crossed bootstrap.

    A member's stratum is its category relative to the base, the accuracy controls are
    one stratum, and the base is ``base_stratum`` (None: never redrawn, as in pairs with
    the base; "Reinit" among all pairs of members, where it is one of the base's seeds).

    Args:
        roster: The roster.
        models: The models, in the order of the bootstrap's model weights.
        base_stratum: The base's stratum.

    Returns:
        One stratum per model (None for the base and for members without a category).
    """
    table = roster.table
    return [base_stratum if m == roster.base else CONTROL_LABEL if table.loc[m, "role"] == "accuracy-control"
            else table.loc[m, "category"] for m in models]


def crossed_weights(roster: Roster, models: list[str], pairs: np.ndarray, n_bootstrap: int, seed: int,
                    base_stratum: str | None = None) -> np.ndarray:
    """Pair weights of the crossed bootstrap: models redrawn within their stratum (:func:`model_strata`).

    Args:
        roster: The roster.
        models: The models the pairs index.
        pairs: Index pairs into ``models``, shape (P, 2).
        n_bootstrap: Bootstrap samples (the same as the example resamples').
        seed: Seed of the resampling.
        base_stratum: The base's stratum.

    Returns:
        Shape (B, P), for ``category_summary(..., weights=)``.
    """
    weights = model_weights(model_strata(roster, models, base_stratum), n_bootstrap, seed)
    pairs = np.asarray(pairs, dtype=int).reshape(-1, 2)
    return pair_weights(weights, pairs[:, 0], pairs[:, 1])


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
            as :func:`norep.analysis.verdicts.category_summary` returns them, with
            crossed intervals (partners redrawn within their category, and examples).
        base_accuracy: The base's test accuracy (on the first pair's examples).
        n_bootstrap: Bootstrap resamples of every interval.
        level: Coverage of every interval.
        samples: Per metric, every pair's value on each example resample, shape (B, P).
        weights: Every pair's weight on each sample of the crossed bootstrap, shape (B, P).
    """

    zoo: ChapterZoo
    outcomes: Outcomes
    pairs: np.ndarray
    table: pd.DataFrame
    summaries: dict[str, tuple[pd.DataFrame, dict[str, dict[str, np.ndarray]]]]
    base_accuracy: float
    n_bootstrap: int
    level: float
    samples: dict[str, np.ndarray]
    weights: np.ndarray

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
            references, title=f"{names[self.zoo.roster.base]} vs each partner, test split ({self.level:.0%} "
                              f"intervals, {self.n_bootstrap} resamples: pairs over examples only, "
                              f"categories crossed over models and examples)")

    def verdicts(self) -> pd.DataFrame:
        """The verdict on each metric's Dataset − Reinit difference (with the order), over both sets of pairs."""
        return category_trends(self.summaries, METRICS, FALLING, digits=3, level=self.level,
                               paper_effects=PAPER_EFFECTS)

    def contrasts(self, pairs: str = "all partners") -> pd.DataFrame:
        """Every step between adjacent categories and Dataset − Reinit, with verdicts and power.

        Args:
            pairs: "all partners" or "partners in the band".

        Returns:
            One row per (metric, contrast): the difference with its crossed interval and
            power statement, and the verdict.
        """
        table, draws = self.summaries[pairs]
        rows = [{"metric": label, "contrast": c.label, "difference [crossed interval]; power": c.text.split(": ", 1)[1],
                 "verdict": c.verdict}
                for metric, label in METRICS.items()
                for c in category_contrasts(table, draws[metric], metric, metric not in FALLING, digits=3,
                                            level=self.level, paper_effect=PAPER_EFFECTS.get(metric))]
        return pd.DataFrame(rows, columns=["metric", "contrast", "difference [crossed interval]; power",
                                           "verdict"]).set_index(["metric", "contrast"])

    def two_intervals(self, metric: str = "error_inconsistency") -> pd.DataFrame:
        """The most minus the least divergent category, with an example-only and a crossed interval.

        The example-only bootstrap redraws the test examples and keeps the partners; the
        crossed one also redraws the partners within their category (with the same
        example resamples), so it includes which model happened to be trained.

        Args:
            metric: A metric of :data:`METRICS`.

        Returns:
            Two rows (example-only, crossed): the difference, its interval and the
            interval's width.
        """
        table = self.table
        keep, categories = self.is_partner, table["category"].to_numpy()
        values, rows = {metric: table[metric].to_numpy()}, {}
        for name, weights in (("example-only (test examples redrawn)", None),
                              ("crossed (partners and test examples redrawn)", self.weights)):
            summary, draws = category_summary(values, {metric: self.samples[metric]}, categories, keep,
                                              self.level, weights)
            first, last = summary.index[0], summary.index[-1]
            difference = draws[metric][last] - draws[metric][first]
            low, high = nanquantile(difference, ((1 - self.level) / 2, (1 + self.level) / 2))
            estimate = summary.loc[last, metric] - summary.loc[first, metric]
            rows[name] = {"difference": f"{last} − {first}",
                          f"{self.level:.0%} interval": interval_text(estimate, low, high, 4, sign=True),
                          "width": round(high - low, 4)}
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis(f"{METRICS[metric]}: bootstrap")

    def trend(self, pairs: str, metric: str) -> CategoryTrend:
        """The verdict on one metric's category means over "all partners" or "partners in the band"."""
        table, draws = self.summaries[pairs]
        return category_trend(table[metric], draws[metric], metric not in FALLING, digits=3,
                              level=self.level, sds=table[f"{metric}_sd"], counts=table[f"{metric}_n"],
                              paper_effect=PAPER_EFFECTS.get(metric))

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
    bootstrap): a pair's interval is example-only. Category means and their differences
    get crossed intervals: each sample also redraws the partners within their category
    (:func:`crossed_weights`; the base is kept).

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
    weights = crossed_weights(roster, list(outcomes.model_ids), pairs, n_bootstrap, seed)
    summaries = {"all partners": category_summary(values, samples, category, is_partner, level, weights),
                 "partners in the band": category_summary(
                     values, samples, category, is_partner & table["in_band"].to_numpy(), level, weights)}
    return BasePairs(zoo=zoo, outcomes=outcomes, pairs=pairs, table=table, summaries=summaries,
                     base_accuracy=float(full.accuracy[0]) if len(pairs) else float("nan"),
                     n_bootstrap=n_bootstrap, level=level, samples=samples, weights=weights)


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
    reinit = roster.in_category("Reinit")
    same_recipe = [roster.base, *reinit, *controls]
    if controls and len(same_recipe) >= 5:
        return same_recipe, "pairs among the base, its Reinit partners and the accuracy controls"
    return [roster.base, *partners, *controls], "every pair of the zoo's members and controls"


@dataclass(frozen=True)
class Adjustment:
    """The base pairs' metrics minus what their accuracies predict.

    Attributes:
        table: One row per partner: ``category``, ``group``, ``accuracy``, ``in_band``,
            ``extrapolated`` (an accuracy outside the reference models' range), and per
            metric its residual with interval columns (example-only), ``{metric}_raw``
            (the measured value) and ``{metric}_expected`` (the fit's); None when the
            store has too few reference pairs.
        coefficients: Per metric, the fit's (b0, b1, b2).
        reference: The reference pairs in words.
        n_reference: The number of reference pairs.
        problem: Why there is no adjustment (None when there is one).
        names: Display name of each model.
        summary: The category means of the residuals with crossed intervals (partners
            redrawn within their category, and examples, the fit redone on each), as
            :func:`norep.analysis.verdicts.category_summary` returns them.
        refits: Per metric, the fit redone without each reference model in turn: a table
            indexed by the model left out, with ``b0``, ``b1``, ``b2`` and the mean
            residual of each category.
        reference_range: The lowest and highest accuracy among the reference models.
        level: Coverage of every interval.
    """

    table: pd.DataFrame | None
    coefficients: dict[str, np.ndarray]
    reference: str
    n_reference: int
    problem: str | None
    names: dict[str, str]
    summary: tuple[pd.DataFrame, dict[str, dict[str, np.ndarray]]] | None = None
    refits: dict[str, pd.DataFrame] | None = None
    reference_range: tuple[float, float] = (float("nan"), float("nan"))
    level: float = LEVEL

    @property
    def means(self) -> pd.DataFrame:
        """Mean residual of each metric per category, Reinit to Dataset."""
        present = [c for c in CATEGORIES if c in set(self.table["category"])]
        return self.table.groupby("category")[list(METRICS)].mean().reindex(present)

    def figure(self) -> Figure | None:
        """The residuals per category, with 0 (what the accuracies predict); None without them."""
        if self.table is None:
            return None
        return category_metrics(
            self.table, {"category mean of the residuals (crossed interval)": self.summary[0]},
            {m: f"{label} − accuracy fit" for m, label in METRICS.items()},
            {m: [(0.0, "what the accuracies predict")] for m in METRICS},
            title=f"Adjusted for accuracy (fit on {self.n_reference} reference pairs: {self.reference})")

    def fits(self) -> Markdown:
        """The fitted coefficients and the extrapolated partners in words, or why there is no adjustment."""
        if self.table is None:
            return Markdown(f"No accuracy adjustment: {self.problem}.")
        low, high = self.reference_range
        outside = [self.names[m] for m in self.table.index[self.table["extrapolated"]]]
        return Markdown(f"Reference: {self.reference} ({self.n_reference} pairs). Fits: " + "; ".join(
            f"{METRICS[m]} ≈ {b[0]:.3f} {b[1]:+.3f} × mean accuracy {b[2]:+.3f} × accuracy gap"
            for m, b in self.coefficients.items()) + f". The reference models' test accuracies span "
            f"{100 * low:.1f}% to {100 * high:.1f}%; partners outside that range (extrapolated): "
            f"{', '.join(outside) or 'none'}.")

    def shown(self) -> pd.DataFrame | None:
        """Each partner's measured, predicted and residual metrics; None without an adjustment."""
        if self.table is None:
            return None
        table = self.table
        return pd.DataFrame({
            "partner": [self.names[m] for m in table.index],
            "category": table["category"],
            "extrapolated": table["extrapolated"].map({True: "yes", False: ""}),
            **{f"{label}: measured": table[f"{m}_raw"].round(3) for m, label in METRICS.items()},
            **{f"{label}: accuracy predicts": table[f"{m}_expected"].round(3) for m, label in METRICS.items()},
            **{f"{label}: residual": interval_texts(table, m, 3) for m, label in METRICS.items()},
        }).set_index("partner")

    def trend(self, metric: str) -> CategoryTrend | None:
        """The verdict on the mean residuals per category (crossed intervals, power); None without an adjustment."""
        if self.table is None:
            return None
        table, draws = self.summary
        return category_trend(table[metric], draws[metric], metric not in FALLING, digits=3, level=self.level,
                              sds=table[f"{metric}_sd"], counts=table[f"{metric}_n"])

    def contrasts(self) -> pd.DataFrame | None:
        """Every step between adjacent categories of the residual means, and the most − least
        divergent, each with its crossed interval, power statement and verdict; None without
        an adjustment."""
        if self.table is None:
            return None
        table, draws = self.summary
        rows = [{"metric": label, "contrast": c.label, "difference [crossed interval]; power": c.text.split(": ", 1)[1],
                 "verdict": c.verdict}
                for metric, label in METRICS.items()
                for c in category_contrasts(table, draws[metric], metric, metric not in FALLING, digits=3,
                                            level=self.level)]
        return pd.DataFrame(rows, columns=["metric", "contrast", "difference [crossed interval]; power",
                                           "verdict"]).set_index(["metric", "contrast"])

    def stability(self, metric: str) -> pd.DataFrame | None:
        """The fit on every reference model, then without each in turn, and the range of every column.

        Args:
            metric: A metric of :data:`METRICS`.

        Returns:
            One row per fit ("all reference models", then "without {model}"), then
            "range (min to max)": the coefficients and the mean residual of each
            category; None without an adjustment.
        """
        if self.table is None:
            return None
        refits = self.refits[metric]
        full = pd.DataFrame([{**dict(zip(("b0", "b1", "b2"), self.coefficients[metric])),
                              **self.means[metric].to_dict()}], index=["all reference models"])
        fits = pd.concat([full, refits.rename(index=lambda m: f"without {self.names[m]}")])
        ranges = pd.DataFrame([{c: f"{refits[c].min():+.4f} to {refits[c].max():+.4f}" for c in fits}],
                              index=["range without one model"])
        return pd.concat([fits.map(lambda v: f"{v:+.4f}"), ranges]).rename_axis(METRICS[metric])

    def stability_text(self) -> Markdown:
        """How far the coefficients and the category residual means move when one reference model is left out."""
        if self.table is None:
            return Markdown(f"No accuracy adjustment: {self.problem}.")
        parts = []
        for metric, label in METRICS.items():
            refits = self.refits[metric]
            moves = ", ".join(f"{c} {refits[c].min():+.3f} to {refits[c].max():+.3f}"
                              for c in refits.columns if c not in ("b0", "b1", "b2"))
            parts.append(f"{label}: b1 {refits['b1'].min():+.2f} to {refits['b1'].max():+.2f}, b2 "
                         f"{refits['b2'].min():+.2f} to {refits['b2'].max():+.2f}; residual means {moves}")
        return Markdown(f"Leaving out one of the {len(self.refits[next(iter(METRICS))])} reference models at a "
                        "time: " + "; ".join(parts) + ".")


def adjust_for_accuracy(pairs: BasePairs, n_bootstrap: int, seed: int) -> Adjustment:
    """Adjust every base pair's metrics for the two accuracies (see :mod:`norep.analysis.adjust`).

    The category means of the residuals get crossed intervals: the partners are redrawn
    within their category (:func:`crossed_weights`) on the example resamples, on each
    of which the fit is redone. How much the fit owes to each reference model
    is shown by refitting without it (:func:`norep.analysis.adjust.leave_one_model_out`).

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
    ids = pairs.outcomes.model_ids
    index = {m: i for i, m in enumerate(ids)}
    reference_pairs = [(index[a], index[b]) for a, b in itertools.combinations(models, 2)]
    is_partner = pairs.is_partner
    table = pairs.table[is_partner][["category", "group", "accuracy", "in_band"]].copy()
    coefficients, samples, refits = {}, {}, {}
    try:
        if len(reference_pairs) < MIN_REFERENCE_PAIRS:
            raise NorepError(f"{len(reference_pairs)} reference pairs are too few to fit three "
                             f"coefficients and test the residuals (at least {MIN_REFERENCE_PAIRS} "
                             "are needed)")
        for metric in METRICS:
            arguments = (pairs.outcomes.correct, pairs.pairs[is_partner], reference_pairs, metric, None,
                         pairs.outcomes.valid)
            result = accuracy_adjusted(*arguments, n_bootstrap, pairs.level, seed)
            table[metric], table[f"{metric}_low"], table[f"{metric}_high"] = (
                result["adjusted"], result["low"], result["high"])
            table[f"{metric}_raw"], table[f"{metric}_expected"] = result["value"], result["expected"]
            table["extrapolated"] = result["extrapolated"]
            coefficients[metric], samples[metric] = result["coefficients"], result["samples"]
            out = leave_one_model_out(*arguments)
            left_out = [ids[k] for k in out["models"]]
            by_category = pd.DataFrame(out["adjusted"].T, index=table.index, columns=left_out).groupby(
                table["category"]).mean()
            refits[metric] = pd.DataFrame(out["coefficients"], columns=["b0", "b1", "b2"], index=left_out).join(
                by_category.reindex([c for c in CATEGORIES if c in by_category.index]).T)
    except NorepError as error:
        return Adjustment(None, {}, reference, len(reference_pairs), str(error), pairs.zoo.names)
    weights = crossed_weights(pairs.zoo.roster, list(ids), pairs.pairs[is_partner], n_bootstrap, seed)
    summary = category_summary({m: table[m].to_numpy() for m in METRICS}, samples, table["category"].to_numpy(),
                               np.ones(len(table), bool), pairs.level, weights)
    return Adjustment(table, coefficients, reference, len(reference_pairs), None, pairs.zoo.names, summary, refits,
                      tuple(float(v) for v in result["reference_range"]), pairs.level)


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
        summaries: Category means of the pairs of members over "all pairs" and "both in
            the band" (:func:`norep.analysis.verdicts.category_summary`), with crossed
            intervals: every member redrawn within its category relative to the base,
            the base with the Reinit partners (its recipe), and the test examples.
        models: Per view, the number of distinct models the pairs of each category
            involve: the model count of the detectable difference (pairs share models).
        level: Coverage of every interval.
    """

    order: list[str]
    groups: list[str]
    matrices: dict[str, np.ndarray]
    table: pd.DataFrame
    names: dict[str, str]
    summaries: dict[str, tuple[pd.DataFrame, dict[str, dict[str, np.ndarray]]]]
    models: dict[str, pd.Series]
    level: float

    def figure(self) -> Figure:
        """Heatmaps of both metrics, models ordered and colored by group."""
        return pair_heatmap({METRICS[m]: self.matrices[m] for m in METRICS},
                            [self.names[m] for m in self.order], self.groups,
                            cmaps={"error consistency kappa": "viridis_r"},
                            title=f"All pairs, test split ({len(self.order)} models)")

    def trend(self, pairs: str, metric: str) -> CategoryTrend:
        """The verdict on one metric's category means over "all pairs" or "both in the band"."""
        table, draws = self.summaries[pairs]
        return category_trend(table[metric], draws[metric], metric not in FALLING, digits=3, level=self.level,
                              sds=table[f"{metric}_sd"], counts=self.models[pairs],
                              paper_effect=PAPER_EFFECTS.get(metric))

    def verdicts(self) -> pd.DataFrame:
        """The verdict on each metric's most − least divergent difference, over both views."""
        rows = [{"pairs": name, "metric": label, "verdict": (trend := self.trend(name, metric)).verdict,
                 "most − least divergent": trend.difference or "-"}
                for name in self.summaries for metric, label in METRICS.items()]
        return pd.DataFrame(rows).set_index(["pairs", "metric"])


def all_pairs(zoo: ChapterZoo, n_bootstrap: int, seed: int, level: float = LEVEL) -> AllPairs:
    """Both metrics for every pair of the base, the partners and the controls.

    Args:
        zoo: The chapter's zoo.
        n_bootstrap: Bootstrap samples of the category means' crossed intervals.
        seed: Seed of the resampling.
        level: Coverage of the intervals.

    Returns:
        The matrices, and the per-category means of the pairs of members.

    Example:
        >>> all_pairs(zoo, 1000, 0).table.round(3)   # doctest: +SKIP
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
    kept = [(a, b, category) for a, b in itertools.combinations(members, 2)
            if (category := roster.pair_category(a, b)) is not None]
    pairs = np.array([(order.index(a), order.index(b)) for a, b, _ in kept], dtype=int).reshape(-1, 2)
    category = np.array([c for *_, c in kept], dtype=object)
    both_in_band = np.array([bool(in_band[a] and in_band[b]) for a, b, _ in kept], dtype=bool)
    full, boot = bootstrap_pair_counts(outcomes.correct, None, outcomes.valid, pairs, n_bootstrap, seed)
    values, samples = {m: getattr(full, m) for m in METRICS}, {m: getattr(boot, m) for m in METRICS}
    weights = crossed_weights(roster, order, pairs, n_bootstrap, seed, base_stratum="Reinit")
    views = {"all pairs": np.ones(len(kept), bool), "both in the band": both_in_band}
    summaries = {name: category_summary(values, samples, category, keep, level, weights)
                 for name, keep in views.items()}
    models = {name: pd.Series({c: len(np.unique(pairs[keep & (category == c)]))
                               for c in summaries[name][0].index}, dtype=int) for name, keep in views.items()}
    table = by_category(pd.DataFrame({"category": category, "in_band": both_in_band, **values}))
    return AllPairs(order=order, groups=[group[m] for m in order], matrices=matrices, table=table,
                    names=zoo.names, summaries=summaries, models=models, level=level)


def base_and_all_pairs(pairs: BasePairs, everything: AllPairs) -> pd.DataFrame:
    """Each category's mean with its crossed interval: pairs with the base beside all pairs of members.

    Args:
        pairs: The base pairs ("all partners").
        everything: All pairs of the zoo ("all pairs").

    Returns:
        One row per category present in either view, per metric a column for each view
        ("-" where the view has no pair of the category).
    """
    views = {"pairs with the base": (pairs.summaries["all partners"][0], None),
             "all pairs of members": (everything.summaries["all pairs"][0], everything.models["all pairs"])}
    present = [c for c in CATEGORIES if any(c in table.index for table, _ in views.values())]
    columns = {}
    for metric, label in METRICS.items():
        for view, (table, models) in views.items():
            columns[f"{label}: {view}"] = [
                "-" if c not in table.index else
                interval_text(*table.loc[c, [metric, f"{metric}_low", f"{metric}_high"]], 3)
                + f" (n={table.loc[c, f'{metric}_n']}" + ("" if models is None else f" pairs of {models[c]} models")
                + ")" for c in present]
    return pd.DataFrame(columns, index=pd.Index(present, name="category"))


@dataclass(frozen=True)
class EveryBase:
    """Fig 1's category means with each model of the base's recipe (the base and its
    Reinit partners) as the base.

    Attributes:
        summaries: Per base (by display name), the category means of its pairs with
            every partner relative to it, with crossed intervals.
        level: Coverage of every interval.
    """

    summaries: dict[str, tuple[pd.DataFrame, dict[str, dict[str, np.ndarray]]]]
    level: float

    def shown(self) -> pd.DataFrame:
        """One row per (base, metric): category means, the verdict, the difference with its power."""
        return category_trends(self.summaries, METRICS, FALLING, digits=3, level=self.level,
                               paper_effects=PAPER_EFFECTS).rename_axis(["base", "metric"])

    def means(self) -> pd.DataFrame:
        """The mean error inconsistency per category (columns) with each base (rows), and
        the most minus the least divergent category's as the last column."""
        metric = "error_inconsistency"
        means = pd.DataFrame({base: table[metric] for base, (table, _) in self.summaries.items()}).T
        means = means.reindex(columns=[c for c in CATEGORIES if c in means])
        present = means.dropna(axis=1, how="all").columns
        means[f"{present[-1]} − {present[0]}"] = means[present[-1]] - means[present[0]]
        return means

    def spread(self) -> pd.DataFrame:
        """:meth:`means` with their lowest, highest and standard deviation across bases."""
        means = self.means()
        return pd.concat([means, means.agg(["min", "max", "std"]).rename(
            index={"min": "lowest", "max": "highest", "std": "SD across bases"})]).round(4)


def every_base(zoo: ChapterZoo, n_bootstrap: int, seed: int, level: float = LEVEL) -> EveryBase:
    """Fig 1 repeated with the base and then each of its Reinit partners as the base.

    Each base's partners and their categories are those relative to it (the base
    becomes a Reinit partner of the others); accuracy controls are left out. Every base
    sees the same example resamples; its crossed intervals redraw its partners within
    their categories.

    Args:
        zoo: The chapter's zoo.
        n_bootstrap: Bootstrap samples.
        seed: Seed of the resampling.
        level: Coverage of the intervals.

    Returns:
        The summaries, one per base.

    Example:
        >>> every_base(zoo, 1000, 0).spread()   # doctest: +SKIP
    """
    roster = zoo.roster
    bases = [roster.base, *roster.in_category("Reinit")]
    rosters = {b: roster if b == roster.base else make_roster(zoo.store, b, roster.band) for b in bases}
    models = list(dict.fromkeys(m for b in bases for m in [b, *rosters[b].partners]))
    index = {m: i for i, m in enumerate(models)}
    pairs = {b: np.array([(index[b], index[p]) for p in rosters[b].partners], dtype=int).reshape(-1, 2)
             for b in bases}
    keys = list(dict.fromkeys((min(i, j), max(i, j)) for p in pairs.values() for i, j in p))
    column = {key: k for k, key in enumerate(keys)}
    outcomes = read_outcomes(zoo.store, "test", models)
    full, boot = bootstrap_pair_counts(outcomes.correct, None, outcomes.valid, np.array(keys), n_bootstrap, seed)
    summaries = {}
    for b in bases:
        columns = [column[(min(i, j), max(i, j))] for i, j in pairs[b]]
        categories = rosters[b].table.loc[rosters[b].partners, "category"].to_numpy()
        summaries[zoo.names[b]] = category_summary(
            {m: getattr(full, m)[columns] for m in METRICS}, {m: getattr(boot, m)[:, columns] for m in METRICS},
            categories, np.ones(len(columns), bool), level,
            crossed_weights(rosters[b], models, pairs[b], n_bootstrap, seed))
    return EveryBase(summaries, level)


def claims(pairs: BasePairs, adjusted: Adjustment, everything: AllPairs,
           bases: EveryBase | None = None) -> list[tuple[str, str, str, str]]:
    """The rows of the chapter's "Paper vs this book" table.

    Args:
        pairs: The base pairs.
        adjusted: Their adjustment for accuracy.
        everything: All pairs of the zoo.
        bases: Fig 1 with every model of the base's recipe as the base.

    Returns:
        (claim, the paper, this book, verdict) rows for
        :func:`norep.book.chapter.paper_vs_book`.
    """
    rows = []
    for name in pairs.summaries:
        trend = pairs.trend(name, "error_inconsistency")
        rows.append((f"Fig 1: error inconsistency per category, {name}",
                     "rises monotonically Reinit → Dataset (74-78% band; no effect size given)",
                     trend.text, trend.verdict))
        trend = pairs.trend(name, "kappa")
        rows.append((f"kappa per category, {name}", "not reported (the critique: show kappa beside it)",
                     trend.text, trend.verdict))
    trend = adjusted.trend("error_inconsistency")
    if trend is not None:
        rows.append(("error inconsistency adjusted for accuracy",
                     "not reported (the band is the paper's only control)",
                     f"residuals: {trend.text} (fit on {adjusted.reference})",
                     trend.verdict))
    controls = pairs.zoo.roster.controls
    if controls:
        rows.append(("accuracy alone: the base's recipe family made weaker", "not measured", "; ".join(
            f"{pairs.zoo.names[m]} ({100 * r['accuracy']:.1f}%): {r['error_inconsistency']:.3f}"
            for m, r in pairs.table.loc[controls].iterrows())
            + f"; categories above every control: {', '.join(pairs.above_controls()) or 'none'}", "-"))
    trend = everything.trend("all pairs", "error_inconsistency")
    rows.append(("all pairs of members, by their own category", "not reported (base pairs only)",
                 trend.text, trend.verdict))
    if bases is not None and len(bases.summaries) > 1:
        shown = bases.shown().xs(METRICS["error_inconsistency"], level="metric")
        spread = bases.means().iloc[:, -1]
        rows.append(("Fig 1 with each model of the base's recipe as the base", "one base (ResNet-50)",
                     f"{spread.name} over {len(spread)} bases: from {spread.min():+.4f} to {spread.max():+.4f}",
                     ", ".join(f"{word}: {count} of {len(shown)} bases" for word, count in
                               shown["verdict"].str.split(";").str[0].value_counts().items())))
    present = list(pairs.summaries["all partners"][0].index)
    rows.append(("categories present", "5: Reinit, Hyper-parameters, Architecture, Framework, Dataset",
                 f"{len(present)}: {', '.join(present)}", "-"))
    return rows


# Exercises: the questions and their worked solutions (the chapter's "Exercises" section).


def discordant_partners(pairs: BasePairs, top: int = 3) -> pd.DataFrame | Markdown:
    """Two models paired with the base that error inconsistency and kappa order the same way.

    Higher error inconsistency says "errs more differently from the base", higher kappa
    "errs more alike": a comparison of two partners (accuracy controls included) is
    **discordant** when one of them has both the higher error inconsistency and the
    higher kappa. Error inconsistency is not corrected for chance, so the partner it
    ranks as more different is usually the less accurate one.

    Args:
        pairs: The base pairs of :func:`base_pairs`.
        top: How many discordant comparisons to show, the largest accuracy gaps first.

    Returns:
        One row per comparison shown: the model with the higher error inconsistency and
        the other, each with its test accuracy, error inconsistency and kappa; a sentence
        when no comparison is discordant.
    """
    table, names = pairs.table, pairs.zoo.names
    rows = []
    for p, q in itertools.permutations(table.index, 2):
        more, other = table.loc[p], table.loc[q]
        if more["error_inconsistency"] > other["error_inconsistency"] and more["kappa"] > other["kappa"]:
            rows.append({
                "higher error inconsistency": names[p], "its accuracy (%)": round(100 * more["accuracy"], 1),
                "its EI": round(more["error_inconsistency"], 3), "its kappa": round(more["kappa"], 3),
                "other model": names[q], "other's accuracy (%)": round(100 * other["accuracy"], 1),
                "other's EI": round(other["error_inconsistency"], 3), "other's kappa": round(other["kappa"], 3),
                "_gap": abs(more["accuracy"] - other["accuracy"])})
    if not rows:
        return Markdown("No two partners are ordered the same way by error inconsistency and kappa here.")
    found = pd.DataFrame(rows).sort_values("_gap", ascending=False, kind="stable")
    return found.head(top).drop(columns="_gap").reset_index(drop=True)


def discordance_summary(pairs: BasePairs) -> Markdown:
    """How often error inconsistency and kappa disagree, and who is weaker when they do.

    Args:
        pairs: The base pairs of :func:`base_pairs`.

    Returns:
        One sentence: the discordant comparisons among all comparisons of two models
        paired with the base, and in how many of them the model with the higher error
        inconsistency is the less accurate one.
    """
    table = pairs.table
    compared = discordant = weaker = 0
    for p, q in itertools.combinations(table.index, 2):
        compared += 1
        first, second = table.loc[p], table.loc[q]
        d_ei = first["error_inconsistency"] - second["error_inconsistency"]
        if d_ei * (first["kappa"] - second["kappa"]) > 0:
            discordant += 1
            more, less = (first, second) if d_ei > 0 else (second, first)
            weaker += bool(more["accuracy"] < less["accuracy"])
    return Markdown(
        f"Of the {compared} comparisons of two models paired with the base, {discordant} are discordant "
        f"(one model has both the higher error inconsistency and the higher kappa); in {weaker} of them "
        "the model with the higher error inconsistency is the less accurate one.")


def kappa_by_hand(pairs: BasePairs) -> pd.DataFrame:
    """Kappa recomputed from error inconsistency and the two accuracies.

    Two models of accuracies p_a and p_b that err independently disagree on a share
    EI_ind = p_a (1 - p_b) + p_b (1 - p_a) of the examples; since 1 - c_exp = EI_ind
    and c_obs = 1 - EI, kappa = 1 - EI / EI_ind. The counts are read from the test
    outcomes, on the examples both models answered.

    Args:
        pairs: The base pairs of :func:`base_pairs`.

    Returns:
        One row per partner and accuracy control: p_a (the base), p_b, EI, EI_ind,
        1 - EI / EI_ind and the package's kappa.
    """
    outcomes, names = pairs.outcomes, pairs.zoo.names
    rows = {}
    for _, k in pairs.pairs:
        both = outcomes.valid[0] & outcomes.valid[k]
        right_a, right_b = outcomes.correct[0][both], outcomes.correct[k][both]
        p_a, p_b = right_a.mean(), right_b.mean()
        inconsistency = np.mean(right_a != right_b)
        independent = p_a * (1 - p_b) + p_b * (1 - p_a)
        rows[names[outcomes.model_ids[k]]] = {
            "p_a (base)": p_a, "p_b": p_b, "EI": inconsistency, "EI_ind": independent,
            "1 - EI / EI_ind": 1 - inconsistency / independent if independent > 0 else np.nan,
            "kappa (package)": pairs.table.loc[outcomes.model_ids[k], "kappa"]}
    return pd.DataFrame.from_dict(rows, orient="index").round(4)
