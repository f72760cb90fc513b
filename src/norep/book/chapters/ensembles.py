r"""The chapter "Ensembles" (Fig 2): two-model ensembles of the base with every model.

Each function computes one section of the chapter and returns an object whose methods
give that section's table, figure and verdicts; :func:`claims` gathers the rows of its
"Paper vs this book" table. :func:`ensemble_gains` is the array computation behind the
intervals: the base pairs' accuracies, ensemble gains, conversion rates and the terms of
the improvement's decomposition from summed per-example cells, on all test examples and
on bootstrap resamples of the examples.

Category means get **crossed** intervals: each bootstrap sample redraws the test
examples and, independently, the partners of each category (with replacement,
:func:`norep.analysis.bootstrap.model_weights`), so that the interval holds the
variation between models trained alike as well as that between test sets. Per-pair
intervals hold example variance only. Every difference between categories gets its
verdict from :func:`norep.analysis.verdicts.contrast_verdict`, with the difference the
zoo's numbers of models can detect.

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

from norep.analysis.bootstrap import bootstrap_sums, model_weights, pair_weights
from norep.analysis.ensembles import (
    PairEnsembles,
    ensemble_predictions,
    improvement_decomposition,
    pair_ensemble_correctness,
    pairwise_ensembles,
)
from norep.analysis.verdicts import (
    CategoryTrend,
    LinearFit,
    category_contrasts,
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
from norep.zoo.roster import CONTROL_LABEL, UNDECIDABLE_LABEL, make_roster

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

OVER_BETTER = "over_better"
"""The ensemble's accuracy minus its better member's: the headline's gain."""

TERMS = {"error_inconsistency": "error inconsistency EI (%)", "conversion_rate": "conversion rate c (%)",
         "disagreement_term": "EI × (c − ½) (points)", "rescues": "+ rescues (points)",
         "losses": "− losses (points)", "improvement": "= improvement (points)"}
"""The columns of the improvement's decomposition and their labels."""


