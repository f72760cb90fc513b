r"""Representational similarity of every pair of models: linear CKA, debiased CKA, mutual k-NN.

Each model gives features :math:`X_i` (:math:`n \times d_i`) on the same :math:`n`
examples. Columns are centered first.

- **Linear CKA** (Kornblith et al. 2019):

  .. math::

     \mathrm{CKA}(X, Y) = \frac{\lVert Y^\top X \rVert_F^2}
     {\lVert X^\top X \rVert_F \, \lVert Y^\top Y \rVert_F}.

- **Debiased linear CKA**: the same ratio with the unbiased HSIC estimator of Song et
  al. (2012) in place of :math:`\lVert Y^\top X \rVert_F^2`. With centered features,
  :math:`r_m = \lVert x_m \rVert^2` and :math:`s_m = \lVert y_m \rVert^2` the squared
  row norms, it is, up to a factor that cancels in the ratio,

  .. math::

     \mathrm{HSIC}_u(X, Y) \propto \lVert Y^\top X \rVert_F^2
     - \frac{n}{n - 2} \, r^\top s + \frac{(\sum_m r_m)(\sum_m s_m)}{(n - 1)(n - 2)}.

  The two self-similarities in the denominator are positive for non-degenerate
  features, so no square root of a negative estimate (a known source of NaN) is taken;
  the pair's value itself may be slightly negative.

- **Mutual k-nearest-neighbour alignment** (Huh et al. 2024): rows are L2-normalized;
  each example's :math:`k` nearest other examples by cosine similarity are found in
  each model's space; the alignment is the mean over examples of the share of the
  :math:`k` neighbours the two models have in common.

All pairs come at once: the features are stacked side by side and one product
:math:`Z^\top Z` holds every :math:`X_j^\top X_i` block (feature-space form, memory
:math:`(\sum_i d_i)^2`, never :math:`n \times n`); neighbour sets become rows of a sparse
0/1 matrix whose product with its transpose counts every pair's shared neighbours.

Example:
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(50, 4))
    >>> float(np.round(linear_cka([x, 2 * x + 1])[0, 1], 6))
    1.0
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse

_KNN_BLOCK = 1024  # rows of the cosine-similarity matrix computed at a time


def _centered(features: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Return each feature matrix as float64 with centered columns; check alignment."""
    centered = [np.asarray(x, dtype=np.float64) for x in features]
    if not centered:
        raise ValueError("give the features of at least one model")
    n = len(centered[0])
    for i, x in enumerate(centered):
        if x.ndim != 2 or len(x) != n:
            raise ValueError(f"features {i} have shape {x.shape}: every model needs (n={n}, d) rows "
                             "for the same examples")
    return [x - x.mean(axis=0) for x in centered]


def _block_sums(matrix: np.ndarray, sizes: list[int]) -> np.ndarray:
    """Sum a matrix over the blocks of rows and columns of the given sizes, shape (N, N)."""
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return np.add.reduceat(np.add.reduceat(matrix, starts, axis=0), starts, axis=1)


def _cross_products(features: list[np.ndarray]) -> np.ndarray:
    r""":math:`\lVert X_j^\top X_i \rVert_F^2` for every pair, from one stacked product."""
    stacked = np.concatenate(features, axis=1)
    gram = stacked.T @ stacked
    return _block_sums(gram * gram, [x.shape[1] for x in features])


def linear_cka(features: Sequence[np.ndarray]) -> np.ndarray:
    """Linear CKA of every pair of models (formula in the module docstring).

    Args:
        features: One (n, d_i) array per model, rows aligned on the same examples.

    Returns:
        The N x N symmetric matrix, ones on the diagonal (NaN for constant features).
    """
    cross = _cross_products(_centered(features))
    norms = np.sqrt(np.diagonal(cross))
    with np.errstate(invalid="ignore", divide="ignore"):
        return cross / np.outer(norms, norms)


def debiased_cka(features: Sequence[np.ndarray]) -> np.ndarray:
    """Debiased linear CKA of every pair of models, from the unbiased HSIC estimator.

    Args:
        features: One (n, d_i) array per model, rows aligned on the same examples; n >= 4.

    Returns:
        The N x N symmetric matrix (NaN where a model's self-similarity is not positive).
    """
    centered = _centered(features)
    n = len(centered[0])
    if n < 4:
        raise ValueError(f"the unbiased HSIC needs at least 4 examples, got {n}")
    row_norms = np.stack([np.einsum("md,md->m", x, x) for x in centered])  # (N, n)
    totals = row_norms.sum(axis=1)
    hsic = (_cross_products(centered) - n / (n - 2) * (row_norms @ row_norms.T)
            + np.outer(totals, totals) / ((n - 1) * (n - 2)))
    self_similarity = np.diagonal(hsic).copy()
    self_similarity[self_similarity <= 0] = np.nan
    scale = np.sqrt(self_similarity)
    return hsic / np.outer(scale, scale)


def nearest_neighbours(features: np.ndarray, k: int = 10) -> np.ndarray:
    """Indices of each example's k nearest other examples by cosine similarity.

    Ties go to the lower index. Computed a block of rows at a time (memory
    ``_KNN_BLOCK x n``).

    Args:
        features: (n, d) features of one model.
        k: Neighbours per example, 1 <= k < n.

    Returns:
        Shape (n, k), each row sorted by index.
    """
    x = np.asarray(features, dtype=np.float32)
    n = len(x)
    if not 1 <= k < n:
        raise ValueError(f"k must lie in 1..{n - 1} for {n} examples, got {k}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norms > 0, norms, 1)
    neighbours = np.empty((n, k), dtype=np.int64)
    for start in range(0, n, _KNN_BLOCK):
        rows = np.arange(start, min(start + _KNN_BLOCK, n))
        similarity = x[rows] @ x.T
        similarity[np.arange(len(rows)), rows] = -np.inf  # never one's own neighbour
        order = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
        neighbours[rows] = np.sort(order, axis=1)
    return neighbours


def mutual_knn(features: Sequence[np.ndarray], k: int = 10) -> np.ndarray:
    """Mutual k-nearest-neighbour alignment of every pair of models.

    Args:
        features: One (n, d_i) array per model, rows aligned on the same examples.
        k: Neighbours per example (Huh et al. use 10).

    Returns:
        The N x N symmetric matrix in [0, 1], ones on the diagonal.
    """
    neighbours = [nearest_neighbours(x, k) for x in features]
    n = len(neighbours[0])
    if any(len(nb) != n for nb in neighbours):
        raise ValueError("every model needs features for the same examples")
    # Row i: a 0/1 vector over (example, neighbour) cells, k ones per example.
    columns = np.concatenate([(np.arange(n)[:, None] * n + nb).ravel() for nb in neighbours])
    rows = np.repeat(np.arange(len(neighbours)), n * k)
    indicator = sparse.csr_matrix((np.ones(len(columns)), (rows, columns)),
                                  shape=(len(neighbours), n * n))
    shared = (indicator @ indicator.T).toarray()
    return shared / (n * k)
