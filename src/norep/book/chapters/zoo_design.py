"""The zoo's design, checked: the same-seed lesson, the data-only subgroup, and which
methodology field matters (used by the zoo and error-inconsistency chapters).

Each comparison pairs the base with named groups of models and averages error
inconsistency and kappa per group, with crossed intervals (models redrawn within their
group, test examples redrawn for every pair, see :mod:`norep.analysis.bootstrap`).

Example:
    >>> zoo = open_zoo("runs/fashion_mnist", "cnn-seed0", 0.01)      # doctest: +SKIP
    >>> same_seed_lesson(zoo, n_bootstrap=1000, seed=0).shown()      # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from IPython.display import Markdown
from matplotlib.figure import Figure

from norep.analysis.bootstrap import model_weights, nanquantile, pair_weights, weighted_means
from norep.analysis.fields import FieldEffects, field_effects
from norep.analysis.pairs import bootstrap_pair_counts, pair_metrics
from norep.analysis.verdicts import interval_columns, interval_text
from norep.book.chapter import ChapterZoo
from norep.book.plots.fields import field_effects_figure
from norep.store import read_outcomes
from norep.zoo.methodology import FIELDS, Methodology

LEVEL = 0.95
"""Coverage of every interval."""

METRICS = {"error_inconsistency": "error inconsistency", "kappa": "kappa"}
"""The two pair metrics, with their labels."""

FIELD_ORDER = tuple(reversed(FIELDS))
"""The methodology fields from the one deciding the least divergent category up."""


@dataclass(frozen=True)
class GroupComparison:
    """The base paired with the models of named groups, averaged per group.

    Attributes:
        models: One row per model (``group``, ``accuracy`` and each metric with its
            example-only interval).
        groups: One row per group: ``models`` and each metric's mean with its crossed
            interval.
        draws: Per metric and group, the group mean on each bootstrap sample.
        level: Coverage of the intervals.
    """

    models: pd.DataFrame
    groups: pd.DataFrame
    draws: dict[str, dict[str, np.ndarray]]
    level: float

    def contrast(self, metric: str, high: str, low: str, scale: float = 1.0) -> str:
        """The difference of two group means with its crossed interval, in words."""
        difference = self.groups.loc[high, metric] - self.groups.loc[low, metric]
        tail = (1 - self.level) / 2
        lo, hi = nanquantile(self.draws[metric][high] - self.draws[metric][low], (tail, 1 - tail))
        return f"{high} − {low}: {interval_text(difference, lo, hi, 3, scale=scale, sign=True)}"

    def shown(self) -> pd.DataFrame:
        """The group means with their crossed intervals, for the page."""
        rows = {group: {"models": int(row["models"]),
                        **{label: interval_text(row[m], row[f"{m}_low"], row[f"{m}_high"], 3)
                           for m, label in METRICS.items()}}
                for group, row in self.groups.iterrows()}
        return pd.DataFrame(rows).T.rename_axis("paired with the base")


def compare_groups(zoo: ChapterZoo, groups: dict[str, list[str]], n_bootstrap: int, seed: int,
                   level: float = LEVEL) -> GroupComparison:
    """Pair the base with every model of each group and average the pairs per group.

    Args:
        zoo: The chapter's zoo.
        groups: Group label -> model ids (a model may appear in one group only).
        n_bootstrap: Bootstrap samples.
        seed: Seed of the resampling.
        level: Coverage of the intervals.

    Returns:
        The comparison; empty groups are left out.
    """
    groups = {label: ids for label, ids in groups.items() if ids}
    others = [m for ids in groups.values() for m in ids]
    if not others:
        empty = pd.DataFrame(columns=["models", *METRICS])
        return GroupComparison(models=empty, groups=empty, draws={m: {} for m in METRICS}, level=level)
    outcomes = read_outcomes(zoo.store, "test", [zoo.roster.base, *others])
    pairs = np.array([(0, k) for k in range(1, len(others) + 1)])
    full, boot = bootstrap_pair_counts(outcomes.correct, None, outcomes.valid, pairs, n_bootstrap, seed)
    labels = [label for label, ids in groups.items() for _ in ids]
    weights = model_weights([None, *labels], n_bootstrap, seed)
    pair_weight = pair_weights(weights, pairs[:, 0], pairs[:, 1])
    values = {m: getattr(full, m) for m in METRICS}
    samples = {m: getattr(boot, m) for m in METRICS}
    index = pd.Index(others, name="model_id")
    models = pd.DataFrame({"group": labels, "accuracy": full.accuracy_b}, index=index).join(
        interval_columns(values, samples, level, index))
    tail = (1 - level) / 2
    rows, draws = {}, {m: {} for m in METRICS}
    for label in groups:
        mask = np.array(labels) == label
        row = {"models": int(mask.sum())}
        for metric in METRICS:
            draws[metric][label] = weighted_means(samples[metric][:, mask], pair_weight[:, mask])
            row[metric] = float(values[metric][mask].mean())
            row[f"{metric}_low"], row[f"{metric}_high"] = nanquantile(draws[metric][label], (tail, 1 - tail))
        rows[label] = row
    return GroupComparison(models=models, groups=pd.DataFrame(rows).T, draws=draws, level=level)


def twin(zoo: ChapterZoo, model_id: str) -> str | None:
    """The member trained exactly like ``model_id`` but from another seed, if the store has one."""
    roster = zoo.roster
    mine = roster.methodologies[model_id]
    for other in roster.members:
        theirs = roster.methodologies[other]
        if other != model_id and theirs.seed != mine.seed and _without_seed(theirs) == _without_seed(mine):
            return other
    return None


def _without_seed(method: Methodology) -> tuple:
    return (method.architecture, method.objective, method.training_data,
            tuple(sorted((method.hyperparameters or {}).items())))


@dataclass(frozen=True)
class SameSeedLesson:
    """Hyper-parameter variants started from the base's seed, beside their independent-seed twins.

    Attributes:
        comparison: The groups "same seed", "same recipes, own seeds" and "Reinit".
        twins: Each same-seed model and its independent-seed twin.
    """

    comparison: GroupComparison
    twins: dict[str, str]

    def shown(self) -> pd.DataFrame:
        """The group means, with crossed intervals."""
        return self.comparison.shown()

    def verdict(self) -> Markdown:
        """What sharing the base's seed does, in numbers."""
        if "same seed" not in self.comparison.groups.index or len(self.comparison.groups) < 2:
            return Markdown("This store has no same-seed models with independent-seed twins.")
        lines = [f"- {self.comparison.contrast(m, 'same seed', 'same recipes, own seeds')} ({label})"
                 for m, label in METRICS.items()]
        return Markdown("Same seed minus own seeds, for the same recipes (crossed 95% intervals):\n\n"
                        + "\n".join(lines))


