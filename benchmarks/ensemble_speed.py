"""Benchmark: accuracy of every two-model ensemble of a zoo, fast versus dense averaging.

Compares :func:`norep.analysis.ensembles.pairwise_ensembles` (top-k candidates with a bound, dense
fallback where the bound does not decide) with dense averaging: argmax(p_a + p_b) over
all C classes for every pair (the argmax of the average, without the division), on
synthetic float32 probabilities of N models, M examples and C classes. The two must
give exactly the same accuracies (checked on every pair). Targets at the full size
(N=50, M=10,000, C=1,000): identical accuracies, and at least 10x faster than dense
averaging.

Usage:
    python benchmarks/ensemble_speed.py                   # full size
    python benchmarks/ensemble_speed.py --models 10 --examples 2000 --json out.json
"""

from __future__ import annotations

import numpy as np
from common import best_time, conditions, finish, size_parser

from norep.analysis.ensembles import pairwise_ensembles
from norep.store import softmax

TARGET_RATIO = 10.0


def synthetic_probabilities(n_models: int, n_examples: int, n_classes: int, seed: int = 0):
    """Return labels (M,) and probabilities (N, M, C) of a zoo with shared confusions.

    Logits share a per-(example, class) component (the classes an example is
    confusable with), add each model's own noise, and boost the label enough for
    accuracies of about 65-90%; models differ in sharpness.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n_examples)
    shared = rng.standard_normal((n_examples, n_classes), dtype=np.float32)
    rows = np.arange(n_examples)
    probabilities = np.empty((n_models, n_examples, n_classes), dtype=np.float32)
    for model in range(n_models):
        logits = 0.8 * shared + rng.standard_normal((n_examples, n_classes), dtype=np.float32)
        logits[rows, labels] += rng.uniform(5.0, 7.0) + 1.5 * rng.standard_normal(n_examples).astype(np.float32)
        probabilities[model] = softmax(logits, temperature=rng.uniform(0.5, 1.5))
    return labels, probabilities


def dense(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Ensemble accuracy of every pair over all classes, N x N: argmax(p_a + p_b), the
    argmax of the average, with the sum written into one reused buffer."""
    n_models = len(probabilities)
    accuracy = np.zeros((n_models, n_models))
    total = np.empty_like(probabilities[0])
    for a in range(n_models):
        accuracy[a, a] = np.mean(probabilities[a].argmax(axis=1) == labels)
        for b in range(a + 1, n_models):
            np.add(probabilities[a], probabilities[b], out=total)
            accuracy[a, b] = accuracy[b, a] = np.mean(total.argmax(axis=1) == labels)
    return accuracy


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark; print a summary and return (and optionally write) the results."""
    parser = size_parser(__doc__.splitlines()[0], models=50, examples=10_000, classes=1_000)
    parser.add_argument("--k", type=int, default=1, help="candidate classes per member")
    args = parser.parse_args(argv)

    labels, probabilities = synthetic_probabilities(args.models, args.examples, args.classes, args.seed)
    fast_seconds = best_time(lambda: pairwise_ensembles(probabilities, labels, k=args.k), args.repeat)
    dense_seconds = best_time(lambda: dense(probabilities, labels), 1)  # long: timed once
    fast = pairwise_ensembles(probabilities, labels, k=args.k)
    reference = dense(probabilities, labels)
    mismatches = int(np.sum(fast.accuracy != reference))
    single = np.diag(reference)
    results = {
        "benchmark": "ensemble_speed",
        "models": args.models, "examples": args.examples, "classes": args.classes, "k": args.k,
        "dtype": str(probabilities.dtype), "pairs": args.models * (args.models - 1) // 2,
        "repeat": args.repeat,
        "accuracy_range": [float(single.min()), float(single.max())],
        "fast_seconds": fast_seconds,
        "dense_seconds": dense_seconds,
        "ratio": dense_seconds / fast_seconds,
        "undecided_share": fast.undecided,
        "mismatched_pairs": mismatches,
        "exact": mismatches == 0,
        "target_ratio": TARGET_RATIO,
        **conditions(),
    }
    print(f"two-model ensemble accuracy of all {results['pairs']} pairs, N={args.models}, "
          f"M={args.examples}, C={args.classes}, float32 probabilities")
    print(f"  top-{args.k} candidates + bound : {fast_seconds:8.3f} s "
          f"(dense fallback on {100 * fast.undecided:.3f}% of pair-examples)")
    print(f"  dense averaging          : {dense_seconds:8.3f} s")
    print(f"  ratio                    : {results['ratio']:8.1f} x (target >= {TARGET_RATIO:g}x)")
    print(f"  pairs whose accuracies differ: {mismatches} (must be 0)")
    return finish(results, args.json)


if __name__ == "__main__":
    main()
