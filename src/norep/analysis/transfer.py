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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from norep.analysis.bootstrap import bootstrap_sums, percentile_interval
from norep.analysis.probes import select_probe, torch_threads

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


def evaluate_probe(features: np.ndarray, labels: np.ndarray, parts: dict[str, np.ndarray],
                   grid: tuple[float, ...] = PROBE_GRID, n_classes: int | None = None,
                   device: str = "cpu") -> ProbeOutcome:
    """Fit a probe on ``parts["train"]``, choose its penalty on ``parts["held_out"]``, score ``parts["test"]``.

    Args:
        features: Shape (N, D), every example of the set.
        labels: Shape (N,).
        parts: Indices of the "train", "held_out" and "test" parts.
        grid: Penalties to try.
        n_classes: Number of classes (from the labels by default).
        device: The torch device of the fits.

    Returns:
        The outcome on the test part.
    """
    train, held, test = (parts[p] for p in ("train", "held_out", "test"))
    n_classes = n_classes or int(np.max(labels)) + 1
    probe, table = select_probe(features[train], labels[train], features[held], labels[held],
                                grid, n_classes, device)
    held_out = float(table.loc[table["l2"] == probe.l2, "held_out_accuracy"].iloc[0])
    return ProbeOutcome(probe.predict(features[test]) == labels[test], held_out, probe.l2)


@dataclass(frozen=True)
class LinearEvaluation:
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

    @property
    def single_accuracy(self) -> np.ndarray:
        """Test accuracy of each single embedding, shape (M,)."""
        return self.single_correct.mean(axis=0)

    @property
    def pair_accuracy(self) -> np.ndarray:
        """Test accuracy of each concatenation, shape (P,)."""
        return self.pair_correct.mean(axis=0)

    def pair_matrix(self) -> np.ndarray:
        """Test accuracies as an M x M matrix: pairs off the diagonal, singles on it."""
        matrix = np.diag(self.single_accuracy).astype(float)
        a, b = self.pairs.T
        matrix[a, b] = matrix[b, a] = self.pair_accuracy
        return matrix

    def pair_gains(self) -> np.ndarray:
        """Each pair's test accuracy minus that of its better member, shape (P,)."""
        a, b = self.pairs.T
        return self.pair_accuracy - np.maximum(self.single_accuracy[a], self.single_accuracy[b])


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
    pairs = np.array(list(itertools.combinations(range(len(embeddings)), 2)), dtype=int).reshape(-1, 2)
    # Small probes: one torch thread each is several times faster than two, so the
    # probes run side by side, one per core (torch releases the GIL while it computes).
    with torch_threads(1), ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        first = evaluate_probe(embeddings[0], labels, parts, grid, n_classes, device)
        chosen = (first.l2,)  # the penalty the first (base) embedding's probe chose

        def probe(features: np.ndarray) -> ProbeOutcome:
            return evaluate_probe(features, labels, parts, chosen, n_classes, device)

        singles = [first, *pool.map(probe, embeddings[1:])]
        stacked = list(pool.map(probe, (np.hstack([embeddings[a], embeddings[b]]) for a, b in pairs)))

    def columns(outcomes: list[ProbeOutcome]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        correct = np.stack([o.correct for o in outcomes], axis=1) if outcomes else \
            np.zeros((len(parts["test"]), 0), dtype=bool)
        return (correct, np.array([o.held_out_accuracy for o in outcomes]),
                np.array([o.l2 for o in outcomes]))

    (single_correct, single_held, single_l2), (pair_correct, pair_held, pair_l2) = (
        columns(singles), columns(stacked))
    return LinearEvaluation(pairs, single_correct, pair_correct, single_held, pair_held,
                            single_l2, pair_l2)


@dataclass(frozen=True)
class BestComparison:
    """The best concatenation against the best single embedding, both chosen on held-out accuracy.

    Attributes:
        single: Index of the best single model.
        pair: Index of the best pair (a row of :attr:`LinearEvaluation.pairs`).
        single_accuracy: Its test accuracy.
        pair_accuracy: The best pair's test accuracy.
        gain: pair_accuracy - single_accuracy.
        low: Lower end of the gain's interval.
        high: Upper end.
    """

    single: int
    pair: int
    single_accuracy: float
    pair_accuracy: float
    gain: float
    low: float
    high: float


def best_single_vs_pair(evaluation: LinearEvaluation, n_bootstrap: int, seed: int,
                        level: float = 0.95) -> BestComparison:
    """Compare the best pair with the best single model, with a paired bootstrap interval.

    Both are chosen by held-out accuracy (the first maximum); the interval is the
    percentile interval of the gain over resamples of the test examples (both probes
    scored on the same resampled examples).

    Args:
        evaluation: The linear evaluation (at least two models).
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
    difference = (evaluation.pair_correct[:, pair].astype(float)
                  - evaluation.single_correct[:, single].astype(float))
    gain = float(difference.mean())
    samples = bootstrap_sums(difference[:, None], n_bootstrap, seed)[:, 0] / len(difference)
    interval = percentile_interval(np.array([gain]), samples[:, None], level)
    return BestComparison(single, pair, float(evaluation.single_accuracy[single]),
                          float(evaluation.pair_accuracy[pair]), gain,
                          float(interval.low[0]), float(interval.high[0]))


def downstream_rank(upstream: np.ndarray, downstream: np.ndarray) -> tuple[int, int]:
    """Where the model with the best upstream accuracy ranks downstream.

    Args:
        upstream: Upstream accuracy of each model, shape (M,).
        downstream: Downstream accuracy of each model, shape (M,).

    Returns:
        (index of the best upstream model (the first maximum), its downstream rank: 1 +
        the number of models strictly better downstream).

    Example:
        >>> downstream_rank(np.array([.9, .8, .7]), np.array([.5, .6, .5]))
        (0, 2)
    """
    best = int(np.argmax(upstream))
    return best, 1 + int(np.sum(np.asarray(downstream) > downstream[best]))