def same_seed_lesson(zoo: ChapterZoo, n_bootstrap: int, seed: int, level: float = LEVEL) -> SameSeedLesson:
    """Compare the base's pairs with same-seed models, their twins, and the Reinit partners.

    Args:
        zoo: The chapter's zoo.
        n_bootstrap: Bootstrap samples.
        seed: Seed of the resampling.
        level: Coverage of the intervals.

    Returns:
        The lesson (empty groups when the store has no same-seed models).
    """
    roster = zoo.roster
    twins = {m: t for m in roster.role("same-seed") if (t := twin(zoo, m)) is not None}
    reinit = roster.in_category("Reinit")
    groups = {"same seed": list(twins), "same recipes, own seeds": list(twins.values()), "Reinit": reinit}
    return SameSeedLesson(compare_groups(zoo, groups, n_bootstrap, seed, level), twins)


@dataclass(frozen=True)
class DataOnly:
    """The base's recipe on other training data, between Reinit and the nested Dataset members.

    Attributes:
        comparison: The groups "Reinit", "data only" and "Dataset".
    """

    comparison: GroupComparison

    def shown(self) -> pd.DataFrame:
        """The group means, with crossed intervals."""
        return self.comparison.shown()

    def verdict(self) -> Markdown:
        """The two steps: other data alone, then other data and another method."""
        present = set(self.comparison.groups.index)
        steps = [(high, low) for high, low in (("data only", "Reinit"), ("Dataset", "data only"))
                 if {high, low} <= present]
        if not steps:
            return Markdown("This store has no data-only models.")
        lines = [f"- {self.comparison.contrast(m, high, low)} ({label})"
                 for high, low in steps for m, label in METRICS.items()]
        return Markdown("Differences of the group means (crossed 95% intervals):\n\n" + "\n".join(lines))


