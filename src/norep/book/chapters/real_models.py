"""The chapter "Real models, real errors": real predictions made by others, store to table.

The chapter imports the predictions of pretrained models into two kinds of store
(ImageNet-X: four models on the 50,000 ImageNet validation images; model-vs-human: one
store per out-of-distribution image set, with models and human observers) and compares
their errors. This module is its logic: opening (and filling) the stores, the pair and
subdomain tables, kappa within conditions (a human's no-answer trial counted by one of
:data:`NO_ANSWER_RULES`), category means with intervals over models and images, and the
closing verdicts.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Markdown
from pandas.io.formats.style import Styler

from norep.analysis.bootstrap import (
    Interval,
    model_weights,
    pair_weights,
    percentile_interval,
    weighted_means,
)
from norep.analysis.pairs import bootstrap_pairs, pair_metrics
from norep.analysis.specialization import subdomain_differences
from norep.analysis.verdicts import category_summary, category_trends, interval_text, interval_texts
from norep.book.build import project_path
from norep.book.views import band_models, pair_angles
from norep.errors import NorepError
from norep.producers.importers import import_predictions
from norep.producers.importers.model_vs_human import DATASETS, NO_ANSWER
from norep.store import MANIFEST, Outcomes, Store, read_outcomes
from norep.zoo import CATEGORIES, Methodology, divergence_category

LEVEL = 0.95
"""Coverage of every interval of the chapter."""

PAIR_METRICS = ("error_inconsistency", "kappa")
"""The two pair metrics the chapter reports for every ImageNet-X pair."""

GROUPS = ("model-vs-model", "human-vs-human", "model-vs-human")
"""The kinds of model-vs-human observer pairs."""

NO_ANSWER_RULES = {
    "error": "a human's no-answer trial counts as an error, as in model-vs-human's own "
             "analyses (is_correct = object_response == category)",
    "drop": "a human's no-answer trial is left out, like an image the observer never saw",
}
"""How a model-vs-human "na" response (no answer in time) counts, by rule name.

"error", model-vs-human's convention, is the chapter's default, so that its human
accuracies and kappas compare with model-vs-human's published ones."""

LEVELS = (("training_data", "Dataset"), ("objective", "Framework"),
          ("architecture", "Architecture"))
"""Methodology fields deciding a category, from the most divergent level down."""

RANGES = ("nature", "anthropogenic")
"""The class ranges of the paper's Figure 4 (the ``class_range`` column)."""

PARTS = {"top_factor": "ImageNet-X top factor", "metaclass": "metaclass"}
"""The finer parts of ImageNet-X compared, by store column."""

PAPER_BAND = (0.74, 0.78)
"""The paper's accuracy band (top-1, fractions)."""

PAPER_BASE_ACCURACY = 76.5
"""The paper's base model's top-1 accuracy (%): ResNet-50 with RandAugment."""


def filled_store(path: str, kind: str, source: str | None) -> Path:
    """Return a store's folder, importing the source predictions first when it is absent.

    Args:
        path: The store (for ``model-vs-human``, the parent of one store per set),
            relative to the book's folder or absolute.
        kind: ``"imagenet-x"`` or ``"model-vs-human"``.
        source: The folder of the source files; when None or absent, the public
            files are downloaded (checksummed) into the user cache.

    Returns:
        The store's folder.

    Example:
        >>> filled_store("runs/imagenet-x", "imagenet-x", None)    # doctest: +SKIP
    """
    path = project_path(path)
    if kind == "imagenet-x":
        present = (path / MANIFEST).is_file()
    else:
        present = any((path / dataset / MANIFEST).is_file() for dataset in DATASETS)
    if not present:
        folder = None if source is None else project_path(source)
        if folder is not None and not folder.exists():
            print(f"{folder} does not exist: downloading the public {kind} files")
            folder = None
        import_predictions(kind, None if folder is None else str(folder), str(path))
    return path


@dataclass(frozen=True)
class ImagenetX:
    """The ImageNet-X store, its models (the reference first) and their pair bootstrap.

    Attributes:
        store: The prediction store.
        models: The models' metadata rows, indexed by model id, the reference first.
        outcomes: Their top-1 outcomes on the test split, rows in the same order.
        boot: Accuracy, error inconsistency and kappa with intervals over the
            self-pairs (i, i) of every model, then the pairs of :attr:`pairs`.
        n_bootstrap: Bootstrap samples of every interval.
        seed: Seed of the bootstrap.
    """

    store: Store
    models: pd.DataFrame
    outcomes: Outcomes
    boot: dict[str, Interval]
    n_bootstrap: int
    seed: int

    @property
    def order(self) -> list[str]:
        """The model ids, the reference first."""
        return list(self.models.index)

    @property
    def reference(self) -> str:
        """The model the others are compared with."""
        return self.order[0]

    @property
    def others(self) -> list[str]:
        """The models other than the reference."""
        return self.order[1:]

    @property
    def names(self) -> dict[str, str]:
        """Display name of each model."""
        return self.models["display_name"].to_dict()

    @property
    def pairs(self) -> list[tuple[int, int]]:
        """Every pair of model positions i < j."""
        return list(combinations(range(len(self.order)), 2))

    @property
    def pair_models(self) -> dict[str, tuple[str, str]]:
        """The model ids of each pair, by the pair's name ("A – B")."""
        names, order = self.names, self.order
        return {f"{names[order[a]]} – {names[order[b]]}": (order[a], order[b])
                for a, b in self.pairs}

    @property
    def accuracy(self) -> pd.DataFrame:
        """Each model's accuracy: estimate, low, high (fractions), indexed by model id."""
        n = len(self.order)
        interval = self.boot["accuracy"]
        return pd.DataFrame({"estimate": interval.estimate[:n], "low": interval.low[:n],
                             "high": interval.high[:n]}, index=self.order)

    @property
    def weakest(self) -> str:
        """The least accurate model."""
        return self.accuracy["estimate"].idxmin()

    @property
    def strongest(self) -> str:
        """The most accurate model."""
        return self.accuracy["estimate"].idxmax()

    @property
    def examples(self) -> pd.DataFrame:
        """The test examples with their ImageNet-X annotations, in the outcomes' order."""
        return self.store.examples.iloc[self.store.rows("test")]