@dataclass(frozen=True)
class Members:
    """The models an ensemble can be made of: those with logits, relative to the base.

    Attributes:
        zoo: The chapter's zoo.
        partners: Partners with logits, Reinit to Dataset.
        controls: Accuracy controls with logits.
        left_out: Every other model but the base (top-1 answers only, another role, or
            undecidable).
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

    def left_out_reason(self, model_id: str) -> str:
        """Why a model is left out: top-1 answers only, its role, or an undecidable category."""
        table = self.zoo.roster.table
        if not table.loc[model_id, "has_logits"]:
            return "top-1 answers only"
        role = table.loc[model_id, "role"]
        return f"role {role}, not in the category means" if role != "member" else "category undecidable"

    def intro(self) -> Markdown:
        """One paragraph: the store, the base, the partners, who is left out and why, the band."""
        roster, names, table = self.zoo.roster, self.zoo.names, self.zoo.roster.table
        left_out = "; ".join(f"{names[m]} ({self.left_out_reason(m)})" for m in self.left_out)
        return Markdown(
            f"Store `{self.zoo.label}`: **{self.zoo.store.manifest['dataset']['name']}**, base "
            f"**{names[roster.base]}**, partners: {len(self.partners)}, in "
            f"{len({table.loc[m, 'category'] for m in self.partners})} of the 5 categories; "
            f"accuracy controls: {len(self.controls)}"
            + (f"; left out: {left_out}" if self.left_out else "")
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
    """Accuracies, ensemble gains, conversion rates and decomposition terms of the base's pairs.

    Each quantity is a sum over examples of a per-example cell (the base right, the
    partner right, the ensemble right, exactly one member right, converted, rescued,
    lost), so the resamples of :func:`norep.analysis.bootstrap.bootstrap_sums` give every
    pair's values on the same resampled examples.

    Args:
        right: Top-1 correctness of the base (row 0) and of each partner, shape (K + 1, M).
        ensemble_right: Correctness of the ensemble of the base with partner k, shape (K, M).
        n_bootstrap: Bootstrap resamples B.
        seed: Seed of the resampling.

    Returns:
        On all examples (shape (K,)) and per resample (shape (B, K)): ``accuracy`` (the
        partner's), ``ensemble_accuracy``, ``improvement`` (over the members' mean
        accuracy), ``over_better`` (over the better member), ``error_inconsistency``,
        ``conversion_rate`` (NaN without an exactly-one-right example), and the terms of
        :func:`norep.analysis.ensembles.improvement_decomposition`: ``disagreement_term``,
        ``rescues`` and ``losses``.

    Example:
        >>> right = np.array([[1, 0, 1, 0], [0, 1, 1, 0]], bool)
        >>> full, _ = ensemble_gains(right, np.array([[1, 1, 1, 0]], bool), 2, 0)
        >>> float(full["improvement"][0]), float(full["conversion_rate"][0])
        (0.25, 1.0)
    """
    base, partners = right[:1], right[1:]
    one_right = base != partners
    cells = np.concatenate([base, partners, ensemble_right, one_right, ensemble_right & one_right,
                            ensemble_right & ~base & ~partners, ~ensemble_right & base & partners]).T
    n_examples = right.shape[1]

    def values(sums: np.ndarray) -> dict[str, np.ndarray]:
        base_sum, partner, ensemble, one, converted, rescued, lost = (
            sums[..., :1], *np.split(sums[..., 1:], 6, axis=-1))
        with np.errstate(invalid="ignore", divide="ignore"):
            conversion = converted / one
        return {"accuracy": partner / n_examples, "ensemble_accuracy": ensemble / n_examples,
                "improvement": (ensemble - (base_sum + partner) / 2) / n_examples,
                OVER_BETTER: (ensemble - np.maximum(base_sum, partner)) / n_examples,
                "error_inconsistency": one / n_examples, "conversion_rate": conversion,
                "disagreement_term": (converted - one / 2) / n_examples,
                "rescues": rescued / n_examples, "losses": lost / n_examples}

    return values(cells.sum(axis=0, dtype=np.float64)), values(bootstrap_sums(cells, n_bootstrap, seed))


def partner_weights(categories: np.ndarray, keep: np.ndarray, n_bootstrap: int, seed: int) -> np.ndarray:
    """Weights of the base's pairs on each crossed bootstrap sample: its partners redrawn per category.

    The kept partners of each category are redrawn with replacement, independently of
    the example resamples of the same seed; the base is never redrawn, and partners
    not kept keep weight 1 (they are not averaged).

    Args:
        categories: Each partner's category, shape (K,).
        keep: Which partners the category means average, shape (K,).
        n_bootstrap: Bootstrap samples B.
        seed: Seed of the resampling.

    Returns:
        Shape (B, K): how often each pair is drawn.

    Example:
        >>> w = partner_weights(np.array(["Reinit", "Reinit", "Dataset"]), np.ones(3, bool), 5, 0)
        >>> w[:, :2].sum(axis=1).tolist(), w[:, 2].tolist()
        ([2, 2, 2, 2, 2], [1, 1, 1, 1, 1])
    """
    strata = [None] + [c if k else None for c, k in zip(categories, keep)]
    weights = model_weights(strata, n_bootstrap, seed)
    return pair_weights(weights, np.zeros(len(categories), dtype=int), np.arange(1, len(categories) + 1))


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
            ``group``, ``in_band``, and ``accuracy``, ``error_inconsistency``,
            ``over_better``, the decomposition's terms and each metric of
            :data:`METRICS` with their (example-only) interval columns.
        terms: One row per pair of the base and the partners (every pair of members):
            ``first``, ``second``, ``pair`` (names), ``group`` (its category), ``in_band``
            (both models) and the columns of
            :func:`norep.analysis.ensembles.improvement_decomposition`.
        summaries: Category means over "all partners" and "partners in the band", with
            crossed intervals.
        base_accuracy: The base's test accuracy.
        level: Coverage of every interval.
        device: Where temperatures are fitted and pairs decided ("cpu", "cuda", "auto").
    """

    members: Members
    temperatures: dict[str, float]
    right: np.ndarray
    ensembles: PairEnsembles
    unscaled: PairEnsembles
    table: pd.DataFrame
    terms: pd.DataFrame
    summaries: dict[str, tuple[pd.DataFrame, dict[str, dict[str, np.ndarray]]]]
    base_accuracy: float
    level: float
    device: str = "cpu"

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
        """The base alone, and whether the all-pairs computation agrees with the per-pair ones."""
        i, j = self.terms["first"].to_numpy(), self.terms["second"].to_numpy()
        agrees = (np.allclose(self.ensembles.accuracy[0, 1:], self.table["ensemble_accuracy"])
                  and np.allclose(self.ensembles.improvement[i, j], self.terms["improvement"]))
        return Markdown(
            f"The base alone: {100 * self.base_accuracy:.1f}% test accuracy, T = "
            f"{self.temperatures[self.members.zoo.roster.base]:.2f}. The fast all-pairs computation "
            f"agrees with the example-by-example one on the base pairs and on every pair of members: "
            f"{'yes' if agrees else 'NO'}.")

    def decomposition(self) -> pd.DataFrame:
        """The improvement of each base pair split into its terms (points), as the chapter shows it."""
        names, table = self.members.zoo.names, self.table
        shown = pd.DataFrame({"partner": [names[m] for m in table.index], "group": table["group"]})
        for column, label in TERMS.items():
            shown[label] = (100 * table[column]).round(2)
        return shown.set_index("partner")

    def identity(self) -> Markdown:
        """How exactly the decomposition holds, over the base pairs and every pair of members."""
        pairs = pd.concat([self.table[list(TERMS)], self.terms[list(TERMS)]])
        residual = pairs["improvement"] - (pairs["disagreement_term"] + pairs["rescues"] - pairs["losses"])
        lost = self.terms["losses"] * self.right.shape[1]
        return Markdown(
            f"Over the {len(self.table)} base pairs and the {len(self.terms)} pairs of members, improvement − "
            f"(EI × (c − ½) + rescues − losses) is at most {100 * residual.abs().max():.1e} points (rounding): "
            f"the identity is exact. Losses: {int(round(lost.sum()))} examples in all; rescues: "
            f"{100 * self.terms['rescues'].mean():.2f} points on average over the pairs of members.")

    def figure(self) -> Figure:
        """Fig 2 center and right: the metrics per category, the base and controls as lines."""
        names, controls = self.members.zoo.names, self.table.loc[self.members.controls]
        references = {metric: [(row[metric], f"+ control {names[m]} ({100 * row['accuracy']:.1f}%)")
                               for m, row in controls.iterrows()] for metric in METRICS}
        base = self.members.zoo.roster.base
        references["ensemble_accuracy"].append((self.base_accuracy, f"{names[base]} alone"))
        return category_metrics(self.table[self.is_partner], {k: v[0] for k, v in self.summaries.items()},
                                METRICS, references, percent=True,
                                title=f"{names[base]} + each partner, test split ({self.level:.0%} intervals: "
                                      "pairs over test examples, category means crossed)")

    def trend(self, pairs: str, metric: str) -> CategoryTrend:
        """One metric's category means (in points) over one set of pairs, with the verdict on
        the most minus the least divergent category (crossed interval and power)."""
        table, draws = self.summaries[pairs]
        return category_trend(table[metric], draws[metric], scale=100, digits=1, level=self.level,
                              sds=table[f"{metric}_sd"], counts=table[f"{metric}_n"])

    def verdicts(self) -> pd.DataFrame:
        """Per set of pairs and metric: the category means and the verdict on their rise."""
        return category_trends(self.summaries, METRICS, scale=100, digits=1, level=self.level,
                               column="rises with divergence?")

    def steps(self, metric: str = "conversion_rate", pairs: str = "all partners") -> pd.DataFrame:
        """Every step between adjacent categories, and the most minus the least divergent one.

        Args:
            metric: A key of :data:`METRICS` or :data:`OVER_BETTER`.
            pairs: "all partners" or "partners in the band".

        Returns:
            One row per contrast: its difference, crossed interval and power statement,
            and its verdict (points).
        """
        table, draws = self.summaries[pairs]
        contrasts = category_contrasts(table, draws[metric], metric, scale=100, digits=1, level=self.level)
        return pd.DataFrame({"difference [crossed interval]; power": [c.text for c in contrasts],
                             "verdict": [c.verdict for c in contrasts]},
                            index=pd.Index([c.label for c in contrasts], name=f"{METRICS.get(metric, metric)}"))


