"""The chapter "Feature overlap" (Fig 6): probes on mixed and compressed embeddings, similarity.

:func:`read_probe_data` reads the embeddings of the base and its partners;
:func:`mix_embeddings`, :func:`compress` and :func:`feature_similarity` compute the
chapter's three sections; :func:`claims` gathers its "Paper vs this book" rows.

Example:
    >>> zoo = open_zoo("runs/fashion_mnist", "cnn-seed0", 0.01)   # doctest: +SKIP
    >>> data = read_probe_data(zoo, seed=0)                       # doctest: +SKIP
    >>> mix_embeddings(data, n_draws=3, n_bootstrap=1000, seed=0).verdicts()  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from IPython.display import Markdown
from matplotlib.figure import Figure
from scipy.stats import spearmanr

from norep.analysis.features import (
    ProbeData,
    ProbeLabels,
    compression_curve,
    features_to_reach,
    mix_gain,
    mixed_probes,
    probe_correct,
    share_accuracies,
)
from norep.analysis.bootstrap import model_weights, nanquantile
from norep.analysis.pairs import pair_metrics
from norep.analysis.power import detectable_difference
from norep.analysis.probes import torch_threads
from norep.analysis.similarity import debiased_cka, linear_cka, mutual_knn
from norep.analysis.verdicts import (
    CANNOT_TELL,
    NO,
    YES,
    CategoryTrend,
    Contrast,
    category_summary,
    category_trend,
    contrast_verdict,
    interval_columns,
    interval_text,
    interval_texts,
    means_text,
)
from norep.book.chapter import ChapterZoo
from norep.book.plots.features import compression_curves, mixed_embeddings
from norep.book.views import zoo_ensembles
from norep.errors import NorepError
from norep.runtime import resolve_device
from norep.store import read_embeddings, read_outcomes
from norep.zoo import CATEGORIES

LEVEL = 0.95
"""Coverage of every interval of the chapter."""

GRID = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
"""L2 strengths every probe of the chapter chooses from (on its held-out rows)."""

HELD_SHARE = 0.2
"""Share of the probe split held out for the choice of the L2 strength."""

PROBE_SPLITS = ("probe", "calibration")
"""Where the probes' training rows come from, the first the store has: its probe split, else
its calibration split (a store of predictions over a validation set, e.g. ImageNet's from
``norep predict``, has no training images); never the test split they are scored on."""

K_FRACTIONS = (1 / 16, 1 / 8, 1 / 4, 1 / 2, 3 / 4, 1.0, 3 / 2, 2.0)
"""Compression: numbers of dimensions kept, as fractions of the base's dimensionality."""

PROBE_THREADS = 1
"""torch threads of the chapter's CPU probes (small: a second thread does not pay)."""

KNN_EXAMPLES = 2000
"""Test examples (a seeded sample) the mutual k-NN alignment is computed on."""

SIMILARITIES = {"linear_cka": "linear CKA", "debiased_cka": "debiased CKA",
                "mutual_knn": "mutual k-NN (k=10)"}
"""The feature-similarity metrics and their labels."""

PAPER_FEATURES = (512 - 2304) / 2048
"""The paper's Fig 6 right, Dataset − Reinit: features needed for 76% (512 vs 2304), in
units of its base's dimensionality (2048); the chapter scales it to its own base's."""


def partner_summary(values: dict[str, np.ndarray], samples: dict[str, np.ndarray] | None, categories: np.ndarray,
                    n_bootstrap: int, seed: int) -> tuple[pd.DataFrame, dict[str, dict[str, np.ndarray]]]:
    """Category means of per-partner values with crossed intervals: partners redrawn within
    their category, and test examples when ``samples`` are given.

    Args:
        values: Per metric, one value per partner (the base's pair with it), shape (P,);
            NaN values are left out.
        samples: Per metric, the values on each example resample, shape (B, P); None when
            the values have none (the intervals then redraw partners only).
        categories: Each partner's category, shape (P,).
        n_bootstrap: Bootstrap samples.
        seed: Seed of the partners' draws.

    Returns:
        :func:`norep.analysis.verdicts.category_summary`'s table and draws.
    """
    categories = np.asarray(categories, dtype=object)
    weights = model_weights(list(categories), n_bootstrap, seed)  # the base's weight is 1: pair = partner
    samples = samples or {m: np.tile(v, (n_bootstrap, 1)) for m, v in values.items()}
    keep = np.all([~np.isnan(np.asarray(v, dtype=float)) for v in values.values()], axis=0)
    return category_summary(values, samples, categories, keep, LEVEL, weights)


