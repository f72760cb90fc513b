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
from norep.analysis.pairs import pair_metrics
from norep.analysis.probes import torch_threads
from norep.analysis.similarity import debiased_cka, linear_cka, mutual_knn
from norep.analysis.verdicts import (
    category_summary,
    category_trend,
    interval_columns,
    interval_texts,
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

K_FRACTIONS = (1 / 16, 1 / 8, 1 / 4, 1 / 2, 3 / 4, 1.0, 3 / 2, 2.0)
"""Compression: numbers of dimensions kept, as fractions of the base's dimensionality."""

PROBE_THREADS = 1
"""torch threads of the chapter's CPU probes (small: a second thread does not pay)."""

KNN_EXAMPLES = 2000
"""Test examples (a seeded sample) the mutual k-NN alignment is computed on."""

SIMILARITIES = {"linear_cka": "linear CKA", "debiased_cka": "debiased CKA",
                "mutual_knn": "mutual k-NN (k=10)"}
"""The feature-similarity metrics and their labels."""


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
    """

    zoo: ChapterZoo
    data: dict[str, ProbeData]
    labels: ProbeLabels
    without: list[str]
    device: str
    l2: float
    base_correct: np.ndarray

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
            f"{', '.join(names[m] for m in self.without) or 'none'}. Probe rows: "
            f"{len(labels.train)} for training, {len(labels.held)} held out for the L2 choice; "
            f"scored on {len(labels.test)} test examples ({labels.n_classes} classes; device "
            f"{self.device}). The base's own probe: L2 strength {self.l2:g}, test accuracy "
            f"{100 * self.base_correct.mean():.2f}%.")


def read_probe_data(zoo: ChapterZoo, seed: int, device: str = "cpu") -> EmbeddingData:
    """Read the embeddings of the base and every partner that has them.

    The store's ``probe`` split is shuffled (seeded) and split into training rows and
    :data:`HELD_SHARE` held-out rows; probes are scored on the ``test`` split. The base's
    own probe chooses the L2 strength from :data:`GRID` on the held-out rows; every
    other probe of the chapter reuses it (one fit each).

    Args:
        zoo: The chapter's zoo.
        seed: Seed of the held-out rows.
        device: "cpu", "cuda", "auto", ...

    Returns:
        The embeddings; a base without embeddings is an error.
    """
    store, roster = zoo.store, zoo.roster
    if not store.has_array(roster.base, "embeddings"):
        raise NorepError(f"the base {roster.base} has no embeddings in {store.path}: no probes")
    labels = store.labels("probe")
    order = np.random.default_rng(seed).permutation(len(labels))
    held, train = np.sort(order[:int(HELD_SHARE * len(order))]), np.sort(order[int(HELD_SHARE * len(order)):])
    with_embeddings = [m for m in [roster.base, *roster.partners] if store.has_array(m, "embeddings")]
    data = {}
    for m in with_embeddings:
        probe = read_embeddings(store, m, "probe")
        data[m] = ProbeData(probe[train], probe[held], read_embeddings(store, m, "test"))
    probe_labels = ProbeLabels(labels[train], labels[held], store.labels("test"), len(store.classes))
    device = resolve_device(device)
    with torch_threads(PROBE_THREADS):
        correct, probe = probe_correct(data[roster.base], probe_labels, GRID, device)
    return EmbeddingData(zoo, data, probe_labels, [m for m in roster.partners if m not in data],
                         device, probe.l2, correct)


@dataclass(frozen=True)
class Mixes:
    """Probes on mixes of the base's and each partner's dimensions (Fig 6 left and center).

    Attributes:
        embeddings: The embeddings probed.
        probes: One row per (partner, share, draw): ``partner``, ``category``, ``share``,
            ``draw``, ``n_base``, ``n_other``, ``l2`` and test ``accuracy``.
        table: One row per partner (indexed by id): ``category``, the accuracy at each
            share (mean over draws), ``gain`` with interval columns, ``beats_both``.
        summary: Mean gain per category with its interval (``category_summary``).
        draws: The category means of the gain on every resample.
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
            f"Mixed embeddings ({self.n_draws} draws per share; {LEVEL:.0%} bootstrap intervals "
            f"over test examples, {self.n_bootstrap} resamples)"))

    def trend(self):
        """Whether the category mean gain rises from Reinit to Dataset (with the rise's interval)."""
        return category_trend(self.summary["gain"], self.draws["gain"], True, scale=100, digits=2)

    def verdicts(self) -> Markdown:
        """Whether mixes beat both models, and whether the gain grows with divergence."""
        beats, trend = self.table["beats_both"], self.trend()
        return Markdown(
            f"The 50/50 mix beats the better model alone (interval above 0) for {int(beats.sum())} "
            f"of {len(beats)} partners. Mean gain per category (points): {trend.text}. Rises "
            f"monotonically with divergence? {trend.verdict}.")