def base_ensembles(members: Members, n_bootstrap: int, seed: int, level: float = LEVEL,
                   device: str = "cpu") -> BaseEnsembles:
    """Fit the temperatures, ensemble every pair, and the base's pairs with intervals.

    Args:
        members: The chapter's members.
        n_bootstrap: Bootstrap resamples.
        seed: Seed of the resampling (examples and, independently, models).
        level: Coverage of the intervals.
        device: Where temperatures are fitted and pairs decided: "cpu" (the default),
            "cuda" or "auto"; the same decisions on every device (see
            :func:`norep.analysis.ensembles.pairwise_ensembles`).

    Returns:
        The ensembles.

    Example:
        >>> base_ensembles(members, 1000, 0).shown()   # doctest: +SKIP
    """
    zoo, order = members.zoo, members.order
    roster = zoo.roster
    temperatures = (fit_temperatures(zoo.store, order, members.fit_split, device) if members.fit_split
                    else {m: 1.0 for m in order})
    labels = zoo.store.labels("test")
    unscaled = pairwise_ensembles(read_scores(zoo.store, order, "test"), labels, device=device)
    scaled = read_scores(zoo.store, order, "test", temperatures)
    right = scaled.argmax(axis=2) == labels
    ensemble_right = np.stack([ensemble_predictions(scaled[[0, k]]) == labels for k in range(1, len(order))])
    full, boot = ensemble_gains(right, ensemble_right, n_bootstrap, seed)
    table = pd.DataFrame({
        "category": [roster.table.loc[m, "category"] for m in members.partners] + [None] * len(members.controls),
        "group": roster.table.loc[order[1:], "group"].to_numpy(),
        "in_band": roster.table.loc[order[1:], "in_band"].to_numpy(),
    }, index=order[1:])
    table = table.join(interval_columns(full, boot, level, table.index))
    is_partner, category = table["group"].isin(CATEGORIES).to_numpy(), table["category"].to_numpy()
    summarized = [*METRICS, OVER_BETTER]
    values, samples = {m: full[m] for m in summarized}, {m: boot[m] for m in summarized}
    summaries = {}
    for name, keep in (("all partners", is_partner),
                       ("partners in the band", is_partner & table["in_band"].to_numpy(dtype=bool))):
        weights = partner_weights(category, keep, n_bootstrap, seed)
        summaries[name] = category_summary(values, samples, category, keep, level, weights=weights)
    return BaseEnsembles(members=members, temperatures=temperatures, right=right,
                         ensembles=pairwise_ensembles(scaled, labels, device=device), unscaled=unscaled, table=table,
                         terms=member_terms(members, scaled, right, labels, device), summaries=summaries,
                         base_accuracy=right[0].mean(), level=level, device=device)