def open_imagenet_x(store: str, source: str | None, reference: str, n_bootstrap: int,
                    seed: int) -> ImagenetX:
    """Open (filling it first when absent) the ImageNet-X store: the chapter's set-up.

    The bootstrap resamples images once for every pair and for every model alone, so
    accuracies and pair metrics share their resamples.

    Args:
        store: The store's path, relative to the book's folder or absolute.
        source: The folder of the ImageNet-X CSV files; None or absent downloads them.
        reference: The model id the others are compared with.
        n_bootstrap: Bootstrap samples of every interval.
        seed: Seed of the bootstrap.

    Returns:
        The store, its models and their bootstrap.

    Example:
        >>> inx = open_imagenet_x("runs/imagenet-x", None, "ResNet50", 1000, 0)  # doctest: +SKIP
    """
    opened = Store(filled_store(store, "imagenet-x", source))
    models = opened.models.set_index("model_id").loc[opened.model_ids]
    if reference not in models.index:
        raise ValueError(f"reference {reference!r} is not in {store}; its models: "
                         f"{list(models.index)}")
    order = [reference, *[m for m in models.index if m != reference]]
    outcomes = read_outcomes(opened, "test", order)
    selves = [(i, i) for i in range(len(order))]
    boot = bootstrap_pairs(outcomes.correct, valid=outcomes.valid,
                           pairs=selves + list(combinations(range(len(order)), 2)),
                           n_boot=n_bootstrap, metrics=("accuracy", *PAIR_METRICS),
                           level=LEVEL, seed=seed)
    return ImagenetX(opened, models.loc[order], outcomes, boot, n_bootstrap, seed)


def model_table(inx: ImagenetX) -> pd.DataFrame:
    """The models, their methodology as the source states it, and their accuracy.

    Args:
        inx: The opened ImageNet-X store.

    Returns:
        One row per model; unstated fields read "not stated".
    """
    models = inx.models
    return pd.DataFrame({
        "model": models["display_name"],
        "architecture": models["architecture"],
        "objective": models["objective"],
        "training data": models["training_data"],
        "top-1 accuracy (%)": [interval_text(r.estimate, r.low, r.high, 1, scale=100)
                               for r in inx.accuracy.itertuples()],
    }).set_index("model").fillna("not stated")


def unstated_fields(inx: ImagenetX, model_ids: tuple[str, ...], fields: tuple[str, ...]) -> list[str]:
    """The methodology fields the source leaves empty, as "<model>'s <field>" phrases.

    Args:
        inx: The opened ImageNet-X store.
        model_ids: The models to look at.
        fields: The fields to look at, e.g. ``("training_data",)``.

    Returns:
        One phrase per empty field, models first, e.g. ``["ViT's training data"]``.
    """
    return [f"{inx.names[m]}'s {field.replace('_', ' ')}" for m in model_ids for field in fields
            if pd.isna(inx.models.loc[m, field])]


def accuracy_text(inx: ImagenetX) -> Markdown:
    """What the sources leave unstated, and the spread of the models' accuracies."""
    accuracy, names = inx.accuracy["estimate"], inx.names
    weakest, strongest = inx.weakest, inx.strongest
    unstated = unstated_fields(inx, tuple(inx.order),
                               ("training_data", "objective", "architecture"))
    return Markdown(
        f"Not stated by the source: {', '.join(unstated) or 'nothing'}. Accuracies range from "
        f"{100 * accuracy[weakest]:.1f}% ({names[weakest]}) to "
        f"{100 * accuracy[strongest]:.1f}% ({names[strongest]}), a spread of "
        f"{100 * (accuracy[strongest] - accuracy[weakest]):.1f} points, against the "
        "4 points of the paper's band (74-78%): differences in strength will show up as "
        "differences in errors."
    )


def pair_category(inx: ImagenetX, a: str, b: str) -> tuple[str | None, str, list[str]]:
    """The divergence category of a pair, or what is known of it when undecidable.

    Undecidable pairs are at least at the highest level known to differ, and at most at
    the highest level with an unstated field above it.

    Args:
        inx: The opened ImageNet-X store.
        a: One model id.
        b: The other.

    Returns:
        The category (None when undecidable); a description (the category, or e.g.
        "Framework or Dataset (ViT's training data not stated)"); the unstated fields
        that would decide.
    """
    models = inx.models
    category = divergence_category(Methodology.from_meta(models.loc[a]),
                                   Methodology.from_meta(models.loc[b]))
    if category is not None:
        return category, category, []
    possible, unknown = [], []
    for field, name in LEVELS:  # from the most divergent level down
        missing = unstated_fields(inx, (a, b), (field,))
        if missing:
            possible.append(name)
            unknown += missing
        elif models.loc[a, field] != models.loc[b, field]:
            possible.append(name)
            break
    return None, f"{' or '.join(reversed(possible))} ({', '.join(unknown)} not stated)", unknown


def pair_table(inx: ImagenetX) -> pd.DataFrame:
    """Every ImageNet-X pair with its category, accuracies and metrics, most different first.

    Args:
        inx: The opened ImageNet-X store.

    Returns:
        One row per pair, sorted by decreasing error inconsistency: pair, model_a,
        model_b, category (None when undecidable), divergence (its description),
        unstated, acc_a, acc_b, each metric of :data:`PAIR_METRICS` with ``_low`` and
        ``_high``, floor (the least error inconsistency the two accuracies allow) and
        independent (its value if errors were independent).
    """
    rows, accuracy = [], inx.accuracy["estimate"]
    for k, (model_a, model_b) in enumerate(inx.pair_models.values(), start=len(inx.order)):
        category, description, unknown = pair_category(inx, model_a, model_b)
        rows.append({
            "pair": f"{inx.names[model_a]} – {inx.names[model_b]}", "model_a": model_a,
            "model_b": model_b, "category": category, "divergence": description,
            "unstated": unknown, "acc_a": accuracy[model_a], "acc_b": accuracy[model_b],
            **{f"{metric}{suffix}": getattr(inx.boot[metric], part)[k]
               for metric in PAIR_METRICS
               for suffix, part in (("", "estimate"), ("_low", "low"), ("_high", "high"))},
        })
    table = pd.DataFrame(rows)
    acc_a, acc_b = table["acc_a"], table["acc_b"]
    table["floor"] = (acc_a - acc_b).abs()
    table["independent"] = acc_a * (1 - acc_b) + acc_b * (1 - acc_a)
    return table.sort_values("error_inconsistency", ascending=False, ignore_index=True)


def pair_view(table: pd.DataFrame) -> pd.DataFrame:
    """The pair table as the chapter shows it: intervals written out.

    Args:
        table: The output of :func:`pair_table`.

    Returns:
        One row per pair: its category, accuracies, error inconsistency and kappa.
    """
    return pd.DataFrame({
        "pair": table["pair"],
        "divergence category": table["divergence"],
        "accuracies (%)": [f"{100 * a:.1f} / {100 * b:.1f}"
                           for a, b in zip(table["acc_a"], table["acc_b"])],
        "error inconsistency": interval_texts(table, "error_inconsistency", 3),
        "kappa": interval_texts(table, "kappa", 3),
    }).set_index("pair")