def data_only_subgroup(zoo: ChapterZoo, n_bootstrap: int, seed: int, level: float = LEVEL) -> DataOnly:
    """Pair the base with its Reinit partners, the data-only models and the Dataset members.

    Args:
        zoo: The chapter's zoo.
        n_bootstrap: Bootstrap samples.
        seed: Seed of the resampling.
        level: Coverage of the intervals.

    Returns:
        The subgroup beside the two categories around it.
    """
    roster = zoo.roster
    groups = {"Reinit": roster.in_category("Reinit"), "data only": roster.role("data-only"),
              "Dataset": roster.in_category("Dataset")}
    return DataOnly(compare_groups(zoo, groups, n_bootstrap, seed, level))


@dataclass(frozen=True)
class MethodologyEffects:
    """The effect of each methodology field on kappa and error inconsistency, over all pairs.

    Attributes:
        effects: Per metric, the fit (:class:`norep.analysis.fields.FieldEffects`).
        n_pairs: Pairs in the fit.
    """

    effects: dict[str, FieldEffects]
    n_pairs: int

    def table(self) -> pd.DataFrame:
        """Each term's coefficient with its model-bootstrap interval, per metric."""
        columns = {}
        for metric, label in METRICS.items():
            t = self.effects[metric].table
            columns[label] = [interval_text(r["estimate"], r["low"], r["high"], 3, sign=True)
                              if np.isfinite(r["estimate"]) else "no pair differs" for _, r in t.iterrows()]
        first = next(iter(self.effects.values())).table
        return pd.DataFrame({"pairs that differ": first["pairs"], **columns}, index=first.index)

    def figure(self) -> Figure:
        """The per-field effects with their intervals, one panel per metric (the accuracy
        terms, on another scale, are in :meth:`table`)."""
        return field_effects_figure({label: self.effects[m].table.loc[list(FIELD_ORDER)].rename(
            index=lambda term: term.replace("_", " ")) for m, label in METRICS.items()})

    def verdict(self) -> Markdown:
        """The fields whose intervals exclude 0, per metric."""
        lines = []
        for metric, label in METRICS.items():
            t = self.effects[metric].table.loc[list(FIELD_ORDER)]
            clear = [f"{term} ({row['estimate']:+.3f})" for term, row in t.iterrows()
                     if row["low"] > 0 or row["high"] < 0]
            lines.append(f"- {label}: fields whose interval excludes 0: {', '.join(clear) or 'none'}.")
        n_models = next(iter(self.effects.values())).n_models
        return Markdown(f"{self.n_pairs} pairs of {n_models} models; intervals resample models.\n\n"
                        + "\n".join(lines))


def methodology_effects(zoo: ChapterZoo, n_bootstrap: int, seed: int, level: float = LEVEL) -> MethodologyEffects:
    """Regress kappa and error inconsistency of every pair of models on the fields that differ.

    Every model with logits enters (members, lessons, subgroups and accuracy controls:
    the controls give the accuracy terms their range). Accuracies are test accuracies,
    the split the metrics are measured on.

    Args:
        zoo: The chapter's zoo.
        n_bootstrap: Bootstrap samples (models redrawn with replacement).
        seed: Seed of the draws.
        level: Coverage of the intervals.

    Returns:
        The effects.
    """
    roster = zoo.roster
    models = [m for m in roster.table.index if roster.table.loc[m, "has_logits"]]
    outcomes = read_outcomes(zoo.store, "test", models)
    matrices = pair_metrics(outcomes.correct, None, outcomes.valid, metrics=tuple(METRICS))
    first, second = np.triu_indices(len(models), 1)
    methods = [roster.methodologies[m] for m in models]
    differs = np.array([[getattr(methods[i], f) != getattr(methods[j], f) for f in FIELD_ORDER]
                        for i, j in zip(first, second)], dtype=float)
    pairs = np.column_stack([first, second])
    effects = {m: field_effects(matrices[m][first, second], differs, outcomes.accuracy, pairs, FIELD_ORDER,
                                n_bootstrap, seed, level) for m in METRICS}
    return MethodologyEffects(effects=effects, n_pairs=len(pairs))