def member_terms(members: Members, scores: np.ndarray, right: np.ndarray, labels: np.ndarray,
                 device: str = "cpu") -> pd.DataFrame:
    """The improvement's decomposition of every pair of the base and the partners.

    Args:
        members: The chapter's members.
        scores: Temperature-scaled test scores in :attr:`Members.order`, shape (N, M, C).
        right: Each member's test correctness, shape (N, M).
        labels: Test labels.
        device: Where the pairs are decided.

    Returns:
        The :attr:`BaseEnsembles.terms` table.
    """
    roster, order = members.zoo.roster, members.order
    first, second = np.triu_indices(1 + len(members.partners), 1)
    terms = improvement_decomposition(right[first], right[second],
                                      pair_ensemble_correctness(scores, labels, first, second, device=device))
    in_band = roster.table["in_band"]
    pairs = pd.DataFrame({
        "first": first, "second": second,
        "pair": [f"{roster.names[order[i]]} + {roster.names[order[j]]}" for i, j in zip(first, second)],
        "group": [roster.pair_category(order[i], order[j]) or UNDECIDABLE_LABEL for i, j in zip(first, second)],
        "in_band": [bool(in_band[order[i]] and in_band[order[j]]) for i, j in zip(first, second)]})
    return pd.concat([pairs, terms], axis=1)


def member_pairs(pairs: BaseEnsembles) -> pd.DataFrame:
    """Every pair of the base and the partners, each with its own divergence category.

    Args:
        pairs: The ensembles.

    Returns:
        One row per pair: ``pair`` (the names), ``group`` (its category, or
        undecidable), ``in_band`` (both models), ``error_inconsistency``,
        ``improvement``, ``ensemble_accuracy``, ``ensemble_accuracy_unscaled``,
        ``conversion_rate``, ``rescues`` and ``losses``.
    """
    terms = pairs.terms
    i, j = terms["first"].to_numpy(), terms["second"].to_numpy()
    return terms[["pair", "group", "in_band", "error_inconsistency", "improvement"]].assign(
        ensemble_accuracy=pairs.ensembles.accuracy[i, j],
        ensemble_accuracy_unscaled=pairs.unscaled.accuracy[i, j],
        conversion_rate=pairs.ensembles.conversion_rate[i, j],
        rescues=terms["rescues"], losses=terms["losses"])