def summary_trend(summary: pd.DataFrame, draws: dict[str, dict[str, np.ndarray]], metric: str,
                  increasing: bool, paper_effect: float | None = None, **text) -> CategoryTrend:
    """:func:`norep.analysis.verdicts.category_trend` of one metric of :func:`partner_summary`,
    with the power from its spreads and counts."""
    return category_trend(summary[metric], draws[metric], increasing, level=LEVEL, sds=summary[f"{metric}_sd"],
                          counts=summary[f"{metric}_n"], paper_effect=paper_effect, **text)


@dataclass(frozen=True)
class EmbeddingData:
    """The embeddings the chapter probes: the base's and its partners', on three splits.

    Attributes:
        zoo: The chapter's zoo.
        data: Per model (the base first, then partners Reinit to Dataset), its features
            on the probe's training and held-out rows and on the test split.
        labels: The labels of those rows.
        without: Partners without stored embeddings (e.g. scikit-learn models).
        device: The torch device of the probes.
        l2: The L2 strength of every probe: chosen for the base's own probe.
        base_correct: Whether the base's own probe is right on each test example.
        split: The split the probes were trained on (see :data:`PROBE_SPLITS`).
    """

    zoo: ChapterZoo
    data: dict[str, ProbeData]
    labels: ProbeLabels
    without: list[str]
    device: str
    l2: float
    base_correct: np.ndarray
    split: str

    @property
    def partners(self) -> list[str]:
        """Partners with embeddings, Reinit to Dataset."""
        return list(self.data)[1:]

    def category(self, model: str) -> str:
        """The partner's divergence category."""
        return self.zoo.roster.table.loc[model, "category"]

    def shown(self) -> Markdown:
        """Which models have embeddings, their dimensions, and the rows of each split."""
        names, labels = self.zoo.names, self.labels
        dims = ", ".join(f"{names[m]} {d.dim}" for m, d in self.data.items())
        return Markdown(
            f"Embeddings (dimensions): {dims}. Without embeddings, left out: "
            f"{', '.join(names[m] for m in self.without) or 'none'}. Probe rows"
            + ("" if self.split == "probe" else f" (the store has no probe split: its {self.split} split)")
            + ": "
            f"{len(labels.train)} for training, {len(labels.held)} held out for the L2 choice; "
            f"scored on {len(labels.test)} test examples ({labels.n_classes} classes; device "
            f"{self.device}). The base's own probe: L2 strength {self.l2:g}, test accuracy "
            f"{100 * self.base_correct.mean():.2f}%.")


