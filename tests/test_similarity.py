"""Representational similarity against the published fixture, naive Gram-matrix formulas
and hand-made neighbour sets."""

from __future__ import annotations

import numpy as np
import pytest

from norep.analysis.similarity import (
    debiased_cka,
    linear_cka,
    mutual_knn,
    nearest_neighbours,
)


def kornblith_fixture():
    """The example of Kornblith et al.'s reference notebook."""
    np.random.seed(1337)
    x = np.random.randn(100, 10)
    y = np.random.randn(100, 10) + x
    return x, y


def naive_cka(x, y):
    """CKA from example-space Gram matrices: HSIC = tr(K H L H)."""
    n = len(x)
    h = np.eye(n) - np.ones((n, n)) / n
    k, l = x @ x.T, y @ y.T
    hsic = lambda a, b: np.trace(a @ h @ b @ h)  # noqa: E731
    return hsic(k, l) / np.sqrt(hsic(k, k) * hsic(l, l))


def naive_unbiased_hsic(x, y):
    """Song et al. (2012), eq. 5, with the diagonals of both Gram matrices set to 0."""
    n = len(x)
    k, l = x @ x.T, y @ y.T
    np.fill_diagonal(k, 0)
    np.fill_diagonal(l, 0)
    ones = np.ones(n)
    return (np.trace(k @ l) + (ones @ k @ ones) * (ones @ l @ ones) / ((n - 1) * (n - 2))
            - 2 / (n - 2) * ones @ k @ l @ ones) / (n * (n - 3))


def test_published_fixture():
    x, y = kornblith_fixture()
    assert linear_cka([x, y])[0, 1] == pytest.approx(0.55761, abs=5e-6)
    assert debiased_cka([x, y])[0, 1] == pytest.approx(0.51346, abs=5e-6)


def test_all_pairs_equal_naive_per_pair_computation():
    rng = np.random.default_rng(0)
    shared = rng.normal(size=(60, 3))
    features = [shared @ rng.normal(size=(3, d)) + rng.normal(size=(60, d)) for d in (5, 8, 3, 6)]
    cka, debiased = linear_cka(features), debiased_cka(features)
    for i in range(4):
        for j in range(4):
            a, b = features[i] - features[i].mean(0), features[j] - features[j].mean(0)
            assert cka[i, j] == pytest.approx(naive_cka(features[i], features[j]), rel=1e-9)
            expected = naive_unbiased_hsic(a, b) / np.sqrt(naive_unbiased_hsic(a, a) * naive_unbiased_hsic(b, b))
            assert debiased[i, j] == pytest.approx(expected, rel=1e-9)
    np.testing.assert_allclose(np.diagonal(cka), 1.0)


def test_cka_is_invariant_to_rotation_and_scale_not_to_noise():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(80, 6))
    rotation = np.linalg.qr(rng.normal(size=(6, 6)))[0]
    values = linear_cka([x, 3 * x @ rotation + 2, rng.normal(size=(80, 6))])
    assert values[0, 1] == pytest.approx(1.0)
    assert values[0, 2] < 0.5


def test_misaligned_features_are_refused():
    with pytest.raises(ValueError, match="same examples"):
        linear_cka([np.zeros((10, 2)), np.zeros((11, 2))])
    with pytest.raises(ValueError, match="at least 4 examples"):
        debiased_cka([np.ones((3, 2)), np.ones((3, 2))])


def test_nearest_neighbours_hand_made():
    # Four points on a line of angles: cosine neighbours are the adjacent angles.
    angles = np.radians([0, 10, 30, 90])
    points = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    assert nearest_neighbours(points, k=1).ravel().tolist() == [1, 0, 1, 2]
    assert nearest_neighbours(points, k=2).tolist() == [[1, 2], [0, 2], [0, 1], [1, 2]]
    with pytest.raises(ValueError, match="k must lie"):
        nearest_neighbours(points, k=4)


def test_mutual_knn_hand_made_and_against_a_loop():
    angles = np.radians([0, 10, 30, 90])
    a = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    b = a[:, ::-1] * [1, -1]  # a rotation: the same neighbours
    c = np.stack([np.cos(angles[::-1]), np.sin(angles[::-1])], axis=1)  # the order reversed
    values = mutual_knn([a, b, c], k=1)
    assert values[0, 1] == 1.0
    # c's neighbours (k=1): 0->1, 1->0, 2->1, 3->2 in reversed labels: [1, 0, 1, 2] -> examples
    # 3 2 1 0 have neighbours 2 3 2 1, i.e. example 0->1, 1->2, 2->3, 3->2; shared with a: 0, 3.
    assert values[0, 2] == pytest.approx(2 / 4)
    rng = np.random.default_rng(2)
    features = [rng.normal(size=(40, 5)) for _ in range(3)]
    fast = mutual_knn(features, k=4)
    sets = [[set(row) for row in nearest_neighbours(x, 4)] for x in features]
    for i in range(3):
        for j in range(3):
            loop = np.mean([len(sets[i][m] & sets[j][m]) / 4 for m in range(40)])
            assert fast[i, j] == pytest.approx(loop)
