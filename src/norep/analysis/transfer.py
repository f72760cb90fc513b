"""Downstream transfer (the paper's Fig 7): linear evaluation of single and stacked embeddings.

Every model's embedding of a downstream set, and every pairwise concatenation of two
models' embeddings ("stacked"), gets a linear probe
(:func:`norep.analysis.probes.select_probe`: fitted on the training part, then refitted
on the training and held-out parts) and is scored on the test part. The L2 penalty is
chosen once per set, on the held-out part, by the probe of the first embedding (the
base's) from a log grid, and every other probe uses it: hundreds of probes with one
fit each instead of one per grid value, as in the feature-overlap chapter.
The probe standardizes every feature on its training rows, so each model's block of a
concatenation enters standardized, whatever its scale.

The best single model and the best pair are the ones with the highest held-out accuracy
(so the test part that scores them does not choose them); the gain of the best pair
over the best single gets a paired bootstrap interval over the test examples.

Multi-label sets (Pascal VOC) are evaluated the same way by :func:`ranking_evaluation`,
with one-vs-rest probes (:func:`norep.analysis.multilabel.select_one_vs_rest`) scored by
11-point mAP instead of accuracy: the penalty, the best single model and the best pair
are chosen by held-out mAP, and the gain's interval recomputes both mAPs on every
resample of the test examples.

Example:
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat(np.arange(2), 60)
    >>> a = labels[:, None] + rng.normal(size=(120, 3)); b = rng.normal(size=(120, 2))
    >>> parts = {"train": np.arange(0, 120, 2), "held_out": np.arange(1, 120, 4),
    ...          "test": np.arange(3, 120, 4)}
    >>> evaluation = linear_evaluation([a, b], labels, parts)
    >>> evaluation.pairs.tolist(), evaluation.single_accuracy.shape
    ([[0, 1]], (2,))
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from norep.analysis.bootstrap import bootstrap_sums, percentile_interval, resample_weights
from norep.analysis.multilabel import mean_average_precision, one_vs_rest_scores, select_one_vs_rest
from norep.analysis.probes import LinearProbe, select_probe, stacked_start, torch_threads

PROBE_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
"""Penalties searched for every probe: the weakest ones of the probes' default grid
(1e-6, 1e-5) are left out, they are the slowest fits and hundreds of probes are run."""


@dataclass(frozen=True)
class ProbeOutcome:
    """One linear evaluation: which test examples it gets right, and how it was chosen.

    Attributes:
        correct: Shape (T,), bool: the refitted probe is right on each test example.
        held_out_accuracy: Held-out accuracy at the chosen penalty (the choice criterion).
        l2: The chosen penalty.
    """

    correct: np.ndarray
    held_out_accuracy: float
    l2: float
    probe: LinearProbe


def evaluate_probe(features: np.ndarray, labels: np.ndarray, parts: dict[str, np.ndarray],
                   grid: tuple[float, ...] = PROBE_GRID, n_classes: int | None = None,
                   device: str = "cpu", members: tuple[ProbeOutcome, ProbeOutcome] | None = None) -> ProbeOutcome:
    """Fit a probe on ``parts["train"]``, choose its penalty on ``parts["held_out"]``, score ``parts["test"]``.

    Args:
        features: Shape (N, D), every example of the set.
        labels: Shape (N,).
        parts: Indices of the "train", "held_out" and "test" parts.
        grid: Penalties to try.
        n_classes: Number of classes (from the labels by default).
        device: The torch device of the fits.
        members: For a concatenation of two embeddings, their outcomes: the fit starts
            from their probes (:func:`norep.analysis.probes.stacked_start`; the same
            optimum, about 40% fewer iterations).

    Returns:
        The outcome on the test part.
    """
    train, held, test = (parts[p] for p in ("train", "held_out", "test"))
    n_classes = n_classes or int(np.max(labels)) + 1
    init = None if members is None else stacked_start(members[0].probe, members[1].probe, features[train])
    probe, table = select_probe(features[train], labels[train], features[held], labels[held],
                                grid, n_classes, device, init)
    held_out = float(table.loc[table["l2"] == probe.l2, "held_out_accuracy"].iloc[0])
    return ProbeOutcome(probe.predict(features[test]) == labels[test], held_out, probe.l2, probe)


@dataclass(frozen=True)
class RankingOutcome:
    """One multi-label linear evaluation: the class scores of the test examples, and how it was chosen.

    Attributes:
        scores: Shape (T, C), float32: each class's one-vs-rest score on each test example.
        held_out_map: Held-out 11-point mAP at the chosen penalty (the choice criterion).
        l2: The chosen penalty.
    """

    scores: np.ndarray
    held_out_map: float
    l2: float


def evaluate_ranking(features: np.ndarray, labels: np.ndarray, parts: dict[str, np.ndarray],
                     grid: tuple[float, ...] = PROBE_GRID, ignore: np.ndarray | None = None,
                     device: str = "cpu") -> RankingOutcome:
    """One-vs-rest probes on ``parts["train"]``, penalty chosen by mAP on ``parts["held_out"]``, test scores.

    Args:
        features: Shape (N, D), every example of the set.
        labels: Shape (N, C), 0/1.
        parts: Indices of the "train", "held_out" and "test" parts.
        grid: Penalties to try.
        ignore: Shape (N, C), bool: labels left out of every mAP (VOC's difficult ones), or None.
        device: The torch device of the fits.

    Returns:
        The outcome on the test part.
    """
    train, held, test = (parts[p] for p in ("train", "held_out", "test"))
    probes, table = select_one_vs_rest(features[train], labels[train], features[held], labels[held],
                                       None if ignore is None else ignore[held], grid, device)
    held_out = float(table.loc[table["l2"] == probes[0].l2, "held_out_map"].iloc[0])
    return RankingOutcome(one_vs_rest_scores(probes, features[test]), held_out, probes[0].l2)


class PairEvaluation:
    """What the evaluations of single and stacked embeddings share: one test score per single
    model (:attr:`single_score`) and per pair (:attr:`pair_score`), chosen on held-out scores.

    Subclasses are dataclasses with ``pairs`` (P, 2), ``single_held_out`` (M,) and
    ``pair_held_out`` (P,), and set :attr:`metric`.
    """

    metric = ""
    """The test score, in words ("top-1 accuracy", "11-point mAP")."""

    @property
    def single_score(self) -> np.ndarray:
        """Test score of each single embedding, shape (M,)."""
        raise NotImplementedError

    @property
    def pair_score(self) -> np.ndarray:
        """Test score of each concatenation, shape (P,)."""
        raise NotImplementedError

    def pair_matrix(self) -> np.ndarray:
        """Test scores as an M x M matrix: pairs off the diagonal, singles on it."""
        matrix = np.diag(self.single_score).astype(float)
        a, b = self.pairs.T
        matrix[a, b] = matrix[b, a] = self.pair_score
        return matrix

    def pair_gains(self) -> np.ndarray:
        """Each pair's test score minus that of its better member, shape (P,)."""
        a, b = self.pairs.T
        return self.pair_score - np.maximum(self.single_score[a], self.single_score[b])

    def paired_gain(self, single: int, pair: int, n_bootstrap: int, seed: int) -> tuple[float, np.ndarray]:
        """A pair's test score minus a single model's, and its values on bootstrap resamples
        of the test examples (shape (B,); :func:`norep.analysis.bootstrap.resample_weights`)."""
        raise NotImplementedError


@dataclass(frozen=True)
class LinearEvaluation(PairEvaluation):
    """Probes of M single embeddings and of every pair of them on one downstream set.

    Attributes:
        pairs: Shape (P, 2), index pairs a < b into the models, in lexicographic order.
        single_correct: Shape (T, M), bool: each single probe on each test example.
        pair_correct: Shape (T, P), bool.
        single_held_out: Shape (M,): held-out accuracy at each chosen penalty.
        pair_held_out: Shape (P,).
        single_l2: Shape (M,): the chosen penalties.
        pair_l2: Shape (P,).
    """

    pairs: np.ndarray
    single_correct: np.ndarray
    pair_correct: np.ndarray
    single_held_out: np.ndarray
    pair_held_out: np.ndarray
    single_l2: np.ndarray
    pair_l2: np.ndarray

    metric = "top-1 accuracy"

    @property
    def single_accuracy(self) -> np.ndarray:
        """Test accuracy of each single embedding, shape (M,)."""
        return self.single_correct.mean(axis=0)

    @property
    def pair_accuracy(self) -> np.ndarray:
        """Test accuracy of each concatenation, shape (P,)."""
        return self.pair_correct.mean(axis=0)

    single_score = single_accuracy
    pair_score = pair_accuracy

    def paired_gain(self, single: int, pair: int, n_bootstrap: int, seed: int) -> tuple[float, np.ndarray]:
        """The difference in test accuracy and its bootstrap values (the mean of the per-example differences)."""
        difference = self.pair_correct[:, pair].astype(float) - self.single_correct[:, single].astype(float)
        return float(difference.mean()), bootstrap_sums(difference[:, None], n_bootstrap, seed)[:, 0] / len(difference)


def linear_evaluation(embeddings: list[np.ndarray], labels: np.ndarray, parts: dict[str, np.ndarray],
                      grid: tuple[float, ...] = PROBE_GRID, device: str = "cpu") -> LinearEvaluation:
    """Probe every single embedding and every pairwise concatenation (:func:`evaluate_probe`).

    Args:
        embeddings: One (N, D_m) array per model, rows aligned with ``labels``.
        labels: Shape (N,), classes 0..C-1.
        parts: Indices of the "train", "held_out" and "test" parts.
        grid: Penalties the first embedding's probe chooses from; every other probe uses
            its choice.
        device: The torch device of the fits (the CPU ones run on one thread).

    Returns:
        The evaluation.
    """
    labels = np.asarray(labels)
    n_classes = int(labels.max()) + 1
    pairs, singles, stacked = probe_every_pair(
        embeddings, lambda features, penalties, members: evaluate_probe(features, labels, parts, penalties,
                                                                        n_classes, device, members),
        grid)

    def columns(outcomes: list[ProbeOutcome]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        correct = np.stack([o.correct for o in outcomes], axis=1) if outcomes else \
            np.zeros((len(parts["test"]), 0), dtype=bool)
        return (correct, np.array([o.held_out_accuracy for o in outcomes]),
                np.array([o.l2 for o in outcomes]))

    (single_correct, single_held, single_l2), (pair_correct, pair_held, pair_l2) = (
        columns(singles), columns(stacked))
    return LinearEvaluation(pairs, single_correct, pair_correct, single_held, pair_held,
                            single_l2, pair_l2)


def probe_every_pair(embeddings: list[np.ndarray], evaluate: Callable[[np.ndarray, tuple[float, ...], tuple | None],
                                                                    object],
                     grid: tuple[float, ...]) -> tuple[np.ndarray, list, list]:
    """Evaluate every single embedding and every pairwise concatenation, side by side on the cores.

    Args:
        embeddings: One (N, D_m) array per model.
        evaluate: (features, penalties, members) -> an outcome with the chosen penalty
            ``l2``; ``members`` is None for a single embedding and the two members'
            outcomes for a concatenation (a warm start where it helps).
        grid: Penalties the first embedding's evaluation chooses from; every other one
            uses its choice.

    Returns:
        The pairs (P, 2), the single outcomes (M) and the pair outcomes (P).
    """
    pairs = np.array(list(itertools.combinations(range(len(embeddings)), 2)), dtype=int).reshape(-1, 2)
    # Small probes: one torch thread each is several times faster than two, so the
    # probes run side by side, one per core (torch releases the GIL while it computes).
    with torch_threads(1), ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        first = evaluate(embeddings[0], grid, None)
        chosen = (first.l2,)  # the penalty the first (base) embedding's probe chose
        singles = [first, *pool.map(lambda features: evaluate(features, chosen, None), embeddings[1:])]
        stacked = list(pool.map(lambda pair: evaluate(np.hstack([embeddings[pair[0]], embeddings[pair[1]]]), chosen,
                                                      (singles[pair[0]], singles[pair[1]])), pairs))
    return pairs, singles, stacked


@dataclass(frozen=True)
class RankingEvaluation(PairEvaluation):
    """One-vs-rest probes of M single embeddings and of every pair of them on a multi-label set.

    Attributes:
        pairs: Shape (P, 2), index pairs a < b into the models, in lexicographic order.
        single_scores: Shape (M, T, C), float32: each single probe's class scores on each test example.
        pair_scores: Shape (P, T, C).
        labels: Shape (T, C), 0/1: the test examples' labels.
        ignore: Shape (T, C), bool: labels left out of the mAP (VOC's difficult ones), or None.
        single_held_out: Shape (M,): held-out mAP at each chosen penalty.
        pair_held_out: Shape (P,).
        single_l2: Shape (M,): the chosen penalties.
        pair_l2: Shape (P,).
    """

    pairs: np.ndarray
    single_scores: np.ndarray
    pair_scores: np.ndarray
    labels: np.ndarray
    ignore: np.ndarray | None
    single_held_out: np.ndarray
    pair_held_out: np.ndarray
    single_l2: np.ndarray
    pair_l2: np.ndarray

    metric = "11-point mAP"

    @cached_property
    def single_score(self) -> np.ndarray:
        """Test 11-point mAP of each single embedding, shape (M,)."""
        return np.array([mean_average_precision(s, self.labels, self.ignore) for s in self.single_scores])

    @cached_property
    def pair_score(self) -> np.ndarray:
        """Test 11-point mAP of each concatenation, shape (P,)."""
        return np.array([mean_average_precision(s, self.labels, self.ignore) for s in self.pair_scores])

    def paired_gain(self, single: int, pair: int, n_bootstrap: int, seed: int) -> tuple[float, np.ndarray]:
        """The difference in test mAP, and the difference of the two mAPs on each resample."""
        samples = np.empty(n_bootstrap)
        for start, weights in resample_weights(len(self.labels), n_bootstrap, seed):
            samples[start:start + len(weights)] = (
                mean_average_precision(self.pair_scores[pair], self.labels, self.ignore, weights)
                - mean_average_precision(self.single_scores[single], self.labels, self.ignore, weights))
        return float(self.pair_score[pair] - self.single_score[single]), samples


def ranking_evaluation(embeddings: list[np.ndarray], labels: np.ndarray, parts: dict[str, np.ndarray],
                       ignore: np.ndarray | None = None, grid: tuple[float, ...] = PROBE_GRID,
                       device: str = "cpu") -> RankingEvaluation:
    """Probe every single embedding and every pairwise concatenation on a multi-label set
    (:func:`evaluate_ranking`), like :func:`linear_evaluation`.

    Args:
        embeddings: One (N, D_m) array per model, rows aligned with ``labels``.
        labels: Shape (N, C), 0/1.
        parts: Indices of the "train", "held_out" and "test" parts.
        ignore: Shape (N, C), bool: labels left out of every mAP, or None.
        grid: Penalties the first embedding's probes choose from; every other one uses its choice.
        device: The torch device of the fits (the CPU ones run on one thread).

    Returns:
        The evaluation.
    """
    labels = np.asarray(labels)
    pairs, singles, stacked = probe_every_pair(
        embeddings, lambda features, penalties, _: evaluate_ranking(features, labels, parts, penalties, ignore, device),
        grid)
    test = parts["test"]

    def scores(outcomes: list[RankingOutcome]) -> np.ndarray:
        return (np.stack([o.scores for o in outcomes]) if outcomes
                else np.zeros((0, len(test), labels.shape[1]), dtype=np.float32))

    return RankingEvaluation(pairs, scores(singles), scores(stacked), labels[test],
                             None if ignore is None else np.asarray(ignore)[test],
                             np.array([o.held_out_map for o in singles]), np.array([o.held_out_map for o in stacked]),
                             np.array([o.l2 for o in singles]), np.array([o.l2 for o in stacked]))


@dataclass(frozen=True)
class BestComparison:
    """The best concatenation against the best single embedding, both chosen on held-out scores.

    Attributes:
        single: Index of the best single model.
        pair: Index of the best pair (a row of the evaluation's ``pairs``).
        single_score: Its test score (accuracy, or mAP for a multi-label set).
        pair_score: The best pair's test score.
        gain: pair_score - single_score.
        low: Lower end of the gain's interval.
        high: Upper end.
    """

    single: int
    pair: int
    single_score: float
    pair_score: float
    gain: float
    low: float
    high: float


def best_single_vs_pair(evaluation: PairEvaluation, n_bootstrap: int, seed: int,
                        level: float = 0.95) -> BestComparison:
    """Compare the best pair with the best single model, with a paired bootstrap interval.

    Both are chosen by held-out score (accuracy or mAP; the first maximum); the interval
    is the percentile interval of the gain over resamples of the test examples (both
    probes scored on the same resampled examples, :meth:`PairEvaluation.paired_gain`).

    Args:
        evaluation: The evaluation (at least two models).
        n_bootstrap: Bootstrap resamples.
        seed: Seed of the resampling.
        level: Coverage of the interval.

    Returns:
        The comparison.

    Example:
        >>> evaluation = LinearEvaluation(np.array([[0, 1]]), np.array([[1, 0], [0, 0]], bool),
        ...     np.array([[1], [1]], bool), np.array([.5, .4]), np.array([.6]), np.ones(2), np.ones(1))
        >>> best_single_vs_pair(evaluation, 100, 0).gain
        0.5
    """
    single = int(np.argmax(evaluation.single_held_out))
    pair = int(np.argmax(evaluation.pair_held_out))
    gain, samples = evaluation.paired_gain(single, pair, n_bootstrap, seed)
    interval = percentile_interval(np.array([gain]), samples[:, None], level)
    return BestComparison(single, pair, float(evaluation.single_score[single]),
                          float(evaluation.pair_score[pair]), gain,
                          float(interval.low[0]), float(interval.high[0]))


def downstream_rank(upstream: np.ndarray, downstream: np.ndarray) -> tuple[int, int]:
    """Where the model with the best upstream accuracy ranks downstream.

    Args:
        upstream: Upstream accuracy of each model, shape (M,).
        downstream: Downstream score (accuracy or mAP) of each model, shape (M,).

    Returns:
        (index of the best upstream model (the first maximum), its downstream rank: 1 +
        the number of models strictly better downstream).

    Example:
        >>> downstream_rank(np.array([.9, .8, .7]), np.array([.5, .6, .5]))
        (0, 2)
    """
    best = int(np.argmax(upstream))
    return best, 1 + int(np.sum(np.asarray(downstream) > downstream[best]))