@dataclass(frozen=True)
class ImprovementFits:
    """Least-squares lines of the ensemble improvement on error inconsistency (Fig 2 left).

    The lines describe; they test nothing: the improvement is an identity in the error
    inconsistency and the conversion rate (see
    :func:`norep.analysis.ensembles.improvement_decomposition`), and pairs that share
    models are not independent, so no p-value is given.

    Attributes:
        panels: The pairs of each panel: "base vs each partner" (the controls too) and
            "every pair of members".
        fitted: Per panel, the pairs of each fit.
        fits: Per panel, the fit over each set of its pairs (None with fewer than 3).
    """

    panels: dict[str, pd.DataFrame]
    fitted: dict[str, dict[str, pd.DataFrame]]
    fits: dict[str, dict[str, LinearFit | None]]

    def figure(self) -> Figure:
        """Each pair as a dot, with the fitted lines."""
        lines = {panel: {f"{name} (n={f.n})": (f.slope, f.intercept, f.r) for name, f in fits.items() if f}
                 for panel, fits in self.fits.items()}
        return improvement_vs_inconsistency(
            self.panels, lines, title="Relative ensemble improvement against error inconsistency (test split)")

    def rows(self) -> list[tuple[str, LinearFit | None, float]]:
        """(panel: pairs, fit, mean conversion rate − ½ over the fitted pairs) per fit."""
        def conversion_above_half(table: pd.DataFrame) -> float:
            rates = table["conversion_rate"].dropna()
            return float(rates.mean() - 0.5) if len(rates) else float("nan")

        return [(f"{panel}: {name}", fit, conversion_above_half(self.fitted[panel][name]))
                for panel, fits in self.fits.items() for name, fit in fits.items()]

    def table(self) -> pd.DataFrame:
        """Slope, intercept (points) and Pearson's r of every fit, beside the identity's slope."""
        return pd.DataFrame([
            {"pairs": label, "n": fit.n, "slope (points per point)": round(fit.slope, 3),
             "mean conversion rate − ½": round(half, 3), "intercept (points)": round(100 * fit.intercept, 2),
             "Pearson r": round(fit.r, 3)} if fit else {"pairs": label, "n": "fewer than 3"}
            for label, fit, half in self.rows()]).set_index("pairs")


def identity_verdict(fit: LinearFit | None) -> str:
    """The verdict on "improvement grows linearly with error inconsistency": true by construction.

    Example:
        >>> identity_verdict(LinearFit(0.3, 0.0, 0.99, 1e-9, 10))
        'yes, by construction: improvement = EI × (c − ½) + rescues − losses'
    """
    if fit is None:
        return "cannot tell: fewer than 3 pairs"
    return ("yes, by construction: improvement = EI × (c − ½) + rescues − losses" if fit.slope > 0 else
            "no: the fitted slope is not positive")


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
    fitted = {"base vs each partner": {"all partners": partners, "partners in the band": partners[partners["in_band"]]},
              "every pair of members": {"all pairs": every, "both in the band": every[every["in_band"]]}}
    return ImprovementFits(
        panels={"base vs each partner": base, "every pair of members": every}, fitted=fitted,
        fits={panel: {name: linear_fit(t["error_inconsistency"], t["improvement"]) for name, t in sets.items()}
              for panel, sets in fitted.items()})


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
    calibration = calibration_table(members.zoo.store, order, members.fit_split,
                                    device=pairs.device).set_index("model_id").loc[
        order].assign(label=[roster.names[m] for m in order], group=[group[m] for m in order])
    pair_groups = [group[order[k]] if group[order[k]] == CONTROL_LABEL else
                   roster.pair_category(order[i], order[k]) or UNDECIDABLE_LABEL
                   for i, k in itertools.combinations(range(len(order)), 2)]
    i, k = np.triu_indices(len(order), 1)
    return TemperatureScaling(calibration, pd.DataFrame({
        "group": pair_groups, "accuracy_unscaled": pairs.unscaled.accuracy[i, k],
        "accuracy_scaled": pairs.ensembles.accuracy[i, k]}))


