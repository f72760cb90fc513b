r"""Overlapping features (Fig 6): mixed embeddings, a diversity ranking, compression curves.

Every probe here is :func:`norep.analysis.probes.select_probe`: trained on a training
split, its L2 strength chosen on a held-out split and refitted on both, scored on a
test split. Features come as :class:`ProbeData` (the same columns on the three splits).

- **Mixed embeddings** (Fig 6 left and center): of a budget of ``total`` dimensions,
  :func:`sample_mix` draws ``round(share * total)`` of the base's dimensions and the
  rest of the other model's, uniformly without replacement, reproducibly by seed.
- **Diversity ranking** (Fig 6 right): :func:`diversity_ranking` orders the dimensions
  of a (concatenated) embedding greedily. With :math:`\Sigma` the covariance of the
  standardized training rows (their correlation matrix) and :math:`S` the dimensions
  chosen so far, the next one maximizes the variance it does not share linearly with
  :math:`S`,

  .. math::

     s_j = \Sigma_{jj} - \Sigma_{jS} \, \Sigma_{SS}^{-1} \, \Sigma_{Sj},

  ties (within :data:`TIE`) going to the lower index (so the first pick is dimension 0: every
  :math:`\Sigma_{jj}` is 1). This is Cholesky factorization with diagonal pivoting;
  dimensions whose :math:`s_j` falls to numerical zero (constant features, exact linear
  combinations) come last, by index.
- **Compression curve**: :func:`compression_curve` probes the top-k of that ranking for
  growing k; :func:`features_to_reach` reads off the fewest features reaching a target.

Example:
    >>> base_columns, other_columns = sample_mix(128, 96, share=0.25, total=96, seed=0)
    >>> len(base_columns), len(other_columns)
    (24, 72)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from norep.analysis.bootstrap import bootstrap_sums
from norep.analysis.probes import L2_GRID, LinearProbe, select_probe, train_probe

MIX_SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)
"""Shares of the base's dimensions in a mix: 0/100, 25/75, 50/50, 75/25, 100/0."""

TIE = 1e-9
"""Residual variances within this of the largest tie in :func:`diversity_ranking` (the lowest
index wins), so that rounding does not decide between equal candidates."""


@dataclass(frozen=True)
class ProbeData:
    """The same feature columns on a probe's training, held-out and test rows.

    Attributes:
        train: Shape (M_train, D).
        held: Shape (M_held, D), for the choice of the L2 strength.
        test: Shape (M_test, D).
    """

    train: np.ndarray
    held: np.ndarray
    test: np.ndarray

    @property
    def dim(self) -> int:
        """D, the number of columns."""
        return self.train.shape[1]

    def columns(self, index: np.ndarray) -> ProbeData:
        """The given columns on all three splits."""
        return ProbeData(self.train[:, index], self.held[:, index], self.test[:, index])

    @staticmethod
    def stack(parts: Sequence[ProbeData]) -> ProbeData:
        """Several embeddings side by side (their columns concatenated in order)."""
        return ProbeData(*(np.concatenate([getattr(p, s) for p in parts], axis=1)
                           for s in ("train", "held", "test")))


@dataclass(frozen=True)
class ProbeLabels:
    """Labels of a probe's three splits and the number of classes C."""

    train: np.ndarray
    held: np.ndarray
    test: np.ndarray
    n_classes: int


def probe_correct(data: ProbeData, labels: ProbeLabels, grid: Sequence[float] = L2_GRID,
                  device: str = "cpu", l2: float | None = None,
                  init: LinearProbe | None = None) -> tuple[np.ndarray, LinearProbe]:
    """Fit and score one probe: its L2 strength chosen on the held-out rows, or given.

    Args:
        data: The features.
        labels: Their labels.
        grid: L2 strengths tried on the held-out rows (when ``l2`` is None).
        device: The torch device of the fits.
        l2: A fixed L2 strength: one fit on the training and held-out rows together.
        init: With ``l2``, a probe on the same columns to start from (a warm start).

    Returns:
        Whether the probe is right on each test row, and the probe.
    """
    if l2 is None:
        probe, _ = select_probe(data.train, labels.train, data.held, labels.held, tuple(grid),
                                labels.n_classes, device)
    else:
        probe = train_probe(np.concatenate([data.train, data.held]),
                            np.concatenate([labels.train, labels.held]), l2, labels.n_classes, device,
                            init=init)
    return probe.predict(data.test) == labels.test, probe


