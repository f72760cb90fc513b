"""The chapter "Ensembles" (Fig 2): two-model ensembles of the base with every model.

Each function computes one section of the chapter and returns an object whose methods
give that section's table, figure and verdicts; :func:`claims` gathers the rows of its
"Paper vs this book" table. :func:`ensemble_gains` is the array computation behind the
intervals: the base pairs' accuracies, ensemble gains and conversion rates from summed
per-example cells, on all test examples and on bootstrap resamples.

Example:
    >>> members = ensemble_members(open_zoo("runs/fashion_mnist", "cnn-seed0", 0.01))  # doctest: +SKIP
    >>> pairs = base_ensembles(members, n_bootstrap=1000, seed=0)                     # doctest: +SKIP
    >>> pairs.verdicts()                                                               # doctest: +SKIP
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from IPython.display import Markdown
from matplotlib.figure import Figure

from norep.analysis.bootstrap import bootstrap_sums
from norep.analysis.ensembles import (
    PairEnsembles,
    ensemble_predictions,
    pairwise_ensembles,
)
from norep.analysis.verdicts import (
    CategoryTrend,
    LinearFit,
    category_summary,
    category_trend,
    category_trends,
    interval_columns,
    interval_texts,
    linear_fit,
)
from norep.book.chapter import ChapterZoo
from norep.book.plots.categories import category_metrics
from norep.book.plots.ensembles import improvement_vs_inconsistency, temperature_effect
from norep.book.views import calibration_table, fit_temperatures
from norep.store import read_scores
from norep.zoo import CATEGORIES
from norep.zoo.roster import CONTROL_LABEL, UNDECIDABLE_LABEL

LEVEL = 0.95
"""Coverage of every interval of the chapter."""

METRICS = {"ensemble_accuracy": "ensemble accuracy (%)",
           "improvement": "relative ensemble improvement (points)",
           "conversion_rate": "conversion rate (%)"}
"""The ensemble metrics of Fig 2 and their labels (values are fractions, shown ×100)."""

CLAIMS = {"ensemble_accuracy": "rises with divergence (Fig 2 center)",
          "improvement": "rises with divergence (follows from Fig 2 left)",
          "conversion_rate": "rises with divergence (Fig 2 right)"}
"""The paper's claim on each metric's category means."""


@dataclass(frozen=True)
class Members:
    """The models an ensemble can be made of: those with logits, relative to the base.

    Attributes:
        zoo: The chapter's zoo.
        partners: Partners with logits, Reinit to Dataset.
        controls: Accuracy controls with logits.
        left_out: Every other model but the base (top-1 answers only, or undecidable).
        fit_split: The split the temperatures are fitted on; None (T = 1) without one.
    """

    zoo: ChapterZoo
    partners: list[str]
    controls: list[str]
    left_out: list[str]
    fit_split: str | None

    @property
    def order(self) -> list[str]:
        """The base, the partners, the controls: the rows of every array of the chapter."""
        return [self.zoo.roster.base, *self.partners, *self.controls]

    def intro(self) -> Markdown:
        """One paragraph: the store, the base, the partners, who is left out, the band."""
        roster, names, table = self.zoo.roster, self.zoo.names, self.zoo.roster.table
        return Markdown(
            f"Store `{self.zoo.label}`: **{self.zoo.store.manifest['dataset']['name']}**, base "
            f"**{names[roster.base]}**, partners: {len(self.partners)}, in "
            f"{len({table.loc[m, 'category'] for m in self.partners})} of the 5 categories; "
            f"accuracy controls: {len(self.controls)}"
            + (f"; left out: {', '.join(names[m] for m in self.left_out)} (top-1 answers only or "
               "category undecidable)" if self.left_out else "")
            + ". Temperatures: " + ("fitted on the calibration split" if self.fit_split else
                                    "T = 1 (this store has no calibration split)")
            + f". The band: {roster.band_split} accuracy within ± {100 * roster.band:g} points of the "
            f"base's {100 * table.loc[roster.base, 'accuracy']:.1f}%; partners in it: "
            f"{int(table.loc[self.partners, 'in_band'].sum())}.")


def ensemble_members(zoo: ChapterZoo) -> Members:
    """The base, its partners and controls that have logits; the others are left out.

    Args:
        zoo: The chapter's zoo.

    Returns:
        The members.

    Raises:
        ValueError: The base has only top-1 answers.

    Example:
        >>> ensemble_members(zoo).intro()   # doctest: +SKIP
    """
    roster = zoo.roster
    has_logits = roster.table["has_logits"]
    if not has_logits[roster.base]:
        raise ValueError(f"base {roster.base!r} has only top-1 answers: ensembles need logits or "
                         "probabilities")
    partners = [m for m in roster.partners if has_logits[m]]
    controls = [m for m in roster.controls if has_logits[m]]
    left_out = [m for m in roster.table.index if m != roster.base and m not in partners and m not in controls]
    fit_split = "calibration" if roster.band_split == "calibration" else None
    return Members(zoo=zoo, partners=partners, controls=controls, left_out=left_out, fit_split=fit_split)


def ensemble_gains(right: np.ndarray, ensemble_right: np.ndarray, n_bootstrap: int,
                   seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Accuracies, ensemble gains and conversion rates of the base's pairs, with bootstrap samples.

    Each quantity is a sum over examples of a per-example cell (the base right, the
    partner right, the ensemble right, exactly one member right, converted), so the
    resamples of :func:`norep.analysis.bootstrap.bootstrap_sums` give every pair's values
    on the same resampled examples.

    Args:
        right: Top-1 correctness of the base (row 0) and of each partner, shape (K + 1, M).
        ensemble_right: Correctness of the ensemble of the base with partner k, shape (K, M).
        n_bootstrap: Bootstrap resamples B.
        seed: Seed of the resampling.

    Returns:
        On all examples (shape (K,)) and per resample (shape (B, K)): ``accuracy`` (the
        partner's), ``ensemble_accuracy``, ``improvement`` (over the members' mean
        accuracy), ``error_inconsistency`` and ``conversion_rate`` (NaN without an
        exactly-one-right example).

    Example:
        >>> right = np.array([[1, 0, 1, 0], [0, 1, 1, 0]], bool)
        >>> full, _ = ensemble_gains(right, np.array([[1, 1, 1, 0]], bool), 2, 0)
        >>> float(full["improvement"][0]), float(full["conversion_rate"][0])
        (0.25, 1.0)
    """
    one_right = right[0] != right[1:]
    cells = np.concatenate([right[:1], right[1:], ensemble_right, one_right, ensemble_right & one_right]).T
    n_examples = right.shape[1]

    def values(sums: np.ndarray) -> dict[str, np.ndarray]:
        base, partner, ensemble, one, converted = sums[..., :1], *np.split(sums[..., 1:], 4, axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            conversion = converted / one
        return {"accuracy": partner / n_examples, "ensemble_accuracy": ensemble / n_examples,
                "improvement": (ensemble - (base + partner) / 2) / n_examples,
                "error_inconsistency": one / n_examples, "conversion_rate": conversion}

    return values(cells.sum(axis=0, dtype=np.float64)), values(bootstrap_sums(cells, n_bootstrap, seed))


@dataclass(frozen=True)
class BaseEnsembles:
    """Two-model ensembles of every pair, and of the base with each partner with intervals.

    Attributes:
        members: The chapter's members.
        temperatures: Each member's temperature (1 without a calibration split).
        right: Each member's top-1 correctness on the test split, shape (N, M), in
            :attr:`Members.order`.
        ensembles: Every pair's ensemble, temperature-scaled members.
        unscaled: Every pair's ensemble with T = 1 for every member.
        table: One row per partner then control (indexed by id): ``category``,
            ``group``, ``in_band``, and ``accuracy``, ``error_inconsistency`` and each
            metric of :data:`METRICS` with their interval columns.
        summaries: Category means over "all partners" and "partners in the band".
        base_accuracy: The base's test accuracy.
        level: Coverage of every interval.
    """

    members: Members
    temperatures: dict[str, float]
    right: np.ndarray
    ensembles: PairEnsembles
    unscaled: PairEnsembles
    table: pd.DataFrame
    summaries: dict[str, tuple[pd.DataFrame, dict[str, dict[str, np.ndarray]]]]
    base_accuracy: float
    level: float

    @property
    def is_partner(self) -> np.ndarray:
        """Which rows of :attr:`table` are partners (not accuracy controls)."""
        return self.table["group"].isin(CATEGORIES).to_numpy()

    def shown(self) -> pd.DataFrame:
        """The table of the base's pairs as the chapter shows it, in percent."""
        names, table = self.members.zoo.names, self.table
        return pd.DataFrame({
            "partner": [names[m] for m in table.index],
            "group": table["group"],
            "T": [round(self.temperatures[m], 2) for m in table.index],
            "partner accuracy (%)": (100 * table["accuracy"]).round(1),
            "in the band": table["in_band"].map({True: "yes", False: "no"}),
            **{label: interval_texts(table, m, scale=100) for m, label in METRICS.items()},
        }).set_index("partner")

    def check(self) -> Markdown:
        """The base alone, and whether the all-pairs computation agrees with the per-pair one."""
        agrees = np.allclose(self.ensembles.accuracy[0, 1:], self.table["ensemble_accuracy"])
        return Markdown(
            f"The base alone: {100 * self.base_accuracy:.1f}% test accuracy, T = "
            f"{self.temperatures[self.members.zoo.roster.base]:.2f}. The fast all-pairs computation "
            f"agrees with the example-by-example one on the base pairs: {'yes' if agrees else 'NO'}.")

    def figure(self) -> Figure:
        """Fig 2 center and right: the metrics per category, the base and controls as lines."""
        names, controls = self.members.zoo.names, self.table.loc[self.members.controls]
        references = {metric: [(row[metric], f"+ control {names[m]} ({100 * row['accuracy']:.1f}%)")
                               for m, row in controls.iterrows()] for metric in METRICS}
        base = self.members.zoo.roster.base
        references["ensemble_accuracy"].append((self.base_accuracy, f"{names[base]} alone"))
        return category_metrics(self.table[self.is_partner], {k: v[0] for k, v in self.summaries.items()},
                                METRICS, references, percent=True,
                                title=f"{names[base]} + each partner, test split "
                                      f"({self.level:.0%} bootstrap intervals)")

    def verdicts(self) -> pd.DataFrame:
        """Whether each metric's category means rise with divergence, over both sets of pairs."""
        return category_trends(self.summaries, METRICS, scale=100, digits=1, level=self.level,
                               column="rises with divergence?")

    def trend(self, pairs: str, metric: str) -> CategoryTrend:
        """The trend of one metric's category means (in points) over one set of pairs."""
        table, draws = self.summaries[pairs]
        return category_trend(table[metric], draws[metric], scale=100, digits=1, level=self.level)


def base_ensembles(members: Members, n_bootstrap: int, seed: int, level: float = LEVEL) -> BaseEnsembles:
    """Fit the temperatures, ensemble every pair, and the base's pairs with intervals.

    Args:
        members: The chapter's members.
        n_bootstrap: Bootstrap resamples.
        seed: Seed of the resampling.
        level: Coverage of the intervals.

    Returns:
        The ensembles.

    Example:
        >>> base_ensembles(members, 1000, 0).shown()   # doctest: +SKIP
    """
    zoo, order = members.zoo, members.order
    roster = zoo.roster
    temperatures = (fit_temperatures(zoo.store, order, members.fit_split) if members.fit_split
                    else {m: 1.0 for m in order})
    labels = zoo.store.labels("test")
    unscaled = pairwise_ensembles(read_scores(zoo.store, order, "test"), labels)
    scaled = read_scores(zoo.store, order, "test", temperatures)
    right = scaled.argmax(axis=2) == labels
    ensemble_right = np.stack([ensemble_predictions(scaled[[0, k]]) == labels for k in range(1, len(order))])
    full, boot = ensemble_gains(right, ensemble_right, n_bootstrap, seed)
    table = pd.DataFrame({
        "category": [roster.table.loc[m, "category"] for m in members.partners] + [None] * len(members.controls),
        "group": roster.table.loc[order[1:], "group"].to_numpy(),
        "in_band": roster.table.loc[order[1:], "in_band"].to_numpy(),
    }, index=order[1:])
    shown = ["accuracy", "error_inconsistency", *METRICS]
    table = table.join(interval_columns({m: full[m] for m in shown}, {m: boot[m] for m in shown}, level,
                                        table.index))
    is_partner, category = table["group"].isin(CATEGORIES).to_numpy(), table["category"].to_numpy()
    values, samples = {m: full[m] for m in METRICS}, {m: boot[m] for m in METRICS}
    summaries = {"all partners": category_summary(values, samples, category, is_partner, level),
                 "partners in the band": category_summary(
                     values, samples, category, is_partner & table["in_band"].to_numpy(), level)}
    return BaseEnsembles(members=members, temperatures=temperatures, right=right,
                         ensembles=pairwise_ensembles(scaled, labels), unscaled=unscaled, table=table,
                         summaries=summaries, base_accuracy=right[0].mean(), level=level)


def member_pairs(pairs: BaseEnsembles) -> pd.DataFrame:
    """Every pair of the base and the partners, each with its own divergence category.

    Args:
        pairs: The ensembles.

    Returns:
        One row per pair: ``pair`` (the names), ``group`` (its category, or
        undecidable), ``in_band`` (both models), ``error_inconsistency``,
        ``improvement``, ``ensemble_accuracy``, ``ensemble_accuracy_unscaled`` and
        ``conversion_rate``.
    """
    members, roster = pairs.members, pairs.members.zoo.roster
    names, in_band, order = roster.names, roster.table["in_band"], members.order
    rows = []
    for a, b in itertools.combinations([roster.base, *members.partners], 2):
        i, j = order.index(a), order.index(b)
        rows.append({
            "pair": f"{names[a]} + {names[b]}",
            "group": roster.pair_category(a, b) or UNDECIDABLE_LABEL,
            "in_band": bool(in_band[a] and in_band[b]),
            "error_inconsistency": float(np.mean(pairs.right[i] != pairs.right[j])),
            "improvement": pairs.ensembles.improvement[i, j],
            "ensemble_accuracy": pairs.ensembles.accuracy[i, j],
            "ensemble_accuracy_unscaled": pairs.unscaled.accuracy[i, j],
            "conversion_rate": pairs.ensembles.conversion_rate[i, j],
        })
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class ImprovementFits:
    """Least-squares lines of the ensemble improvement on error inconsistency (Fig 2 left).

    Attributes:
        panels: The pairs of each panel: "base vs each partner" (the controls too) and
            "every pair of members".
        fits: Per panel, the fit over each set of its pairs (None with fewer than 3).
    """

    panels: dict[str, pd.DataFrame]
    fits: dict[str, dict[str, LinearFit | None]]

    def figure(self) -> Figure:
        """Each pair as a dot, with the fitted lines."""
        lines = {panel: {f"{name} (n={f.n})": (f.slope, f.intercept, f.r) for name, f in fits.items() if f}
                 for panel, fits in self.fits.items()}
        return improvement_vs_inconsistency(
            self.panels, lines, title="Relative ensemble improvement against error inconsistency (test split)")

    def table(self) -> pd.DataFrame:
        """Slope, intercept (points), Pearson's r and its p-value of every fit."""
        return pd.DataFrame([
            {"pairs": f"{panel}: {name}", "n": f.n, "slope (points per point)": round(f.slope, 3),
             "intercept (points)": round(100 * f.intercept, 2), "Pearson r": round(f.r, 3),
             "p-value": f"{f.p:.2g}"} if f else {"pairs": f"{panel}: {name}", "n": "fewer than 3"}
            for panel, fits in self.fits.items() for name, f in fits.items()]).set_index("pairs")


def improvement_fits(pairs: BaseEnsembles) -> ImprovementFits:
    """Fit the improvement on error inconsistency over the base's pairs and over all pairs.

    Each panel is fitted over all its pairs and over the accuracy-matched ones (the
    partner in the band; both models in the band); the controls are not fitted.

    Args:
        pairs: The ensembles.

    Returns:
        The fits.
    """
    base, every = pairs.table, member_pairs(pairs)
    partners = base[pairs.is_partner]
    fit = lambda table: linear_fit(table["error_inconsistency"], table["improvement"])  # noqa: E731
    return ImprovementFits(
        panels={"base vs each partner": base, "every pair of members": every},
        fits={"base vs each partner": {"all partners": fit(partners),
                                       "partners in the band": fit(partners[partners["in_band"]])},
              "every pair of members": {"all pairs": fit(every), "both in the band": fit(every[every["in_band"]])}})


@dataclass(frozen=True)
class TemperatureScaling:
    """What temperature scaling changes: each model's NLL and ECE, each pair's ensemble.

    Attributes:
        calibration: One row per member (in :attr:`Members.order`) of
            :func:`norep.book.views.calibration_table` with ``label`` and ``group``; None
            without a calibration split.
        pairs: One row per pair of members: ``group``, ``accuracy_unscaled`` and
            ``accuracy_scaled``; None without a calibration split.
    """

    calibration: pd.DataFrame | None
    pairs: pd.DataFrame | None

    @property
    def change(self) -> pd.Series | None:
        """Each pair's ensemble accuracy with scaled minus unscaled members, in points."""
        return None if self.pairs is None else 100 * (self.pairs["accuracy_scaled"] - self.pairs["accuracy_unscaled"])

    def figure(self) -> Figure | None:
        """NLL and ECE per model, ensemble accuracy per pair; None without a calibration split."""
        if self.calibration is None:
            return None
        return temperature_effect(self.calibration, self.pairs,
                                  title="Temperature scaling (fitted on the calibration split, reported on test)")

    def means(self) -> pd.DataFrame | None:
        """Mean temperature, test NLL and ECE over the models; None without a calibration split."""
        if self.calibration is None:
            return None
        c = self.calibration
        return pd.DataFrame({"mean over models": [
            c["temperature"].mean(), c["nll_before"].mean(), c["nll_after"].mean(),
            100 * c["ece_before"].mean(), 100 * c["ece_after"].mean()]},
            index=["temperature", "test NLL, T = 1", "test NLL, T fitted", "test ECE (%), T = 1",
                   "test ECE (%), T fitted"]).round(3)

    def text(self) -> Markdown:
        """How scaling changes the ensembles' accuracy, in words."""
        change = self.change
        if change is None:
            return Markdown("This store has no calibration split: every model keeps T = 1, and there is "
                            "nothing to compare.")
        return Markdown(
            f"Over the {len(change)} pairs, scaling changes ensemble accuracy by {change.mean():+.2f} points on "
            f"average (from {change.min():+.2f} to {change.max():+.2f}); it raises it for {(change > 0).sum()} "
            f"pairs and lowers it for {(change < 0).sum()}.")


def temperature_scaling(pairs: BaseEnsembles) -> TemperatureScaling:
    """Compare the members and their ensembles before and after temperature scaling.

    Args:
        pairs: The ensembles.

    Returns:
        The comparison (empty without a calibration split).
    """
    members = pairs.members
    if members.fit_split is None:
        return TemperatureScaling(None, None)
    roster, order = members.zoo.roster, members.order
    group = roster.table["group"]
    calibration = calibration_table(members.zoo.store, order, members.fit_split).set_index("model_id").loc[
        order].assign(label=[roster.names[m] for m in order], group=[group[m] for m in order])
    pair_groups = [group[order[k]] if group[order[k]] == CONTROL_LABEL else
                   roster.pair_category(order[i], order[k]) or UNDECIDABLE_LABEL
                   for i, k in itertools.combinations(range(len(order)), 2)]
    i, k = np.triu_indices(len(order), 1)
    return TemperatureScaling(calibration, pd.DataFrame({
        "group": pair_groups, "accuracy_unscaled": pairs.unscaled.accuracy[i, k],
        "accuracy_scaled": pairs.ensembles.accuracy[i, k]}))


def headline(pairs: BaseEnsembles) -> tuple[str, str, str, str] | None:
    """The paper's headline pair: the base's best ensemble with a most divergent partner.

    "yes" when the base's ensembles with partners of the most divergent category gain
    more over their better member, on average, than its ensembles with Reinit partners,
    and the best of them beats both its members.

    Args:
        pairs: The ensembles.

    Returns:
        The "Paper vs this book" row; None without partners.
    """
    table, names = pairs.table, pairs.members.zoo.names
    is_partner, category = pairs.is_partner, table["category"].to_numpy()
    present = list(pairs.summaries["all partners"][0].index)
    if not present:
        return None
    top = present[-1]
    over_better = table["ensemble_accuracy"] - np.maximum(pairs.base_accuracy, table["accuracy"])
    best = table.loc[is_partner & (category == top), "ensemble_accuracy"].idxmax()
    gain = {c: over_better[is_partner & (category == c)].mean() for c in (top, "Reinit")}
    reinit = (is_partner & (category == "Reinit")).any()
    verdict = ("cannot tell: no Reinit pair to compare with" if top == "Reinit" or not reinit else
               "yes" if gain[top] > gain["Reinit"] and over_better[best] > 0 else "no")
    compared = (f"; mean over {top} pairs {100 * gain[top]:+.1f}, over Reinit pairs "
                f"{100 * gain['Reinit']:+.1f}" if reinit else "")
    base = pairs.members.zoo.roster.base
    return (f"the best ensemble of the base with a partner of the most divergent category ({top})",
            "ResNet-50 76.5 + ALIGN zero-shot 75.5 → 83.4 (+6.9 over the better member; Dataset)",
            f"{names[base]} {100 * pairs.base_accuracy:.1f} + {names[best]} {100 * table.loc[best, 'accuracy']:.1f}"
            f" → {100 * table.loc[best, 'ensemble_accuracy']:.1f} ({100 * over_better[best]:+.1f} over the "
            f"better member{compared})", verdict)


def claims(pairs: BaseEnsembles, fits: ImprovementFits,
           scaling: TemperatureScaling) -> list[tuple[str, str, str, str]]:
    """The rows of the chapter's "Paper vs this book" table.

    Args:
        pairs: The ensembles.
        fits: The fits of Fig 2 left.
        scaling: The effect of temperature scaling.

    Returns:
        (claim, the paper, this book, verdict) rows for
        :func:`norep.book.chapter.paper_vs_book`.
    """
    rows = [(f"Fig 2 left, {panel}, {name}", "a linear relation: improvement grows with error inconsistency",
             f.text() if f else "fewer than 3 pairs", f.verdict() if f else "cannot tell: fewer than 3 pairs")
            for panel, lines in fits.fits.items() for name, f in lines.items()]
    for name in pairs.summaries:
        for metric, claim in CLAIMS.items():
            trend = pairs.trend(name, metric)
            rows.append((f"{METRICS[metric]} per category, {name}", claim, trend.text, trend.verdict))
    if (row := headline(pairs)) is not None:
        rows.append(row)
    calibration, change = scaling.calibration, scaling.change
    rows.append(("temperature scaling before ensembling", "done, split not stated",
                 f"fitted on the calibration split; mean test NLL {calibration['nll_before'].mean():.3f} → "
                 f"{calibration['nll_after'].mean():.3f}, ensemble accuracy {change.mean():+.2f} points on average"
                 if calibration is not None else "no calibration split: T = 1", "-"))
    present = list(pairs.summaries["all partners"][0].index)
    rows.append(("categories present", "5: Reinit, Hyper-parameters, Architecture, Framework, Dataset",
                 f"{len(present)}: {', '.join(present)}", "-"))
    return rows