def read_probe_data(zoo: ChapterZoo, seed: int, device: str = "cpu") -> EmbeddingData:
    """Read the embeddings of the base and every partner that has them.

    The store's ``probe`` split (or, without one, its ``calibration`` split: see
    :data:`PROBE_SPLITS`) is shuffled (seeded) and split into training rows and
    :data:`HELD_SHARE` held-out rows; probes are scored on the ``test`` split. The base's
    own probe chooses the L2 strength from :data:`GRID` on the held-out rows; every
    other probe of the chapter reuses it (one fit each).

    Args:
        zoo: The chapter's zoo.
        seed: Seed of the held-out rows.
        device: "cpu", "cuda", "auto", ...

    Returns:
        The embeddings; a base without embeddings, or a store with neither split, is an
        error.
    """
    store, roster = zoo.store, zoo.roster
    if not store.has_array(roster.base, "embeddings"):
        raise NorepError(f"the base {roster.base} has no embeddings in {store.path}: no probes")
    split = next((s for s in PROBE_SPLITS if s in set(store.examples["split"])), None)
    if split is None:
        raise NorepError(f"{store.path} has neither a probe nor a calibration split: probes are never trained "
                         "on the test split; add one of those splits to the store")
    labels = store.labels(split)
    order = np.random.default_rng(seed).permutation(len(labels))
    held, train = np.sort(order[:int(HELD_SHARE * len(order))]), np.sort(order[int(HELD_SHARE * len(order)):])
    with_embeddings = [m for m in [roster.base, *roster.partners] if store.has_array(m, "embeddings")]
    data = {}
    for m in with_embeddings:
        probe = read_embeddings(store, m, split)
        data[m] = ProbeData(probe[train], probe[held], read_embeddings(store, m, "test"))
    probe_labels = ProbeLabels(labels[train], labels[held], store.labels("test"), len(store.classes))
    device = resolve_device(device)
    with torch_threads(PROBE_THREADS):
        correct, probe = probe_correct(data[roster.base], probe_labels, GRID, device)
    return EmbeddingData(zoo, data, probe_labels, [m for m in roster.partners if m not in data],
                         device, probe.l2, correct, split)


@dataclass(frozen=True)
class Mixes:
    """Probes on mixes of the base's and each partner's dimensions (Fig 6 left and center).

    Attributes:
        embeddings: The embeddings probed.
        probes: One row per (partner, share, draw): ``partner``, ``category``, ``share``,
            ``draw``, ``n_base``, ``n_other``, ``l2`` and test ``accuracy``.
        table: One row per partner (indexed by id): ``category``, the accuracy at each
            share (mean over draws), ``gain`` with interval columns, ``beats_both``.
        summary: Mean gain per category with its crossed interval (partners redrawn
            within their category, and test examples; ``category_summary``).
        draws: The category means of the gain on every crossed sample.
        n_draws: Draws of dimensions per share.
        n_bootstrap: Bootstrap resamples.
    """

    embeddings: EmbeddingData
    probes: pd.DataFrame
    table: pd.DataFrame
    summary: pd.DataFrame
    draws: dict[str, np.ndarray]
    n_draws: int
    n_bootstrap: int

    def shown(self) -> pd.DataFrame:
        """Each partner's accuracies (%) by share and the 50/50 gain with its interval."""
        names, table = self.embeddings.zoo.names, self.table
        shares = [c for c in table if isinstance(c, float)]
        return pd.DataFrame({
            "partner": [names[m] for m in table.index], "category": table["category"],
            **{f"{100 * s:.0f}/{100 - 100 * s:.0f} (%)": (100 * table[s]).round(2) for s in shares},
            "50/50 − better alone (points)": interval_texts(table, "gain", 2, scale=100, sign=True),
        }).set_index("partner")

    def figure(self) -> Figure:
        """Accuracy against the base's share, and the mean gain per category."""
        curves = self.probes.groupby(["partner", "category", "share"], as_index=False)["accuracy"].mean()
        return mixed_embeddings(curves, self.summary, title=(
            f"Mixed embeddings ({self.n_draws} draws per share; {LEVEL:.0%} intervals, {self.n_bootstrap} "
            f"resamples: pairs over test examples only, categories crossed over partners and examples)"))

    def trend(self) -> CategoryTrend:
        """The verdict on the mean gain's rise from Reinit to Dataset (crossed interval, power)."""
        return summary_trend(self.summary, self.draws, "gain", True, scale=100, digits=2)

    def beats_better(self) -> tuple[str, list[Contrast]]:
        """Per category, the mean gain of the 50/50 mix over the better model alone, by the
        book's rule (crossed interval, power), and the verdict over all categories: "yes"
        when every category's is, "no" when one's is, else "cannot tell at this size"."""
        contrasts = [contrast_verdict(f"{category}: 50/50 − better alone", row["gain"], self.draws["gain"][category],
                                      detectable_difference(row["gain_sd"], int(row["gain_n"]), 0.0, 2),
                                      level=LEVEL, scale=100, digits=2)
                     for category, row in self.summary.iterrows()]
        words = {c.verdict for c in contrasts}
        return (YES if words == {YES} else NO if NO in words else CANNOT_TELL), contrasts

    def verdicts(self) -> Markdown:
        """Whether mixes beat both models, and whether the gain grows with divergence."""
        beats, trend = self.table["beats_both"], self.trend()
        verdict, contrasts = self.beats_better()
        lines = "\n".join(f"- {c.text} (points): {c.verdict}" for c in contrasts)
        return Markdown(
            f"Does the 50/50 mix beat the better model alone? **{verdict}**, by category (crossed "
            f"intervals, power):\n\n{lines}\n\nPer pair (example-only intervals above 0): "
            f"{int(beats.sum())} of {len(beats)} partners. Mean gain per category (points): "
            f"{trend.text}. Rises with divergence? {trend.verdict}.")