def mix_embeddings(embeddings: EmbeddingData, n_draws: int, n_bootstrap: int, seed: int) -> Mixes:
    """Probe every partner's mixes with the base; gains with intervals, per category.

    The budget of a pair is the smaller of the two dimensionalities (at most the
    base's). Accuracies average the draws of dimensions; intervals resample the test
    examples (paired across partners and shares), not the draws.

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
    summary, draws = category_summary({"gain": gain}, {"gain": gain_samples}, table["category"].to_numpy(),
                                      np.ones(len(partners), bool), LEVEL)
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
    """

    embeddings: EmbeddingData
    curves: pd.DataFrame
    target: float
    needed: pd.DataFrame

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


def compress(embeddings: EmbeddingData) -> Compression:
    """Rank each base + partner concatenation by diversity and probe its top-k dimensions.

    Args:
        embeddings: The embeddings.

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
    return Compression(embeddings, pd.concat(curves, ignore_index=True), target,
                       pd.DataFrame(needed).set_index("model_id"))


@dataclass(frozen=True)
class Similarity:
    """Feature similarity of the base with each partner, and what it says about ensembles.

    Attributes:
        embeddings: The embeddings compared.
        table: One row per partner (indexed by id): ``category``, each metric of
            :data:`SIMILARITIES`, ``error_inconsistency`` and ``ensemble_gain`` (the
            two-model ensemble's accuracy minus the members' mean, temperature-scaled).
    """

    embeddings: EmbeddingData
    table: pd.DataFrame

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
        """Whether each similarity falls (and error inconsistency rises) with divergence."""
        means = self.means()
        rows = {label: category_trend(means[m], increasing=False) for m, label in SIMILARITIES.items()}
        rows["error inconsistency"] = category_trend(means["error_inconsistency"], increasing=True)
        return pd.DataFrame({"category means": {k: t.text for k, t in rows.items()},
                             "monotone?": {k: t.verdict for k, t in rows.items()}})

    def predicts_gain(self) -> pd.DataFrame:
        """Spearman's rank correlation of each pair measure with the ensemble gain."""
        table = self.table
        rows = {label: spearmanr(table[m], table["ensemble_gain"]) for m, label in
                {**SIMILARITIES, "error_inconsistency": "error inconsistency"}.items()}
        return pd.DataFrame({"Spearman rho with ensemble gain": {k: round(r.statistic, 3) for k, r in rows.items()},
                             "p": {k: f"{r.pvalue:.2g}" for k, r in rows.items()}})


def feature_similarity(embeddings: EmbeddingData, seed: int) -> Similarity:
    """Similarity of the base's and each partner's test embeddings, beside error
    inconsistency and ensemble gain.

    Linear and debiased CKA use every test example; the mutual k-NN alignment a seeded
    sample of :data:`KNN_EXAMPLES` of them.

    Args:
        embeddings: The embeddings.
        seed: Seed of the k-NN sample.

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
    return Similarity(embeddings, table)


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
    needed = compression.by_category()["features needed (mean)"]
    monotone = similarity.trends()
    rho = similarity.predicts_gain()["Spearman rho with ensemble gain"]
    fewer = category_trend(needed.dropna(), increasing=False, digits=1)
    dim = compression.embeddings.data[compression.embeddings.zoo.roster.base].dim
    reached = ", ".join(f"{c} {v:.0f}" for c, v in needed.dropna().items())
    return [
        ("Fig 6 left: mixes beat either model", "yes, for every category",
         f"50/50 mix above the better model for {int(beats.sum())} of {len(beats)} partners",
         "yes" if beats.all() else ("partly" if beats.any() else "no")),
        ("Fig 6 center: the mix's gain grows with divergence", "yes, largest for CLIP-S (Dataset)",
         trend.text + " (points)", trend.verdict),
        ("Fig 6 right: features to reach the target (fewer with divergence)",
         "76%: Reinit 2304, Hyper 2057, Arch 1392, Dataset 512 (of 4096)",
         (f"{100 * compression.target:.2f}% (the base alone): {reached or 'never reached'} "
          f"(of {dim} + the partner's; mean over partners)"), fewer.verdict),
        ("feature similarity falls with divergence", "not measured (probes only)",
         monotone.loc["linear CKA", "category means"], monotone.loc["linear CKA", "monotone?"]),
        ("similarity predicts ensemble gain", "not measured", "Spearman rho: " + ", ".join(
            f"{k} {v:+.2f}" for k, v in rho.items()), "-"),
    ]
