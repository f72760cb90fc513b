"""The chapter "Downstream transfer" (Fig 7): single and stacked embeddings on other data.

:func:`downstream_transfer` embeds each downstream set with every neural member of the
zoo (:mod:`norep.producers.downstream`, cached), runs the linear evaluations of
:mod:`norep.analysis.transfer` and returns an object whose methods give the chapter's
tables, figures and "Paper vs this book" rows.

Example:
    >>> zoo = open_zoo("runs/fashion_mnist", "cnn-seed0", 0.01)                   # doctest: +SKIP
    >>> transfer = downstream_transfer(zoo, ["sklearn-digits"], None, 0, 1000, "cpu")  # doctest: +SKIP
    >>> transfer.summary()                                                        # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Markdown
from matplotlib.figure import Figure

from norep.analysis.power import detectable_from_interval
from norep.analysis.transfer import (
    BestComparison,
    LinearEvaluation,
    PairEvaluation,
    best_single_vs_pair,
    downstream_rank,
    linear_evaluation,
    ranking_evaluation,
)
from norep.analysis.verdicts import CANNOT_TELL, NO, YES, interval_text, power_text
from norep.book.chapter import ChapterZoo
from norep.book.plots.downstream import pair_accuracy_heatmaps, upstream_vs_downstream
from norep.datasets.downstream import (
    DownstreamData,
    downstream_splits,
    load_downstream,
    open_downstream_folder,
    stratified_sample,
)
from norep.datasets.image_folders import ImageSet, MultiLabelSet, is_multilabel_folder, open_multilabel_folder
from norep.errors import NorepError
from norep.runtime import resolve_device
from norep.store import read_outcomes

with warnings.catch_warnings():  # the trainers' tqdm.auto warns in a kernel without ipywidgets
    warnings.filterwarnings("ignore", message="IProgress not found")
    from norep.producers.downstream import (
        check_mini_zoo,
        downstream_embeddings,
        embedded_models,
        is_mini_zoo,
    )

LEVEL = 0.95
"""Coverage of every interval of the chapter."""


@dataclass(frozen=True)
class SetResult:
    """One downstream set's linear evaluations.

    Attributes:
        source: Where its images come from, in words.
        sizes: Examples in the "train", "held_out" and "test" parts.
        evaluation: Probes of every single embedding and every pair (scored by top-1
            accuracy, or by 11-point mAP for a multi-label set).
        best: The best pair against the best single model.
    """

    source: str
    sizes: dict[str, int]
    evaluation: PairEvaluation
    best: BestComparison

    @property
    def label(self) -> str:
        """The test score with its unit, e.g. "test top-1 accuracy (%)"."""
        return f"test {self.evaluation.metric} (%)"


@dataclass(frozen=True)
class Transfer:
    """The chapter's results: every neural member's embeddings probed on each downstream set.

    Attributes:
        zoo: The chapter's zoo.
        models: The members with a network (base first), in the evaluations' order.
        without: The members without a network (no embeddings to transfer).
        upstream: Each model's upstream (store) test accuracy.
        results: Per downstream set, its evaluations (empty when there is a problem).
        problem: Why nothing was evaluated (None when all went well).
        n_bootstrap: Bootstrap resamples of every interval.
    """

    zoo: ChapterZoo
    models: list[str]
    without: list[str]
    upstream: np.ndarray
    results: dict[str, SetResult] = field(default_factory=dict)
    problem: str | None = None
    n_bootstrap: int = 0

    def _name(self, index: int) -> str:
        return self.zoo.names[self.models[index]]

    def _pair_name(self, result: SetResult, pair: int) -> str:
        a, b = result.evaluation.pairs[pair]
        return f"{self._name(a)} + {self._name(b)}"

    def members(self) -> Markdown:
        """Which members are evaluated, which have no embeddings, and the downstream parts."""
        if self.problem:
            return Markdown(f"Nothing to evaluate: {self.problem}.")
        names = self.zoo.names
        lines = [f"Members with a network, evaluated: {len(self.models)} "
                 f"({len(self.models) * (len(self.models) - 1) // 2} pairs). Members without "
                 f"embeddings (not neural), listed only: "
                 f"{', '.join(names[m] for m in self.without) or 'none'}."]
        lines += [f"- **{name}**: {result.source}; " + ", ".join(
            f"{n} {part.replace('_', '-')}" for part, n in result.sizes.items()) + " examples."
            for name, result in self.results.items()]
        return Markdown("\n".join(lines))

    def singles(self) -> pd.DataFrame | None:
        """One row per model: group, band, upstream accuracy, each set's downstream score
        (accuracy or mAP) and rank; None when nothing was evaluated."""
        if not self.results:
            return None
        roster = self.zoo.roster.table.loc[self.models]
        table = pd.DataFrame({"model": [self._name(k) for k in range(len(self.models))],
                              "group": roster["group"].to_numpy(),
                              "in the band": roster["in_band"].map({True: "yes", False: "no"}).to_numpy(),
                              "upstream test accuracy (%)": (100 * self.upstream).round(1)})
        for name, result in self.results.items():
            score = pd.Series(result.evaluation.single_score)
            table[f"{name} {result.evaluation.metric} (%)"] = (100 * score).round(1)
            table[f"{name} rank"] = score.rank(ascending=False, method="min").astype(int)
        return table.set_index("model")

    def figure(self) -> Figure | None:
        """Fig 7: test score of every pair (singles on the diagonal), per downstream set."""
        if not self.results:
            return None
        names = [self._name(k) for k in range(len(self.models))]
        return pair_accuracy_heatmaps(
            {name: pd.DataFrame(100 * r.evaluation.pair_matrix(), names, names)
             for name, r in self.results.items()},
            "Linear evaluation of single (diagonal) and stacked embeddings",
            {name: r.label for name, r in self.results.items()})

    def ranks_figure(self) -> Figure | None:
        """Downstream score against upstream accuracy of the single models, per downstream set."""
        if not self.results:
            return None
        groups = self.zoo.roster.table.loc[self.models, "group"].to_numpy()
        table = pd.concat([pd.DataFrame({
            "set": name, "model": [self._name(k) for k in range(len(self.models))],
            "group": groups, "upstream": 100 * self.upstream,
            "downstream": 100 * r.evaluation.single_score}) for name, r in self.results.items()])
        return upstream_vs_downstream(table, "Is the best upstream model the best downstream?",
                                      {name: f"downstream {r.label}" for name, r in self.results.items()})

    def summary(self) -> pd.DataFrame | None:
        """One row per downstream set: best single, best pair, gain, the best upstream model's
        rank; None when nothing was evaluated."""
        if not self.results:
            return None
        rows = []
        for name, result in self.results.items():
            best, evaluation = result.best, result.evaluation
            top, rank = downstream_rank(self.upstream, evaluation.single_score)
            gains = evaluation.pair_gains()
            rows.append({
                "downstream set": name,
                "score": result.label,
                "best single (held-out choice)": f"{self._name(best.single)}: "
                                                 f"{100 * best.single_score:.1f}",
                "best pair (held-out choice)": f"{self._pair_name(result, best.pair)}: "
                                               f"{100 * best.pair_score:.1f}",
                "gain (points, 95% interval)": interval_text(best.gain, best.low, best.high,
                                                             scale=100, sign=True),
                "pairs above their better member": f"{int(np.sum(gains > 0))} of {len(gains)}",
                "best upstream model: downstream rank":
                    f"{self._name(top)}: {rank} of {len(self.models)}",
                "Spearman upstream vs downstream": round(float(pd.Series(self.upstream).corr(
                    pd.Series(evaluation.single_score), method="spearman")), 2),
            })
        return pd.DataFrame(rows).set_index("downstream set")

    def claims(self) -> list[tuple[str, str, str, str]]:
        """The rows of the chapter's "Paper vs this book" table (a multi-label set is compared
        with the paper's Pascal VOC mAP in the same unit)."""
        if not self.results:
            return [("Fig 7: downstream linear evaluation", "Pascal VOC, 11-point mAP",
                     f"not measured: {self.problem}", "-")]
        rows, metrics = [], {}
        for name, result in self.results.items():
            metrics.setdefault(result.evaluation.metric, []).append(name)
            best = result.best
            verdict = YES if best.low > 0 else (NO if best.high < 0 else CANNOT_TELL)
            unit = "%" if isinstance(result.evaluation, LinearEvaluation) else f" {result.evaluation.metric}"
            rows.append((f"Fig 7, {name}: best mix beats the best single model",
                         "91.4 vs 90.7 mAP (+0.7; Pascal VOC)",
                         f"{100 * best.pair_score:.1f} vs {100 * best.single_score:.1f}{unit} "
                         f"(gain {interval_text(best.gain, best.low, best.high, scale=100, sign=True)}; "
                         f"{power_text(detectable_from_interval(best.low, best.high), 1, scale=100)})",
                         verdict))
            top, rank = downstream_rank(self.upstream, result.evaluation.single_score)
            rows.append((f"Fig 7, {name}: the best upstream model is not the best downstream",
                         "yes (the best ImageNet model is not best on VOC)",
                         f"{self._name(top)} ranks {rank} of {len(self.models)}",
                         "yes" if rank > 1 else "no"))
        rows.append(("downstream data", "Pascal VOC 2007 (11-point mAP)",
                     "; ".join(f"{', '.join(names)} ({metric})" for metric, names in metrics.items()), "-"))
        return rows


