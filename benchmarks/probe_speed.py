"""Benchmark: the torch L-BFGS linear probe against scikit-learn's LogisticRegression.

Both fit the same penalized multinomial logistic regression (lambda = 1 / (M C)) on
standardized features of M rows, D dimensions and K classes; the probe must reach
scikit-learn's test accuracy within 0.5 points and be at least 3x faster at the full size
(M=50,000, D=512, K=10). Both objectives at the end are reported (both stop when no
gradient entry exceeds 1e-4), and the probe is timed again, run until its objective is no
higher than scikit-learn's final one where it ended higher (a comparison at equal
objective). Both run on ``--threads`` threads (torch's, and BLAS/OpenMP's through
threadpoolctl for scikit-learn): on a shared machine, more threads than free cores slow
both fits by up to 10x.

Two kinds of features: synthetic ones (class means in a random subspace plus isotropic
noise: uncorrelated dimensions, the easy case for L-BFGS), or, with ``--store``, the
penultimate embeddings of Fashion-MNIST images by four of a mini zoo's networks, stacked
(the first M training images; test accuracy on the 10,000 test images): correlated
features, like every probe of the book's chapters.

Usage:
    python benchmarks/probe_speed.py                     # full size, synthetic
    python benchmarks/probe_speed.py --store runs/fashion_mnist
    python benchmarks/probe_speed.py --examples 5000 --features 64 --json out.json
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch
from common import best_time, conditions, finish
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from norep.analysis.probes import standardization, train_probe
from norep.datasets.downstream import DownstreamData
from norep.datasets.fashion_mnist import load_fashion_mnist
from norep.errors import NorepError
from norep.producers.downstream import embed_downstream
from norep.store import Store

TARGET_RATIO = 3.0
NETWORKS = ("cnn-seed0", "cnn-shift-flip", "cnn-hinge", "cnn-B-seed51")
"""The default zoo's networks whose embeddings ``--store`` stacks: the base, another
recipe, another loss and another half of the training data (4 x 128 dimensions)."""


def synthetic_features(n_examples: int, n_features: int, n_classes: int, seed: int = 0):
    """Return train and test (features, labels): class means in a random subspace plus noise."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_classes, 16)) @ rng.normal(size=(16, n_features)) / 16
    def draw(n):
        labels = rng.integers(0, n_classes, n)
        return (centers[labels] + rng.normal(size=(n, n_features))).astype(np.float32), labels
    return draw(n_examples), draw(n_examples // 5)


def zoo_embeddings(store: str, networks: list[str], n_examples: int):
    """Return train and test (features, labels): the networks' embeddings of Fashion-MNIST, side by side."""
    data, zoo = load_fashion_mnist(), Store(store)
    classes = [str(c) for c in zoo.classes]

    def embedded(name, images, labels):
        split = DownstreamData(name, images, labels.astype(np.int64), classes, f"Fashion-MNIST {name} images")
        return np.hstack([embed_downstream(zoo, m, split) for m in networks]), split.labels
    return (embedded("train", data.train_images[:n_examples], data.train_labels[:n_examples]),
            embedded("test", data.test_images, data.test_labels))


def objective(features: np.ndarray, labels: np.ndarray, weight: np.ndarray, bias: np.ndarray, l2: float) -> float:
    """Return the penalized mean cross-entropy both fits minimize, in float64 (standardized features)."""
    logits = features.astype(np.float64) @ weight + bias
    logits -= logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(labels)), labels].mean() + l2 / 2 * np.sum(np.square(weight, dtype=np.float64)))