def showcased_pair(pairs: BaseEnsembles, candidates: list[str]) -> tuple[str, str]:
    """The partner whose ensemble with the base is the most accurate on the calibration split.

    Args:
        pairs: The ensembles.
        candidates: The partners to choose from.

    Returns:
        The partner, and the split it was chosen on ("calibration"; "test" only when the
        store has no calibration split).
    """
    members = pairs.members
    if members.fit_split is None:
        return pairs.table.loc[candidates, "ensemble_accuracy"].idxmax(), "test"
    ids = [members.zoo.roster.base, *candidates]
    scores = read_scores(members.zoo.store, ids, members.fit_split, pairs.temperatures)
    labels = members.zoo.store.labels(members.fit_split)
    accuracy = [np.mean(ensemble_predictions(scores[[0, k]]) == labels) for k in range(1, len(ids))]
    return candidates[int(np.argmax(accuracy))], members.fit_split


def headline(pairs: BaseEnsembles) -> tuple[str, str, str, str] | None:
    """The paper's headline: ensembles with the most divergent category gain more than with Reinit.

    The contrast is the mean gain over the better member, most divergent category minus
    Reinit, with its crossed interval and power
    (:func:`norep.analysis.verdicts.category_contrasts`); the
    showcased pair is the base's best ensemble with a partner of the most divergent
    category **on the calibration split**, reported on test.

    Args:
        pairs: The ensembles.

    Returns:
        The "Paper vs this book" row; None without partners.
    """
    table, names = pairs.table, pairs.members.zoo.names
    present = list(pairs.summaries["all partners"][0].index)
    if not present:
        return None
    top = present[-1]
    best, split = showcased_pair(pairs, list(table.index[pairs.is_partner & (table["category"] == top)]))
    summary, draws = pairs.summaries["all partners"]
    contrast = (category_contrasts(summary, draws[OVER_BETTER], OVER_BETTER, scale=100, digits=1,
                                   level=pairs.level)[-1] if present[0] == "Reinit" and top != "Reinit" else None)
    base = pairs.members.zoo.roster.base
    return (f"the base's ensembles with the most divergent category ({top}) gain more over their better "
            "member than with Reinit partners",
            "ResNet-50 76.5 + ALIGN zero-shot 75.5 → 83.4 (+6.9 over the better member; Dataset)",
            f"showcased (chosen on the {split} split): {names[base]} {100 * pairs.base_accuracy:.1f} + {names[best]} "
            f"{100 * table.loc[best, 'accuracy']:.1f} → {100 * table.loc[best, 'ensemble_accuracy']:.1f} "
            f"({100 * table.loc[best, OVER_BETTER]:+.1f} over the better member); mean gain over the better "
            + (f"member, {contrast.text}" if contrast else "member: no Reinit pair to compare with"),
            contrast.verdict if contrast else "cannot tell: no Reinit pair or no other category")


@dataclass(frozen=True)
class EveryBase:
    """The Fig 2 category means with each model of the base's recipe (the base and its
    Reinit partners) as the base in turn.

    Attributes:
        summaries: Per base (by display name), the category means of its pairs with
            every partner relative to it (:data:`METRICS` and :data:`OVER_BETTER`), with
            crossed intervals.
        level: Coverage of every interval.
    """

    summaries: dict[str, tuple[pd.DataFrame, dict[str, dict[str, np.ndarray]]]]
    level: float

    def shown(self) -> pd.DataFrame:
        """One row per (base, metric): category means, the verdict, the difference with its power."""
        return category_trends(self.summaries, METRICS, scale=100, digits=1, level=self.level,
                               column="rises with divergence?").rename_axis(["base", "metric"])

    def means(self, metric: str) -> pd.DataFrame:
        """One row per base: the metric's category means and the most minus least divergent (fractions)."""
        means = pd.DataFrame({base: table[metric] for base, (table, _) in self.summaries.items()}).T
        means = means.reindex(columns=[c for c in CATEGORIES if c in means.columns])
        present = means.dropna(axis=1, how="all").columns
        if len(present) >= 2:
            means[f"{present[-1]} − {present[0]}"] = means[present[-1]] - means[present[0]]
        return means

    def spread(self) -> pd.DataFrame:
        """Per metric, each base's category means and their lowest, highest and SD across bases (points)."""
        blocks = {}
        for metric, label in {**METRICS, OVER_BETTER: "gain over the better member (points)"}.items():
            means = 100 * self.means(metric)
            blocks[label] = pd.concat([means, means.agg(["min", "max", "std"]).rename(
                index={"min": "lowest", "max": "highest", "std": "SD across bases"})]).round(2)
        return pd.concat(blocks, names=["metric", "base"])

    def claims(self) -> list[tuple[str, str, str, str]]:
        """One "Paper vs this book" row per metric: the most − least divergent difference over bases."""
        rows = []
        verdicts = self.shown()["rises with divergence?"].str.split(";").str[0]
        for metric, claim in CLAIMS.items():
            difference = 100 * self.means(metric).iloc[:, -1].dropna()
            if difference.empty:
                continue
            words = verdicts.xs(METRICS[metric], level="metric").value_counts()
            same_sign = (difference > 0).all() or (difference < 0).all()
            rows.append((f"{METRICS[metric]}, most − least divergent, with each of {len(difference)} bases",
                         f"{claim}; one base (ResNet-50)",
                         f"from {difference.min():+.1f} to {difference.max():+.1f} points over the bases; verdicts: "
                         + ", ".join(f"{word} with {count}" for word, count in words.items()),
                         "same sign for every base" if same_sign else "the sign depends on the base"))
        return rows