def downstream_transfer(zoo: ChapterZoo, datasets: list[str], size: int | None, seed: int,
                        n_bootstrap: int, device: str, cache: str | Path | None = None,
                        level: float = LEVEL, folder: str | Path | None = None) -> Transfer:
    """Embed each downstream set with every member that has a network and run its linear evaluations.

    A mini-zoo store's networks embed the digit sets ``datasets``; a store of pretrained
    (timm, open_clip) models embeds the image folder ``folder`` instead: single-label
    (one sub-folder per class, scored by top-1 accuracy) or multi-label (a
    ``labels.csv`` or a Pascal VOC folder, :func:`norep.datasets.image_folders.open_multilabel_folder`,
    scored by 11-point mAP with VOC's difficult labels ignored).

    Args:
        zoo: The chapter's zoo.
        datasets: Downstream digit sets of a mini-zoo store
            (:data:`norep.datasets.downstream.LOADERS`).
        size: At most this many examples per set, a seeded class-stratified sample
            (None: all).
        seed: Seed of the sample, the parts and the bootstrap.
        n_bootstrap: Bootstrap resamples of the gain's interval.
        device: Torch device of the probes and of the folder's forward passes ("auto",
            "cpu", "cuda", ...).
        cache: Folder of the embedding cache (default ``<norep cache>/downstream``).
        level: Coverage of the intervals.
        folder: A downstream image folder, for a store of pretrained models.

    Returns:
        The results; on a store whose models cannot embed the requested sets (an
        imported store, a pretrained zoo without ``folder``) or with fewer than two
        networks, ``problem`` says why and nothing is evaluated.
    """
    roster = zoo.roster
    members = [roster.base, *roster.partners]
    models, without = embedded_models(zoo.store, members)
    upstream = read_outcomes(zoo.store, "test", models).accuracy if models else np.zeros(0)
    transfer = Transfer(zoo, models, without, upstream, n_bootstrap=n_bootstrap)
    try:
        sets = downstream_sets(zoo, datasets, folder)
        if len(models) < 2:
            raise NorepError(f"{len(models)} member(s) with a network; pairs need two")
    except NorepError as error:
        return Transfer(zoo, models, without, upstream, problem=str(error), n_bootstrap=n_bootstrap)
    device = resolve_device(device)
    for data in sets:
        if size is not None and size < len(data.labels):
            data = data.take(stratified_sample(strata(data), size, seed))
        given = data.given_parts() if isinstance(data, MultiLabelSet) else None
        parts = given or downstream_splits(strata(data), seed)
        embedded = downstream_embeddings(zoo.store, models, data, cache, device)
        embeddings = [embedded[m] for m in models]
        if isinstance(data, MultiLabelSet):
            evaluation = ranking_evaluation(embeddings, data.labels, parts, data.difficult, device=device)
        else:
            evaluation = linear_evaluation(embeddings, data.labels, parts, device=device)
        transfer.results[data.name] = SetResult(
            describe(data), {p: len(v) for p, v in parts.items()}, evaluation,
            best_single_vs_pair(evaluation, n_bootstrap, seed, level))
    return transfer