def mix_embeddings(embeddings: EmbeddingData, n_draws: int, n_bootstrap: int, seed: int) -> Mixes:
    """Probe every partner's mixes with the base; gains with intervals, per category.

    The budget of a pair is the smaller of the two dimensionalities (at most the
    base's). Accuracies average the draws of dimensions; a pair's interval resamples the
    test examples (paired across partners and shares), not the draws; a category's
    interval also redraws the partners within their category.

    Args:
        embeddings: The embeddings.
        n_draws: Draws of dimensions per share.
        n_bootstrap: Bootstrap resamples of the test examples.
        seed: Seed of the draws and of the resampling.

    Returns:
        The mixes.
    """
    base, cache = embeddings.zoo.roster.base, {}
    probes, values, samples = [], {}, {}
    for index, partner in enumerate(embeddings.partners):
        with torch_threads(PROBE_THREADS):
            table, correct = mixed_probes(
                embeddings.data[base], embeddings.data[partner], embeddings.labels, n_draws,
                [seed, index], device=embeddings.device, cache=cache, names=(base, partner),
                l2=embeddings.l2)
        probes.append(table.assign(partner=partner, category=embeddings.category(partner)))
        accuracy, boot = share_accuracies(table, correct, n_bootstrap, seed)
        values[partner], samples[partner] = accuracy, boot
    partners = embeddings.partners
    shares = list(values[partners[0]].index)
    gain = np.array([mix_gain(values[p].to_numpy(), shares) for p in partners])
    gain_samples = np.stack([mix_gain(samples[p], shares) for p in partners], axis=1)
    table = pd.DataFrame([values[p] for p in partners], index=pd.Index(partners, name="model_id"))
    table.insert(0, "category", [embeddings.category(p) for p in partners])
    table = table.join(interval_columns({"gain": gain}, {"gain": gain_samples}, LEVEL, table.index))
    table["beats_both"] = table["gain_low"] > 0
    summary, draws = partner_summary({"gain": gain}, {"gain": gain_samples}, table["category"].to_numpy(),
                                     n_bootstrap, seed)
    return Mixes(embeddings, pd.concat(probes, ignore_index=True), table, summary, draws,
                 n_draws, n_bootstrap)