def every_base(pairs: BaseEnsembles, n_bootstrap: int, seed: int) -> EveryBase:
    """Repeat the Fig 2 category means with the base and each of its Reinit partners as the base.

    Each base's partners and their categories are those relative to it (its own roster,
    the same store and band); accuracy controls are left out. Every base sees the same
    example resamples; its crossed intervals redraw its partners within their
    categories.

    Args:
        pairs: The ensembles.
        n_bootstrap: Bootstrap samples.
        seed: Seed of the resampling.

    Returns:
        The summaries, one per base.

    Example:
        >>> every_base(pairs, 1000, 0).spread()   # doctest: +SKIP
    """
    members = pairs.members
    roster, order, store = members.zoo.roster, members.order, members.zoo.store
    scores, labels = read_scores(store, order, "test", pairs.temperatures), store.labels("test")
    reinit = [m for m in roster.in_category("Reinit") if m in members.partners]
    metrics, summaries = [*METRICS, OVER_BETTER], {}
    for base in [roster.base, *reinit]:
        own = roster if base == roster.base else make_roster(store, base, roster.band)
        partners = [order.index(m) for m in own.partners if m in order]
        at = order.index(base)
        ensemble_right = pair_ensemble_correctness(scores, labels, np.full(len(partners), at), np.array(partners),
                                                   device=pairs.device)
        full, boot = ensemble_gains(pairs.right[[at, *partners]], ensemble_right, n_bootstrap, seed)
        categories = own.table.loc[[order[j] for j in partners], "category"].to_numpy(dtype=object)
        keep = np.ones(len(partners), dtype=bool)
        summaries[roster.names[base]] = category_summary(
            {m: full[m] for m in metrics}, {m: boot[m] for m in metrics}, categories, keep, pairs.level,
            weights=partner_weights(categories, keep, n_bootstrap, seed))
    return EveryBase(summaries=summaries, level=pairs.level)


def claims(pairs: BaseEnsembles, fits: ImprovementFits, scaling: TemperatureScaling,
           bases: EveryBase) -> list[tuple[str, str, str, str]]:
    """The rows of the chapter's "Paper vs this book" table.

    Args:
        pairs: The ensembles.
        fits: The fits of Fig 2 left.
        scaling: The effect of temperature scaling.
        bases: The category means with every Reinit-trained base.

    Returns:
        (claim, the paper, this book, verdict) rows for
        :func:`norep.book.chapter.paper_vs_book`.
    """
    rows = [(f"Fig 2 left, {label}", "a linear relation: improvement grows with error inconsistency",
             f"slope {fit.slope:.2f}, r = {fit.r:.2f} (n = {fit.n}); mean conversion rate − ½ = {half:+.2f}"
             if fit else "fewer than 3 pairs", identity_verdict(fit))
            for label, fit, half in fits.rows()]
    for name in pairs.summaries:
        for metric, claim in CLAIMS.items():
            trend = pairs.trend(name, metric)
            rows.append((f"{METRICS[metric]} per category, {name}", claim, trend.text, trend.verdict))
    if (row := headline(pairs)) is not None:
        rows.append(row)
    rows += bases.claims()
    calibration, change = scaling.calibration, scaling.change
    rows.append(("temperature scaling before ensembling", "done, split not stated",
                 f"fitted on the calibration split; mean test NLL {calibration['nll_before'].mean():.3f} → "
                 f"{calibration['nll_after'].mean():.3f}, ensemble accuracy {change.mean():+.2f} points on average"
                 if calibration is not None else "no calibration split: T = 1", "-"))
    present = list(pairs.summaries["all partners"][0].index)
    rows.append(("categories present", "5: Reinit, Hyper-parameters, Architecture, Framework, Dataset",
                 f"{len(present)}: {', '.join(present)}", "-"))
    return rows