def downstream_sets(zoo: ChapterZoo, datasets: list[str],
                    folder: str | Path | None) -> list[DownstreamData | ImageSet]:
    """Return the downstream sets the store's models can embed: the digit sets for a mini
    zoo, the image folder for a store of pretrained models.

    Raises:
        NorepError: For a mini zoo given a folder, or another store without one.
    """
    if is_mini_zoo(zoo.store):
        if folder is not None:
            raise NorepError("a downstream image folder is embedded only by pretrained ImageNet models; "
                             "the mini zoo's networks embed the digit sets (downstream=[...])")
        return [load_downstream(name) for name in datasets]
    if folder is None:
        check_mini_zoo(zoo.store)  # raises, naming the folder to pass
    return [open_multilabel_folder(folder) if is_multilabel_folder(folder) else open_downstream_folder(folder)]


def strata(data: DownstreamData | ImageSet) -> np.ndarray:
    """What samples and seeded splits keep the shares of: the class of each example, or one
    stratum for a multi-label set (a plain seeded shuffle)."""
    return data.labels if data.labels.ndim == 1 else np.zeros(len(data.labels), dtype=np.int64)


def describe(data: DownstreamData | ImageSet) -> str:
    """Where a downstream set's images come from, in words."""
    if isinstance(data, MultiLabelSet):
        difficult = 0 if data.difficult is None else int(data.difficult.sum())
        return (f"the multi-label folder {data.root} ({len(data.classes)} classes, "
                f"{data.labels.sum(axis=1).mean():.1f} per image, {difficult} difficult labels ignored "
                f"when scoring; {'the folder' if data.parts else 'a seeded shuffle'} gives the parts)")
    if isinstance(data, ImageSet):
        return f"the image folder {data.root} ({len(data.classes)} classes, one sub-folder each)"
    return data.source