def pair_matrices(inx: ImagenetX) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Each pair metric as a symmetric model-by-model matrix, with its interval as text.

    Args:
        inx: The opened ImageNet-X store.

    Returns:
        Per metric of :data:`PAIR_METRICS`: the values (NaN on the diagonal) and the
        cell texts ("0.139\\n[0.136, 0.142]"), both indexed by display names.
    """
    n, labels = len(inx.order), [inx.names[m] for m in inx.order]
    matrices = {}
    for metric in PAIR_METRICS:
        interval = inx.boot[metric]
        values, text = np.full((n, n), np.nan), np.full((n, n), "", dtype=object)
        for k, (a, b) in enumerate(inx.pairs, start=n):
            values[a, b] = values[b, a] = interval.estimate[k]
            text[a, b] = text[b, a] = interval_text(
                interval.estimate[k], interval.low[k], interval.high[k], 3).replace(" [", "\n[")
        matrices[metric] = (pd.DataFrame(values, labels, labels),
                            pd.DataFrame(text, labels, labels))
    return matrices


def with_weakest(inx: ImagenetX, table: pd.DataFrame) -> pd.Series:
    """Which pairs of a pair table involve the weakest model, in the table's order."""
    return pd.Series([inx.weakest in (a, b) for a, b in zip(table["model_a"], table["model_b"])])


def confound_text(inx: ImagenetX, table: pd.DataFrame) -> Markdown:
    """The most different pairs by each metric, and where the weakest model's pairs rank.

    Args:
        inx: The opened ImageNet-X store.
        table: The output of :func:`pair_table`.

    Returns:
        A paragraph: the top pair by error inconsistency and by (low) kappa; how many
        of the top pairs by error inconsistency involve the weakest model; the kappa
        ranks of its pairs.
    """
    most, least_kappa = table.iloc[0], table.sort_values("kappa").iloc[0]
    weak = with_weakest(inx, table)
    ranks = table["kappa"].rank().astype(int)[weak]
    return Markdown(
        f"The pair with the most error inconsistency is **{most['pair']}** "
        f"({most['error_inconsistency']:.3f}); the one with the lowest kappa is "
        f"**{least_kappa['pair']}** ({least_kappa['kappa']:.3f}). Of the {weak.sum()} pairs "
        f"with the most error inconsistency, {weak[:weak.sum()].sum()} involve the weakest "
        f"model, {inx.names[inx.weakest]} "
        f"({100 * inx.accuracy.loc[inx.weakest, 'estimate']:.1f}%); by kappa, the ranks of "
        f"its pairs are {', '.join(str(r) for r in ranks)} of {len(table)} "
        "(1 = most different errors)."
    )


def band_pairs(inx: ImagenetX, table: pd.DataFrame,
               band: tuple[float, float] = PAPER_BAND) -> tuple[list[str], pd.DataFrame]:
    """The models within an accuracy band, and the pairs of the table among them.

    Args:
        inx: The opened ImageNet-X store.
        table: The output of :func:`pair_table`.
        band: The lowest and highest accuracy kept (fractions).

    Returns:
        The model ids in the band (in the store's order), and the rows of ``table``
        whose two models are both in it.
    """
    inside = band_models(inx.store, *band, model_ids=inx.order)
    keep = [{a, b} <= set(inside) for a, b in zip(table["model_a"], table["model_b"])]
    return inside, table[keep]


def band_text(inx: ImagenetX, table: pd.DataFrame,
              band: tuple[float, float] = PAPER_BAND) -> Markdown:
    """Which models lie in the band, and the metrics of the pairs among them."""
    inside, rows = band_pairs(inx, table, band)
    names = inx.names
    if not len(rows):
        return Markdown(f"Fewer than two models lie in the band {band}.")
    outside = [f"{names[m]} ({100 * inx.accuracy.loc[m, 'estimate']:.2f}%)"
               for m in inx.order if m not in inside]
    return Markdown(
        f"In the band: {', '.join(names[m] for m in inside) or 'none'}; outside: "
        f"{', '.join(outside) or 'none'}. Pairs in the band, from most to least error "
        "inconsistency: " + "; ".join(
            f"**{r.pair}** ({r.divergence}): error inconsistency "
            f"{r.error_inconsistency:.3f}, kappa {r.kappa:.3f}" for r in rows.itertuples())
        + "."
    )


def differences(inx: ImagenetX, a: str, b: str, groups: np.ndarray) -> pd.DataFrame:
    """Accuracy of model a minus model b per group, in points, with the group's winner.

    Args:
        inx: The opened ImageNet-X store.
        a: The first model id.
        b: The second model id.
        groups: The group of every test example, in the outcomes' order.

    Returns:
        One row per group (see
        :func:`norep.analysis.specialization.subdomain_differences`), difference,
        low and high in percentage points, and winner: the display name of the model
        whose lead has an interval excluding zero, else "neither".
    """
    i, j = inx.order.index(a), inx.order.index(b)
    correct, valid = inx.outcomes.correct, inx.outcomes.valid
    table = subdomain_differences(correct[i], correct[j], groups, valid[i] & valid[j],
                                  n_boot=inx.n_bootstrap, level=LEVEL, seed=inx.seed)
    table[["difference", "low", "high"]] *= 100
    table["winner"] = np.select([table["low"] > 0, table["high"] < 0],
                                [inx.names[a], inx.names[b]], "neither")
    return table


@dataclass(frozen=True)
class RangeComparison:
    """Every pair's accuracy difference on the nature and the anthropogenic classes.

    Attributes:
        differences: One row per (pair, range): the columns of :func:`differences`
            and ``pair``.
    """

    differences: pd.DataFrame

    @property
    def winners(self) -> pd.DataFrame:
        """The winner of each range (columns), per pair (rows, sorted by name)."""
        return self.differences.pivot(index="pair", columns="group",
                                      values="winner")[list(RANGES)]

    @property
    def specialized(self) -> list[str]:
        """The pairs in which each model wins one of the two ranges."""
        return [pair for pair, row in self.winners.iterrows()
                if "neither" not in row.values and row.nunique() == 2]

    def table(self) -> pd.DataFrame:
        """Per pair and range: the difference with its interval, and the winner."""
        wide, columns = self.winners, {}
        for group in RANGES:
            rows = self.differences[self.differences["group"] == group]
            rows = rows.set_index("pair").loc[wide.index]
            columns[f"{group}: difference (points)"] = [
                interval_text(r.difference, r.low, r.high, 1) for r in rows.itertuples()]
            columns[f"{group}: better"] = wide[group]
        return pd.DataFrame(columns, index=wide.index)

    def text(self) -> Markdown:
        """How many pairs specialize across the ranges, and which model wins where."""
        wide, specialized = self.winners, self.specialized
        return Markdown(
            f"{len(specialized)} of {len(wide)} pairs specialize across the two ranges (each "
            "model significantly better on one of them): "
            f"{', '.join(f'**{p}**' for p in specialized) or 'none'}."
            + "".join(f" In {p}, {wide.loc[p, 'nature']} is better on nature classes and "
                      f"{wide.loc[p, 'anthropogenic']} on anthropogenic ones."
                      for p in specialized)
        )