def sample_mix(base_dim: int, other_dim: int, share: float, total: int,
               seed: int | Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Draw the base's and the other model's dimensions of one mix.

    Args:
        base_dim: The base's dimensionality.
        other_dim: The other model's.
        share: The base's share of the budget, in [0, 1].
        total: The budget, at most ``base_dim``.
        seed: Seed (or seed sequence) of the draw.

    Returns:
        Sorted column indices into the base (``round(share * total)`` of them) and into
        the other model (the rest of the budget).

    Example:
        >>> [len(c) for c in sample_mix(8, 8, 0.5, 8, seed=1)]
        [4, 4]
    """
    n_base = int(np.round(share * total))
    if not 0 <= share <= 1 or total > base_dim or n_base > base_dim or total - n_base > other_dim:
        raise ValueError(f"a budget of {total} at base share {share} does not fit dimensions "
                         f"{base_dim} (base, at least the budget) and {other_dim}")
    rng = np.random.default_rng(seed)
    return (np.sort(rng.choice(base_dim, n_base, replace=False)),
            np.sort(rng.choice(other_dim, total - n_base, replace=False)))


def mixed_probes(base: ProbeData, other: ProbeData, labels: ProbeLabels, n_draws: int,
                 seed: int | Sequence[int], shares: Sequence[float] = MIX_SHARES,
                 grid: Sequence[float] = L2_GRID, device: str = "cpu",
                 cache: dict | None = None, names: tuple[str, str] = ("base", "other"),
                 l2: float | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Probe mixes of two embeddings at every share, over several draws of dimensions.

    The budget is ``min(base.dim, other.dim)`` dimensions for every share. Draw ``d``
    uses the seed ``[*seed, d]``. Identical selections are probed once (also across
    calls sharing ``cache``, keyed by ``names`` and the columns). With a fixed ``l2``,
    every probe starts from the probe of both embeddings side by side, restricted to its
    columns (a warm start: the same convex problem, fewer L-BFGS iterations).

    Args:
        base: The base's features.
        other: The other model's.
        labels: The labels.
        n_draws: Draws of dimensions per share.
        seed: Seed (or seed sequence) of the draws.
        shares: The base's shares of the budget.
        grid: L2 strengths tried on the held-out rows.
        device: The torch device of the fits.
        cache: Probe results by selection, filled as probes are run.
        names: The two models' names in the cache keys.
        l2: A fixed L2 strength for every probe (chosen per probe when None).

    Returns:
        One row per (share, draw): ``share``, ``draw``, ``n_base``, ``n_other``, ``l2``
        and test ``accuracy``; and whether each probe is right on each test row, shape
        (rows, M_test), in the same order.
    """
    cache = {} if cache is None else cache
    total = min(base.dim, other.dim)
    seed = [seed] if np.isscalar(seed) else list(seed)
    both = None if l2 is None else probe_correct(ProbeData.stack([base, other]), labels, grid, device, l2)[1]
    rows, correct = [], []
    for share in shares:
        for draw in range(n_draws):
            columns = sample_mix(base.dim, other.dim, share, total, [*seed, draw])
            key = tuple((name, index.tobytes()) for name, index in zip(names, columns) if len(index))
            if key not in cache:
                parts = [data.columns(index) for data, index in zip((base, other), columns) if len(index)]
                init = None if both is None else replace(
                    both, weight=both.weight[np.concatenate([columns[0], base.dim + columns[1]])])
                right, probe = probe_correct(ProbeData.stack(parts), labels, grid, device, l2, init)
                cache[key] = right, probe.l2
            right, chosen = cache[key]
            rows.append({"share": share, "draw": draw, "n_base": len(columns[0]),
                         "n_other": len(columns[1]), "l2": chosen, "accuracy": float(right.mean())})
            correct.append(right)
    return pd.DataFrame(rows), np.array(correct)


def share_accuracies(table: pd.DataFrame, correct: np.ndarray, n_bootstrap: int,
                     seed: int) -> tuple[pd.Series, np.ndarray]:
    """Test accuracy per share (mean over the draws) with bootstrap samples over test rows.

    Each resample redraws the test rows (:func:`norep.analysis.bootstrap.bootstrap_sums`:
    the same resamples for every call with the same seed and row count, so differences
    between shares and between pairs are paired); the draws of dimensions are averaged
    within every resample, not resampled.

    Args:
        table: The rows of :func:`mixed_probes`.
        correct: Its correctness matrix, shape (rows, M_test).
        n_bootstrap: Bootstrap resamples.
        seed: Seed of the resampling.

    Returns:
        Accuracy by share, and its resampled values, shape (B, shares).
    """
    shares = list(dict.fromkeys(table["share"]))
    mean_right = np.stack([correct[(table["share"] == s).to_numpy()].mean(axis=0) for s in shares], 1)
    samples = bootstrap_sums(mean_right, n_bootstrap, seed) / len(mean_right)
    return pd.Series(mean_right.mean(axis=0), index=pd.Index(shares, name="share")), samples


def mix_gain(accuracy: np.ndarray, shares: Sequence[float], share: float = 0.5) -> np.ndarray:
    """Accuracy of the mix at ``share`` minus that of the better of the two models alone.

    Args:
        accuracy: Accuracies by share along the last axis (e.g. shape (B, S)).
        shares: The shares of that axis; they must include 0, 1 and ``share``.
        share: The mix compared.

    Returns:
        The gain, shape ``accuracy.shape[:-1]``.

    Example:
        >>> round(float(mix_gain(np.array([0.80, 0.86, 0.84]), [0.0, 0.5, 1.0])), 6)
        0.02
    """
    shares = list(shares)
    accuracy = np.asarray(accuracy)
    alone = np.maximum(accuracy[..., shares.index(0.0)], accuracy[..., shares.index(1.0)])
    return accuracy[..., shares.index(share)] - alone


def diversity_ranking(features: np.ndarray, tolerance: float = 1e-10) -> np.ndarray:
    r"""Order the columns greedily by the variance they do not share with those before.

    The criterion :math:`s_j` is in the module docstring; computed by pivoted Cholesky
    on the correlation matrix of the rows (a constant column has correlation 0 with
    everything and variance 0).

    Args:
        features: Training rows, shape (M, D).
        tolerance: :math:`s_j` at or below it counts as zero.

    Returns:
        A permutation of the D columns, most diverse first.

    Example:
        >>> x = np.random.default_rng(0).normal(size=(100, 2))
        >>> diversity_ranking(np.column_stack([x[:, 0], x[:, 0], x[:, 1]])).tolist()
        [0, 2, 1]
    """
    x = np.asarray(features, dtype=np.float64)
    x = x - x.mean(axis=0)
    scale = x.std(axis=0)
    x = x / np.where(scale > 0, scale, 1)
    covariance = x.T @ x / len(x)
    residual = np.diagonal(covariance).copy()
    factor = np.zeros_like(covariance)
    order: list[int] = []
    for step in range(len(residual)):
        candidates = residual.copy()
        candidates[order] = -np.inf
        pick = int(np.flatnonzero(candidates >= candidates.max() - TIE)[0])
        if candidates[pick] <= tolerance:
            break
        factor[:, step] = (covariance[:, pick] - factor[:, :step] @ factor[pick, :step]) / np.sqrt(residual[pick])
        residual -= factor[:, step] ** 2
        order.append(pick)
    return np.array(order + [j for j in range(len(residual)) if j not in set(order)], dtype=np.int64)


def compression_curve(data: ProbeData, labels: ProbeLabels, ks: Sequence[int],
                      grid: Sequence[float] = L2_GRID, device: str = "cpu",
                      l2: float | None = None) -> pd.DataFrame:
    """Probe the top-k dimensions of :func:`diversity_ranking` (ranked on the training rows).

    The top-k columns are taken in rank order, so each k's columns extend the last
    one's; with a fixed ``l2`` each probe starts from the last (its weights, zero on
    the new columns): the same convex problem, fewer L-BFGS iterations.

    Args:
        data: The (concatenated) embedding.
        labels: The labels.
        ks: Numbers of dimensions kept, increasing (each at most ``data.dim``).
        grid: L2 strengths tried on the held-out rows.
        device: The torch device of the fits.
        l2: A fixed L2 strength for every probe (chosen per probe when None).

    Returns:
        One row per k: ``k``, ``l2`` and test ``accuracy``.
    """
    order = diversity_ranking(data.train)
    rows, probe = [], None
    for k in ks:
        init = None if probe is None else replace(probe, weight=np.concatenate(
            [probe.weight, np.zeros((k - len(probe.weight), probe.weight.shape[1]), np.float32)]))
        right, probe = probe_correct(data.columns(order[:k]), labels, grid, device, l2, init)
        rows.append({"k": int(k), "l2": probe.l2, "accuracy": float(right.mean())})
    return pd.DataFrame(rows)


def features_to_reach(curve: pd.DataFrame, target: float) -> float:
    """The fewest features of a compression curve whose accuracy reaches ``target``.

    Args:
        curve: Rows with ``k`` and ``accuracy``.
        target: The accuracy to reach.

    Returns:
        That k, or NaN when no k reaches it.

    Example:
        >>> features_to_reach(pd.DataFrame({"k": [8, 16, 32], "accuracy": [0.7, 0.8, 0.79]}), 0.75)
        16.0
    """
    reached = curve.loc[curve["accuracy"] >= target, "k"]
    return float(reached.min()) if len(reached) else float("nan")