# Exercises: the questions and their worked solutions (the chapter's "Exercises" section).


def best_pairs(pairs: BaseEnsembles, top: int = 5) -> pd.DataFrame:
    """The most accurate two-model ensembles among every pair of the base and the partners.

    Args:
        pairs: The ensembles of :func:`base_ensembles`.
        top: How many pairs to show.

    Returns:
        The ``top`` pairs by test ensemble accuracy (percent): the pair, its own
        divergence category, each member's accuracy, error inconsistency, the ensemble's
        accuracy and its gain over the better member.
    """
    terms = member_pairs(pairs)
    first, second = pairs.terms["first"].to_numpy(), pairs.terms["second"].to_numpy()
    accuracy = pairs.right.mean(axis=1)
    table = pd.DataFrame({
        "pair": terms["pair"], "category": terms["group"],
        "first member (%)": 100 * accuracy[first], "second member (%)": 100 * accuracy[second],
        "error inconsistency (%)": 100 * terms["error_inconsistency"],
        "ensemble (%)": 100 * terms["ensemble_accuracy"],
        "over the better member (points)": 100 * (terms["ensemble_accuracy"]
                                                  - np.maximum(accuracy[first], accuracy[second]))})
    ranked = table.sort_values("ensemble (%)", ascending=False, kind="stable")
    return ranked.head(top).round(2).set_index("pair")


def strongest_pair_rank(pairs: BaseEnsembles) -> Markdown:
    """Where the pair of the two most accurate members ranks among all pairs' ensembles.

    Args:
        pairs: The ensembles of :func:`base_ensembles`.

    Returns:
        One sentence: the best pair, and the rank of the two strongest members' ensemble.
    """
    terms = member_pairs(pairs)
    accuracy = pairs.right[:1 + len(pairs.members.partners)].mean(axis=1)
    strongest = set(np.argsort(-accuracy, kind="stable")[:2])
    is_strongest = [{i, j} == strongest for i, j in zip(pairs.terms["first"], pairs.terms["second"])]
    rank = terms["ensemble_accuracy"].rank(ascending=False, method="min")
    best = terms.loc[terms["ensemble_accuracy"].idxmax()]
    mine = terms[is_strongest].iloc[0]
    return Markdown(
        f"The most accurate ensemble is {best['pair']} ({best['group']}, "
        f"{100 * best['ensemble_accuracy']:.2f}%); the two most accurate models, {mine['pair']} "
        f"({mine['group']}), rank {int(rank[is_strongest].iloc[0])} of {len(terms)} "
        f"({100 * mine['ensemble_accuracy']:.2f}%).")


def temperature_effects(pairs: BaseEnsembles, top: int = 5) -> pd.DataFrame:
    """The pairs whose ensemble accuracy temperature scaling changes most.

    Args:
        pairs: The ensembles of :func:`base_ensembles`.
        top: How many pairs to show.

    Returns:
        The ``top`` pairs by the absolute change (percent): each member's temperature,
        the ensemble's accuracy with T = 1 and with the fitted temperatures, the change.
    """
    terms, order = member_pairs(pairs), pairs.members.order
    first, second = pairs.terms["first"].to_numpy(), pairs.terms["second"].to_numpy()
    change = 100 * (terms["ensemble_accuracy"] - terms["ensemble_accuracy_unscaled"])
    table = pd.DataFrame({
        "pair": terms["pair"], "category": terms["group"],
        "T first": [pairs.temperatures[order[i]] for i in first],
        "T second": [pairs.temperatures[order[j]] for j in second],
        "ensemble, T = 1 (%)": 100 * terms["ensemble_accuracy_unscaled"],
        "ensemble, fitted T (%)": 100 * terms["ensemble_accuracy"],
        "change (points)": change})
    ranked = table.iloc[np.argsort(-change.abs().to_numpy(), kind="stable")]
    return ranked.head(top).round(2).set_index("pair")