@dataclass(frozen=True)
class Compression:
    """Compression curves of base + partner embeddings ranked by diversity (Fig 6 right).

    Attributes:
        embeddings: The embeddings probed.
        curves: One row per (partner, k): ``partner``, ``category``, ``k``, ``l2``,
            ``accuracy``.
        target: The accuracy to reach: the base's own probe on all its dimensions.
        needed: Per partner (indexed by id): ``category`` and ``features`` (the fewest
            k reaching the target; NaN when none does).
        summary: Mean features needed per category over the partners reaching the
            target, with intervals from redrawing the partners within their category
            (one probe curve per pair: no example resampling).
        draws: Those category means on every sample.
    """

    embeddings: EmbeddingData
    curves: pd.DataFrame
    target: float
    needed: pd.DataFrame
    summary: pd.DataFrame
    draws: dict[str, dict[str, np.ndarray]]

    def figure(self) -> Figure:
        """Accuracy of the top-k dimensions against k, one line per partner."""
        return compression_curves(self.curves, self.target, title=(
            f"Top-k dimensions of base + partner (target {100 * self.target:.2f}%: the base alone)"))

    def by_category(self) -> pd.DataFrame:
        """Features needed to reach the target, per category: mean, range, partners reaching it."""
        needed = self.needed.groupby("category", sort=False)["features"]
        return pd.DataFrame({
            "partners": needed.size(), "reaching the target": needed.count(),
            "features needed (mean)": needed.mean().round(1),
            "min": needed.min(), "max": needed.max(),
        }).reindex([c for c in CATEGORIES if c in set(self.needed["category"])])

    @property
    def paper_effect(self) -> float:
        """The paper's Dataset − Reinit difference in features needed, scaled to this base's dimensionality."""
        return PAPER_FEATURES * self.embeddings.data[self.embeddings.zoo.roster.base].dim

    def trend(self) -> CategoryTrend:
        """The verdict on fewer features needed with divergence, against the paper's scaled effect."""
        return summary_trend(self.summary, self.draws, "features", False, self.paper_effect, digits=1)

    def verdicts(self) -> Markdown:
        """The category means of the features needed, the verdict and the paper's scaled effect."""
        trend, dim = self.trend(), self.embeddings.data[self.embeddings.zoo.roster.base].dim
        return Markdown(
            f"Features needed per category (partners reaching the target): {trend.text}. The paper's "
            f"Dataset − Reinit, {PAPER_FEATURES:+.3f} × its base's 2048 dimensions, is "
            f"{self.paper_effect:+.1f} features at this base's {dim}. Fewer with divergence? {trend.verdict}.")


def compress(embeddings: EmbeddingData, n_bootstrap: int = 1000, seed: int = 0) -> Compression:
    """Rank each base + partner concatenation by diversity and probe its top-k dimensions.

    Args:
        embeddings: The embeddings.
        n_bootstrap: Bootstrap samples of the category means' intervals (partners redrawn).
        seed: Seed of the partners' draws.

    Returns:
        The curves and, per partner, the features needed to reach the base's accuracy.
    """
    base = embeddings.zoo.roster.base
    target = float(embeddings.base_correct.mean())
    dim = embeddings.data[base].dim
    curves, needed = [], []
    for partner in embeddings.partners:
        data = ProbeData.stack([embeddings.data[base], embeddings.data[partner]])
        ks = sorted({min(round(f * dim), data.dim) for f in K_FRACTIONS})
        with torch_threads(PROBE_THREADS):
            curve = compression_curve(data, embeddings.labels, ks, device=embeddings.device,
                                      l2=embeddings.l2)
        curves.append(curve.assign(partner=partner, category=embeddings.category(partner)))
        needed.append({"model_id": partner, "category": embeddings.category(partner),
                       "features": features_to_reach(curve, target)})
    needed = pd.DataFrame(needed).set_index("model_id")
    summary, draws = partner_summary({"features": needed["features"].to_numpy(dtype=float)}, None,
                                     needed["category"].to_numpy(), n_bootstrap, seed)
    return Compression(embeddings, pd.concat(curves, ignore_index=True), target, needed, summary, draws)