def compare_ranges(inx: ImagenetX) -> RangeComparison:
    """Compare every pair on the nature and anthropogenic class ranges (Figure 4).

    Args:
        inx: The opened ImageNet-X store.

    Returns:
        The differences of every pair on the two ranges.
    """
    groups = inx.examples["class_range"].to_numpy()
    table = pd.concat([differences(inx, a, b, groups).assign(pair=pair)
                       for pair, (a, b) in inx.pair_models.items()])
    return RangeComparison(table[table["group"].isin(RANGES)])


def part_differences(inx: ImagenetX) -> dict[str, pd.DataFrame]:
    """The reference minus each other model on every ImageNet-X factor and metaclass.

    Images without an annotation form the group "not annotated".

    Args:
        inx: The opened ImageNet-X store.

    Returns:
        Per column of :data:`PARTS`: the rows of :func:`differences` for every other
        model, with columns ``other`` (its id) and ``pair`` ("reference – other").
    """
    parts, names = {}, inx.names
    for column in PARTS:
        groups = inx.examples[column].fillna("not annotated").astype(str).to_numpy()
        parts[column] = pd.concat([
            differences(inx, inx.reference, other, groups)
            .assign(other=other, pair=f"{names[inx.reference]} – {names[other]}")
            for other in inx.others])
    return parts


def overall_differences(inx: ImagenetX) -> dict[str, float]:
    """The reference's accuracy minus each other model's, in points, by pair name."""
    estimate, names = inx.accuracy["estimate"], inx.names
    return {f"{names[inx.reference]} – {names[other]}":
            100 * (estimate[inx.reference] - estimate[other]) for other in inx.others}