def main(argv: list[str] | None = None) -> dict:
    """Time both fits, compare their test accuracies, print and return the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=50_000, help="M, training rows")
    parser.add_argument("--features", type=int, default=512, help="D, feature dimensions")
    parser.add_argument("--classes", type=int, default=10, help="K, classes")
    parser.add_argument("--c", type=float, default=1.0, help="scikit-learn's C (lambda = 1 / (M C))")
    parser.add_argument("--repeat", type=int, default=1, help="timings of each fit (the shortest is kept)")
    parser.add_argument("--threads", type=int, default=1, help="threads of both fits")
    parser.add_argument("--store", default=None, help="a mini zoo: its networks' embeddings as the features")
    parser.add_argument("--networks", default=",".join(NETWORKS), help="with --store: the networks, comma-separated")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.store:
        networks = args.networks.split(",")
        (x, y), (test_x, test_y) = zoo_embeddings(args.store, networks, args.examples)
        source = f"embeddings of Fashion-MNIST by {len(networks)} networks of {args.store}: {', '.join(networks)}"
    else:
        (x, y), (test_x, test_y) = synthetic_features(args.examples, args.features, args.classes)
        source = "synthetic: class means in a random 16-dimensional subspace plus isotropic noise"
    load_before = os.getloadavg()[0]
    mean, scale = standardization(x)
    l2 = 1.0 / (len(x) * args.c)
    fitted = {}
    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        probe_seconds = best_time(lambda: fitted.update(probe=train_probe(x, y, l2)), args.repeat)
        sklearn_seconds = best_time(lambda: fitted.update(sklearn=LogisticRegression(
            C=args.c, max_iter=20_000).fit((x - mean) / scale, y)), args.repeat)
    scaled = (x - mean) / scale
    probe, reference = fitted["probe"], fitted["sklearn"]
    probe_objective = objective(scaled, y, probe.weight, probe.bias, l2)
    sklearn_objective = objective(scaled, y, reference.coef_.T, reference.intercept_, l2)
    matched_seconds, fitted["matched"] = probe_seconds, probe
    if probe_objective > sklearn_objective:
        with threadpool_limits(args.threads):
            matched_seconds = best_time(lambda: fitted.update(matched=train_probe(
                x, y, l2, max_iter=5000, tolerance=0.0, target=sklearn_objective)), args.repeat)
    probe_accuracy = probe.accuracy(test_x, test_y)
    objectives = {"probe_objective": probe_objective,
                  "sklearn_objective": sklearn_objective,
                  "matched_objective": objective(scaled, y, fitted["matched"].weight, fitted["matched"].bias, l2),
                  "matched_seconds": matched_seconds, "matched_ratio": sklearn_seconds / matched_seconds}
    sklearn_accuracy = float(fitted["sklearn"].score((test_x - mean) / scale, test_y))
    results = {
        "source": source, "examples": len(x), "features": x.shape[1], "classes": int(y.max()) + 1,
        "torch_threads": torch.get_num_threads(), "probe_seconds": probe_seconds,
        "sklearn_seconds": sklearn_seconds, "ratio": sklearn_seconds / probe_seconds,
        "sklearn_iterations": int(fitted["sklearn"].n_iter_[0]), "probe_iterations": probe.iterations,
        "probe_accuracy": probe_accuracy, "sklearn_accuracy": sklearn_accuracy,
        "accuracy_gap_points": 100 * abs(probe_accuracy - sklearn_accuracy), **objectives,
        "target_ratio": TARGET_RATIO, "load_average_1min_before": load_before, **conditions(),
    }
    print(f"probe {probe_seconds:.2f} s (accuracy {100 * probe_accuracy:.2f}%), scikit-learn "
          f"{sklearn_seconds:.2f} s ({100 * sklearn_accuracy:.2f}%): {results['ratio']:.1f}x "
          f"(target {TARGET_RATIO:g}x), iterations {probe.iterations} and {results['sklearn_iterations']}, "
          f"accuracy gap {results['accuracy_gap_points']:.2f} points, objectives {results['probe_objective']:.6f} and {results['sklearn_objective']:.6f}; probe to scikit-learn's "
          f"objective: {matched_seconds:.2f} s ({results['matched_ratio']:.1f}x), {results['matched_objective']:.6f}")
    return finish(results, args.json)


if __name__ == "__main__":
    try:
        main()
    except NorepError as error:  # bad input (a store, a network): one line
        sys.exit(f"probe_speed.py: {error}")