@dataclass(frozen=True)
class Similarity:
    """Feature similarity of the base with each partner, and what it says about ensembles.

    Attributes:
        embeddings: The embeddings compared.
        table: One row per partner (indexed by id): ``category``, each metric of
            :data:`SIMILARITIES`, ``error_inconsistency`` and ``ensemble_gain`` (the
            two-model ensemble's accuracy minus the members' mean, temperature-scaled).
        n_bootstrap: Samples of the category means' intervals (partners redrawn within
            their category; the test examples are not resampled).
        seed: Seed of the partners' draws.
    """

    embeddings: EmbeddingData
    table: pd.DataFrame
    n_bootstrap: int = 1000
    seed: int = 0

    def shown(self) -> pd.DataFrame:
        """The table with display names, rounded."""
        names = self.embeddings.zoo.names
        return self.table.rename(index=names).rename(columns={
            **SIMILARITIES, "error_inconsistency": "error inconsistency",
            "ensemble_gain": "ensemble gain"}).round(3)

    def means(self) -> pd.DataFrame:
        """Mean of every column per category, Reinit to Dataset."""
        present = [c for c in CATEGORIES if c in set(self.table["category"])]
        return self.table.groupby("category").mean(numeric_only=True).reindex(present)

    def trends(self) -> pd.DataFrame:
        """The verdict on each similarity's fall (and error inconsistency's rise) with divergence,
        with intervals from redrawing partners within their category, and the power."""
        metrics = {**SIMILARITIES, "error_inconsistency": "error inconsistency"}
        summary, draws = partner_summary({m: self.table[m].to_numpy(dtype=float) for m in metrics}, None,
                                         self.table["category"].to_numpy(), self.n_bootstrap, self.seed)
        rows = {label: summary_trend(summary, draws, m, m == "error_inconsistency") for m, label in metrics.items()}
        return pd.DataFrame({"category means": {k: means_text(t.means, 3) for k, t in rows.items()},
                             "most − least divergent": {k: t.difference or "-" for k, t in rows.items()},
                             "verdict": {k: t.verdict for k, t in rows.items()}})

    def predicts_gain(self, level: float = 0.95) -> pd.DataFrame:
        """Spearman's rank correlation of each pair measure with the ensemble gain, with an
        interval from redrawing the partners (the pairs share the base, so no p-value)."""
        table = self.table
        draws = np.random.default_rng([self.seed, 2]).integers(0, len(table), size=(self.n_bootstrap, len(table)))
        tail = (1 - level) / 2
        rows = {}
        for m, label in {**SIMILARITIES, "error_inconsistency": "error inconsistency"}.items():
            x, y = table[m].to_numpy(dtype=float), table["ensemble_gain"].to_numpy(dtype=float)
            samples = np.array([rank_correlation(x[d], y[d]) for d in draws])
            low, high = nanquantile(samples, (tail, 1 - tail))
            rows[label] = interval_text(rank_correlation(x, y), low, high, 2, sign=True)
        return pd.DataFrame({"Spearman rho with ensemble gain [partners redrawn]": rows})