def part_summary(inx: ImagenetX, parts: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per pair and kind of part: how many parts each model wins, and whether it specializes.

    Args:
        inx: The opened ImageNet-X store.
        parts: The output of :func:`part_differences`.

    Returns:
        One row per (kind of part, pair): the parts, the wins of each side, the parts
        neither wins, whether each side wins at least one ("yes"/"no") and the part of
        the other model's largest significant lead.
    """
    reference, rows = inx.names[inx.reference], []
    for column, title in PARTS.items():
        for other in inx.others:
            table = parts[column][parts[column]["other"] == other]
            reference_wins = int((table["winner"] == reference).sum())
            other_wins = table[table["winner"] == inx.names[other]]
            rows.append({
                "by": title, "pair": f"{reference} – {inx.names[other]}", "parts": len(table),
                f"{reference} better": reference_wins, "other better": len(other_wins),
                "neither": int((table["winner"] == "neither").sum()),
                "specializes": "yes" if reference_wins and len(other_wins) else "no",
                "the other's largest significant lead":
                    other_wins.loc[other_wins["difference"].idxmin(), "group"]
                    if len(other_wins) else "none",
            })
    return pd.DataFrame(rows).set_index(["by", "pair"])


def theta_angles(inx: ImagenetX) -> pd.DataFrame:
    """The confidence angle of every exactly-one-right image, for each pair with the reference.

    Args:
        inx: The opened ImageNet-X store.

    Returns:
        One row per (pair, image) with the columns of
        :func:`norep.book.plots.specialization.theta_histograms` (``panel``, ``group``
        (the pair's category, None when undecidable), ``theta`` in degrees,
        ``a_right``, ``name_a``, ``name_b``) and ``pair``, ``divergence``.
    """
    names, reference, tables = inx.names, inx.reference, []
    for other in inx.others:
        category, description, _ = pair_category(inx, reference, other)
        table = pair_angles(inx.store, reference, other)
        tables.append(pd.DataFrame({
            "pair": f"{names[reference]} – {names[other]}", "divergence": description,
            "panel": f"{names[reference]} vs {names[other]}\n{description}",
            "group": category, "theta": np.degrees(table["theta"]),
            "a_right": (table["right"] == reference).to_numpy(),
            "name_a": names[reference], "name_b": names[other]}))
    return pd.concat(tables, ignore_index=True)


def theta_table(angles: pd.DataFrame) -> pd.DataFrame:
    """Per pair: how often the right model is the more confident one, and median angles.

    Args:
        angles: The output of :func:`theta_angles`.

    Returns:
        One row per pair: divergence, images (exactly one right), right model more
        confident (%), median theta (degrees) when only the first is right and when
        only the other is.
    """
    rows = []
    for pair, table in angles.groupby("pair", sort=False):
        a_right, theta = table["a_right"].to_numpy(), table["theta"].to_numpy()
        confident = np.where(a_right, theta < 45, theta > 45)
        rows.append({
            "pair": pair, "divergence": table["divergence"].iloc[0], "images": len(table),
            "right model more confident (%)": 100 * confident.mean(),
            f"median theta, only {table['name_a'].iloc[0]} right": np.median(theta[a_right]),
            "median theta, only the other right": np.median(theta[~a_right]),
        })
    return pd.DataFrame(rows).set_index("pair")


def observer_outcomes(store: Store, no_answer: str = "error") -> Outcomes:
    """Read a model-vs-human store's outcomes under one rule of :data:`NO_ANSWER_RULES`.

    Args:
        store: One model-vs-human store (its last class is the no-answer response).
        no_answer: ``"error"``: a no-answer trial is a wrong answer (as stored);
            ``"drop"``: it is missing, like an image the observer never saw.

    Returns:
        The outcomes on the test split.
    """
    if no_answer not in NO_ANSWER_RULES:
        raise NorepError(f"unknown no-answer rule {no_answer!r}; use one of {', '.join(NO_ANSWER_RULES)}")
    if store.classes[-1:] != [NO_ANSWER]:
        raise NorepError(f"{store.path} was imported without the no-answer responses (an older norep); "
                         "delete it and import it again")
    outcomes = read_outcomes(store, "test")
    if no_answer == "error":
        return outcomes
    return replace(outcomes, valid=outcomes.valid & (outcomes.predictions != len(store.classes) - 1))


def set_stores(path: Path) -> list[str]:
    """The model-vs-human sets with a store under ``path``, sorted by name."""
    return sorted(d.name for d in path.iterdir() if (d / MANIFEST).is_file())


def condition_kappas(correct: np.ndarray, valid: np.ndarray, conditions: np.ndarray,
                     pairs: list[tuple[int, int]], n_boot: int,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Kappa of pairs within each condition, averaged over the conditions.

    Condition c (in sorted order) is bootstrapped with seed ``seed + c``. A condition
    giving a pair no kappa (both always right, or always wrong) is left out of that
    pair's mean; a pair without any kappa is NaN.

    Args:
        correct: Whether each observer is right, shape (observers, examples).
        valid: Where each observer's answer counts, same shape.
        conditions: The condition of each example, shape (examples,).
        pairs: Observer index pairs.
        n_boot: Bootstrap samples per condition; 0 for the estimates only.
        seed: Seed of the first condition's bootstrap.

    Returns:
        The mean kappa of each pair, shape (P,), and its bootstrap samples, (B, P).

    Example:
        >>> correct = np.array([[1, 0, 1, 0], [1, 0, 0, 1]], bool)
        >>> kappa, _ = condition_kappas(correct, np.ones_like(correct), np.array([0, 0, 1, 1]),
        ...                             [(0, 1)], 10, 0)
        >>> kappa.round(2).tolist()
        [0.0]
    """
    first, second = np.asarray(pairs).reshape(-1, 2).T
    estimates, samples = [], []
    for c, condition in enumerate(sorted(set(conditions))):
        columns = conditions == condition
        if n_boot:
            result = bootstrap_pairs(correct[:, columns], valid=valid[:, columns], pairs=pairs,
                                     metrics=("kappa",), n_boot=n_boot, seed=seed + c)["kappa"]
            estimates.append(result.estimate)
            samples.append(result.samples)
        else:
            kappa = pair_metrics(correct[:, columns], valid=valid[:, columns], metrics=("kappa",))
            estimates.append(kappa["kappa"][first, second])
            samples.append(np.empty((0, len(first))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # pairs without any kappa stay NaN
        return np.nanmean(estimates, axis=0), np.nanmean(samples, axis=0)


def observer_groups(human: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
    """The group of :data:`GROUPS` of each observer pair.

    Args:
        human: Whether each observer is a human, shape (observers,).
        pairs: Observer index pairs.

    Returns:
        The pairs' groups, shape (P,).

    Example:
        >>> observer_groups(np.array([False, True, True]), [(0, 1), (1, 2)]).tolist()
        ['model-vs-human', 'human-vs-human']
    """
    return np.array([GROUPS[0] if not human[a] and not human[b]
                     else GROUPS[1] if human[a] and human[b] else GROUPS[2]
                     for a, b in pairs])


def group_kappas(kappa: np.ndarray, samples: np.ndarray, groups: np.ndarray,
                 level: float = LEVEL, weights: np.ndarray | None = None) -> list[dict]:
    """Mean kappa over the pairs of each group, with its bootstrap interval.

    Pairs without a kappa (NaN) are left out of the means. With ``weights`` (observers
    redrawn within their kind, :func:`norep.analysis.bootstrap.pair_weights`) the
    interval is crossed: observer and image variance; without them, images only.

    Args:
        kappa: Each pair's kappa, shape (P,).
        samples: Its bootstrap samples, shape (B, P).
        groups: Each pair's group, shape (P,).
        level: Coverage of the intervals.
        weights: Optional pair weights on each sample, shape (B, P).

    Returns:
        One row per group of :data:`GROUPS`: group, pairs, kappa, low, high.
    """
    rows = []
    for name in GROUPS:
        chosen = groups == name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            draws = (np.nanmean(samples[:, chosen], axis=1) if weights is None
                     else weighted_means(samples[:, chosen], weights[:, chosen]))
            interval = percentile_interval(np.nanmean(kappa[chosen]), draws, level)
        rows.append({"group": name, "pairs": int(chosen.sum()),
                     "kappa": float(interval.estimate), "low": interval.low,
                     "high": interval.high})
    return rows


@dataclass(frozen=True)
class CategoryKappas:
    """Mean kappa of model pairs per divergence category, in four views, with crossed intervals.

    The views: pairs with the base (the paper's design) and every pair of models, each
    over every set and only over the (set, pair)s at matched accuracy.

    Attributes:
        base: The base model of the base views.
        matched_gap: A (set, pair) is accuracy-matched when its two accuracies differ by
            at most this (a fraction).
        summaries: By view name, the table of
            :func:`norep.analysis.verdicts.category_summary` (plus ``sets``: the (set,
            pair)s averaged, ``accuracy_gap``: their mean accuracy gap) and the
            category means on every crossed bootstrap sample.
    """

    base: str
    matched_gap: float
    summaries: dict[str, tuple[pd.DataFrame, dict[str, np.ndarray]]]

    @property
    def base_views(self) -> list[str]:
        """The names of the views with the base (the paper's design)."""
        return [name for name in self.summaries if name.startswith(f"{self.base} as base")]

    def view(self) -> pd.DataFrame:
        """Every view's category means, one row per (view, category), intervals written out.

        The interval column says what varies: models and images, or images only where
        a category has a single pair (with a base: one model, no model variance to measure).
        """
        rows = []
        for name, (table, _) in self.summaries.items():
            for category, row in table.iterrows():
                rows.append({"pairs": name, "category": category, "model pairs": int(row["kappa_n"]),
                             "(set, pair)s": int(row["sets"]),
                             "mean accuracy gap": round(float(row["accuracy_gap"]), 3),
                             "mean kappa": interval_text(row["kappa"], row["kappa_low"],
                                                         row["kappa_high"], 3),
                             "interval over": "models and images" if row["kappa_n"] > 1
                             else "images only (one pair)"})
        return pd.DataFrame(rows).set_index(["pairs", "category"])

    def verdicts(self) -> pd.DataFrame:
        """The book's verdict on "kappa falls as divergence rises" in the base views.

        :func:`norep.analysis.verdicts.category_trends` on the most minus the least
        divergent category; a category with a single model has no model-level interval
        (its draws hold image variance only), so a contrast with it has none either.

        Returns:
            One row per base view: the category means, the verdict and the contrast
            with its power statement.
        """
        summaries = {}
        for name in self.base_views:
            table, draws = self.summaries[name]
            crossed = {c: d if table.loc[c, "kappa_n"] > 1 else np.full_like(d, np.nan)
                       for c, d in draws["kappa"].items()}
            summaries[name] = (table, {"kappa": crossed})
        return category_trends(summaries, {"kappa": "mean kappa"}, falling=("kappa",),
                               level=LEVEL).droplevel("metric")


@dataclass(frozen=True)
class ModelVsHuman:
    """Error consistency of models and humans on the model-vs-human sets.

    Attributes:
        consistency: One row per (set, group of :data:`GROUPS`): dataset, group, pairs,
            kappa, low, high (observers redrawn within their kind, and images).
        accuracies: One row per set: models, humans, conditions, model accuracy (%) and
            human accuracy (%) (each the mean over the observers).
        model_pairs: One row per (set, pair of models): dataset, a, b, kappa, accuracy
            gap, category (of the two models' methodologies, or "undecidable").
        samples: The kappa of every row of ``model_pairs`` on every image resample,
            shape (B, rows).
        methodologies: Each model's methodology, by model id.
        no_answer: The rule of :data:`NO_ANSWER_RULES` the kappas and accuracies use.
        seed: Seed of the bootstraps.
    """

    consistency: pd.DataFrame
    accuracies: pd.DataFrame
    model_pairs: pd.DataFrame
    samples: np.ndarray
    methodologies: dict[str, Methodology]
    no_answer: str = "error"
    seed: int = 0

    @property
    def summary(self) -> pd.DataFrame:
        """Mean kappa per set (rows) and group (columns)."""
        return self.consistency.pivot(index="dataset", columns="group",
                                      values="kappa")[list(GROUPS)]

    def table(self) -> Styler:
        """Per set: observers, conditions, accuracies and kappa per group, and their means."""
        table = self.accuracies.set_index("dataset").join(self.summary).astype(float)
        table.loc["mean over sets"] = table.mean()
        counts = ["models", "humans", "conditions"]
        table.loc["mean over sets", counts] = np.nan
        table = table.rename(columns={"model accuracy (%)": "models acc. (%)",
                                      "human accuracy (%)": "humans acc. (%)",
                                      **{g: f"kappa {g}" for g in GROUPS}})
        return (table.style.format(precision=3, na_rep="")
                .format("{:.1f}", subset=["models acc. (%)", "humans acc. (%)"])
                .format("{:.0f}", subset=counts, na_rep=""))

    def text(self) -> Markdown:
        """Whether humans agree with humans and models with models more than across."""
        summary, wide = self.summary, self.consistency.pivot(index="dataset", columns="group",
                                                             values=["low", "high"])
        separated = wide[("high", GROUPS[2])] < wide[("low", GROUPS[1])]
        mean = summary.mean()
        return Markdown(
            "Humans agree with each other more than with models on "
            f"{(summary[GROUPS[1]] > summary[GROUPS[2]]).sum()} of {len(summary)} sets "
            f"({separated.sum()} with non-overlapping intervals); models agree with each "
            f"other more than with humans on {(summary[GROUPS[0]] > summary[GROUPS[2]]).sum()} "
            f"of {len(summary)}. Averaged over the sets, kappa is {mean[GROUPS[0]]:.2f} "
            f"between models, {mean[GROUPS[1]]:.2f} between humans and "
            f"{mean[GROUPS[2]]:.2f} between a model and a human: models make errors like "
            "each other's, humans like each other's, and the two kinds of observers err on "
            "different images."
        )

    def pair_means(self, matched_gap: float | None = None) -> tuple[pd.DataFrame, np.ndarray]:
        """Each pair of models' kappa averaged over the sets, with its bootstrap samples.

        Args:
            matched_gap: Average only the sets where the pair's two accuracies differ by
                at most this (a fraction); None: every set.

        Returns:
            One row per pair of models: a, b, category, sets (averaged), accuracy_gap
            (their mean) and kappa (NaN when no set counts); and the samples, (B, pairs).
        """
        rows = self.model_pairs
        kept = rows["kappa"].notna().to_numpy()
        if matched_gap is not None:
            kept = kept & (rows["accuracy gap"] <= matched_gap).to_numpy()
        codes, _ = pd.factorize(rows["a"] + "\t" + rows["b"])
        means, samples = [], np.full((len(self.samples), codes.max() + 1), np.nan)
        for code in range(codes.max() + 1):
            chosen = (codes == code) & kept
            first = rows[codes == code].iloc[0]
            means.append({"a": first["a"], "b": first["b"], "category": first["category"],
                          "sets": int(chosen.sum()),
                          "accuracy_gap": rows["accuracy gap"][chosen].mean(),
                          "kappa": rows["kappa"][chosen].mean()})
            if chosen.any():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    samples[:, code] = np.nanmean(self.samples[:, chosen], axis=1)
        return pd.DataFrame(means), samples

    def category_kappas(self, base: str | None, matched_gap: float | None = None,
                        level: float = LEVEL) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
        """Mean kappa per divergence category, with a crossed interval (models and images).

        With a base, the pairs with it, its partners redrawn within their category (the
        base never); without, every pair of models, the models redrawn within their
        training data (ImageNet-1k, or the SWAG models' Instagram data). Each pair
        counts once, with its kappa averaged over the sets it is kept on.

        Args:
            base: The base model id, or None for every pair of models.
            matched_gap: Keep only accuracy-matched (set, pair)s (see :meth:`pair_means`).
            level: Coverage of the intervals.

        Returns:
            The table of :func:`norep.analysis.verdicts.category_summary` for the
            metric ``kappa``, with the columns ``sets`` and ``accuracy_gap``; and the
            category means on every sample.
        """
        pairs, samples = self.pair_means(matched_gap)
        methodologies = self.methodologies
        if base is not None and base not in methodologies:
            raise NorepError(f"base {base!r} is not a model of the model-vs-human stores; "
                             f"use one of {', '.join(methodologies)}")
        models = list(methodologies)
        strata = ([m.training_data for m in methodologies.values()] if base is None else
                  [None if m == base else divergence_category(methodologies[base], methodologies[m])
                   for m in models])
        keep = pairs["kappa"].notna().to_numpy()
        if base is not None:
            keep = keep & ((pairs["a"] == base) | (pairs["b"] == base)).to_numpy()
        position = {m: i for i, m in enumerate(models)}
        weights = pair_weights(model_weights(strata, len(samples), self.seed),
                               pairs["a"].map(position), pairs["b"].map(position))
        categories = pairs["category"].to_numpy()
        table, draws = category_summary({"kappa": pairs["kappa"].to_numpy()}, {"kappa": samples},
                                        categories, keep, level, weights)
        kept = pairs[keep]
        table["sets"] = kept.groupby("category")["sets"].sum()
        table["accuracy_gap"] = [np.average(kept["accuracy_gap"][kept["category"] == c],
                                            weights=kept["sets"][kept["category"] == c])
                                 for c in table.index]
        return table, draws["kappa"]

    def by_category(self, base: str, matched_gap: float) -> CategoryKappas:
        """Mean kappa of the model pairs per category, in the four views of :class:`CategoryKappas`.

        Args:
            base: The base model of the base views (the paper's design).
            matched_gap: A (set, pair) is accuracy-matched when its two accuracies
                differ by at most this (a fraction).

        Returns:
            The four views.
        """
        summaries = {}
        for name, chosen in ((f"{base} as base", base), ("all model pairs", None)):
            for gap in (None, matched_gap):
                label = name if gap is None else f"{name}, matched (gap <= {gap:g})"
                table, draws = self.category_kappas(chosen, gap)
                summaries[label] = (table, {"kappa": draws})
        return CategoryKappas(base, matched_gap, summaries)


def open_model_vs_human(store: str, source: str | None, n_bootstrap: int, seed: int,
                        no_answer: str = "error") -> ModelVsHuman:
    """Kappa within conditions for every observer pair of every model-vs-human set.

    Fills the stores first when none exists. Every set's pairs use the same seeds
    (see :func:`condition_kappas`); the group means redraw the observers of each kind
    (models, humans) with replacement too.

    Args:
        store: The parent folder of one store per set, relative to the book's folder.
        source: The folder of the model-vs-human CSV files; None or absent downloads them.
        n_bootstrap: Bootstrap samples per condition.
        seed: Seed of the bootstrap.
        no_answer: How a human's no-answer trial counts, a key of
            :data:`NO_ANSWER_RULES` (model-vs-human's "error" by default).

    Returns:
        The per-set consistency, accuracies and model pairs.

    Example:
        >>> mvh = open_model_vs_human("runs/model-vs-human", None, 1000, 0)  # doctest: +SKIP
    """
    path = filled_store(store, "model-vs-human", source)
    consistency, accuracies, model_pairs, samples, meta = [], [], [], [], {}
    for dataset in set_stores(path):
        opened = Store(path / dataset)
        observers = opened.models.set_index("model_id").loc[opened.model_ids]
        outcomes = observer_outcomes(opened, no_answer)
        human = (observers["observer"] == "human").to_numpy()
        pairs = list(combinations(range(len(observers)), 2))
        conditions = opened.examples["condition"].to_numpy()[opened.rows("test")]
        kappa, boot = condition_kappas(outcomes.correct, outcomes.valid, conditions, pairs,
                                       n_bootstrap, seed)
        redrawn = model_weights(np.where(human, "human", "model"), n_bootstrap, seed)
        weights = pair_weights(redrawn, *np.transpose(pairs))
        consistency += [{"dataset": dataset, **row} for row in group_kappas(
            kappa, boot, observer_groups(human, pairs), weights=weights)]
        accuracies.append({
            "dataset": dataset, "models": int((~human).sum()), "humans": int(human.sum()),
            "conditions": opened.examples["condition"].nunique(),
            "model accuracy (%)": 100 * outcomes.accuracy[~human].mean(),
            "human accuracy (%)": 100 * outcomes.accuracy[human].mean()})
        between_models = [k for k, (a, b) in enumerate(pairs) if not human[a] and not human[b]]
        model_pairs += [{"dataset": dataset, "a": observers.index[pairs[k][0]],
                         "b": observers.index[pairs[k][1]], "kappa": kappa[k],
                         "accuracy gap": abs(outcomes.accuracy[pairs[k][0]]
                                             - outcomes.accuracy[pairs[k][1]])}
                        for k in between_models]
        samples.append(boot[:, between_models])
        for model_id in observers.index[~human]:
            meta.setdefault(model_id, Methodology.from_meta(observers.loc[model_id]))
    model_pairs = pd.DataFrame(model_pairs)
    model_pairs["category"] = [divergence_category(meta[a], meta[b]) or "undecidable"
                               for a, b in zip(model_pairs["a"], model_pairs["b"])]
    return ModelVsHuman(pd.DataFrame(consistency), pd.DataFrame(accuracies), model_pairs,
                        np.concatenate(samples, axis=1), meta, no_answer, seed)


def no_answer_effect(store: str) -> pd.DataFrame:
    """What each rule of :data:`NO_ANSWER_RULES` gives, set by set (estimates, no resampling).

    Args:
        store: The parent folder of one store per set (filled), relative to the book's
            folder or absolute.

    Returns:
        One row per set: the humans' no-answer trials and trials shown, the human-vs-human
        pairs, and per rule the mean human accuracy (%) and the mean kappa of the
        human-vs-human and model-vs-human pairs.
    """
    path, rows = project_path(store), []
    for dataset in set_stores(path):
        opened = Store(path / dataset)
        human = (opened.models.set_index("model_id").loc[opened.model_ids, "observer"]
                 == "human").to_numpy()
        pairs = list(combinations(range(len(human)), 2))
        groups = observer_groups(human, pairs)
        conditions = opened.examples["condition"].to_numpy()[opened.rows("test")]
        read = {rule: observer_outcomes(opened, rule) for rule in NO_ANSWER_RULES}
        shown, answered = read["error"].valid[human], read["drop"].valid[human]
        row = {"dataset": dataset, "no-answer trials": int((shown & ~answered).sum()),
               "human trials": int(shown.sum()), "human pairs": int((groups == GROUPS[1]).sum())}
        kappas = {rule: condition_kappas(o.correct, o.valid, conditions, pairs, 0, 0)[0]
                  for rule, o in read.items()}
        for rule, outcomes in read.items():
            row[f"human accuracy (%), {rule}"] = 100 * outcomes.accuracy[human].mean()
        for group in GROUPS[1:]:
            for rule, kappa in kappas.items():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # a group without kappa: NaN
                    row[f"kappa {group}, {rule}"] = float(np.nanmean(kappa[groups == group]))
        rows.append(row)
    return pd.DataFrame(rows).set_index("dataset")


def no_answer_text(effect: pd.DataFrame, shown: int = 3) -> Markdown:
    """How much the choice of no-answer rule moves the human figures, in words.

    Args:
        effect: The output of :func:`no_answer_effect`.
        shown: How many sets to name, those where human-vs-human kappa moves most.

    Returns:
        A paragraph with the no-answer trials, the largest moves of human-vs-human
        kappa and of human accuracy.
    """
    error, drop = (f"kappa {GROUPS[1]}, {rule}" for rule in NO_ANSWER_RULES)
    moves = (effect[drop] - effect[error]).abs().sort_values(ascending=False)
    accuracy = (effect["human accuracy (%), drop"] - effect["human accuracy (%), error"]).abs()
    sets = "; ".join(f"{d} {effect.loc[d, error]:.3f} vs {effect.loc[d, drop]:.3f} "
                     f"({effect.loc[d, 'human pairs']} pairs)" for d in moves.index[:shown])
    return Markdown(
        f"Humans gave no answer on {effect['no-answer trials'].sum():,} of "
        f"{effect['human trials'].sum():,} trials over the {len(effect)} sets (from "
        f"{effect['no-answer trials'].min()} to {effect['no-answer trials'].max()} per set). "
        "Counted as errors (the default, model-vs-human's convention) rather than dropped, "
        f"they move the mean human-vs-human kappa most on: {sets} (errors vs dropped); "
        f"over the sets, by {moves.mean():.3f} on average. Human accuracy moves by at most "
        f"{accuracy.max():.1f} points ({accuracy.idxmax()})."
    )


def divergence_verdict(table: pd.DataFrame, kappas: CategoryKappas) -> tuple[str, str, str, str]:
    """Does error consistency fall as divergence rises (the paper's Figure 1)?

    Args:
        table: The ImageNet-X pairs (:func:`pair_table`).
        kappas: The model-vs-human model pairs by category
            (:meth:`ModelVsHuman.by_category`).

    Returns:
        The row of the closing table: claim, paper, this book, verdict.
    """
    decided = table.dropna(subset=["category"])
    categories = [c for c in CATEGORIES if c in set(decided["category"])]
    needed = sorted(set(sum(table["unstated"], [])))
    needed = f"; the others need {', '.join(needed)}" if needed else ""
    verdicts = kappas.verdicts()
    return (
        "error inconsistency rises with divergence (Fig 1)",
        "monotonic from Reinit to Dataset, ImageNet",
        f"ImageNet-X: decidable categories: {', '.join(categories) or 'none'} "
        f"({len(decided)} of {len(table)} pairs{needed}). model-vs-human models (out of "
        "distribution), mean kappa over the sets: "
        + "; ".join(f"{name}: {row['category means']}; {row['most − least divergent']}"
                    for name, row in verdicts.iterrows()),
        ("not testable on ImageNet-X (one decidable category); " if len(categories) < 2 else "")
        + "model-vs-human, kappa falling with divergence: "
        + "; ".join(f"{name}: {row['verdict']}" for name, row in verdicts.iterrows()),
    )


def confound_verdict(inx: ImagenetX, table: pd.DataFrame) -> tuple[str, str, str, str]:
    """How much of error inconsistency the accuracies alone explain.

    Args:
        inx: The opened ImageNet-X store.
        table: The output of :func:`pair_table`.

    Returns:
        The row of the closing table: claim, paper, this book, verdict.
    """
    weak = with_weakest(inx, table)
    accuracy_only_r = np.corrcoef(table["independent"], table["error_inconsistency"])[0, 1]
    reordered = list(table["pair"]) != list(table.sort_values("kappa")["pair"])
    return (
        "kappa beside error inconsistency (the accuracy confound)",
        "not in the paper; its band is 74-78% top-1",
        f"the {weak.sum()} pairs with the most error inconsistency include "
        f"{weak[:weak.sum()].sum()} with the weakest model ({inx.names[inx.weakest]}, "
        f"{100 * inx.accuracy.loc[inx.weakest, 'estimate']:.1f}%); in the band: "
        f"{len(band_pairs(inx, table)[1])} pair(s)",
        "partly: across pairs, error inconsistency correlates with its value under "
        f"independent errors, a function of the accuracies alone (r = {accuracy_only_r:.2f}); "
        "kappa " + ("reorders the pairs" if reordered else "gives the same ranking"),
    )


def specialization_verdict(inx: ImagenetX, ranges: RangeComparison) -> tuple[str, str, str, str]:
    """Do pairs with the reference specialize in the paper's direction (Figure 4)?

    The paper's direction: the reference better on nature classes, the other on
    anthropogenic ones.

    Args:
        inx: The opened ImageNet-X store.
        ranges: The output of :func:`compare_ranges`.

    Returns:
        The row of the closing table: claim, paper, this book, verdict.
    """
    wide, reference = ranges.winners, inx.names[inx.reference]
    mine = wide[[pair.startswith(f"{reference} – ") for pair in wide.index]]
    direction = [pair for pair, row in mine.iterrows() if row["nature"] == reference
                 and row["anthropogenic"] not in (reference, "neither")]
    described = ", ".join(f"{p} ({pair_category(inx, *inx.pair_models[p])[1]})"
                          for p in direction)
    return (
        "more divergent pairs specialize: CLIP better on anthropogenic classes, ResNet-50 on "
        "nature (Fig 4)",
        "yes, ResNet-50 vs CLIP (a Dataset pair)",
        f"{len(ranges.specialized)} of {len(wide)} pairs specialize across the two ranges; "
        f"with {reference}: " + (", ".join(direction) if direction else "none")
        + " in the paper's direction",
        (f"yes in direction for {described}; whether more divergent pairs specialize more "
         "cannot be told without decidable categories above Framework") if direction
        else "no pair with the reference specializes in the paper's direction",
    )


def confidence_verdict(inx: ImagenetX, theta: pd.DataFrame) -> tuple[str, str, str, str]:
    """Is the lone correct model the more confident one (Figure 3)? Not testable here.

    The claim is a difference from seed pairs: a model is more confident when it is
    right, so the share of exactly-one-right images on which the right model is the
    more confident one exceeds 50% even for two seeds of one recipe (see the
    specialization chapter). ImageNet-X gives uncalibrated top-1 probabilities (no
    temperature can be fitted without the full probabilities) and no Reinit pair, so
    shares above 50% test nothing.

    Args:
        inx: The opened ImageNet-X store.
        theta: The output of :func:`theta_table`.

    Returns:
        The row of the closing table: claim, paper, this book, verdict.
    """
    confident = theta["right model more confident (%)"]
    return (
        "the lone correct model is more confident when methods diverge (Fig 3)",
        "theta histograms split by the right model pull apart; not for Reinit",
        f"right model more confident on {confident.min():.0f}-{confident.max():.0f}% of the "
        f"exactly-one-right images for the {len(confident)} pairs with "
        f"{inx.names[inx.reference]}",
        "not testable on imported uncalibrated confidences: above 50% is expected even for "
        "two seeds of one recipe (models are more confident when right), and there is no "
        "Reinit pair to compare with",
    )


def verdict_rows(inx: ImagenetX, table: pd.DataFrame, ranges: RangeComparison,
                 theta: pd.DataFrame, mvh: ModelVsHuman,
                 kappas: CategoryKappas) -> list[tuple[str, str, str, str]]:
    """The rows of the chapter's "Paper vs this book" table.

    Args:
        inx: The opened ImageNet-X store.
        table: The output of :func:`pair_table`.
        ranges: The output of :func:`compare_ranges`.
        theta: The output of :func:`theta_table`.
        mvh: The output of :func:`open_model_vs_human`.
        kappas: The output of :meth:`ModelVsHuman.by_category`.

    Returns:
        (claim, paper, this book, verdict) rows for
        :func:`norep.book.chapter.paper_vs_book`.
    """
    base = inx.accuracy.loc[inx.reference]
    mean = mvh.summary.mean()
    return [
        divergence_verdict(table, kappas),
        confound_verdict(inx, table),
        specialization_verdict(inx, ranges),
        confidence_verdict(inx, theta),
        ("base model accuracy", f"{PAPER_BASE_ACCURACY}% (ResNet-50 with RandAugment)",
         f"{interval_text(base['estimate'], base['low'], base['high'], 1, scale=100)}% "
         f"({inx.names[inx.reference]} of ImageNet-X)",
         f"comparable ({100 * base['estimate'] - PAPER_BASE_ACCURACY:+.1f} points)"),
        ("beyond the paper: humans", "-",
         f"mean kappa model-vs-model {mean[GROUPS[0]]:.2f}, human-vs-human "
         f"{mean[GROUPS[1]]:.2f}, model-vs-human {mean[GROUPS[2]]:.2f} over "
         f"{len(mvh.summary)} sets ({NO_ANSWER_RULES[mvh.no_answer]})", "-"),
    ]