def rank_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho of two samples; NaN, without a warning, when either is constant.

    Example:
        >>> rank_correlation(np.array([1, 2, 3]), np.array([0.1, 0.3, 0.2])), rank_correlation(np.ones(3), [1, 2, 3])
        (0.5, nan)
    """
    return float(spearmanr(x, y).statistic) if np.ptp(x) > 0 and np.ptp(y) > 0 else np.nan


def feature_similarity(embeddings: EmbeddingData, seed: int, n_bootstrap: int = 1000) -> Similarity:
    """Similarity of the base's and each partner's test embeddings, beside error
    inconsistency and ensemble gain.

    Linear and debiased CKA use every test example; the mutual k-NN alignment a seeded
    sample of :data:`KNN_EXAMPLES` of them.

    Args:
        embeddings: The embeddings.
        seed: Seed of the k-NN sample and of the partners' draws.
        n_bootstrap: Samples of the category means' intervals.

    Returns:
        The similarity table.
    """
    zoo, models = embeddings.zoo, list(embeddings.data)
    features = [embeddings.data[m].test for m in models]
    n = len(features[0])
    sample = np.sort(np.random.default_rng(seed).choice(n, min(KNN_EXAMPLES, n), replace=False))
    values = {"linear_cka": linear_cka(features), "debiased_cka": debiased_cka(features),
              "mutual_knn": mutual_knn([f[sample] for f in features])}
    outcomes = read_outcomes(zoo.store, "test", models)
    inconsistency = pair_metrics(outcomes.correct, None, outcomes.valid, ("error_inconsistency",))
    ensembles = zoo_ensembles(zoo.store, models)
    table = pd.DataFrame({"category": [embeddings.category(m) for m in models[1:]],
                          **{m: v[0, 1:] for m, v in values.items()},
                          "error_inconsistency": inconsistency["error_inconsistency"][0, 1:],
                          "ensemble_gain": ensembles.improvement[0, 1:]},
                         index=pd.Index(models[1:], name="model_id"))
    return Similarity(embeddings, table, n_bootstrap, seed)


def claims(mixes: Mixes, compression: Compression, similarity: Similarity) -> list[tuple[str, str, str, str]]:
    """The rows of the chapter's "Paper vs this book" table.

    Args:
        mixes: The mixed-embedding probes.
        compression: The compression curves.
        similarity: The feature similarities.

    Returns:
        (claim, the paper, this book, verdict) rows for
        :func:`norep.book.chapter.paper_vs_book`.
    """
    beats, trend = mixes.table["beats_both"], mixes.trend()
    verdict, contrasts = mixes.beats_better()
    needed = compression.by_category()["features needed (mean)"]
    monotone = similarity.trends()
    rho = similarity.predicts_gain().iloc[:, 0]
    fewer = compression.trend()
    dim = compression.embeddings.data[compression.embeddings.zoo.roster.base].dim
    reached = ", ".join(f"{c} {v:.0f}" for c, v in needed.dropna().items())
    return [
        ("Fig 6 left: mixes beat either model", "yes, for every category",
         "; ".join(c.text for c in contrasts) + f" (points; per pair, example-only: {int(beats.sum())} of "
         f"{len(beats)} partners above)", verdict),
        ("Fig 6 center: the mix's gain grows with divergence", "yes, largest for CLIP-S (Dataset)",
         trend.text + " (points)", trend.verdict),
        ("Fig 6 right: features to reach the target (fewer with divergence)",
         "76%: Reinit 2304, Hyper 2057, Arch 1392, Dataset 512 (of 4096); Dataset − Reinit = "
         f"{PAPER_FEATURES:+.3f} × the base's dimensionality",
         (f"{100 * compression.target:.2f}% (the base alone): {reached or 'never reached'} "
          f"(of {dim} + the partner's; mean over partners); "
          + (fewer.difference or "fewer than two categories reach it")), fewer.verdict),
        ("feature similarity falls with divergence", "not measured (probes only)",
         monotone.loc["linear CKA", "category means"] + "; " + monotone.loc["linear CKA", "most − least divergent"],
         monotone.loc["linear CKA", "verdict"]),
        ("similarity predicts ensemble gain", "not measured", "Spearman rho [partners redrawn]: " + ", ".join(
            f"{k} {v}" for k, v in rho.items()), "-"),
    ]


# Exercises: the questions and their worked solutions (the chapter's "Exercises" section).


def similarity_ranking(similarity: Similarity) -> pd.DataFrame:
    """Every partner from the least to the most similar to the base (linear CKA), with
    the rank of its two-model ensemble gain.

    Args:
        similarity: The table of :func:`feature_similarity`.

    Returns:
        One row per partner: category, linear CKA, error inconsistency, ensemble gain
        (points) and the gain's rank (1 = the largest gain).
    """
    table = similarity.table.sort_values("linear_cka", kind="stable")
    gain_rank = similarity.table["ensemble_gain"].rank(ascending=False, method="min").astype(int)
    return pd.DataFrame({
        "category": table["category"], "linear CKA": table["linear_cka"].round(3),
        "error inconsistency": table["error_inconsistency"].round(3),
        "ensemble gain (points)": (100 * table["ensemble_gain"]).round(2),
        "rank of the gain": gain_rank[table.index]}).rename(index=similarity.embeddings.zoo.names).rename_axis(
        "partner")


def mix_ranking(mixes: Mixes) -> pd.DataFrame:
    """Every partner ranked by how much its 50/50 mix with the base beats the better of the two.

    Args:
        mixes: The mixes of :func:`mix_embeddings`.

    Returns:
        One row per partner, the largest gain first: category, the gain (points) with its
        interval over the test examples, and whether the mix beats both models (the
        interval above 0).
    """
    table = mixes.table.sort_values("gain", ascending=False, kind="stable")
    return pd.DataFrame({
        "category": table["category"],
        "50/50 − better alone (points)": interval_texts(table, "gain", 2, scale=100, sign=True),
        "beats both": table["beats_both"].map({True: "yes", False: "no"}),
    }).rename(index=mixes.embeddings.zoo.names).rename_axis("partner")
